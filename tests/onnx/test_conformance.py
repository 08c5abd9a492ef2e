"""The ONNX backend node tests shipped inside the onnx package, for every operator graphnn
claims (graphnn.onnx.registry): every case is imported and evaluated with the NumPy reference,
and every case that passes is also compiled and run natively (about 450 small kernels, some
ten seconds cold). A case passes or is refused with an OnnxError whose reason the conformance
table in docs/onnx.md lists; a wrong value or any other exception fails."""

from __future__ import annotations

import re
from pathlib import Path

import onnx
import pytest

from graphnn.onnx import conformance
from graphnn.onnx.registry import claimed

DOC = Path(__file__).parents[2] / "docs" / "onnx.md"


@pytest.fixture(scope="module")
def cases():
    return conformance.collect()


@pytest.fixture(scope="module")
def evaluated(cases):
    return conformance.run(cases)


@pytest.fixture(scope="module")
def compiled(cases, evaluated):
    return conformance.run_compiled(cases, evaluated)


def test_every_claimed_operator_has_cases(cases):
    assert set(claimed()) - set(cases) == set()


def test_no_evaluated_case_fails(evaluated):
    failed = [r for r in evaluated if r.status == conformance.FAILED]
    assert not failed, "\n".join(f"{r.case}: {r.reason}" for r in failed)
    assert all(r.reason for r in evaluated if r.status == conformance.UNSUPPORTED)


def test_every_passing_case_also_passes_compiled(evaluated, compiled):
    passed = {r.case for r in evaluated if r.status == conformance.PASSED}
    assert {r.case for r in compiled} == passed
    wrong = [r for r in compiled if r.status != conformance.PASSED]
    assert not wrong, "\n".join(f"{r.case}: {r.reason}" for r in wrong)


def test_core_operators_pass_every_float_case(evaluated):
    # the operators graphnn's op table covers fully: no refusals at all
    full = {"Abs", "Conv", "Exp", "Flatten", "Gemm", "GlobalAveragePool", "GlobalMaxPool",
            "InstanceNormalization", "LayerNormalization", "Log", "LogSoftmax", "MatMul",
            "Neg", "Relu", "Reshape", "Sigmoid", "Softmax", "Sqrt", "Tanh", "Transpose",
            "Concat", "Slice", "Split", "Squeeze", "Unsqueeze", "Tile"}
    refused = {r.case for r in evaluated if r.operator in full and r.status != "passed"}
    assert not refused


def test_docs_hold_the_current_table(evaluated, compiled):
    text = DOC.read_text()
    version = re.search(r"generated with onnx (\d+(?:\.\d+)+)", text)
    assert version, "docs/onnx.md states the onnx version its table was generated with"
    if version.group(1) != onnx.__version__:
        pytest.skip(f"the table was generated with onnx {version.group(1)}, "
                    f"this is {onnx.__version__}")
    table = conformance.table([*evaluated, *compiled], markdown=True)
    assert table in text, "regenerate the table: python -m graphnn onnx conformance --markdown"
