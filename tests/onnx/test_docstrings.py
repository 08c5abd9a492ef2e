"""The docstring examples of graphnn.onnx run."""

from __future__ import annotations

import pytest

from tests.harness import run_docstring_examples

MODULES = ["graphnn.onnx", "graphnn.onnx.errors", "graphnn.onnx.names", "graphnn.onnx.importer",
           "graphnn.onnx.exporter"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    result = run_docstring_examples(name)
    assert result.attempted > 0 and result.failed == 0, \
        f"{name}: {result.failed} of {result.attempted} docstring examples fail"
