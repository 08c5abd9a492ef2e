"""gn.onnx.load: names, parameters as inputs, static shapes, folded shape subgraphs, cut
networks, and clear errors for what graphnn does not support."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import onnx
import onnxruntime
import pytest
from onnx import TensorProto, helper

import graphnn as gn
from graphnn.onnx import OnnxError
from graphnn.onnx.names import NameMap, python_name
from tests.onnx.models import FLOAT, dense_relu, model

INT64 = TensorProto.INT64


def reference(x, m):
    w, b = m.params["w.weight"], m.params["b"]
    return np.maximum(x @ w + b, 0)


def test_import_graphnn_does_not_import_onnx():
    code = "import graphnn, sys; assert 'onnx' not in sys.modules; graphnn.onnx; " \
           "assert 'onnx' not in sys.modules; graphnn.onnx.load; assert 'onnx' in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_names_are_identifiers_kept_both_ways():
    m = gn.onnx.load(dense_relu())
    assert [n.name for n in m.inputs] == ["input_0"]
    assert m.names == {"input/0": "input_0"} and m.onnx_names == {"input_0": "input/0"}
    assert m.output_names == ["0"] and set(m.params) == {"w.weight", "b"}
    x = np.arange(6, dtype=np.float32).reshape(2, 3) - 2
    want = reference(x, m)
    np.testing.assert_allclose(gn.evaluate(m.outputs, {m.inputs[0]: x})[0], want, rtol=1e-6)
    np.testing.assert_allclose(gn.evaluate(m.outputs, {"input_0": x})[0], want, rtol=1e-6)
    np.testing.assert_allclose(gn.evaluate(m.outputs, m.feed(**{"input/0": x}))[0], want,
                               rtol=1e-6)
    f = gn.compile(m.outputs, inputs=m.inputs)
    np.testing.assert_allclose(f(x)[0], want, rtol=1e-6)
    np.testing.assert_allclose(f(input_0=x)[0], want, rtol=1e-6)


def test_name_mapping_is_deterministic_and_distinct():
    names = NameMap(["a.b", "a_b", "0", "class", "a.b"])
    assert names.to_python == {"a.b": "a_b", "a_b": "a_b_2", "0": "v0", "class": "class_"}
    assert python_name("x y-z") == "x_y_z"


def test_params_as_inputs_give_gradients_with_respect_to_weights():
    m = gn.onnx.load(dense_relu(), params="inputs")
    w = m.param_inputs["w.weight"]
    assert w.name == "w_weight" and m.names["w.weight"] == "w_weight"
    assert list(m.graph.inputs) == [*m.inputs, *m.param_inputs.values()]
    loss = gn.sum(m.outputs[0])
    x = np.ones((2, 3), np.float32)
    (dw,) = gn.evaluate([gn.grad(loss, [w])[0]], m.feed(x))
    z = x @ m.params["w.weight"] + m.params["b"]
    np.testing.assert_allclose(dw, x.T @ (z > 0).astype(np.float32), rtol=1e-6)
    f = m.compile()
    np.testing.assert_allclose(f(x, m.params["w.weight"], m.params["b"])[0], reference(x, m),
                               rtol=1e-6)


def test_symbolic_dimensions_need_a_size():
    proto = dense_relu(dims=("N", 3))
    with pytest.raises(OnnxError, match=r"symbolic dimension 'N' at axis 0.*shapes=.*batch=1"):
        gn.onnx.load(proto)
    assert gn.onnx.load(proto, batch=5).inputs[0].shape == (5, 3)
    assert gn.onnx.load(proto, shapes={"input/0": (7, 3)}).inputs[0].shape == (7, 3)
    assert gn.onnx.load(proto, shapes={"input_0": (1, 3)}).inputs[0].shape == (1, 3)
    with pytest.raises(OnnxError, match=r"shapes gives input 'input/0' the shape \(7, 4\)"):
        gn.onnx.load(proto, shapes={"input/0": (7, 4)})


def test_shape_subgraph_is_folded_at_import():
    # y = reshape(x, concat(shape(x)[0:1], [-1])): Shape -> Gather -> Unsqueeze -> Concat
    nodes = [("Shape", ["x"], ["s"], {}),
             ("Gather", ["s", "zero"], ["n"], {"axis": 0}),
             ("Unsqueeze", ["n", "axes"], ["n1"], {}),
             ("Concat", ["n1", "minus1"], ["target"], {"axis": 0}),
             ("Reshape", ["x", "target"], ["y"], {})]
    proto = model(nodes, [("x", FLOAT, ["batch", 2, 3])], [("y", FLOAT, ["batch", 6])],
                  [("zero", np.array(0)), ("axes", np.array([0])), ("minus1", np.array([-1]))])
    m = gn.onnx.load(proto, batch=4)
    assert m.outputs[0].shape == (4, 6)
    ops = {n.op for n in m.graph.nodes}
    assert ops == {"input", "reshape"}
    x = np.random.default_rng(0).standard_normal((4, 2, 3)).astype(np.float32)
    np.testing.assert_array_equal(m.compile()(x)[0], x.reshape(4, 6))


def test_inputs_given_at_import_as_constants():
    proto = model([("Reshape", ["x", "shape"], ["y"], {})],
                  [("x", FLOAT, [2, 3]), ("shape", INT64, [2])], [("y", FLOAT, [3, 2])])
    with pytest.raises(OnnxError, match="Reshape.*the target shape computed at run time .*"
                                        "must be known at import"):
        gn.onnx.load(proto)
    m = gn.onnx.load(proto, constants={"shape": np.array([3, 2])})
    assert [n.name for n in m.inputs] == ["x"] and m.outputs[0].shape == (3, 2)
    with pytest.raises(OnnxError, match="constants names 'shap'"):
        gn.onnx.load(proto, constants={"shap": np.array([3, 2])})


def test_cut_network_at_an_inner_value():
    m = gn.onnx.load(dense_relu(), outputs=["z"])
    assert m.output_names == ["z"] and {n.op for n in m.graph.nodes} == {"input", "constant",
                                                                          "matmul", "add"}
    with pytest.raises(OnnxError, match="no node of the model computes; did you mean 'z'"):
        gn.onnx.load(dense_relu(), outputs=["zz"])


def test_each_onnx_node_is_a_scope():
    m = gn.onnx.load(dense_relu())
    scopes = {n.scope for n in m.graph.nodes if n.op not in ("input", "constant")}
    assert scopes == {("n0_matmul",), ("n1_add",), ("n2_relu",)}
    source = gn.render(m.outputs).source
    assert "cluster" in source and "n0_matmul" in source


def test_unsupported_operator_names_the_node():
    proto = model([("Relu", ["x"], ["h"], {}), ("Det", ["h"], ["y"], {})],
                  [("x", FLOAT, [3, 3])], [("y", FLOAT, [])])
    with pytest.raises(OnnxError, match=r"ONNX node 1 'n1_det' \(Det\): the operator "
                                        r"Det at opset 18"):
        gn.onnx.load(proto)


def test_unsupported_attribute_value_names_the_node_and_value():
    proto = model([("MaxPool", ["x"], ["y"], {"kernel_shape": [2, 2], "dilations": [2, 2]})],
                  [("x", FLOAT, [1, 4, 5, 5])], [("y", FLOAT, [1, 4, 3, 3])])
    with pytest.raises(OnnxError, match=r"ONNX node 0 'n0_maxpool' \(MaxPool\): attribute "
                                        r"dilations=\[2, ?2\]"):
        gn.onnx.load(proto)


def test_conv_pooling_and_norms_import_onto_graphnn_ops():
    # grouped, dilated, asymmetrically padded Conv (the BatchNormalization folded into it);
    # padded pooling without counting the padding; the normalizations as graphnn's own
    # composites: values as onnxruntime's
    rng = np.random.default_rng(4)
    channels = rng.uniform(0.5, 2.0, (4, 4)).astype(np.float32)
    proto = model([
        ("Conv", ["x", "w"], ["c"], {"group": 2, "dilations": [2, 1], "pads": [1, 0, 2, 1]}),
        ("BatchNormalization", ["c", "gamma", "beta", "mean", "var"], ["b"], {}),
        ("AveragePool", ["b"], ["a"], {"kernel_shape": [3, 2], "pads": [1, 1, 0, 0],
                                       "count_include_pad": 0}),
        ("MaxPool", ["a"], ["m"], {"kernel_shape": [2, 2], "pads": [0, 1, 1, 0]}),
        ("LayerNormalization", ["m", "scale"], ["y"], {"axis": -2})],
        [("x", FLOAT, [2, 4, 7, 6])], [("y", FLOAT, [2, 4, 7, 5])],
        [("w", rng.standard_normal((4, 2, 2, 3)).astype(np.float32)),
         *zip(("gamma", "beta", "mean", "var"), channels),
         ("scale", rng.standard_normal((7, 5)).astype(np.float32))])
    m = gn.onnx.load(proto)
    ops = {n.op for n in m.graph.nodes}
    assert {"conv2d", "avg_pool2d", "max_pool2d", "layer_norm"} <= ops
    assert "batch_norm" not in ops
    x = rng.standard_normal((2, 4, 7, 6)).astype(np.float32)
    session = onnxruntime.InferenceSession(proto.SerializeToString(),
                                           providers=["CPUExecutionProvider"])
    (want,) = session.run(None, {"x": x})
    np.testing.assert_allclose(m.compile()(x)[0], want, rtol=1e-4, atol=1e-5)


def test_unknown_attribute_is_refused_unless_it_is_the_default():
    proto = model([("Conv", ["x", "w"], ["y"], {"group": 1})],
                  [("x", FLOAT, [1, 2, 5, 5])], [("y", FLOAT, [1, 2, 3, 3])],
                  [("w", np.ones((2, 2, 3, 3), np.float32))])
    assert gn.onnx.load(proto).outputs[0].shape == (1, 2, 3, 3)
    proto = model([("Relu", ["x"], ["y"], {"bogus": 3})], [("x", FLOAT, [2])], [("y", FLOAT, [2])])
    with pytest.raises(OnnxError, match="not valid ONNX: Unrecognized attribute: bogus"):
        gn.onnx.load(proto)


def test_old_opset_semantics_softmax_coerces_to_2d():
    proto = model([("Softmax", ["x"], ["y"], {"axis": 1})], [("x", FLOAT, [2, 3, 4])],
                  [("y", FLOAT, [2, 3, 4])], opset=11)
    x = np.random.default_rng(1).standard_normal((2, 3, 4)).astype(np.float32)
    got = gn.evaluate(gn.onnx.load(proto).outputs[0], {"x": x})
    flat = x.reshape(2, 12)
    want = (np.exp(flat) / np.exp(flat).sum(1, keepdims=True)).reshape(2, 3, 4)
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_softplus_composition_is_accurate_over_a_wide_range():
    proto = model([("Softplus", ["x"], ["y"], {})], [("x", FLOAT, [7])], [("y", FLOAT, [7])])
    x = np.array([-100, -20, -1, 0, 1, 20, 100], np.float32)
    got = gn.evaluate(gn.onnx.load(proto).outputs[0], {"x": x})
    want = np.logaddexp(0, x.astype(np.float64))
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


def test_folding_gives_arrays_of_onnx_dtypes():
    # Shape -> Cast(float) -> Mul by the input: int64 shape arithmetic folded, then a float
    nodes = [("Shape", ["x"], ["s"], {}), ("Cast", ["s"], ["f"], {"to": TensorProto.FLOAT}),
             ("Mul", ["x", "f"], ["y"], {})]
    proto = model(nodes, [("x", FLOAT, [3])], [("y", FLOAT, [3])])
    m = gn.onnx.load(proto)
    np.testing.assert_array_equal(gn.evaluate(m.outputs[0], {"x": np.ones(3, np.float32)}),
                                  [3, 3, 3])


def test_model_proto_bytes_and_path_load_alike(tmp_path):
    proto = dense_relu()
    path = tmp_path / "m.onnx"
    onnx.save(proto, str(path))
    for source in (proto, proto.SerializeToString(), path, str(path)):
        assert gn.onnx.load(source).outputs[0].shape == (2, 4)


def test_wrong_params_option():
    with pytest.raises(OnnxError, match="params must be 'constants' or 'inputs'"):
        gn.onnx.load(dense_relu(), params="weights")


def test_feed_errors_name_the_inputs():
    m = gn.onnx.load(dense_relu())
    with pytest.raises(gn.InputError, match="no input 'x'.*'input/0'"):
        m.feed(x=np.ones((2, 3), np.float32))


def test_graph_with_an_unused_input_and_opset_range():
    value = helper.make_tensor_value_info("unused", FLOAT, [1])
    proto = dense_relu()
    proto.graph.input.append(value)
    m = gn.onnx.load(proto)
    assert [n.name for n in m.inputs] == ["input_0", "unused"]
    assert gn.onnx.load(dense_relu(opset=11)).opset == 11
