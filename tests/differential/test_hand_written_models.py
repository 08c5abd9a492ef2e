"""An LSTM cell (unrolled over a few steps) and multi-head scaled dot-product attention written
by hand in graphnn ops match NumPy implementations of their textbook equations, forward and
backward (the backward written out by hand in NumPy, not by differences), evaluated and
compiled; and PyTorch's autograd when PyTorch is installed.

Tolerance: 1e-10 relative in float64 (a few dozen ops chained; the compiler's polynomial
exp/tanh and reassociated sums differ from NumPy in the last bits).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import graphnn as gn

RTOL = 1e-10
GATES = ("i", "f", "g", "o")          # input, forget, candidate (tanh), output


def sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def computed(path: str, outputs, feed, wrt) -> list[np.ndarray]:
    """The outputs by the NumPy reference or compiled."""
    if path == "evaluate":
        return gn.evaluate(outputs, feed)
    return gn.compile(outputs, inputs=wrt)(**feed)


def assert_gradients(wrt, got, expected: dict, rtol: float = RTOL, atol: float = 1e-12):
    """Each gradient in got (in the order of wrt) equals expected[name], where given."""
    for node, value in zip(wrt, got):
        if node.name in expected:
            np.testing.assert_allclose(value, expected[node.name], rtol=rtol, atol=atol,
                                       err_msg=f"gradient in {node.name}")


# ---------------------------------------------------------------------------------------------
# LSTM: i, f, o = sigmoid(x W + h U + b), g = tanh(...), c' = f c + i g, h' = o tanh(c')


def lstm_parameters(rng, features: int, units: int) -> dict[str, np.ndarray]:
    values = {}
    for gate in GATES:
        values[f"W{gate}"] = rng.standard_normal((features, units)) * 0.5
        values[f"U{gate}"] = rng.standard_normal((units, units)) * 0.5
        values[f"b{gate}"] = rng.standard_normal(units) * 0.5
    return values


def lstm_graph(xs, h, c, p):
    """The unrolled cell in graphnn ops; p maps parameter names to nodes."""
    for x in xs:
        pre = {k: x @ p[f"W{k}"] + h @ p[f"U{k}"] + p[f"b{k}"] for k in GATES}
        i, f, o = gn.sigmoid(pre["i"]), gn.sigmoid(pre["f"]), gn.sigmoid(pre["o"])
        c = f * c + i * gn.tanh(pre["g"])
        h = o * gn.tanh(c)
    return h, c


def lstm_numpy(xs, h, c, p):
    """Forward (h, c) and the saved states of every step."""
    steps = []
    for x in xs:
        pre = {k: x @ p[f"W{k}"] + h @ p[f"U{k}"] + p[f"b{k}"] for k in GATES}
        act = {k: np.tanh(v) if k == "g" else sigmoid(v) for k, v in pre.items()}
        steps.append((x, h, c, act))
        c = act["f"] * c + act["i"] * act["g"]
        h = act["o"] * np.tanh(c)
    return h, c, steps


def lstm_numpy_backward(dh, dc, steps, p):
    """Backpropagation through time of sum(h R) + sum(c S), from dh = R and dc = S."""
    grads = {name: np.zeros_like(v) for name, v in p.items()}
    dxs = []
    for x, h_prev, c_prev, act in reversed(steps):
        c = act["f"] * c_prev + act["i"] * act["g"]
        tc = np.tanh(c)
        dc = dc + dh * act["o"] * (1.0 - tc * tc)
        local = {"i": dc * act["g"], "f": dc * c_prev, "g": dc * act["i"], "o": dh * tc}
        dpre = {k: local[k] * (1.0 - act[k] ** 2) if k == "g" else
                local[k] * act[k] * (1.0 - act[k]) for k in GATES}
        dh, dx = np.zeros_like(h_prev), np.zeros_like(x)
        for k in GATES:
            grads[f"W{k}"] += x.T @ dpre[k]
            grads[f"U{k}"] += h_prev.T @ dpre[k]
            grads[f"b{k}"] += dpre[k].sum(axis=0)
            dh = dh + dpre[k] @ p[f"U{k}"].T
            dx = dx + dpre[k] @ p[f"W{k}"].T
        dxs.append(dx)
        dc = dc * act["f"]
    return grads, dxs[::-1], dh, dc


@pytest.fixture(scope="module")
def lstm():
    rng = np.random.default_rng(0)
    batch, features, units, steps = 3, 4, 5, 3
    feed = {f"x{t}": rng.standard_normal((batch, features)) for t in range(steps)}
    feed |= {"h0": rng.standard_normal((batch, units)), "c0": rng.standard_normal((batch, units))}
    feed |= lstm_parameters(rng, features, units)
    weights = {"R": rng.standard_normal((batch, units)), "S": rng.standard_normal((batch, units))}
    nodes = {name: gn.input(name, shape=v.shape) for name, v in feed.items()}
    xs = [nodes[f"x{t}"] for t in range(steps)]
    h, c = lstm_graph(xs, nodes["h0"], nodes["c0"], nodes)
    loss = gn.sum(h * weights["R"]) + gn.sum(c * weights["S"])
    wrt = list(nodes.values())
    return feed, weights, nodes, [h, c, *gn.grad(loss, wrt)], wrt


def lstm_expected(feed, weights):
    p = {k: v for k, v in feed.items() if k[0] in "WUb"}
    xs = [feed[k] for k in sorted(k for k in feed if k.startswith("x"))]
    h, c, steps = lstm_numpy(xs, feed["h0"], feed["c0"], p)
    grads, dxs, dh0, dc0 = lstm_numpy_backward(weights["R"], weights["S"], steps, p)
    grads |= {f"x{t}": dx for t, dx in enumerate(dxs)} | {"h0": dh0, "c0": dc0}
    return h, c, grads


@pytest.mark.parametrize("path", ["evaluate", "compile"])
def test_lstm_cell_matches_the_textbook_equations(lstm, path):
    feed, weights, nodes, outputs, wrt = lstm
    got = computed(path, outputs, feed, wrt)
    h, c, grads = lstm_expected(feed, weights)
    np.testing.assert_allclose(got[0], h, rtol=RTOL)
    np.testing.assert_allclose(got[1], c, rtol=RTOL)
    assert_gradients(wrt, got[2:], grads, atol=1e-13)


def test_lstm_cell_matches_pytorch(lstm):
    torch = pytest.importorskip("torch", reason="PyTorch is not installed: the NumPy reference "
                                                "checks the LSTM alone")
    feed, weights, nodes, outputs, wrt = lstm
    tensors = {k: torch.tensor(v, requires_grad=True) for k, v in feed.items()}
    cell = torch.nn.LSTMCell(*feed["Wi"].shape, dtype=torch.float64)
    with torch.no_grad():       # torch packs the gates (i, f, g, o) as rows of one matrix
        cell.weight_ih.copy_(torch.tensor(np.concatenate([feed[f"W{k}"].T for k in GATES])))
        cell.weight_hh.copy_(torch.tensor(np.concatenate([feed[f"U{k}"].T for k in GATES])))
        cell.bias_ih.copy_(torch.tensor(np.concatenate([feed[f"b{k}"] for k in GATES])))
        cell.bias_hh.zero_()
    h, c = tensors["h0"], tensors["c0"]
    for t in range(len([k for k in feed if k.startswith("x")])):
        h, c = cell(tensors[f"x{t}"], (h, c))
    loss = (h * torch.tensor(weights["R"])).sum() + (c * torch.tensor(weights["S"])).sum()
    loss.backward()
    got = gn.evaluate(outputs, feed)
    np.testing.assert_allclose(got[0], h.detach().numpy(), rtol=RTOL)
    expected = {k: v.grad.numpy() for k, v in tensors.items() if v.grad is not None}
    units = feed["h0"].shape[1]
    for row, k in enumerate(GATES):     # the packed gradients, unpacked per gate
        rows = slice(row * units, (row + 1) * units)
        expected |= {f"W{k}": cell.weight_ih.grad[rows].numpy().T,
                     f"U{k}": cell.weight_hh.grad[rows].numpy().T,
                     f"b{k}": cell.bias_ih.grad[rows].numpy()}
    assert len(expected) == len(wrt)
    assert_gradients(wrt, got[2:], expected, rtol=1e-9)


# ---------------------------------------------------------------------------------------------
# Attention: Y = layer_norm(X + merge(softmax(Q K^T / sqrt(d) + causal mask) V) Wo), with
# Q, K, V = split(X Wq), split(X Wk), split(X Wv) into heads: batched matmul at rank 3 and 4


B, T, D, HEADS = 2, 4, 6, 2
DH = D // HEADS
MASK = np.triu(np.full((T, T), -np.inf), k=1)        # causal: position t sees 0..t


def split(v):
    """(B, T, D) -> (B, heads, T, D / heads)."""
    return v.reshape(B, T, HEADS, DH).transpose(0, 2, 1, 3)


def merge(v):
    return v.transpose(0, 2, 1, 3).reshape(B, T, D)


def attention_graph(x, p):
    def heads(v):
        return gn.transpose(gn.reshape(v, (B, T, HEADS, DH)), (0, 2, 1, 3))
    q, k, v = heads(x @ p["Wq"]), heads(x @ p["Wk"]), heads(x @ p["Wv"])
    scores = q @ gn.transpose(k, (0, 1, 3, 2)) / math.sqrt(DH) + MASK
    mixed = gn.softmax(scores, axis=-1) @ v
    merged = gn.reshape(gn.transpose(mixed, (0, 2, 1, 3)), (B, T, D))
    return gn.layer_norm(x + merged @ p["Wo"], eps=1e-5)


def attention_numpy(x, p):
    q, k, v = split(x @ p["Wq"]), split(x @ p["Wk"]), split(x @ p["Wv"])
    scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(DH) + MASK
    e = np.exp(scores - scores.max(axis=-1, keepdims=True))
    weights = e / e.sum(axis=-1, keepdims=True)
    merged = merge(weights @ v)
    z = x + merged @ p["Wo"]
    centered = z - z.mean(axis=-1, keepdims=True)
    spread = np.sqrt((centered ** 2).mean(axis=-1, keepdims=True) + 1e-5)
    return centered / spread, (q, k, v, weights, merged, spread)


def attention_numpy_backward(dy, y, saved, x, p):
    """The gradients of sum(y R) from dy = R, written out."""
    q, k, v, weights, merged, spread = saved
    dz = (dy - dy.mean(axis=-1, keepdims=True) - y * (dy * y).mean(axis=-1, keepdims=True)) \
        / spread
    grads = {"Wo": np.einsum("btd,bte->de", merged, dz)}
    dmixed = split(dz @ p["Wo"].T)
    dweights = dmixed @ v.transpose(0, 1, 3, 2)
    dv = weights.transpose(0, 1, 3, 2) @ dmixed
    dscores = weights * (dweights - (dweights * weights).sum(axis=-1, keepdims=True))
    dq = dscores @ k / math.sqrt(DH)
    dk = dscores.transpose(0, 1, 3, 2) @ q / math.sqrt(DH)
    dx = dz
    for name, d in (("Wq", dq), ("Wk", dk), ("Wv", dv)):
        grads[name] = np.einsum("btd,bte->de", x, merge(d))
        dx = dx + merge(d) @ p[name].T
    return grads | {"x": dx}


@pytest.fixture(scope="module")
def attention():
    rng = np.random.default_rng(1)
    feed = {"x": rng.standard_normal((B, T, D))}
    feed |= {name: rng.standard_normal((D, D)) / math.sqrt(D) for name in ("Wq", "Wk", "Wv",
                                                                           "Wo")}
    r = rng.standard_normal((B, T, D))
    nodes = {name: gn.input(name, shape=v.shape) for name, v in feed.items()}
    y = attention_graph(nodes["x"], nodes)
    wrt = list(nodes.values())
    return feed, r, [y, *gn.grad(gn.sum(y * r), wrt)], wrt


@pytest.mark.parametrize("path", ["evaluate", "compile"])
def test_attention_matches_the_textbook_equations(attention, path):
    feed, r, outputs, wrt = attention
    got = computed(path, outputs, feed, wrt)
    p = {k: v for k, v in feed.items() if k != "x"}
    y, saved = attention_numpy(feed["x"], p)
    grads = attention_numpy_backward(r, y, saved, feed["x"], p)
    np.testing.assert_allclose(got[0], y, rtol=RTOL, atol=1e-13)
    assert_gradients(wrt, got[1:], grads)


def test_attention_matches_pytorch(attention):
    torch = pytest.importorskip("torch", reason="PyTorch is not installed: the NumPy reference "
                                                "checks the attention alone")
    feed, r, outputs, wrt = attention
    t = {k: torch.tensor(v, requires_grad=True) for k, v in feed.items()}

    def heads(v):
        return v.reshape(B, T, HEADS, DH).transpose(1, 2)
    mixed = torch.nn.functional.scaled_dot_product_attention(
        heads(t["x"] @ t["Wq"]), heads(t["x"] @ t["Wk"]), heads(t["x"] @ t["Wv"]),
        is_causal=True)
    z = t["x"] + mixed.transpose(1, 2).reshape(B, T, D) @ t["Wo"]
    y = torch.nn.functional.layer_norm(z, (D,), eps=1e-5)
    (y * torch.tensor(r)).sum().backward()
    got = gn.evaluate(outputs, feed)
    np.testing.assert_allclose(got[0], y.detach().numpy(), rtol=1e-9, atol=1e-12)
    assert_gradients(wrt, got[1:], {k: v.grad.numpy() for k, v in t.items()}, rtol=1e-9)
