"""The runnable examples in graphnn.nn's docstrings."""

from __future__ import annotations

import pkgutil

import pytest

import graphnn.nn
from tests.harness import run_docstring_examples

MODULES = sorted(m.name for m in pkgutil.iter_modules(graphnn.nn.__path__, "graphnn.nn."))


@pytest.mark.parametrize("name", ["graphnn.nn", *MODULES])
def test_docstring_examples(name):
    result = run_docstring_examples(name)
    assert result.failed == 0
