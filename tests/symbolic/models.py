"""Graphs the symbolic tests verify: the lecture neuron, logistic regression, a 2-4-1 sigmoid
MLP, and the 784-256-10 MLP that is too big for SymPy."""

from __future__ import annotations

import numpy as np

import graphnn as gn

NEURON_FEED = {"w0": 2.0, "x0": -1.0, "w1": -3.0, "x1": -2.0, "w2": -3.0}


def neuron():
    """f = sigmoid(w0 x0 + w1 x1 + w2), named f, and its five inputs."""
    w0, x0, w1, x1, w2 = (gn.input(name) for name in NEURON_FEED)
    return gn.sigmoid(w0 * x0 + w1 * x1 + w2, name="f"), [w0, x0, w1, x1, w2]


def logistic_regression():
    """BCE of a = sigmoid(w . x + b) against a label y; the parameters w and b."""
    x, w = gn.input("x", shape=(3,)), gn.input("w", shape=(3,))
    b, y = gn.input("b"), gn.input("y")
    a = gn.sigmoid(gn.sum(w * x) + b, name="a")
    return gn.binary_cross_entropy(a, y), [w, b]


def mlp_2_4_1(batch: int = 1):
    """MSE of a 2-4-1 sigmoid MLP; its four parameters."""
    x = gn.input("X", shape=(batch, 2))
    w1, b1 = gn.input("W1", shape=(2, 4)), gn.input("b1", shape=(4,))
    w2, b2 = gn.input("W2", shape=(4, 1)), gn.input("b2", shape=(1,))
    t = gn.input("T", shape=(batch, 1))
    h = gn.sigmoid(x @ w1 + b1, name="h")
    out = gn.sigmoid(h @ w2 + b2, name="out")
    return gn.mse(out, t), [w1, b1, w2, b2]


def mlp_784_256_10(batch: int):
    """Softmax cross-entropy of a 784-256-10 relu MLP, its parameters, and a feed."""
    x = gn.input("x", shape=(batch, 784))
    w1, b1 = gn.input("W1", shape=(784, 256)), gn.input("b1", shape=(256,))
    w2, b2 = gn.input("W2", shape=(256, 10)), gn.input("b2", shape=(10,))
    t = gn.input("t", shape=(batch, 10))
    loss = gn.softmax_cross_entropy(gn.relu(x @ w1 + b1) @ w2 + b2, t)
    rng = np.random.default_rng(0)
    feed = {"x": rng.normal(size=(batch, 784)), "W1": rng.normal(size=(784, 256)) * 0.05,
            "b1": rng.normal(size=256) * 0.1, "W2": rng.normal(size=(256, 10)) * 0.1,
            "b2": np.zeros(10), "t": np.eye(10)[rng.integers(0, 10, batch)]}
    return loss, [w1, b1, w2, b2], feed
