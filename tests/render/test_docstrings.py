"""The examples in the rendering modules' docstrings run and give what they show."""

from __future__ import annotations

import pytest

from tests.harness import run_docstring_examples

MODULES = ["animate", "annotate", "display", "dot", "drawing", "labels", "layout", "pictures",
           "scene", "symbols"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = run_docstring_examples(f"graphnn.render.{name}")
    assert result.failed == 0
    assert result.attempted > 0
