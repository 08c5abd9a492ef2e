"""The docstring examples of the core modules run (the packages' own tests run theirs)."""

from __future__ import annotations

import pytest

from tests.harness import run_docstring_examples

MODULES = ["graphnn.errors", "graphnn.shapes", "graphnn.opdef", "graphnn.ir", "graphnn.graph",
           "graphnn.evaluate", "graphnn.autodiff", "graphnn.compiler.function",
           "graphnn.graphdata", "graphnn.compiler.shipping", "graphnn.distributed.gradients",
           "graphnn.distributed.shards"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    result = run_docstring_examples(name)
    assert result.attempted > 0 and result.failed == 0, \
        f"{name}: {result.failed} of {result.attempted} docstring examples fail"
