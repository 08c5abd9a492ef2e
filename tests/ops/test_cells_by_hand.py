"""An LSTM over a sequence and multi-head scaled dot-product attention, written by hand from
graphnn's ops (slicing the sequence and the heads, concat, split, stack), against NumPy
implementations of their textbook equations: values, and gradients against central
differences of the NumPy code, evaluated and compiled, in float64."""

from __future__ import annotations

import numpy as np
import pytest

import graphnn as gn
from tests.support import central_difference

B, T, D, H = 2, 3, 3, 4          # batch, time steps, input features, hidden units


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def lstm_numpy(xs, h, c, w, b):
    """The textbook LSTM: [i f g o] = [x h] W + b; c' = σ(f) c + σ(i) tanh(g);
    h' = σ(o) tanh(c'). Returns the hidden states, (batch, time, hidden)."""
    states = []
    for t in range(xs.shape[1]):
        z = np.concatenate([xs[:, t], h], axis=1) @ w + b
        i, f, g, o = np.split(z, 4, axis=1)
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        h = sigmoid(o) * np.tanh(c)
        states.append(h)
    return np.stack(states, axis=1)


def lstm_graph(xs, h, c, w, b):
    states = []
    for t in range(xs.shape[1]):
        z = gn.concat([xs[:, t], h], axis=1) @ w + b
        i, f, g, o = gn.split(z, 4, axis=1)
        c = gn.sigmoid(f) * c + gn.sigmoid(i) * gn.tanh(g)
        h = gn.sigmoid(o) * gn.tanh(c)
        states.append(h)
    return gn.stack(states, axis=1)


def attention_numpy(x, wq, wk, wv, wo, heads, mask):
    """softmax(Q_h K_hᵀ / √d_k + mask) V_h per head h, the heads joined, times W_o."""
    q, k, v = x @ wq, x @ wk, x @ wv
    size = q.shape[-1] // heads
    outs = []
    for n in range(heads):
        part = slice(n * size, (n + 1) * size)
        scores = q[:, part] @ k[:, part].T / np.sqrt(size) + mask
        scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
        outs.append(scores / scores.sum(axis=-1, keepdims=True) @ v[:, part])
    return np.concatenate(outs, axis=-1) @ wo


def attention_graph(x, wq, wk, wv, wo, heads, mask):
    q, k, v = x @ wq, x @ wk, x @ wv
    size = q.shape[-1] // heads
    outs = []
    for n in range(heads):
        part = slice(n * size, (n + 1) * size)
        scores = q[:, part] @ gn.transpose(k[:, part]) / np.sqrt(size) + mask
        outs.append(gn.softmax(scores, axis=-1) @ v[:, part])
    return gn.concat(outs, axis=-1) @ wo


def _check(build_graph, build_numpy, arrays, weights):
    """Values and gradients of sum(out * weights) with respect to every array: the graph
    (evaluated and compiled) against the NumPy code and its central differences."""
    nodes = [gn.input(f"a{k}", shape=a.shape) for k, a in enumerate(arrays)]
    out = build_graph(*nodes)
    loss = gn.sum(out * weights)
    wanted = [out, *gn.grad(loss, nodes)]
    expected = [build_numpy(*arrays)] + [
        central_difference(lambda p: float(np.sum(build_numpy(*p) * weights)), arrays, k)
        for k in range(len(arrays))]
    feed = {n.name: a for n, a in zip(nodes, arrays)}
    for got in (gn.evaluate(gn.Graph(wanted, nodes), feed),
                gn.compile(wanted, inputs=nodes)(*arrays)):
        np.testing.assert_allclose(got[0], expected[0], rtol=1e-12, atol=1e-14)
        for g, e in zip(got[1:], expected[1:]):
            # central differences with steps of 1e-6 agree to about 1e-8
            np.testing.assert_allclose(g, e, rtol=1e-6, atol=1e-8)


def test_an_lstm_written_by_hand_matches_the_textbook_equations():
    rng = np.random.default_rng(0)
    arrays = [rng.normal(size=(B, T, D)), rng.normal(size=(B, H)), rng.normal(size=(B, H)),
              rng.normal(size=(D + H, 4 * H)) * 0.5, rng.normal(size=4 * H) * 0.1]
    _check(lstm_graph, lstm_numpy, arrays, rng.normal(size=(B, T, H)))


@pytest.mark.parametrize("causal", [False, True])
def test_attention_written_by_hand_matches_the_textbook_equations(causal):
    rng = np.random.default_rng(1)
    steps, width, heads = 4, 6, 2
    mask = np.triu(np.full((steps, steps), -1e9), k=1) if causal else np.zeros((steps, steps))
    arrays = [rng.normal(size=(steps, width))] + [rng.normal(size=(width, width)) * 0.4
                                                 for _ in range(4)]
    _check(lambda *a: attention_graph(*a, heads, mask),
           lambda *a: attention_numpy(*a, heads, mask), arrays, rng.normal(size=(steps, width)))
