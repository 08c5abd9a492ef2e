"""nn.RNN, nn.LSTM and nn.GRU against NumPy implementations of their textbook equations (values,
and gradients by central differences), compiled against the reference in both float dtypes,
and against torch.nn.RNN/LSTM/GRU with weights copied through the state-dict helpers."""

from __future__ import annotations

import re

import numpy as np
import pytest

import graphnn as gn
from graphnn import nn
from graphnn.nn.recurrent import CELLS, GATES
from tests.nn import sequence_references as ref
from tests.nn.references import check_layer

try:
    import torch
except ImportError:           # the comparisons with PyTorch are skipped, the rest runs
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed: the "
                                 "comparison with torch.nn modules is skipped")

KINDS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
X = np.random.default_rng(1).normal(size=(2, 4, 3))


def model_of(kind, dtype="float64", units=3, **options):
    layer = KINDS[kind](units, **options)
    return nn.Sequential([layer], input_shape=(4, 3), dtype=dtype, seed=5), layer


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("return_sequences, bidirectional", [(False, False), (True, False),
                                                             (False, True), (True, True)])
def test_layer_equals_the_textbook_equations_with_gradients(kind, return_sequences,
                                                            bidirectional):
    model, layer = model_of(kind, return_sequences=return_sequences,
                            bidirectional=bidirectional)

    def reference(x, **params):
        return ref.recurrent_layer(kind, layer.name, 3, return_sequences, bidirectional, x,
                                   params)
    check_layer(model, X, reference)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_learned_initial_state_is_a_trained_parameter(kind):
    model, layer = model_of(kind, initial_state="learned")
    rng = np.random.default_rng(2)
    for name in model.values:
        if "0" in name.rsplit("_", 1)[-1]:         # h0, c0 start at zero: move them
            model.values[name][:] = rng.normal(size=model.values[name].shape)
    assert {p.name for p in model.trainable} >= {f"{layer.name}_h0"}

    def reference(x, **params):
        return ref.recurrent_layer(kind, layer.name, 3, False, False, x, params, learned=True)
    check_layer(model, X, reference)


@pytest.mark.parametrize("dtype, rtol", [("float64", 1e-10), ("float32", 2e-4)])
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_compiled_forward_and_gradients_equal_the_reference(kind, dtype, rtol):
    model, layer = model_of(kind, dtype, return_sequences=True, bidirectional=True)
    forward = model.build(2, training=True)
    g = np.random.default_rng(3).normal(size=forward.output.shape).astype(dtype)
    params = [p.node for p in model.trainable]
    loss = gn.sum(forward.output * gn.constant(g))
    outputs = [forward.output, *gn.grad(loss, [forward.x, *params])]
    f = gn.compile(outputs, [forward.x, *params])
    x = X.astype(dtype)
    got = f(x, *(model.values[p.name] for p in model.trainable))
    feed = {"x": X, **{k: v.astype("float64") for k, v in model.values.items()}}
    expected_out = ref.recurrent_layer(kind, layer.name, 3, True, True, X, feed)
    np.testing.assert_allclose(got[0], expected_out, rtol=rtol, atol=rtol)
    reference = gn.evaluate(outputs, {k: v.astype(dtype) for k, v in feed.items()})
    for k, (a, b) in enumerate(zip(got[1:], reference[1:])):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol, err_msg=f"gradient {k}")


def test_functions_on_nodes_take_an_initial_state():
    rng = np.random.default_rng(4)
    w_ih, w_hh = rng.normal(size=(3, 8)), rng.normal(size=(2, 8))
    b_ih, b_hh, h0, c0 = rng.normal(size=8), rng.normal(size=8), rng.normal(size=(2, 2)), \
        rng.normal(size=(2, 2))
    x = gn.input("x", (2, 4, 3))
    seq, (h, c) = nn.lstm(x, gn.constant(w_ih), gn.constant(w_hh), b_ih, b_hh,
                          gn.constant(h0), gn.constant(c0), reverse=True)
    got = gn.evaluate([seq, h, c], {"x": X})
    hs, (eh, ec) = ref.recurrent("lstm", X, (w_ih, w_hh, b_ih, b_hh), (h0, c0), reverse=True)
    for a, b in zip(got, (hs, eh, ec)):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    seq, h = nn.rnn(x, gn.constant(w_ih[:, :2]), gn.constant(w_hh[:, :2]), b_ih[:2],
                    b_hh[:2], gn.constant(h0), activation="relu")
    hs, _ = ref.recurrent("rnn", X, (w_ih[:, :2], w_hh[:, :2], b_ih[:2], b_hh[:2]), (h0,))
    hs_relu = []
    state = h0
    for t in range(4):
        state = np.maximum(X[:, t] @ w_ih[:, :2] + b_ih[:2] + state @ w_hh[:, :2] + b_hh[:2], 0)
        hs_relu.append(state)
    np.testing.assert_allclose(gn.evaluate(seq, {"x": X}), np.stack(hs_relu, 1), rtol=1e-12)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_one_step_cell_gradients_agree_with_sympy(kind):
    # the cell's gradient graph (what BPTT chains T times) against sympy.diff of the cell
    x, h, c = gn.input("x", (1, 2)), gn.input("h", (1, 2)), gn.input("c", (1, 2))
    gates = GATES[kind] * 2
    w_ih, w_hh, b = gn.input("w_ih", (2, gates)), gn.input("w_hh", (2, gates)), \
        gn.input("b", (gates,))
    state = (h, c) if kind == "lstm" else (h,)
    new = CELLS[kind](x @ w_ih, state, w_hh, b, "tanh")
    loss = gn.sum(new[0] * new[0]) + (gn.sum(new[1]) if kind == "lstm" else 0.0)
    report = gn.check_gradients(loss, [x, w_ih, w_hh, b, *state])
    assert report.ok, str(report)


def test_each_layer_is_one_cluster_with_one_cluster_per_time_step():
    model, layer = model_of("gru")
    out = model.build(2, training=False).output
    clusters = set(re.findall(r"subgraph (cluster_\w+)", gn.render(out).source))
    assert {f"cluster_{layer.name}", *(f"cluster_{layer.name}_step{t}" for t in range(4))} \
        <= clusters
    collapsed = gn.render(out, collapse=[layer.name]).source
    assert f"cluster_{layer.name}_step0" not in collapsed and "(collapsed)" in collapsed


def test_wrong_inputs_name_the_layer():
    with pytest.raises(nn.ModelError, match=r"LSTM.*\(batch, time, features\), got \(2, 3\)"):
        nn.Sequential([nn.LSTM(4)], input_shape=(3,))
    model, layer = model_of("lstm")
    with pytest.raises(nn.ModelError, match=r"shape \(n, 4, 3\).*got \(2, 5, 3\).*'lstm1' "
                                            r"\(LSTM\)"):
        model.predict(np.zeros((2, 5, 3)))
    with pytest.raises(nn.ModelError, match="RNN layer: activation must be 'tanh' or 'relu'"):
        nn.RNN(3, "sigmoid")
    with pytest.raises(nn.ModelError, match="initial_state must be 'zeros' or 'learned'"):
        nn.GRU(3, initial_state="random")


@needs_torch
@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("bidirectional", [False, True])
def test_equals_torch_with_copied_weights_values_and_gradients(kind, bidirectional):
    model, layer = model_of(kind, units=4, return_sequences=True,
                            bidirectional=bidirectional)
    torch.manual_seed(0)
    module = getattr(torch.nn, kind.upper())(3, 4, batch_first=True,
                                             bidirectional=bidirectional).double()
    nn.load_torch_state(model, layer.name,
                        {k: v.detach().numpy() for k, v in module.state_dict().items()})
    xt = torch.from_numpy(X.copy()).requires_grad_(True)
    yt = module(xt)[0]
    g = np.random.default_rng(6).normal(size=yt.shape)
    (yt * torch.from_numpy(g)).sum().backward()
    forward = model.build(2, training=True)
    grads = gn.grad(gn.sum(forward.output * gn.constant(g)),
                    [forward.x, model.parameters[f"{layer.name}_w_hh"].node])
    y, dx, dw_hh = gn.evaluate([forward.output, *grads], {"x": X, **model.values})
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dw_hh, module.weight_hh_l0.grad.numpy().T, rtol=1e-10,
                               atol=1e-12)
    # and back: graphnn's weights into a fresh torch module give the same module
    fresh = getattr(torch.nn, kind.upper())(3, 4, batch_first=True,
                                            bidirectional=bidirectional).double()
    fresh.load_state_dict({k: torch.from_numpy(v)
                           for k, v in nn.torch_state(model, layer.name).items()})
    np.testing.assert_allclose(fresh(torch.from_numpy(X))[0].detach().numpy(), y, rtol=1e-12)
