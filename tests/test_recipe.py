"""docs/architecture.md's recipe for adding an op stays true: its example op, one OpDef and
one case row run as the docs write them, passes every registry-generated test (values and
gradients against the reference, float32, the SymPy form, the rule and the labels against
sympy.diff, the compiled kernel, the random graphs) with nothing else touched."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.recipe import NAME, recipe_blocks

ROOT = Path(__file__).parents[1]
SUITES = ["tests/ops/test_registry.py", "tests/compiler/test_ops_compiled.py",
          "tests/symbolic/test_rules.py", "tests/symbolic/test_labels.py",
          "tests/symbolic/test_translate.py", "tests/differential/test_random_graphs.py",
          "tests/passes/test_semantics.py"]
# the tests of the op itself, and those over the whole registry that it must not break
SELECTED = f"{NAME} or every_op or every_registered or every_label or every_elementwise or " \
    "covers_the_op_table"
# one of each kind of registry-generated test, run on the op
EXPECTED = ["test_value_matches_reference[cube-0", "test_float32_matches_float64[cube-0",
            "test_vjp_matches_central_differences[cube-0", "test_edge_values[cube-0",
            "test_vjp_matches_central_differences_at_edges[cube-0-edge",
            "test_gradient_of_gradient[cube]", "test_sympy_form_matches_reference[cube]",
            "test_docstring_example_runs[cube]", "test_op_declares_every_facet[cube]",
            "test_op_value[cube-0-(3, 4)-float64]", "test_op_value[cube-0-(3, 4)-float32]",
            "test_op_gradient_graph[cube-0", "test_rule_matches_sympy_diff[cube]",
            "test_label_matches_sympy_diff[cube]",
            "test_every_op_translates_and_agrees_with_its_reference[cube]",
            "test_every_op_has_a_case", "test_every_op_lowers",
            "test_every_elementwise_op_is_drawn", "test_the_generator_covers_the_op_table"]


def test_the_recipe_has_an_op_and_a_case_row():
    op, row = recipe_blocks()
    assert f'elementwise(\n    "{NAME}"' in op and row.startswith(f'"{NAME}": ')


def test_the_recipes_op_passes_the_registry_generated_tests(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GRAPHNN_CACHE_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.recipe", "-p", "no:cacheprovider",
         "-n", "0", "-q", "-rA", "-k", SELECTED, *SUITES], capture_output=True, text=True, env=env,
        cwd=ROOT, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    passed = [line for line in result.stdout.splitlines() if line.startswith("PASSED")]
    missing = [e for e in EXPECTED if not any(e in line for line in passed)]
    assert not missing, f"not run on the recipe's op: {missing}"
