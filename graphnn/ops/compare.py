"""Comparisons, logical ops, selection and conversion: the ops of int and bool values.

Comparisons (`greater`, `greater_equal`, `less`, `less_equal`, `equal`, `not_equal`; the
Python operators > >= < <= on nodes) give bool results with NumPy broadcasting, on operands of
one dtype (a Python number takes the other operand's: `x > 0`). `==` stays identity on nodes
(interning relies on it), so equality is `gn.equal`. `logical_and/or/not` take bools. `where`
selects by a bool condition, `clip` bounds values, `cast` converts between the five dtypes.
Bool and int results carry no gradient; `where` routes its gradient by the condition.
"""

from __future__ import annotations

import numpy as np

from codegen import loops
from graphnn.errors import DTypeError
from graphnn.ir import DTYPES, FLOAT_DTYPES, INT_DTYPES, apply, op_function
from graphnn.opdef import REQUIRED, Kink, Symbolic
from graphnn.ops.common import elementwise, scalar_instance, sympy

NO_SYMBOLIC = ("a bool result has no derivative to prove: comparisons are piecewise constant "
               "(no gradient)")
_WHERE_WITHOUT = ("its condition is bool, and the symbolic checks build float inputs; the "
                  "gradients routed to a and b are checked against central differences")


def _same(*dtypes: str, **_attrs) -> str:
    if len(set(dtypes)) > 1:
        raise DTypeError(f"operands have different dtypes ({', '.join(dtypes)}); convert one "
                         f"with gn.cast")
    return dtypes[0]


def _compared(*dtypes: str, **_attrs) -> str:
    _same(*dtypes)
    return "bool"


def _comparison(name: str, reference, scalar, sympy_relation, symbol: str, doc: str):
    return elementwise(
        name, ("x", "y"), doc=doc, reference=reference, vjp=None,
        to_sympy=lambda x, y: sympy.Piecewise((1, sympy_relation(x, y)), (0, True)),
        scalar=scalar, derivative=("0", "0"), symbol=symbol, dtype=_compared, kinks=(),
        commutative=name in ("equal", "not_equal"),
        symbolic=Symbolic(without=NO_SYMBOLIC))


GREATER = _comparison(
    "greater", np.greater, loops.gt, lambda x, y: x > y, ">",
    """x > y elementwise, as bool (also `x > y` on nodes); False where either is NaN.

    Operands share a dtype (a Python number takes the other's). No gradient. The max gate's
    gradient uses the float mask `above(x, y, tie)` instead (1, `tie` at equality, 0).

    >>> gn.evaluate(gn.greater(np.array([1.0, 2.0, 3.0]), 2.0))
    array([False, False,  True])
    """)
GREATER_EQUAL = _comparison(
    "greater_equal", np.greater_equal, loops.ge, lambda x, y: x >= y, "≥",
    """x >= y elementwise, as bool (also `x >= y` on nodes); False where either is NaN.

    >>> gn.evaluate(gn.greater_equal(np.array([1.0, 2.0, 3.0]), 2.0))
    array([False,  True,  True])
    """)
LESS = _comparison(
    "less", np.less, loops.lt, lambda x, y: x < y, "<",
    """x < y elementwise, as bool (also `x < y` on nodes); False where either is NaN.

    >>> gn.evaluate(gn.less(np.array([1.0, 2.0, 3.0]), 2.0))
    array([ True, False, False])
    """)
LESS_EQUAL = _comparison(
    "less_equal", np.less_equal, loops.le, lambda x, y: x <= y, "≤",
    """x <= y elementwise, as bool (also `x <= y` on nodes); False where either is NaN.

    >>> gn.evaluate(gn.less_equal(np.array([1.0, 2.0, 3.0]), 2.0))
    array([ True,  True, False])
    """)
EQUAL = _comparison(
    "equal", np.equal, loops.eq, lambda x, y: sympy.Eq(x, y), "=",
    """x == y elementwise, as bool; False where either is NaN (-0.0 equals 0.0).

    `==` on nodes is identity (graph nodes are interned), so equality is this function.

    >>> gn.evaluate(gn.equal(np.array([1, 2, 3]), 2))
    array([False,  True, False])
    """)
NOT_EQUAL = _comparison(
    "not_equal", np.not_equal, loops.ne, lambda x, y: sympy.Ne(x, y), "≠",
    """x != y elementwise, as bool; True where either is NaN.

    >>> gn.evaluate(gn.not_equal(np.array([1.0, np.nan]), 1.0))
    array([False,  True])
    """)


def _bools(*dtypes: str, **_attrs) -> str:
    if any(d != "bool" for d in dtypes):
        raise DTypeError(f"takes bool operands, got {', '.join(dtypes)}; compare first "
                         f"(x > 0) or convert with gn.cast(x, 'bool')")
    return "bool"


def _logical(name: str, inputs, reference, scalar, to_sympy, symbol: str, doc: str):
    return elementwise(name, inputs, doc=doc, reference=reference, vjp=None, to_sympy=to_sympy,
                       scalar=scalar, derivative=("0",) * len(inputs), symbol=symbol,
                       dtype=_bools, kinks=(), commutative=len(inputs) == 2,
                       symbolic=Symbolic(without=NO_SYMBOLIC))


LOGICAL_AND = _logical(
    "logical_and", ("x", "y"), np.logical_and, loops.land, lambda x, y: sympy.Min(x, y), "∧",
    """x and y elementwise, on bools (NumPy broadcasting).

    >>> gn.evaluate(gn.logical_and(np.array([True, True, False]), np.array([True, False, False])))
    array([ True, False, False])
    """)
LOGICAL_OR = _logical(
    "logical_or", ("x", "y"), np.logical_or, loops.lor, lambda x, y: sympy.Max(x, y), "∨",
    """x or y elementwise, on bools.

    >>> gn.evaluate(gn.logical_or(np.array([True, False]), False))
    array([ True, False])
    """)
LOGICAL_NOT = _logical(
    "logical_not", ("x",), np.logical_not, loops.lnot, lambda x: 1 - x, "¬",
    """not x elementwise, on bools.

    >>> gn.evaluate(gn.logical_not(np.array([True, False])))
    array([False,  True])
    """)


def _where_dtype(cond: str, a: str, b: str) -> str:
    if cond != "bool":
        raise DTypeError(f"the condition must be bool, got {cond}; compare first (x > 0) or "
                         f"convert it with gn.cast(cond, 'bool')")
    return _same(a, b)


def _where_vjp(g, out, cond, a, b):
    # the gradient goes where the value came from: g to a where cond holds, to b elsewhere
    zero = apply("broadcast_like", 0.0, g) if g.shape else 0.0
    return None, apply("where", cond, g, zero), apply("where", cond, zero, g)


WHERE = elementwise(
    "where", ("cond", "a", "b"),
    doc="""a where cond is True, else b, elementwise with NumPy broadcasting (np.where).

    `cond` must be bool (a comparison, a bool input); a and b share a dtype (a Python
    number takes the other's). Gradient: g routed by the condition, g to a where cond holds
    and to b elsewhere (0 to the other; none to cond).

    >>> x = np.array([-1.0, 2.0])
    >>> gn.evaluate(gn.where(gn.constant(x) > 0, x, 0.0))
    array([0., 2.])
    """,
    reference=np.where,
    vjp=_where_vjp,
    to_sympy=lambda cond, a, b: sympy.Piecewise((a, sympy.Ne(cond, 0)), (b, True)),
    scalar=loops.select,
    derivative=("0", "[cond]", "[not cond]"),
    symbol="where", dtype=_where_dtype, own_dtype=(0,), kinks=(),
    symbolic=Symbolic(without=_WHERE_WITHOUT),
)


def _clip_reference(x, lo, hi):
    return np.minimum(np.maximum(x, lo), hi)


def _clip_vjp(g, out, x, lo, hi):
    # out = min(m, hi) with m = max(x, lo): hi where m > hi, else x where x >= lo, else lo.
    # At a bound (x == lo or x == hi) the gradient goes to x whole (PyTorch's clamp).
    zero = apply("broadcast_like", 0.0, g) if g.shape else 0.0
    m = apply("maximum", x, lo)
    inside = apply("less_equal", m, hi)
    to_x = apply("logical_and", inside, apply("greater_equal", x, lo))
    to_lo = apply("logical_and", inside, apply("less", x, lo))
    return (apply("where", to_x, g, zero), apply("where", to_lo, g, zero),
            apply("where", inside, zero, g))


_AT_BOUND = ("at a bound the gradient goes to x whole (PyTorch's clamp convention: x in "
             "[lo, hi] inclusive); SymPy's Max and Min split a tie, Heaviside(0) = 1/2")

CLIP = elementwise(
    "clip", ("x", "lo", "hi"),
    doc="""x bounded to [lo, hi] elementwise: minimum(maximum(x, lo), hi), as np.clip (so hi
    wins when lo > hi; NaN in any operand gives NaN). Ints and floats.

    Gradient: to x where lo <= x <= hi (bounds included), to lo where x < lo, to hi where
    x > hi.

    >>> gn.evaluate(gn.clip(np.array([-2.0, 0.5, 3.0]), 0.0, 1.0))
    array([0. , 0.5, 1. ])
    """,
    reference=_clip_reference,
    vjp=_clip_vjp,
    to_sympy=lambda x, lo, hi: sympy.Min(sympy.Max(x, lo), hi),
    scalar=lambda x, lo, hi: loops.fmin(loops.fmax(x, lo), hi),
    derivative=("[x ≥ lo]·[x ≤ hi]", "[x < lo]·[lo ≤ hi]", "[x > hi]·[lo ≤ hi] + [lo > hi]"),
    symbol="clip", accepts="number",
    instances=scalar_instance(3),
    kinks=(Kink("x = lo", (1.0, 1.0, 2.0), False, _AT_BOUND),
           Kink("x = hi", (2.0, 1.0, 2.0), False, _AT_BOUND)),
)


def _cast_canonical(shape, dtype):
    name = np.dtype(dtype).name if dtype in DTYPES or isinstance(dtype, type) or \
        isinstance(dtype, np.dtype) else str(dtype)
    if name not in DTYPES:
        raise DTypeError(f"cannot cast to {dtype!r}: the dtypes are {', '.join(DTYPES)}")
    return {"dtype": name}


def cast_array(x: np.ndarray, dtype: str) -> np.ndarray:
    """NumPy's conversion, with the cases C leaves undefined defined as the native code does:
    float -> int truncates toward zero, NaN gives 0, and values beyond the int's range (±inf
    too) saturate to its extremes. (Int -> int wraps, anything -> bool is x != 0, NaN true.)"""
    if x.dtype.kind != "f" or dtype not in INT_DTYPES:
        return x.astype(dtype)
    info = np.iinfo(dtype)
    clean = np.where(np.isnan(x), 0, x)
    inside = (clean > float(info.min) - 1) & (clean < float(info.max) + 1)
    # float(2**63 - 1) rounds up to 2**63: compare in float, fill the extremes exactly
    out = np.where(inside, clean, 0).astype(dtype)
    out = np.where(clean >= float(info.max) + 1, info.max, out)
    return np.where(clean <= float(info.min) - 1, info.min, out).astype(dtype)


def _cast_vjp(g, out, x, dtype):
    return (apply("cast", g, dtype=x.dtype) if x.dtype in FLOAT_DTYPES else None,)


CAST = elementwise(
    "cast", ("x",),
    doc="""x converted to `dtype` ("float32", "float64", "int32", "int64", "bool") elementwise.

    NumPy's conversion, everywhere defined: float -> int truncates toward zero, saturates
    beyond the int's range (±inf too) and gives 0 for NaN (NumPy leaves those undefined);
    int -> smaller int wraps; anything -> bool is x != 0 (NaN is True); bool -> number is
    0 or 1. Gradient: passed through (converted back) between float dtypes; none to or from
    ints and bools.

    >>> gn.evaluate(gn.cast(np.array([-1.7, 2.9, np.nan, np.inf]), "int32"))
    array([         -1,           2,           0, 2147483647], dtype=int32)
    """,
    reference=cast_array,
    vjp=_cast_vjp,
    to_sympy=lambda x, dtype: x,
    scalar=lambda x, dtype: loops.cast(x, dtype),
    params=(("dtype", REQUIRED),), canonical=_cast_canonical,
    dtype=lambda x, dtype: dtype, own_dtype=(0,),
    derivative=("1",), symbol="cast", kinks=(),
    instances=scalar_instance(1, dtype="float64"),
)

(greater, greater_equal, less, less_equal, equal, not_equal, logical_and, logical_or,
 logical_not, where, clip, cast) = (op_function(op) for op in (
    GREATER, GREATER_EQUAL, LESS, LESS_EQUAL, EQUAL, NOT_EQUAL, LOGICAL_AND, LOGICAL_OR,
    LOGICAL_NOT, WHERE, CLIP, CAST))
