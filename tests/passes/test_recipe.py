"""docs/architecture.md's "How to add a pass": the recipe runs as written and prints what the page
shows, and its pass, added to the pipeline, keeps the invariants and the values of random graphs
to the bit (what the recipe promises of every pass)."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

import graphnn as gn
from graphnn.passes import optimize
from graphnn.passes.report import same_bits
from tests.passes.randomgraphs import random_feed, random_graph

PAGE = Path(__file__).parents[2] / "docs" / "architecture.md"
SECTION = PAGE.read_text(encoding="utf-8").split("## How to add a pass")[1].split("\n## ")[0]
CODE, SHOWN = re.search(r"```python\n(.*?)```\s*```\n(.*?)```", SECTION, flags=re.S).groups()


def _run_recipe() -> tuple[dict, str]:
    namespace: dict = {}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(CODE, str(PAGE), "exec"), namespace)
    return namespace, printed.getvalue()


def test_the_recipe_prints_what_the_page_shows():
    _, printed = _run_recipe()
    assert printed == SHOWN


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("seed", range(12))
def test_the_recipes_pass_in_the_pipeline_keeps_values_and_invariants(seed, dtype):
    namespace, _ = _run_recipe()
    pipeline = namespace["pipeline"]
    assert pipeline[-1] == ("double sums", namespace["double_sums"])
    y = gn.input(f"y{seed}", shape=(2,), dtype=dtype)
    graph = random_graph(seed, dtype)
    doubled = gn.Graph([*graph.outputs, y + y], [*graph.inputs, y])
    optimized, report = optimize(doubled, report=True, pipeline=pipeline, check=True)
    assert dict(report.passes[-1].fired).get("x + x -> x * 2", 0) >= 1
    assert not any(n.op == "add" and n.inputs[0] is n.inputs[1] for n in optimized.nodes)
    feed = random_feed(doubled, seed)
    for k, (a, b) in enumerate(zip(gn.evaluate(doubled, feed), gn.evaluate(optimized, feed))):
        assert same_bits(a, b), f"output {k} differs\n{doubled}\n{optimized}"
