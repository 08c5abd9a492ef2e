"""One small graph per optimizer rule, on which that rule fires: the before/after golden tests.

EXAMPLES maps each rule's name to (golden file stem, graph builder). Inputs have 12 elements so
the edge feed below can give every input 0, -0, ±inf, NaN, huge and subnormal values.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

import graphnn as gn
from graphnn.ops import broadcast_like, size

EDGES = [0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, -1.5, 1e300, -1e-310, 2.5, -3.0, 0.5]


def edge_feed(graph: gn.Graph, shift: int = 0) -> dict[str, np.ndarray]:
    """Every input gets the edge values, each input rotated differently (so pairs vary)."""
    feed = {}
    for k, node in enumerate(graph.inputs):
        values = np.roll(np.resize(EDGES, node.shape or (1,)), 5 * k + shift)
        with np.errstate(over="ignore"):
            feed[node.name] = np.asarray(values.reshape(node.shape), dtype=node.dtype)
    return feed


def _slice_grads() -> gn.Graph:
    # the gradient of three parts cut from one axis (q, k and v of attention), in no order
    x = gn.input("x", shape=(2, 12))
    parts = [gn.input(name, shape=(2, 4)) for name in ("a", "b", "c")]
    grads = [gn.ops.slice_grad(g, x, index=(slice(None), slice(4 * k, 4 * k + 4)))
             for k, g in zip((1, 0, 2), parts)]
    return _graph((grads[0] + grads[1]) + grads[2])


def _pool_first() -> gn.Graph:
    # a convolution's bias and ReLU under a max pooling (a per-channel bias, and one shaped
    # as an image's planes), with padding; a bias varying along the width stays
    x = gn.input("x", shape=(1, 2, 4, 6))
    b, row = gn.input("b", shape=(2, 1, 1)), gn.input("r", shape=(6,))
    return _graph(gn.max_pool2d(gn.relu(x + b)),
                  gn.max_pool2d(gn.reshape(b, (1, 2, 1, 1)) + x, kernel=3, stride=1,
                                padding=1),
                  gn.max_pool2d(x * 2.0 + row))


def _xy(shape=(12,)):
    return gn.input("x", shape=shape), gn.input("y", shape=shape)


def _graph(*outputs: gn.Node) -> gn.Graph:
    return gn.Graph(list(outputs))


def _relu_like(op: str, **attrs) -> Callable[[], gn.Graph]:
    def build():
        x = gn.input("x", shape=(12,))
        h = gn.apply(op, x, **attrs)
        return _graph(h, gn.grad(gn.sum(h * h), x))
    return build


def _neg_pair():
    x, y = _xy()
    return _graph(-((-x) / y), -(x * 2.0))


def _dead_broadcast():
    x, b = gn.input("x", shape=(2, 6)), gn.input("b", shape=(6,))
    return _graph(broadcast_like(b, gn.exp(x)) * 2.0)


EXAMPLES: dict[str, tuple[str, Callable[[], gn.Graph]]] = {
    # fold
    "broadcast(C) -> broadcast(c) for uniform C": ("fold_uniform_broadcast", lambda: _graph(
        _xy((2, 6))[0] * gn.broadcast_to(np.ones((1, 6)), (2, 6)))),
    "f(constants) -> constant": ("fold_constants", lambda: _graph(
        _xy()[0] + gn.constant(2.0) * 3.0)),
    "f(splat a, splat b) -> splat f(a, b)": ("fold_splats", lambda: _graph(
        gn.input("x", shape=(64, 784)) + gn.exp(gn.broadcast_to(gn.constant(1.0), (64, 784))))),
    "layout(splat c) -> splat c": ("fold_layout_of_splat", lambda: _graph(
        gn.input("x", shape=(6, 4)) * gn.reshape(gn.broadcast_to(gn.constant(2.0), (4, 6)),
                                                 (6, 4)))),
    # simplify: identities
    "x * 1 -> x": ("mul_one", lambda: _graph(
        _xy()[0] * 1.0, gn.input("v", shape=(6,)) * np.ones((2, 6)))),
    "x / 1 -> x": ("div_one", lambda: _graph(_xy()[0] / 1.0)),
    "x + -0 -> x": ("add_negative_zero", lambda: _graph(_xy()[0] + gn.constant(-0.0))),
    "x - 0 -> x": ("sub_zero", lambda: _graph(gn.sub(_xy()[0], 0.0))),
    "x ** 1 -> x": ("pow_one", lambda: _graph(_xy()[0] ** 1.0)),
    "maximum(x, x) -> x": ("maximum_same", lambda: _graph(gn.maximum(*[_xy()[0]] * 2))),
    "minimum(x, x) -> x": ("minimum_same", lambda: _graph(gn.minimum(*[_xy()[0]] * 2))),
    "layout(x) -> x for an identity layout op": ("identity_layout", lambda: _graph(
        gn.reshape(_xy((2, 6))[0], (2, 6)), gn.transpose(_xy((2, 6))[0], (0, 1)),
        gn.broadcast_to(_xy((2, 6))[0], (2, 6)))),
    "layout(layout(x)) -> layout(x)": ("layout_chain", lambda: _graph(
        gn.transpose(gn.transpose(gn.input("t", shape=(2, 3, 2)), (1, 2, 0)), (1, 2, 0)),
        gn.reshape(gn.reshape(_xy()[0], (3, 4)), (2, 6)))),
    "f(broadcast_to(v), y) -> f(v, y) for elementwise f": ("implicit_broadcast", lambda: _graph(
        gn.broadcast_to(gn.input("b", shape=(6,)), (2, 6)) + _xy((2, 6))[0])),
    # simplify: cheaper forms
    "x * x -> square(x)": ("mul_self", lambda: _graph(_xy()[0] * _xy()[0])),
    "x / 2^k -> x * 2^-k": ("div_power_of_two", lambda: _graph(_xy()[0] / 64.0)),
    "square(-x) -> square(x)": ("square_neg", lambda: _graph(gn.square(-_xy()[0]))),
    "abs(-x) -> abs(x)": ("abs_neg", lambda: _graph(gn.abs(-_xy()[0]))),
    "zeros @ y -> sum(y * 0) + 0": ("zero_product", lambda: _graph(
        gn.broadcast_to(gn.constant(0.0), (2, 3)) @ _xy((3, 4))[0],
        _xy((3, 4))[1].T @ np.zeros((3, 5)))),
    # simplify: negations
    "-(-x) -> x": ("neg_neg", lambda: _graph(gn.neg(gn.neg(_xy()[0])))),
    "x * -1 -> -x": ("mul_minus_one", lambda: _graph(_xy()[0] * -1.0)),
    "x / -1 -> -x": ("div_minus_one", lambda: _graph(_xy()[0] / -1.0)),
    "(-x) * (-y) -> x * y": ("mul_neg_neg", lambda: _graph((-_xy()[0]) * (-_xy()[1]))),
    "(-x) / (-y) -> x / y": ("div_neg_neg", lambda: _graph((-_xy()[0]) / (-_xy()[1]))),
    "x - (-y) -> x + y": ("sub_neg", lambda: _graph(_xy()[0] - (-_xy()[1]))),
    "x + (-y) -> x - y": ("add_neg", lambda: _graph(_xy()[0] + (-_xy()[1]))),
    "-(e) -> e with the negation absorbed": ("absorb_negation", _neg_pair),
    "(-x) * y -> -(x * y)": ("hoist_negation", lambda: _graph((-_xy()[0]) * _xy()[1])),
    "max_pool2d(relu(x) or x + b) -> relu(max_pool2d(x)) or max_pool2d(x) + b": (
        "pool_first", _pool_first),
    # simplify: joins
    "sum of slice_grads tiling an axis -> concat": ("slice_grads_concat", _slice_grads),
    # reuse forward
    "step(x) -> step(relu(x))": ("relu_mask", _relu_like("relu")),
    "step(x) -> step(leaky_relu(x))": ("leaky_relu_mask", _relu_like("leaky_relu", alpha=0.1)),
    "step(x) -> step(elu(x))": ("elu_mask", _relu_like("elu")),
    # eliminate dead
    "size(x) -> N": ("size", lambda: _graph(
        gn.sum(_xy((2, 6))[0]) / size(gn.exp(_xy((2, 6))[1]), axis=0))),
    "broadcast_like(x, unread) -> broadcast_to(x)": ("dead_broadcast_like", _dead_broadcast),
}
