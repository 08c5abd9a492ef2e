"""The runnable examples in graphnn.nn's docstrings."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import graphnn.nn

MODULES = sorted(m.name for m in pkgutil.iter_modules(graphnn.nn.__path__, "graphnn.nn."))


@pytest.mark.parametrize("name", ["graphnn.nn", *MODULES])
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
