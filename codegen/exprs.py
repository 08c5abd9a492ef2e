"""Scalar expressions of the loop IR: constants, loads, arithmetic, math, comparisons, reductions.

Input: Python values built by hand or by ``graphnn.lower`` through ``codegen.loops``. Output:
immutable expression trees. Nodes are frozen dataclasses with structural equality and a hash cached
at construction, so equal subexpressions compare equal and the emitter computes each of them once.
Every expression knows its ``dtype`` ("f32", "f64", "i32", "i64" or "i1"), and an ill-typed
expression cannot be built. Comparisons are functions (``loops.lt(a, b)``) because ``==``
must stay structural. Nothing here imports llvmlite.
"""

from __future__ import annotations

import dataclasses
import numbers
import operator
from collections.abc import Callable, Generator, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from codegen.stmts import Buffer

FLOAT_DTYPES = ("f32", "f64")
INT_DTYPES = ("i32", "i64")
NUMERIC_DTYPES = FLOAT_DTYPES + INT_DTYPES          # arithmetic, max/min, reductions
DTYPES = (*NUMERIC_DTYPES, "i1")
# every dtype can live in memory: an i1 (bool) element is one byte holding 0 or 1, as NumPy's
# bool; the emitter loads it as "byte != 0" and stores 0 or 1
BUFFER_DTYPES = DTYPES
_DTYPE_ALIASES = {"float32": "f32", "float64": "f64", "int32": "i32", "int64": "i64",
                  "bool": "i1", "bool_": "i1"}


def normalize_dtype(dtype: Any) -> str:
    """Map "f32", "float32", numpy.float32 or numpy.dtype("float32") to "f32" (and so on)."""
    name = dtype if isinstance(dtype, str) else getattr(dtype, "__name__", None) or str(dtype)
    name = _DTYPE_ALIASES.get(name, name)
    if name not in DTYPES:
        raise TypeError(f"unsupported dtype {dtype!r}; expected one of {DTYPES}")
    return name


def _node(cls: type) -> type:
    """Make a frozen dataclass whose equality, hash and repr come from ``Node``."""
    return dataclasses.dataclass(frozen=True, eq=False, repr=False)(cls)


class Node:
    """Base of expressions, statements and buffers: structural equality, cached hash."""

    _getters: ClassVar[dict[type, Callable[[Any], tuple[Any, ...]]]] = {}

    def fields(self) -> tuple[Any, ...]:
        getter = Node._getters.get(type(self))
        if getter is None:       # one C-level getter per class: every walk calls this
            names = [f.name for f in dataclasses.fields(self)]  # type: ignore[arg-type]
            getter = operator.attrgetter(*names) if len(names) > 1 else \
                (lambda node, name=names[0]: (getattr(node, name),))
            Node._getters[type(self)] = getter
        return getter(self)

    def _key(self) -> tuple[Any, ...]:
        return self.fields()

    def _cache_hash(self) -> None:
        object.__setattr__(self, "_hash", hash((type(self).__name__, *self._key())))

    def __hash__(self) -> int:
        return self._hash  # type: ignore[attr-defined]

    def __eq__(self, other: object) -> bool:
        # Structural, with an explicit stack: comparing the keys as tuples would recurse once
        # per level of the tree. Equal hashes make a difference found late rare.
        pairs: list[tuple[Any, Any]] = [(self, other)]
        compared: set[tuple[int, int]] = set()  # a shared subexpression is compared once
        while pairs:
            a, b = pairs.pop()
            if a is b:
                continue
            if isinstance(a, Node):
                if type(a) is not type(b) or hash(a) != hash(b):
                    return False
                if (id(a), id(b)) in compared:
                    continue
                compared.add((id(a), id(b)))
                a, b = a._key(), b._key()  # type: ignore[attr-defined]
            if isinstance(a, tuple):
                if not isinstance(b, tuple) or len(a) != len(b):
                    return False
                pairs.extend(zip(a, b))
            elif isinstance(b, (Node, tuple)) or a != b:
                return False
        return True

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __str__(self) -> str:
        from codegen import text

        return text.render(self)

    def __repr__(self) -> str:
        # the text form: a dataclass repr would recurse once per level of the tree
        return f"<{type(self).__name__} {self}>"


Recursive = Generator[Any, Any, Any]


def iterate(call: Recursive) -> Any:
    """Run a recursive function written as a generator, with a stack of its own instead of
    Python's: it yields each recursive call (a generator of the same kind) and is sent back its
    result. So loop IR as deep as a graph (a chain of thousands of ops) is walked with no
    recursion limit, and side effects happen in the order the plain recursion would give.

    >>> def depth(n):
    ...     return 0 if n == 0 else 1 + (yield depth(n - 1))
    >>> iterate(depth(100_000))
    100000
    """
    stack = [call]
    value = None
    while stack:
        try:
            inner = stack[-1].send(value)
        except StopIteration as stop:
            stack.pop()
            value = stop.value
        else:
            stack.append(inner)
            value = None
    return value


# ---------------------------------------------------------------------------------------------
# Scalar expressions


class Expr(Node):
    """A scalar value computed per loop iteration; Python operators build new nodes."""

    dtype: str
    reads: frozenset[str]  # names of the buffers loaded anywhere below this node
    depth: int  # how many Reduce nodes nest below this one (names reduction variables)

    def __post_init__(self) -> None:
        kids = [c for c in _flat(self.fields()) if isinstance(c, Expr)]
        if not isinstance(self, (Const, Cast)):
            object.__setattr__(self, "dtype", self._infer_dtype())
        reads = frozenset().union(*(k.reads for k in kids)) if kids else frozenset()
        depth = max((k.depth for k in kids), default=0)
        if isinstance(self, Load):
            reads |= {self.buffer.name}
        if isinstance(self, Reduce):
            depth = self.body.depth + 1
        object.__setattr__(self, "reads", reads)
        object.__setattr__(self, "depth", depth)
        self._cache_hash()

    def _infer_dtype(self) -> str:
        raise TypeError(f"{type(self).__name__} is an abstract expression class")

    def __add__(self, other: Any) -> Expr:
        return Add(self, lift(other, self))

    def __radd__(self, other: Any) -> Expr:
        return Add(lift(other, self), self)

    def __sub__(self, other: Any) -> Expr:
        return Sub(self, lift(other, self))

    def __rsub__(self, other: Any) -> Expr:
        return Sub(lift(other, self), self)

    def __mul__(self, other: Any) -> Expr:
        return Mul(self, lift(other, self))

    def __rmul__(self, other: Any) -> Expr:
        return Mul(lift(other, self), self)

    def __truediv__(self, other: Any) -> Expr:
        return Div(self, lift(other, self))

    def __rtruediv__(self, other: Any) -> Expr:
        return Div(lift(other, self), self)

    def __floordiv__(self, other: Any) -> Expr:
        return FloorDiv(self, lift(other, self))

    def __mod__(self, other: Any) -> Expr:
        return Mod(self, lift(other, self))

    def __neg__(self) -> Expr:
        return Neg(self)

    __hash__ = Node.__hash__


def _flat(values: Sequence[Any]) -> list[Any]:
    out: list[Any] = []
    for v in values:
        out.extend(v) if isinstance(v, tuple) else out.append(v)
    return out


def lift(value: Any, like: Expr | str) -> Expr:
    """Turn a Python number into a ``Const`` of the dtype of ``like`` (an Expr or a dtype)."""
    if isinstance(value, Expr):
        return value
    dtype = like if isinstance(like, str) else like.dtype
    if not isinstance(value, numbers.Number):
        raise TypeError(f"cannot use {value!r} ({type(value).__name__}) in a loop expression")
    if dtype in ("i32", "i64", "i1") and not isinstance(value, numbers.Integral):
        raise TypeError(f"float literal {value!r} meets an {dtype} expression; cast one side")
    return Const(value, dtype)


def _same(node: Expr, a: Expr, b: Expr, allowed: Sequence[str]) -> str:
    if a.dtype != b.dtype:
        raise TypeError(f"{type(node).__name__}: operand dtypes differ ({a.dtype} vs {b.dtype}) "
                        f"in {a} and {b}; insert a Cast")
    if a.dtype not in allowed:
        raise TypeError(f"{type(node).__name__} does not accept {a.dtype} operands: {a}")
    return a.dtype


@_node
class Const(Expr):
    """A literal; floats compare by their repr so NaN equals NaN and -0.0 differs from 0.0."""

    value: float | int | bool
    dtype: str

    def __post_init__(self) -> None:
        dtype = normalize_dtype(self.dtype)
        object.__setattr__(self, "dtype", dtype)
        if dtype in FLOAT_DTYPES:
            value: float | int | bool = float(self.value)
        elif dtype in INT_DTYPES:
            if self.value != int(self.value):
                raise TypeError(f"{dtype} constant must be integral, got {self.value!r}")
            value = int(self.value)
            bits = 32 if dtype == "i32" else 64
            if not -2**(bits - 1) <= value < 2**(bits - 1):
                raise TypeError(f"{dtype} constant {value} is out of range")
        else:
            value = bool(self.value)
        object.__setattr__(self, "value", value)
        super().__post_init__()

    def _key(self) -> tuple[Any, ...]:
        return (repr(self.value), self.dtype)


@_node
class Var(Expr):
    """An i64 loop or reduction index."""

    name: str

    def _infer_dtype(self) -> str:
        return "i64"


@_node
class Load(Expr):
    """``buffer[index]``: one index per dimension, or a single flat (row-major) index."""

    buffer: Buffer
    index: tuple[Expr, ...]

    def _infer_dtype(self) -> str:
        check_index(self.buffer, self.index)
        return self.buffer.dtype


def check_index(buffer: Buffer, index: tuple[Expr, ...]) -> None:
    if len(index) not in (len(buffer.shape), 1):
        raise TypeError(f"{buffer.name} has shape {list(buffer.shape)}: "
                        f"index needs {len(buffer.shape)} components (or 1 flat), got {len(index)}")
    for e in index:
        if not isinstance(e, Expr) or e.dtype != "i64":
            raise TypeError(f"index of {buffer.name} must be i64 expressions, got {e}")


@_node
class _Binary(Expr):
    a: Expr
    b: Expr


@_node
class Add(_Binary):
    def _infer_dtype(self) -> str:
        return _same(self, self.a, self.b, NUMERIC_DTYPES)


@_node
class Sub(_Binary):
    def _infer_dtype(self) -> str:
        return _same(self, self.a, self.b, NUMERIC_DTYPES)


@_node
class Mul(_Binary):
    def _infer_dtype(self) -> str:
        return _same(self, self.a, self.b, NUMERIC_DTYPES)


@_node
class Div(_Binary):
    """Float division (IEEE: x/0 = ±inf, 0/0 = NaN). Integers use FloorDiv."""

    def _infer_dtype(self) -> str:
        return _same(self, self.a, self.b, FLOAT_DTYPES)


@_node
class _IntDivision(_Binary):
    def _infer_dtype(self) -> str:
        _same(self, self.a, self.b, ("i64",))
        if not (isinstance(self.b, Const) and self.b.value > 0):
            raise TypeError(f"{type(self).__name__} needs a positive constant divisor, "
                            f"got {self.b}")
        return "i64"


@_node
class FloorDiv(_IntDivision):
    """Python ``a // b`` on i64 (rounds toward -inf); b is a positive constant."""


@_node
class Mod(_IntDivision):
    """Python ``a % b`` on i64 (result in [0, b)); b is a positive constant."""


@_node
class FMax(_Binary):
    """Like np.maximum: NaN if either input is NaN; on ties returns b. On ints: signed max."""

    def _infer_dtype(self) -> str:
        return _same(self, self.a, self.b, NUMERIC_DTYPES)


@_node
class FMin(_Binary):
    """Like np.minimum: NaN if either input is NaN; on ties returns b. On ints: signed min."""

    def _infer_dtype(self) -> str:
        return _same(self, self.a, self.b, NUMERIC_DTYPES)


@_node
class MulAdd(Expr):
    """``a * b + c`` on floats, in one rounding where the target has fused multiply-add
    (LLVM's ``fmuladd``: every x86-64-v3 and v4 CPU), the product rounded first where it has
    not: the last bits may differ between targets, as a BLAS's do. Elementwise arithmetic is
    otherwise never contracted (``codegen.llvm.emitter``): lowering asks for this where a sum
    of products may be fused, as a convolution's taps."""

    a: Expr
    b: Expr
    c: Expr

    def _infer_dtype(self) -> str:
        _same(self, self.a, self.b, FLOAT_DTYPES)
        return _same(self, self.a, self.c, FLOAT_DTYPES)


@_node
class Pow(_Binary):
    """``a ** b`` with C/NumPy semantics (negative base needs an integral exponent)."""

    def _infer_dtype(self) -> str:
        return _same(self, self.a, self.b, FLOAT_DTYPES)


@_node
class _Unary(Expr):
    x: Expr

    def _infer_dtype(self) -> str:
        if self.x.dtype not in FLOAT_DTYPES:
            raise TypeError(f"{type(self).__name__} needs a float operand, got {self.x.dtype}: "
                            f"{self.x}")
        return self.x.dtype


@_node
class _SignedUnary(_Unary):
    """A unary op defined on ints too (wrapping as NumPy: -(-2**63) is -2**63)."""

    def _infer_dtype(self) -> str:
        return self.x.dtype if self.x.dtype in INT_DTYPES else super()._infer_dtype()


@_node
class Neg(_SignedUnary):
    pass


@_node
class Exp(_Unary):
    """e**x as our own polynomial (see codegen.llvm.mathlib for the accuracy contract)."""


@_node
class Expm1(_Unary):
    """e**x - 1, accurate relative to x near 0 (where exp(x) - 1 cancels to nothing)."""


@_node
class Log(_Unary):
    """Natural log: log(0) = -inf, log(x < 0) = NaN, log(inf) = inf."""


@_node
class Log1p(_Unary):
    """log(1 + x), accurate relative to x near 0 (where log(1 + x) loses x's digits)."""


@_node
class Erf(_Unary):
    """The error function, our own rational approximation (codegen.llvm.special)."""


@_node
class NormalCdf(_Unary):
    """Φ(x) = erfc(-x/√2)/2, the standard normal CDF, accurate in both tails."""


@_node
class Softplus(_Unary):
    """log(1 + e^x), without overflow for large x or loss of e^x for x << 0."""


@_node
class Sin(_Unary):
    """Sine with exact argument reduction (codegen.llvm.trig); sin(±inf) = NaN."""


@_node
class Cos(_Unary):
    """Cosine with exact argument reduction (codegen.llvm.trig); cos(±inf) = NaN."""


@_node
class Tanh(_Unary):
    """Hyperbolic tangent, accurate relative to x near 0, exactly ±1 beyond ±20."""


@_node
class Sqrt(_Unary):
    """IEEE square root (NaN for negative inputs)."""


@_node
class Abs(_SignedUnary):
    """|x|; abs(NaN) is NaN; on ints abs(min) is min, as NumPy's wrapping abs."""


@_node
class Floor(_Unary):
    """Round toward -inf."""


@_node
class Ceil(_Unary):
    """Round toward +inf."""


@_node
class RoundEven(_Unary):
    """Round to the nearest integer, ties to even (np.round): 0.5 -> 0, 1.5 -> 2, -0.5 -> -0."""


@_node
class _Compare(_Binary):
    """IEEE comparison producing i1: false when either side is NaN, except Ne. Ints compare
    signed, i1 (bools) unsigned (False < True, as NumPy)."""

    def _infer_dtype(self) -> str:
        _same(self, self.a, self.b, DTYPES)
        return "i1"


@_node
class Lt(_Compare):
    pass


@_node
class Le(_Compare):
    pass


@_node
class Gt(_Compare):
    pass


@_node
class Ge(_Compare):
    pass


@_node
class Eq(_Compare):
    pass


@_node
class Ne(_Compare):
    """True when the operands differ or either is NaN (so ``ne(x, x)`` tests for NaN)."""


@_node
class Select(Expr):
    """``a if cond else b``; both sides are computed (no short circuit)."""

    cond: Expr
    a: Expr
    b: Expr

    def _infer_dtype(self) -> str:
        if self.cond.dtype != "i1":
            raise TypeError(f"Select condition must be i1 (a comparison), got {self.cond}")
        return _same(self, self.a, self.b, DTYPES)


@_node
class Cast(Expr):
    """Convert ``x`` to ``dtype``, with every case defined (C leaves float -> int undefined
    out of range): i1 -> number gives 1/0; number -> i1 is ``x != 0`` (NaN is true, as NumPy);
    float -> int truncates toward zero, saturates out of range (±inf included) to the int's
    extremes, and NaN gives 0; i64 -> i32 wraps (keeps the low 32 bits, as NumPy); int ->
    float rounds to nearest."""

    x: Expr
    dtype: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "dtype", normalize_dtype(self.dtype))
        super().__post_init__()


REDUCE_KINDS = ("sum", "max", "min")


@_node
class Reduce(Expr):
    """``kind`` over ``var`` in 0..extent of ``body``: sum (empty = 0), max (-inf), min (+inf).

    Sums may be reassociated (vectorized); max/min propagate NaN like np.max.
    """

    kind: str
    var: Var
    extent: int
    body: Expr

    def _infer_dtype(self) -> str:
        if self.kind not in REDUCE_KINDS:
            raise TypeError(f"Reduce kind must be one of {REDUCE_KINDS}, got {self.kind!r}")
        if not isinstance(self.extent, int) or self.extent < 0:
            raise TypeError(f"Reduce extent must be a non-negative int, got {self.extent!r}")
        if self.body.dtype not in NUMERIC_DTYPES:
            raise TypeError(f"cannot reduce {self.body.dtype} values: {self.body}")
        return self.body.dtype
