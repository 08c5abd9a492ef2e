"""The joining rule seen end to end: the gradient of parts cut from one axis (attention's q, k
and v, an LSTM's gates) is a concat copied part by part, with the values of the sum it
replaces; parts that do not tile the axis keep the sum."""

from __future__ import annotations

import numpy as np
import pytest

import graphnn as gn
from graphnn import nn
from graphnn.nn.attention import multi_head_attention
from graphnn.passes import optimize

RULE = "sum of slice_grads tiling an axis -> concat"


def _fired(outputs) -> int:
    _, report = optimize(gn.Graph(outputs), report=True)
    return sum(dict(record.fired).get(RULE, 0) for record in report.passes)


def _selects(f) -> int:
    return f.loop_ir.count("select(")


def test_attention_input_gradient_is_a_concat_of_the_three_parts():
    rng = np.random.default_rng(0)
    x = gn.input("x", (2, 5, 8), "float32")
    w_qkv = gn.input("w_qkv", (8, 24), "float32")
    c = gn.input("c", (2, 5, 8), "float32")
    y = multi_head_attention(x, w_qkv, np.zeros(24, np.float32),
                             gn.constant(np.eye(8, dtype=np.float32)), np.zeros(8, np.float32),
                             heads=2)
    loss = gn.sum(y * c)
    grads = gn.grad(loss, [x, w_qkv])
    assert _fired(grads) == 1
    f = gn.compile(grads, [x, w_qkv, c])
    assert _selects(f) == 0         # each part copied into its box: no per-element select
    feed = {"x": rng.normal(size=(2, 5, 8)).astype(np.float32),
            "w_qkv": rng.normal(size=(8, 24)).astype(np.float32),
            "c": rng.normal(size=(2, 5, 8)).astype(np.float32)}
    for found, expected in zip(f(**feed), gn.evaluate(grads, feed)):
        np.testing.assert_allclose(found, expected, rtol=1e-4, atol=1e-5)


def test_lstm_gate_gradients_are_one_concat_per_step():
    x = gn.input("x", (2, 3, 4), "float32")
    w_ih, w_hh = gn.input("w_ih", (4, 20), "float32"), gn.input("w_hh", (5, 20), "float32")
    _, (h, _) = nn.lstm(x, w_ih, w_hh, np.zeros(20, np.float32), np.zeros(20, np.float32))
    grads = gn.grad(gn.sum(h * h), [w_ih, w_hh])
    # the four gates' gradients of each of the 3 steps, and the steps' gradients stacked
    # along time (x[:, t] of each step) for w_ih's product
    assert _fired(grads) == 4
    rng = np.random.default_rng(1)
    feed = {"x": rng.normal(size=(2, 3, 4)).astype(np.float32),
            "w_ih": rng.normal(size=(4, 20)).astype(np.float32) * 0.5,
            "w_hh": rng.normal(size=(5, 20)).astype(np.float32) * 0.5}
    for found, expected in zip(gn.compile(grads)(**feed), gn.evaluate(grads, feed)):
        np.testing.assert_allclose(found, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("cuts", [
    [(0, 4), (8, 12)],              # a gap: the middle stays zero
    [(0, 8), (4, 12)],              # overlapping parts add up
    [(0, 4), (4, 12, 2), (5, 12, 2)],   # strided parts
])
def test_parts_that_do_not_tile_the_axis_keep_the_sum(cuts):
    x = gn.constant(np.zeros((3, 12)))         # read for its shape only
    grads = []
    for k, cut in enumerate(cuts):
        index = (slice(None), slice(*cut))
        part = gn.input(f"g{k}", shape=np.zeros((3, 12))[index].shape)
        grads.append(gn.ops.slice_grad(part, x, index=index))
    total = grads[0]
    for g in grads[1:]:
        total = total + g
    assert _fired([total]) == 0
    rng = np.random.default_rng(2)
    feed = {n.name: rng.normal(size=n.shape) for n in gn.Graph([total]).inputs}
    np.testing.assert_array_equal(gn.compile(total)(**feed), gn.evaluate(total, feed))


def test_negative_zero_becomes_positive_as_in_the_sum():
    x = gn.constant(np.zeros(4))
    a, b = gn.input("a", shape=(2,)), gn.input("b", shape=(2,))
    total = gn.ops.slice_grad(a, x, index=(slice(0, 2),)) + \
        gn.ops.slice_grad(b, x, index=(slice(2, 4),))
    found = gn.compile(total, [a, b])(np.array([-0.0, 1.0]), np.array([2.0, -0.0]))
    assert np.signbit(found).tolist() == [False] * 4
