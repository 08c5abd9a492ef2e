"""gn.onnx.save: every op of the registry with an ONNX counterpart checked against onnxruntime
(registry-driven, from tests/ops/cases.py), trained digits networks, a gradient graph, and round
trips through ONNX both ways."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime
import pytest

import graphnn as gn
from graphnn import nn
from graphnn.ir import REGISTRY, apply
from graphnn.onnx import OnnxError
from graphnn.onnx.export_ops import EXPORTS, NO_COUNTERPART
from tests.onnx.models import dense_relu
from tests.ops.cases import CASES

SOURCES = ("input", "constant")
EXPORTED = sorted(n for n in REGISTRY if n not in SOURCES and n not in NO_COUNTERPART)


def run_onnxruntime(data: bytes, feed: dict) -> list[np.ndarray]:
    session = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])
    names = {i.name for i in session.get_inputs()}
    return session.run(None, {k: v for k, v in feed.items() if k in names})


def test_every_op_has_an_onnx_form_or_a_stated_reason():
    for name in REGISTRY:
        if name in SOURCES:
            continue
        assert name in EXPORTS or REGISTRY[name].composite or name in NO_COUNTERPART, name


@pytest.mark.parametrize("name", EXPORTED)
def test_exported_op_matches_onnxruntime(name):
    rng = np.random.default_rng(0)
    for case in CASES[name]:
        # float operands in float32, indices and conditions in their own dtype
        arrays = [a if case.dtype_of(k) else a.astype(np.float32)
                  for k, a in enumerate(case.draw(rng))]
        xs = [gn.input(f"in{k}", a.shape, a.dtype.name) for k, a in enumerate(arrays)]
        y = apply(name, *xs, **case.attrs)
        feed = {x.name: a for x, a in zip(xs, arrays)}
        (got,) = run_onnxruntime(gn.onnx.to_bytes([y], inputs=xs), feed)
        want = gn.evaluate(y, feed)
        assert got.shape == want.shape and got.dtype == want.dtype
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-6, err_msg=case.label)


def test_op_without_counterpart_is_a_clear_error():
    x = gn.input("x", (1, 1, 2, 2), "float32")
    h = gn.input("h", (1, 1, 2, 2), "float32")
    y = gn.ops.max_pool2d_select(x, gn.max_pool2d(x), h)
    with pytest.raises(OnnxError, match="max_pool2d_select .* has no ONNX form: the second"):
        gn.onnx.to_bytes([y])


def test_options_are_checked(tmp_path):
    x = gn.input("x", (2,), "float32")
    with pytest.raises(OnnxError, match="opset must be an int from 13"):
        gn.onnx.save([gn.relu(x)], tmp_path / "m.onnx", opset=9)
    with pytest.raises(OnnxError, match="names must give 1 distinct output names"):
        gn.onnx.save([gn.relu(x)], tmp_path / "m.onnx", names=["a", "b"])
    with pytest.raises(OnnxError, match="cannot write"):
        gn.onnx.save([gn.relu(x)], tmp_path / "missing" / "m.onnx")


def test_float64_graph_and_older_opset():
    x = gn.input("x", (3, 4))
    y = gn.mean(gn.softmax(x, axis=0) * gn.exp(x), axis=1, keepdims=True)
    value = np.random.default_rng(1).standard_normal((3, 4))
    (got,) = run_onnxruntime(gn.onnx.to_bytes([y], opset=13), {"x": value})
    np.testing.assert_allclose(got, gn.evaluate(y, {"x": value}), rtol=1e-12)


@pytest.fixture(scope="module")
def digits():
    x, y = nn.datasets.load_digits(images=True)
    return x[:400], y[:400]


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_trained_digits_networks_match_onnxruntime(digits, kind, tmp_path):
    x, y = digits
    if kind == "mlp":
        layers, x = [nn.Dense(32, "relu"), nn.Dense(10)], x.reshape(len(x), 64)
    else:
        layers = [nn.Conv2D(8, 3, padding=1, activation="relu"), nn.MaxPool2D(2),
                  nn.Flatten(), nn.Dense(10)]
    model = nn.Sequential(layers, input_shape=x.shape[1:], seed=0)
    model.fit(x, y, loss="softmax_cross_entropy", optimizer=nn.Adam(lr=0.01), epochs=2,
              batch_size=50, progress=False)
    path = model.save_onnx(tmp_path / f"{kind}.onnx")
    for batch in (1, 37):                  # a symbolic batch: any size runs
        (got,) = run_onnxruntime(path.read_bytes(), {"x": x[:batch]})
        np.testing.assert_allclose(got, model.predict(x[:batch]), rtol=1e-4, atol=1e-5)
    imported = gn.onnx.load(path, batch=37)
    np.testing.assert_allclose(imported.compile()(x[:37])[0], model.predict(x[:37]),
                               rtol=1e-5, atol=1e-6)


def test_gradient_graph_matches_onnxruntime():
    # a CNN's loss and its gradients (conv2d_grad_input/weight, max_pool2d_grad,
    # avg_pool2d_grad, step, broadcast_like, size, ...) written as ONNX and run there
    rng = np.random.default_rng(2)
    x = gn.input("x", (4, 1, 6, 6), "float32")
    w = gn.input("w", (3, 1, 3, 3), "float32")
    v = gn.input("v", (3, 8), "float32")
    h = gn.max_pool2d(gn.relu(gn.conv2d(x, w, padding=1)), kernel=2, stride=2)
    logits = gn.reshape(gn.avg_pool2d(h, kernel=3), (4, 3)) @ v
    loss = gn.softmax_cross_entropy(logits, np.eye(8, dtype=np.float32)[[0, 1, 2, 3]])
    outputs = [loss, *gn.grad(loss, [x, w, v])]
    feed = {"x": rng.standard_normal((4, 1, 6, 6)).astype(np.float32),
            "w": rng.standard_normal((3, 1, 3, 3)).astype(np.float32),
            "v": rng.standard_normal((3, 8)).astype(np.float32)}
    got = run_onnxruntime(gn.onnx.to_bytes(outputs), feed)
    for a, b in zip(got, gn.evaluate(outputs, feed)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_round_trip_graphnn_onnx_graphnn_same_values_and_gradients():
    rng = np.random.default_rng(3)
    x = gn.input("x", (5, 4), "float32")
    w = gn.input("w", (4, 3), "float32")
    z = x @ w
    loss = gn.mean(gn.square(gn.log_softmax(gn.tanh(z) * 2.0 - gn.maximum(z, 0.5))))
    m = gn.onnx.load(gn.onnx.to_bytes([loss], inputs=[x, w]))
    again, (mx, mw) = m.outputs[0], m.inputs
    xv = rng.standard_normal((5, 4)).astype(np.float32)
    wv = rng.standard_normal((4, 3)).astype(np.float32)
    ours = gn.evaluate([loss, *gn.grad(loss, [x, w])], {"x": xv, "w": wv})
    theirs = gn.evaluate([again, *gn.grad(again, [mx, mw])], {mx: xv, mw: wv})
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_round_trip_onnx_graphnn_onnx_runs_in_onnxruntime():
    proto = dense_relu()
    m = gn.onnx.load(proto)
    again = gn.onnx.to_bytes(m.outputs, inputs=m.inputs)
    x = np.random.default_rng(4).standard_normal((2, 3)).astype(np.float32)
    (want,) = run_onnxruntime(proto.SerializeToString(), {"input/0": x})
    (got,) = run_onnxruntime(again, {"input_0": x})
    np.testing.assert_allclose(got, want, rtol=1e-6)


@pytest.mark.parametrize("opset, axis, operator", [(18, -1, "LayerNormalization"),
                                                   (18, (1, 2), "LayerNormalization"),
                                                   (13, -1, None), (18, 0, None)])
def test_layer_norm_is_layer_normalization_where_onnx_has_it(opset, axis, operator):
    # LayerNormalization (opset 17) normalizes trailing axes; other axes, and older opsets,
    # get the expansion: both run in onnxruntime with graphnn's values
    x = gn.input("x", (2, 3, 4), "float32")
    y = gn.layer_norm(x, axis=axis, eps=1e-3)
    data = gn.onnx.to_bytes([y], opset=opset)
    types = {n.op_type for n in onnx.load_from_string(data).graph.node}
    assert (operator in types) if operator else ("LayerNormalization" not in types)
    value = np.random.default_rng(3).standard_normal((2, 3, 4)).astype(np.float32)
    (got,) = run_onnxruntime(data, {"x": value})
    np.testing.assert_allclose(got, gn.evaluate(y, {"x": value}), rtol=1e-5, atol=1e-6)
