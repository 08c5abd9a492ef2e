"""Damaged and unsupported models: each a clear OnnxError, never a crash or a wrong result."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import external_data_helper, helper

import graphnn as gn
from graphnn.onnx import OnnxError
from tests.onnx.models import FLOAT, dense_relu, model


def test_truncated_file(tmp_path):
    data = dense_relu().SerializeToString()
    for size in (len(data) // 2, len(data) - 3, 7):
        path = tmp_path / f"cut{size}.onnx"
        path.write_bytes(data[:size])
        with pytest.raises(OnnxError, match="is not an ONNX model|not valid ONNX") as error:
            gn.onnx.load(path)
        assert str(path) in str(error.value) or "not valid ONNX" in str(error.value)


def test_not_a_model_at_all(tmp_path):
    path = tmp_path / "notes.onnx"
    path.write_text("hello, this is not protobuf\n" * 10)
    with pytest.raises(OnnxError, match="not an ONNX model"):
        gn.onnx.load(path)
    with pytest.raises(OnnxError, match="cannot read the ONNX model .*missing.onnx"):
        gn.onnx.load(tmp_path / "missing.onnx")
    with pytest.raises(OnnxError, match="takes a path, bytes or an onnx.ModelProto"):
        gn.onnx.load(42)


def test_unknown_operator():
    proto = model([("Relu", ["x"], ["h"], {}), ("Frobnicate", ["h"], ["y"], {})],
                  [("x", FLOAT, [2])], [("y", FLOAT, [2])])
    with pytest.raises(OnnxError, match="not valid ONNX: .*Frobnicate"):
        gn.onnx.load(proto)
    proto.graph.node[1].domain = "com.example"
    proto.opset_import.append(helper.make_opsetid("com.example", 1))
    with pytest.raises(OnnxError, match=r"ONNX node 1 'n1_frobnicate' \(Frobnicate\): the "
                                        r"operator domain 'com.example'"):
        gn.onnx.load(proto)


@pytest.mark.parametrize("opset, message", [
    (7, r"uses opset 7; graphnn reads opsets 11 to \d+ \(convert it first"),
    (onnx.defs.onnx_opset_version() + 5, r"newer than the installed onnx package knows"),
])
def test_wrong_opset(opset, message):
    proto = dense_relu()
    proto.opset_import[0].version = opset
    with pytest.raises(OnnxError, match=message):
        gn.onnx.load(proto)
    del proto.opset_import[:]
    with pytest.raises(OnnxError, match="imports no ai.onnx opset"):
        gn.onnx.load(proto)


def test_inconsistent_shapes():
    # the declared output shape disagrees with what the graph computes
    proto = dense_relu()
    proto.graph.output[0].type.tensor_type.shape.dim[1].dim_value = 5
    with pytest.raises(OnnxError, match=r"graph output '0' is declared with shape \(2, 5\) but "
                                        r"computes \(2, 4\)"):
        gn.onnx.load(proto)
    # operands that cannot be multiplied: the node is named, with graphnn's shape message
    proto = model([("MatMul", ["x", "w"], ["y"], {})], [("x", FLOAT, [2, 3])],
                  [("y", FLOAT, [2, 4])], [("w", np.ones((5, 4), np.float32))])
    with pytest.raises(OnnxError, match=r"ONNX node 0 'n0_matmul' \(MatMul\): matmul"):
        gn.onnx.load(proto)


def test_missing_external_data(tmp_path):
    proto = dense_relu()
    external_data_helper.convert_model_to_external_data(
        proto, all_tensors_to_one_file=True, location="weights.bin", size_threshold=0)
    path = tmp_path / "m.onnx"
    onnx.save_model(proto, str(path))
    assert (tmp_path / "weights.bin").exists()
    assert gn.onnx.load(path).outputs[0].shape == (2, 4)        # with its data: loads
    (tmp_path / "weights.bin").unlink()
    with pytest.raises(OnnxError, match=r"tensor 'w.weight' of .* keeps its data in "
                                        r"'weights.bin', which is missing"):
        gn.onnx.load(path)


def test_dtype_graphnn_does_not_hold_names_the_input():
    proto = model([("Relu", ["x"], ["y"], {})], [("x", onnx.TensorProto.FLOAT16, [2])],
                  [("y", onnx.TensorProto.FLOAT16, [2])])
    with pytest.raises(OnnxError, match="graph input 'x' holds float16 elements; graphnn graphs "
                                        "hold float32"):
        gn.onnx.load(proto)
