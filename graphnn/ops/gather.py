"""Gather and friends: `take` (an embedding lookup, `x[idx]`), its gradient `take_grad` (a
scatter-add), `one_hot`, and `argmax`/`argmin`.

Indices are int32 or int64 arrays (a Python list of ints is lifted as int64); negative ones
count from the end, as NumPy's. An index out of range is an InputError at evaluation (the
reference checks) and at call time (the kernel checks every index before the op reads, and
returns an error code: lowering's `Lowering.checks`); native code never reads out of bounds.
"""

from __future__ import annotations

import numpy as np

from codegen import loops
from graphnn.errors import DTypeError, InputError, OpError, ShapeError
from graphnn.ir import INT_DTYPES, apply, op_function
from graphnn.opdef import REQUIRED, Lowering, OpDef, Symbolic
from graphnn.ops.common import register, sympy
from graphnn.shapes import Shape, reduced

_INDEX_WITHOUT = ("its indices are ints, which the symbolic checks cannot build (they make "
                  "float inputs); its gradient is checked against central differences")


def index_dtype(dtype: str, what: str = "indices") -> None:
    if dtype not in INT_DTYPES:
        raise DTypeError(f"{what} must be int32 or int64, got {dtype}; convert them with "
                         f"gn.cast(i, 'int64')")


def check_indices(indices: np.ndarray, size: int, what: str) -> None:
    """An InputError naming the first index outside NumPy's range [-size, size)."""
    bad = (indices < -size) | (indices >= size)
    if bad.any():
        first = tuple(int(k) for k in np.argwhere(bad)[0])
        raise InputError(f"index {int(indices[first])} (at {first if first else '()'}) is out "
                         f"of range for {what} of size {size}: indices must lie in "
                         f"[{-size}, {size - 1}]")


def _position(index, n: int):
    """An index loaded from an index array as a position in 0..n-1: negative ones wrapped
    (NumPy's rule), then clamped, which keeps the load provably in bounds (lowering checked
    every index before: the clamp changes none that passed)."""
    raw = loops.cast(index, "i64")
    return loops.clamp(loops.select(loops.lt(raw, 0), raw + n, raw), 0, n - 1)


# ---------------------------------------------------------------------------------------------
# take


def _take_shape(x: Shape, indices: Shape, axis: int) -> Shape:
    if x[axis] == 0 and int(np.prod(indices)) > 0:
        raise ShapeError(f"cannot take from axis {axis} of size 0")
    return x[:axis] + indices + x[axis + 1:]


def _take_reference(x, indices, axis):
    check_indices(indices, x.shape[axis], f"axis {axis}")
    return np.take(x, indices, axis=axis)


def _take_compute(out, x, indices, axis):
    k = len(indices.shape)
    at = _position(indices[tuple(out[axis:axis + k])], x.shape[axis])
    return x[tuple(out[:axis]) + (at,) + tuple(out[axis + k:])]


def _take_dtype(x: str, indices: str, **_attrs) -> str:
    index_dtype(indices)
    return x


TAKE = register(OpDef(
    "take", ("x", "indices"),
    doc="""Elements of x at integer `indices` along `axis`, as np.take: the result's shape is
    x.shape[:axis] + indices.shape + x.shape[axis + 1:]. An embedding lookup is
    take(table, ids). Negative indices count from the end; one out of range is an InputError
    (at evaluation and at call time).

    Gradient: a scatter-add of g into zeros of x's shape (`take_grad`), repeated indices
    accumulating; none for the indices.

    >>> table = np.array([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]])
    >>> gn.evaluate(gn.take(table, [2, 0, -1]))
    array([[4., 5.],
           [0., 1.],
           [4., 5.]])
    """,
    shape=_take_shape, params=(("axis", 0),), axes={"axis": "one"},
    dtype=_take_dtype, own_dtype=(1,),
    reference=_take_reference,
    vjp=lambda g, out, x, indices, axis: (
        apply("take_grad", g, indices, at=axis, size=x.shape[axis]), None),
    to_sympy=lambda x, indices, axis: np.take(x, np.asarray(indices, dtype=np.int64), axis),
    compute=_take_compute,
    lowering=Lowering(checks=lambda x, indices, axis: ((1, x[axis]),)),
    derivative=("scatter-add g at indices", "0"),
    symbol="take", kinks=(), symbolic=Symbolic(without=_INDEX_WITHOUT),
))


def _take_grad_shape(g: Shape, indices: Shape, at: int, size: int) -> Shape:
    axis = at
    k = len(indices)
    if g[axis:axis + k] != indices:
        raise ShapeError(f"g {g} does not hold indices {indices} at axis {axis}")
    return g[:axis] + (size,) + g[axis + k:]


def _take_grad_canonical(g: Shape, indices: Shape, at: int, size: int) -> dict:
    # `at` is the axis of x (the result), which g may lack (a scalar index removes it)
    axis = at
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 0:
        raise OpError(f"size must be a non-negative int, got {size!r}")
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)) or \
            not 0 <= axis <= len(g) - len(indices):
        raise OpError(f"axis {axis!r} does not fit g {g} and indices {indices}")
    if size == 0 and int(np.prod(indices)) > 0:
        raise ShapeError("cannot scatter into an axis of size 0")
    return {"at": int(axis), "size": int(size)}


def _take_grad_reference(g, indices, at, size):
    axis = at
    check_indices(indices, size, f"axis {axis}")
    k = indices.ndim
    out = np.zeros(g.shape[:axis] + (size,) + g.shape[axis + k:], dtype=g.dtype)
    moved = np.moveaxis(out, axis, 0)                  # a view: adds land in out
    rows = np.reshape(np.moveaxis(g.reshape(g.shape[:axis] + (-1,) + g.shape[axis + k:]),
                                  axis, 0), (-1,) + moved.shape[1:])
    np.add.at(moved, np.where(indices < 0, indices + size, indices).reshape(-1), rows)
    return out


def _take_grad_scatter(out, g, indices, at, size):
    axis = at
    # out = 0, then out[..., idx[j], ...] += g[..., j, ...]: one pass over g, repeated indices
    # accumulating (never a one-hot matrix product)
    k = len(indices.shape)

    def add(*index):
        at = _position(indices[tuple(index[axis:axis + k])], size)
        target = tuple(index[:axis]) + (at,) + tuple(index[axis + k:])
        return loops.accumulate(out, target, g[tuple(index)])
    zero = loops.const(0, out.dtype)
    return [loops.loop_nest(out.shape, lambda *i: loops.store(out, i, zero)),
            loops.loop_nest(g.shape, add, names=[f"s{d}" for d in range(len(g.shape))])]


def _take_grad_sympy(g, indices, at, size):
    axis = at
    out = np.zeros(g.shape[:axis] + (size,) + g.shape[axis + indices.ndim:], dtype=object)
    out[...] = sympy.S.Zero
    np.add.at(np.moveaxis(out, axis, 0), np.asarray(indices, dtype=np.int64).reshape(-1),
              np.moveaxis(g.reshape(g.shape[:axis] + (-1,) + g.shape[axis + indices.ndim:]),
                          axis, 0))
    return out


TAKE_GRAD = register(OpDef(
    "take_grad", ("g", "indices"),
    doc="""take's gradient: zeros of size `size` along `axis`, with g[..., j, ...] added at
    position indices[j] (repeated indices accumulate; negative ones count from the end).
    Lowered to a scatter loop, one pass over g.

    >>> gn.evaluate(gn.ops.take_grad(np.array([1.0, 2.0, 3.0]), [0, 2, 0], at=0, size=3))
    array([4., 0., 2.])
    """,
    shape=_take_grad_shape, params=(("at", 0), ("size", 0)),
    canonical=_take_grad_canonical,
    dtype=_take_dtype, own_dtype=(1,),
    reference=_take_grad_reference,
    vjp=lambda gg, out, g, indices, at, size: (apply("take", gg, indices, axis=at), None),
    to_sympy=_take_grad_sympy,
    scatter=_take_grad_scatter,
    lowering=Lowering(checks=lambda g, indices, at, size: ((1, size),)),
    derivative=("take(g, indices)", "0"),
    symbol="scatter+", public=False, kinks=(), symbolic=Symbolic(without=_INDEX_WITHOUT),
))


# ---------------------------------------------------------------------------------------------
# one_hot


def _one_hot_canonical(indices: Shape, depth: int, dtype: str) -> dict:
    if isinstance(depth, bool) or not isinstance(depth, (int, np.integer)) or depth < 1:
        raise OpError(f"depth must be a positive int, got {depth!r}")
    from graphnn.ops.compare import _cast_canonical

    return {"depth": int(depth), **_cast_canonical(indices, dtype)}


def _one_hot_reference(indices, depth, dtype):
    wrapped = np.where(indices < 0, indices.astype(np.int64) + depth, indices)
    return (wrapped[..., None] == np.arange(depth)).astype(dtype)


def _one_hot_compute(out, indices, depth, dtype):
    raw = loops.cast(indices[tuple(out[:-1])], "i64")
    wrapped = loops.select(loops.lt(raw, 0), raw + depth, raw)
    return loops.cast(loops.eq(wrapped, out[-1]), dtype)


def _one_hot_dtype(indices: str, depth: int, dtype: str) -> str:
    index_dtype(indices)
    return dtype


ONE_HOT = register(OpDef(
    "one_hot", ("indices",),
    doc="""One-hot rows: out[..., k] = 1 where indices[...] == k, else 0, in `dtype`, with a
    new last axis of size `depth`. Negative indices count from the end (-1 is depth - 1); an
    index outside [-depth, depth) gives a row of zeros, as ONNX's OneHot and TensorFlow's
    one_hot. No gradient.

    >>> gn.evaluate(gn.one_hot([0, 2, -1], 3))
    array([[1., 0., 0.],
           [0., 0., 1.],
           [0., 0., 1.]])
    """,
    shape=lambda indices, depth, dtype: indices + (depth,),
    params=(("depth", REQUIRED), ("dtype", "float64")), canonical=_one_hot_canonical,
    dtype=_one_hot_dtype, own_dtype=(0,),
    reference=_one_hot_reference,
    vjp=None,
    to_sympy=lambda indices, depth, dtype: _one_hot_reference(
        np.asarray(indices, dtype=np.int64), depth, np.int64),
    compute=_one_hot_compute,
    derivative=("0",), symbol="one-hot", kinks=(), symbolic=Symbolic(without=_INDEX_WITHOUT),
))


# ---------------------------------------------------------------------------------------------
# argmax, argmin: the first index of the extreme (a NaN, when there is one), as NumPy


def _first_match_reference(x, m, axis):
    return np.argmax((x == m) | (x != x), axis=axis)


def _first_match_compute(out, x, m, axis):
    n = x.shape[axis]
    extreme = m[tuple(out[:axis]) + (0,) + tuple(out[axis:])]

    def candidate(k):
        value = x[tuple(out[:axis]) + (k,) + tuple(out[axis:])]
        found = loops.lor(loops.eq(value, extreme), loops.ne(value, value))  # NaN: first NaN
        return loops.select(found, k, loops.const(n, "i64"))
    return loops.reduce_min(n, candidate)


def _first_match_dtype(x: str, m: str, axis: int) -> str:
    if x != m:
        raise DTypeError(f"x ({x}) and m ({m}) differ")
    return "int64"


FIRST_MATCH = register(OpDef(
    "first_match", ("x", "m"),
    doc="""The first index along `axis` where x equals m (m holds one value per lane, that
    axis kept with size 1) or is NaN: argmax's and argmin's second step, after the extreme.

    >>> x = np.array([[1.0, 3.0, 3.0]])
    >>> gn.evaluate(gn.ops.first_match(x, np.array([[3.0]]), axis=1))
    array([1])
    """,
    shape=lambda x, m, axis: reduced(x, (axis,), False),
    params=(("axis", 0),), axes={"axis": "one"},
    dtype=_first_match_dtype,
    reference=_first_match_reference, vjp=None,
    to_sympy=lambda x, m, axis: _first_match_reference(x, m, axis),
    compute=_first_match_compute,
    derivative=("0", "0"), symbol="first", public=False, kinks=(),
    symbolic=Symbolic(without="an int result has no derivative to prove"),
))


def _arg_canonical(shape: Shape, axis: tuple[int, ...], keepdims: bool) -> dict:
    if len(axis) > 1 and len(axis) != len(shape):
        raise OpError(f"takes one axis or None (every axis, flattened), got {axis}")
    return {"axis": axis, "keepdims": bool(keepdims)}


def _arg_shape(shape: Shape, axis: tuple[int, ...], keepdims: bool) -> Shape:
    if any(shape[a] == 0 for a in axis):
        raise ShapeError(f"cannot take the argmax or argmin over an empty axis of {shape}")
    return reduced(shape, axis, keepdims)


def _arg_reference(pick):
    def reference(x, axis, keepdims):
        if len(axis) == 1 and x.ndim != 1:
            return pick(x, axis=axis[0], keepdims=keepdims)
        return np.asarray(pick(x, axis=None, keepdims=keepdims))
    return reference


def _arg_expand(extreme: str):
    def expand(x, axis, keepdims):
        flat = len(axis) != 1 or x.ndim == 1
        source, along = (apply("reshape", x, shape=(-1,)), 0) if flat else (x, axis[0])
        m = apply(extreme, source, axis=along, keepdims=True)
        found = apply("first_match", source, m, axis=along)
        kept = reduced(x.shape, axis, keepdims)
        return found if found.shape == kept else apply("reshape", found, shape=kept)
    return expand


def _arg(name: str, extreme: str, pick, doc: str) -> OpDef:
    return register(OpDef(
        name, ("x",), doc=doc,
        shape=_arg_shape, params=(("axis", None), ("keepdims", False)), axes={"axis": "many"},
        canonical=_arg_canonical, dtype=lambda x, axis, keepdims: _arg_dtype(x),
        reference=_arg_reference(pick), vjp=None, expand=_arg_expand(extreme),
        # no SymPy function picks an index: the form is the reference on the numbers
        to_sympy=lambda x, axis, keepdims: _arg_reference(pick)(
            np.asarray(x, dtype=float), axis, keepdims),
        derivative=("0",), symbol=name, kinks=(),
        symbolic=Symbolic(without="an int result has no derivative to prove"),
    ))


def _arg_dtype(x: str) -> str:
    if x == "bool":
        raise DTypeError("takes number operands, got bool; convert with gn.cast(x, 'int64')")
    return "int64"


ARGMAX = _arg("argmax", "max", np.argmax, """Index of the maximum along `axis` (None: of the
    flattened x), as int64; the first one on ties, and the first NaN if there is one (NumPy's
    rules). No gradient.

    >>> gn.evaluate(gn.argmax(np.array([[1.0, 5.0, 5.0], [7.0, 2.0, np.nan]]), axis=1))
    array([1, 2])
    """)
ARGMIN = _arg("argmin", "min", np.argmin, """Index of the minimum along `axis` (None: of the
    flattened x), as int64; the first one on ties, and the first NaN if there is one.

    >>> gn.evaluate(gn.argmin(np.array([3.0, 1.0, 1.0])))
    array(1)
    """)

take, take_grad, one_hot, first_match, argmax, argmin = (op_function(op) for op in (
    TAKE, TAKE_GRAD, ONE_HOT, FIRST_MATCH, ARGMAX, ARGMIN))
