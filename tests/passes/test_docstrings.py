"""The examples in the optimizer modules' docstrings run and give what they show."""

from __future__ import annotations

import pytest

from tests.harness import run_docstring_examples

MODULES = ["", ".cse", ".dce", ".fold", ".report", ".reuse", ".rewrite",
           ".simplify", ".verify"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = run_docstring_examples(f"graphnn.passes{name}")
    assert result.failed == 0
    assert result.attempted > 0
