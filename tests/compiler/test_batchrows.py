"""The row-independence analysis behind NAME_batch (graphnn/compiler/batchrows.py): graphs
whose rows are independent along the batch pass; every way of mixing rows is refused with a
reason naming what mixes them. The refusals are checked against the reference semantics: for
each refused graph, computing the rows in two chunks differs from computing them together."""

from __future__ import annotations

import numpy as np
import pytest

import graphnn as gn
from graphnn.compiler.batchrows import batch_rows
from graphnn.graph import Graph

B = 6


def x_(shape=(B, 4), name="x"):
    return gn.input(name, shape=shape)


def rng_constant(*shape):
    return gn.constant(np.random.default_rng(len(shape)).normal(size=shape))


def mlp():
    x = x_()
    w1, b1 = gn.input("w1", shape=(4, 5)), gn.input("b1", shape=(5,))
    return gn.softmax(gn.tanh(x @ w1 + b1) @ rng_constant(5, 3))


def cnn():
    x = gn.input("x", shape=(B, 1, 6, 6))
    h = gn.max_pool2d(gn.relu(gn.conv2d(x, rng_constant(2, 1, 3, 3), padding=1)), 2)
    return gn.reshape(h, (B, 18)) @ rng_constant(18, 3)


def transposed_round_trip():
    x = x_()
    return gn.transpose(gn.relu(gn.transpose(x)) * rng_constant(4, 1))


def images_flattened():
    return gn.sigmoid(gn.reshape(gn.input("x", shape=(B, 2, 3)), (B, 6)))


def labels_follow():
    x, t = x_(), gn.input("t", shape=(B, 3))
    return gn.softmax(x @ rng_constant(4, 3)) - t


def neighbours():
    """Each row smoothed with the rows above and below it: a 3x3 convolution over an image
    whose height is the batch."""
    x = x_()
    image = gn.reshape(x, (1, 1, B, 4))
    return gn.reshape(gn.conv2d(image, rng_constant(1, 1, 3, 3), padding=1), (B, 4))


INDEPENDENT = {"mlp": mlp, "cnn": cnn, "transposed round trip": transposed_round_trip,
               "images flattened": images_flattened, "labels follow": labels_follow,
               "log_softmax rows": lambda: gn.log_softmax(x_(), axis=1),
               "row sums": lambda: gn.sum(x_(), axis=1, keepdims=True) * x_(),
               "features sliced, padded, joined": lambda: gn.concat(
                   [x_()[:, ::-2], gn.pad(x_()[:, :1], ((0, 0), (1, 2)), value=3.0),
                    gn.flip(x_(), axis=1)], axis=1),
               "features stacked, tiled, repeated": lambda: gn.repeat(
                   gn.tile(gn.stack([x_(), x_() * 2.0], axis=1), (1, 1, 2)), 2, axis=2),
               "axes added, removed, split": lambda: gn.squeeze(gn.expand_dims(x_(), 1), 1)
               * gn.split(x_(), 2, axis=1)[1][:, None, -1]}

MIXING = {
    "mean loss": (lambda: gn.mean(gn.square(x_())), "combines the rows"),
    "column sums": (lambda: gn.sum(x_(), axis=0), "combines the rows"),
    "batch norm": (lambda: x_() - gn.mean(x_(), axis=0, keepdims=True), "combines the rows"),
    "softmax over the batch": (lambda: gn.softmax(x_(), axis=0), "combines the rows"),
    "gram matrix": (lambda: x_() @ gn.transpose(x_()), "not one axis of one example"),
    "neighbouring rows": (neighbours, "reads other rows"),
    "max over the batch, broadcast back": (
        lambda: x_() - gn.max(x_(), axis=0), "combines the rows"),
    "rows flipped": (lambda: gn.flip(x_(), axis=0), "reads other rows"),
    "rows reversed by a slice": (lambda: x_()[::-1, 1:], "reads other rows"),
    "the last row": (lambda: x_()[-1], "combines the rows"),
    "rows tiled": (lambda: gn.tile(x_(), (2, 1)), "not one axis of one example"),
    "batches joined": (lambda: gn.concat([x_(), x_() * 2.0], axis=0),
                       "not one axis of one example"),
}


@pytest.mark.parametrize("build", INDEPENDENT.values(), ids=INDEPENDENT)
def test_independent_rows_pass(build):
    rows = batch_rows(Graph(build()))
    assert rows.independent, rows.reason
    assert rows.declared == B and "x" in rows.batched


@pytest.mark.parametrize("build,why", MIXING.values(), ids=MIXING)
def test_mixed_rows_are_refused_with_the_reason(build, why):
    out = build()
    rows = batch_rows(Graph(out))
    assert not rows.independent
    assert why in rows.reason, rows.reason
    x = np.random.default_rng(0).normal(size=(B, 4))
    whole = gn.evaluate(out, {"x": x})
    halves = [gn.evaluate(_at(out, B // 2), {"x": part}) for part in np.split(x, 2)]
    assert whole.shape != np.concatenate([np.atleast_1d(h) for h in halves]).shape or \
        not np.allclose(whole, np.concatenate(halves))


def _at(out, size):
    """The graph rebuilt for `size` rows (what a chunk of the batch computes)."""
    from graphnn.compiler.rebatch import rebatch
    return rebatch(Graph(out), [(size, 4)]).outputs[0]


@pytest.mark.parametrize("build,why", [
    (lambda: gn.transpose(x_()), "has the batch in axis 1"),
    (lambda: gn.reshape(x_(), (B * 4,)), "not one axis of one example"),
    (lambda: gn.sum(gn.input("w", shape=(3, 3))) + gn.sum(x_()) * 0.0, "combines the rows"),
], ids=["batch last", "batch flattened", "sum"])
def test_outputs_must_hold_the_batch_first_and_whole(build, why):
    rows = batch_rows(Graph(build()))
    assert why in rows.reason, rows.reason


def test_an_output_without_the_batch_is_refused():
    x, w = x_(), gn.input("w", shape=(4,))
    rows = batch_rows(Graph([x * w, gn.exp(w)]))
    assert "output 1" in rows.reason and "does not depend on the batch" in rows.reason


def test_which_inputs_are_batched():
    assert "no input has two or more dimensions" in batch_rows(
        Graph(gn.exp(gn.input("v", shape=(3,))))).reason
    assert "declared batch size is 0" in batch_rows(Graph(gn.exp(x_((0, 4))))).reason
    x = x_((4, 4))                         # the weight's leading size equals the batch's
    w = gn.input("w", shape=(4, 3))
    inferred = batch_rows(Graph(x @ w))
    assert inferred.batched == ("x", "w") and not inferred.independent
    chosen = batch_rows(Graph(x @ w), ["x"])
    assert chosen.independent and chosen.batched == ("x",)
    assert "names no input" in batch_rows(Graph(x @ w), ["y"]).reason
    v = gn.input("v", shape=(5, 4))
    assert "do not share a leading dimension" in batch_rows(Graph(x @ w + gn.sum(v)),
                                                            ["x", "v"]).reason
