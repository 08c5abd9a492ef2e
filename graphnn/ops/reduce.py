"""Reductions: sum mean max min, over `axis` (None = all axes; () = none, as in NumPy) with
`keepdims`.

The max and min reductions route the gradient like the max gate: to the extreme element,
split evenly among tied elements.
"""

from __future__ import annotations

import math

import numpy as np

from codegen import loops
from graphnn.errors import ShapeError
from graphnn.ir import OpDef, apply, op_function
from graphnn.opdef import Instance, Kink, Labels, Lowering, Symbolic
from graphnn.ops.common import (
    SUBGRADIENT,
    TIES_SPLIT,
    kept_shape,
    reduce_canonical,
    register,
    sympy,
    unreduce,
)
from graphnn.shapes import Shape, reduced, size

_PARAMS = (("axis", None), ("keepdims", False))
_AXES = {"axis": "many"}
_READS_ONCE = Lowering(reads_once=True)      # each element read once: operands stay inlined
_IN_WORDS = Labels(in_words=True)            # "g routed to the max": no formula for it


def _instance(shape: Shape, **attrs) -> Symbolic:
    return Symbolic(instances=(Instance((shape,), attrs),))


def _reduce_shape(shape: Shape, axis: tuple[int, ...], keepdims: bool) -> Shape:
    return reduced(shape, axis, keepdims)


def _extreme_shape(shape: Shape, axis: tuple[int, ...], keepdims: bool) -> Shape:
    if any(shape[a] == 0 for a in axis):
        raise ShapeError(f"cannot take the max or min over an empty axis of shape {shape}")
    return reduced(shape, axis, keepdims)


def _object_reduce(x: np.ndarray, axis: tuple[int, ...], keepdims: bool, combine) -> np.ndarray:
    """Reduce an object array of SymPy expressions with `combine(*elements)` over `axis`."""
    x = np.asarray(x, dtype=object)
    kept = [a for a in range(x.ndim) if a not in axis]
    moved = np.transpose(x, kept + list(axis)).reshape(
        [x.shape[a] for a in kept] + [math.prod(x.shape[a] for a in axis)])
    out = np.empty(moved.shape[:-1], dtype=object)
    for index in np.ndindex(out.shape):
        out[index] = combine(*moved[index])
    return out.reshape(reduced(x.shape, axis, keepdims))


def _reduce_compute(kind: str, divide: bool = False):
    """Lowering of a reduction: one output element is a (nested) Reduce over the reduced axes."""
    reducer = {"sum": loops.reduce_sum, "max": loops.reduce_max, "min": loops.reduce_min}[kind]

    def compute(out, x, axis, keepdims):
        kept = [o for k, o in enumerate(out) if k not in axis] if keepdims else list(out)

        def element(reduced: list) -> loops.Expr:
            # the input index: reduction variables on reduced axes, output indices elsewhere
            rs, ks = iter(reduced), iter(kept)
            return x[tuple(next(rs) if a in axis else next(ks) for a in range(len(x.shape)))]

        def nest(done: list, remaining: list) -> loops.Expr:
            if not remaining:
                return element(done)
            return reducer(x.shape[remaining[0]], lambda v: nest(done + [v], remaining[1:]))

        value = nest([], list(axis))
        count = math.prod(x.shape[a] for a in axis)
        return value / float(count) if divide else value
    return compute


def _extreme_vjp(g, out, x, axis, keepdims, larger: bool):
    # mask = 1 where x equals the extreme of its group (above(., ., tie=1) is 1 at equality
    # and 0 on the other side); ties share the gradient: g * mask / count.
    extreme = apply("reshape", out, shape=kept_shape(x, axis))
    mask = apply("above", x, extreme, tie=1.0) if larger else \
        apply("above", extreme, x, tie=1.0)
    count = apply("sum", mask, axis=axis, keepdims=True)
    return (unreduce(g, x, axis) * mask / count,)


SUM = register(OpDef(
    "sum", ("x",),
    doc="""Sum over `axis` (None: all axes), optionally keeping reduced axes as size 1.

    Gradient: the upstream gradient broadcast back over the summed axes.

    >>> gn.evaluate(gn.sum(np.array([[1.0, 2.0], [3.0, 4.0]]), axis=0))
    array([4., 6.])
    """,
    shape=_reduce_shape, canonical=reduce_canonical, params=_PARAMS, axes=_AXES,
    reference=lambda x, axis, keepdims: np.sum(x, axis=axis, keepdims=keepdims),
    vjp=lambda g, out, x, axis, keepdims: (unreduce(g, x, axis),),
    to_sympy=lambda x, axis, keepdims: _object_reduce(x, axis, keepdims, sympy.Add),
    compute=_reduce_compute("sum"),
    derivative=("broadcast(g)",),
    symbol="Σ",
    lowering=_READS_ONCE, symbolic=_instance((2, 3), axis=1),
    kinks=(),
))

MEAN = register(OpDef(
    "mean", ("x",),
    doc="""Arithmetic mean over `axis` (None: all axes).

    Gradient: the upstream gradient broadcast back and divided by the number of elements
    averaged (a `size` node, so the graph stays right for other batch sizes).

    >>> gn.evaluate(gn.mean(np.array([1.0, 2.0, 6.0])))
    array(3.)
    """,
    shape=_reduce_shape, canonical=reduce_canonical, params=_PARAMS, axes=_AXES,
    reference=lambda x, axis, keepdims: np.mean(x, axis=axis, keepdims=keepdims),
    vjp=lambda g, out, x, axis, keepdims: (unreduce(g, x, axis) / apply("size", x, axis=axis),),
    to_sympy=lambda x, axis, keepdims: _object_reduce(
        x, axis, keepdims, lambda *e: sympy.Add(*e) / len(e)),
    compute=_reduce_compute("sum", divide=True),
    derivative=("broadcast(g) / N",),
    symbol="mean",
    lowering=_READS_ONCE, symbolic=_instance((2, 3), axis=0, keepdims=True),
    kinks=(),
    # N: the elements each mean averages
    labels=Labels(sizes={"N": lambda node: size(node.inputs[0].shape) // size(node.shape)}),
))

MAX = register(OpDef(
    "max", ("x",),
    doc="""Maximum over `axis` (None: all axes); NaN if a reduced element is NaN.

    Gradient: routed to the maximal element; tied maxima share it evenly (as the max gate).

    >>> gn.evaluate(gn.max(np.array([[1.0, 5.0], [7.0, 2.0]]), axis=1))
    array([5., 7.])
    """,
    shape=_extreme_shape, canonical=reduce_canonical, params=_PARAMS, axes=_AXES,
    reference=lambda x, axis, keepdims: np.max(x, axis=axis, keepdims=keepdims),
    vjp=lambda g, out, x, axis, keepdims: _extreme_vjp(g, out, x, axis, keepdims, True),
    to_sympy=lambda x, axis, keepdims: _object_reduce(
        x, axis, keepdims, lambda *e: sympy.Max(*e, evaluate=False)),
    compute=_reduce_compute("max"),
    derivative=("g routed to the max",),
    symbol="max",
    lowering=_READS_ONCE, symbolic=_instance((2, 3), axis=1),
    labels=_IN_WORDS, accepts="number",
    kinks=(Kink("two of three tied", ((1.0, 1.0, 0.0),), True, TIES_SPLIT),
           Kink("three tied", ((1.0, 1.0, 1.0),), False, SUBGRADIENT)),
))

MIN = register(OpDef(
    "min", ("x",),
    doc="""Minimum over `axis` (None: all axes); NaN if a reduced element is NaN.

    Gradient: routed to the minimal element; tied minima share it evenly.

    >>> gn.evaluate(gn.min(np.array([3.0, 1.0, 2.0])))
    array(1.)
    """,
    shape=_extreme_shape, canonical=reduce_canonical, params=_PARAMS, axes=_AXES,
    reference=lambda x, axis, keepdims: np.min(x, axis=axis, keepdims=keepdims),
    vjp=lambda g, out, x, axis, keepdims: _extreme_vjp(g, out, x, axis, keepdims, False),
    to_sympy=lambda x, axis, keepdims: _object_reduce(
        x, axis, keepdims, lambda *e: sympy.Min(*e, evaluate=False)),
    compute=_reduce_compute("min"),
    derivative=("g routed to the min",),
    symbol="min",
    lowering=_READS_ONCE, symbolic=_instance((3,)),
    labels=_IN_WORDS, accepts="number",
    kinks=(Kink("two of three tied", ((0.0, 1.0, 0.0),), True, TIES_SPLIT),),
))

sum, mean, max, min = (op_function(op) for op in (SUM, MEAN, MAX, MIN))  # noqa: A001
