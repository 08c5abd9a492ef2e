"""Losses: mse, binary_cross_entropy, softmax_cross_entropy. Each returns a scalar.

They are composites: one node in drawings and text (what the user wrote), defined by an
expansion into primitives. The operands must have the same shape: broadcasting a (64, 1)
prediction against a (64,) target is a classic silent bug, so it is an error here.
"""

from __future__ import annotations

import math

import numpy as np

from graphnn.errors import ShapeError
from graphnn.ir import OpDef, apply, op_function
from graphnn.opdef import REAL, UNIT, Instance, Labels, Symbolic
from graphnn.ops.common import register, sympy
from graphnn.ops.softmax import log_softmax_reference, log_softmax_sympy
from graphnn.shapes import Shape

_log = np.vectorize(lambda v: sympy.log(v), otypes=[object])


def _same_shape(a: Shape, b: Shape) -> Shape:
    if tuple(a) != tuple(b):
        raise ShapeError(f"the operands must have the same shape, got {a} and {b}; "
                         "reshape one of them (losses do not broadcast)")
    return ()


def _class_shape(logits: Shape, onehot: Shape) -> Shape:
    if not logits:
        raise ShapeError("logits need a class axis (the last); got a scalar")
    if logits[-1] == 0:
        raise ShapeError("logits need at least one class: the class axis (the last) is empty")
    return _same_shape(logits, onehot)


def _batch(x) -> int:
    """Examples in a batch for softmax cross-entropy: every axis but the class axis."""
    return math.prod(np.shape(x)[:-1])


def _batch_size(x):
    return apply("size", x, axis=tuple(range(x.ndim - 1)))


def _pair(shape: Shape) -> Symbolic:
    return Symbolic(instances=(Instance((shape, shape)),))


# n in the labels: the elements averaged
_ELEMENTS = Labels(sizes={"n": lambda node: math.prod(node.inputs[0].shape)})


MSE = register(OpDef(
    "mse", ("pred", "target"),
    doc="""Mean squared error: mean((pred - target)²) over all elements.

    Smooth. Gradient in pred: 2 (pred - target) / n.

    >>> gn.evaluate(gn.mse(np.array([1.0, 3.0]), np.array([0.0, 0.0])))
    array(5.)
    """,
    shape=_same_shape,
    reference=lambda pred, target: np.mean(np.square(pred - target)),
    expand=lambda pred, target: apply("mean", apply("square", pred - target)),
    vjp=None,
    to_sympy=lambda pred, target: np.sum((pred - target) ** 2) / np.size(pred),
    derivative=("2(pred - target)/n", "-2(pred - target)/n"),
    symbol="MSE", kinks=(), symbolic=_pair((2,)), labels=_ELEMENTS,
))


def _bce_reference(prob, target):
    return -np.mean(target * np.log(prob) + (1.0 - target) * np.log(1.0 - prob))


def _bce_expand(prob, target):
    log = lambda v: apply("log", v)  # noqa: E731
    return -apply("mean", target * log(prob) + (1.0 - target) * log(1.0 - prob))


BINARY_CROSS_ENTROPY = register(OpDef(
    "binary_cross_entropy", ("prob", "target"),
    doc="""Binary cross-entropy -mean(t log p + (1 - t) log(1 - p)) of probabilities p in (0, 1)
    against targets t (usually 0 or 1).

    The formula is taken as written: p = 0 or 1 gives inf or NaN (0 · log 0), so feed
    probabilities strictly inside (0, 1). Gradient in p: (p - t) / (p (1 - p)) / n; through a
    sigmoid this becomes (a - y) / n, the logistic-regression gradient.

    >>> gn.evaluate(gn.binary_cross_entropy(np.array([0.5]), np.array([1.0])))
    array(0.69314718)
    """,
    shape=_same_shape,
    reference=_bce_reference,
    expand=_bce_expand,
    vjp=None,
    to_sympy=lambda prob, target: -np.sum(
        target * _log(prob) + (1 - target) * _log(1 - prob)) / np.size(prob),
    derivative=("(prob - target)/(prob(1 - prob))/n", "log((1 - prob)/prob)/n"),
    symbol="BCE", kinks=(), symbolic=_pair((2,)), labels=_ELEMENTS, domains=(UNIT, REAL),
))


def _sce_vjp(g, out, logits, onehot):
    # L = -sum(t log softmax(z)) / N  =>  dL/dz = (softmax(z) sum(t) - t) / N, which is
    # (p - t) / N when each row of t sums to 1; dL/dt = -log softmax(z) / N.
    n = _batch_size(logits)
    rows = apply("sum", onehot, axis=-1, keepdims=True)
    dz = (apply("softmax", logits) * rows - onehot) * (g / n)
    dt = -(apply("log_softmax", logits) * (g / n))
    return dz, dt


SOFTMAX_CROSS_ENTROPY = register(OpDef(
    "softmax_cross_entropy", ("logits", "onehot"),
    doc="""Softmax cross-entropy of logits (classes on the last axis) against one-hot (or
    probability) targets: -sum(onehot * log_softmax(logits)) averaged over the batch (every
    axis but the last).

    Smooth. Gradient in logits: (softmax(logits) - onehot) / N for one-hot rows. An empty class
    axis is an error; an empty batch gives NaN (0 / 0, the mean of nothing, as in NumPy).

    >>> gn.evaluate(gn.softmax_cross_entropy(np.zeros((2, 4)), np.eye(4)[[0, 1]]))
    array(1.38629436)
    """,
    shape=_class_shape,
    reference=lambda logits, onehot: -np.sum(
        onehot * log_softmax_reference(logits, logits.ndim - 1)) / _batch(logits),
    expand=lambda logits, onehot: -apply("sum", onehot * apply("log_softmax", logits)) /
    _batch_size(logits),
    vjp=_sce_vjp,
    to_sympy=lambda logits, onehot: -np.sum(
        onehot * log_softmax_sympy(logits, np.ndim(logits) - 1)) / _batch(logits),
    derivative=("(softmax(logits) - onehot)/N", "-log_softmax(logits)/N"),
    symbol="CE", kinks=(), symbolic=_pair((2, 2)),
    # N: the rows (the batch). The logits' label (softmax - onehot)/N is the textbook one,
    # right when each target row sums to 1 (one-hot or probabilities); for any targets the
    # gradient is (softmax·Σ_j onehot_j - onehot)/N: the labels assume the rows sum to 1.
    labels=Labels(sizes={"N": lambda node: node.inputs[0].shape[0]},
                  assumes=lambda logits, onehot: {row[-1]: 1 - sum(row[:-1])
                                                  for row in onehot}),
))

mse = op_function(MSE)
binary_cross_entropy = op_function(BINARY_CROSS_ENTROPY)
softmax_cross_entropy = op_function(SOFTMAX_CROSS_ENTROPY)
