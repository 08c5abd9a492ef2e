"""The loop IR interface: node classes, builder helpers and tree rewriting.

Input: what the graph compiler (or a test) wants computed. Output: a ``Kernel`` for
``codegen.jit.compile_kernel``. This module gathers the node classes of ``codegen.exprs`` and
``codegen.stmts`` and adds the helpers ops are written with:

>>> x = Buffer("x", "f32", (1000,))
>>> out = Buffer("out", "f32", (1000,))
>>> k = Kernel("sigmoid", [x], [out], body=[loop(1000, lambda i: store(out, i,
...     1.0 / (1.0 + exp(-x[i]))))])
>>> print(k)
kernel sigmoid(x: f32[1000]) -> (out: f32[1000]) {
  for i in 0..1000 {
    out[i] = 1.0 / (1.0 + exp(-x[i]))
  }
}

Reductions take a function of their index, whose name is derived from how many reductions nest
inside the body (``r0`` innermost), so equal reductions are equal and text is the same in every
process: ``reduce_sum(4, lambda k: a[i, k] * b[k, j])`` is ``sum(r0 in 0..4: a[i, r0] * b[r0, j])``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from codegen.exprs import (
    DTYPES,
    FLOAT_DTYPES,
    Abs,
    Add,
    Cast,
    Ceil,
    Const,
    Cos,
    Div,
    Eq,
    Erf,
    Exp,
    Expm1,
    Expr,
    Floor,
    FloorDiv,
    FMax,
    FMin,
    Ge,
    Gt,
    Le,
    Load,
    Log,
    Log1p,
    Lt,
    Mod,
    Mul,
    MulAdd,
    Ne,
    Neg,
    Node,
    NormalCdf,
    Pow,
    Recursive,
    Reduce,
    RoundEven,
    Select,
    Sin,
    Softplus,
    Sqrt,
    Sub,
    Tanh,
    Var,
    iterate,
    lift,
    normalize_dtype,
)
from codegen.stmts import (
    CHANNEL_PAD,
    CONV_SLACK,
    Accumulate,
    Buffer,
    Check,
    DirectConv,
    Gemm,
    Kernel,
    Loop,
    Stmt,
    Store,
    channel_row,
)
from codegen.verify import KernelError

__all__ = [
    "Abs", "Accumulate", "Add", "Buffer", "CHANNEL_PAD", "CONV_SLACK", "Cast", "Check", "Const",
    "DTYPES", "DirectConv", "Div", "Eq",
    "Exp", "Expm1", "Expr", "FLOAT_DTYPES", "FMax", "FMin", "Floor", "FloorDiv", "Ge", "Gemm",
    "Gt", "Kernel", "KernelError", "Le", "Load", "Log", "Loop", "Lt", "Mod", "Mul", "MulAdd",
    "Ne", "Neg", "Node", "Pow", "Recursive", "Reduce", "Select", "Sqrt", "Stmt", "Store", "Sub",
    "Tanh", "Var", "accumulate", "cast", "channel_row", "check", "children", "clamp", "const",
    "eq", "exp", "expm1", "fabs", "floor", "fmax", "fmin", "ge", "gt", "iterate", "land", "le",
    "lift", "lnot", "log", "loop", "loop_nest", "lor", "lt", "map_children", "muladd", "ne",
    "normalize_dtype", "power",
    "rebuild", "reduce_max", "reduce_min", "reduce_sum", "select", "sqrt", "store",
    "substitute", "tanh", "walk",
    "Ceil", "Cos", "Erf", "Log1p", "NormalCdf", "RoundEven", "Sin", "ceil", "cos", "erf",
    "log1p", "normal_cdf", "roundeven", "sin", "Softplus", "softplus",
]

Number = int | float


def const(value: Number, dtype: str) -> Const:
    return Const(value, dtype)


def exp(x: Expr) -> Expr:
    return Exp(x)


def expm1(x: Expr) -> Expr:
    return Expm1(x)


def log(x: Expr) -> Expr:
    return Log(x)


def log1p(x: Expr) -> Expr:
    return Log1p(x)


def tanh(x: Expr) -> Expr:
    return Tanh(x)


def erf(x: Expr) -> Expr:
    return Erf(x)


def normal_cdf(x: Expr) -> Expr:
    """Φ(x), the standard normal distribution's CDF."""
    return NormalCdf(x)


def softplus(x: Expr) -> Expr:
    """log(1 + e^x), one exp and one division (codegen.llvm.mathlib)."""
    return Softplus(x)


def sin(x: Expr) -> Expr:
    return Sin(x)


def cos(x: Expr) -> Expr:
    return Cos(x)


def sqrt(x: Expr) -> Expr:
    return Sqrt(x)


def fabs(x: Expr) -> Expr:
    return Abs(x)


def floor(x: Expr) -> Expr:
    return Floor(x)


def ceil(x: Expr) -> Expr:
    return Ceil(x)


def roundeven(x: Expr) -> Expr:
    """Round to nearest, ties to even (np.round)."""
    return RoundEven(x)


def _pair(a: Expr | Number, b: Expr | Number) -> tuple[Expr, Expr]:
    if isinstance(a, Expr):
        return a, lift(b, a)
    if isinstance(b, Expr):
        return lift(a, b), b
    raise TypeError(f"cannot infer a dtype from {a!r} and {b!r}: use loops.const(value, dtype)")


def power(a: Expr | Number, b: Expr | Number) -> Expr:
    return Pow(*_pair(a, b))


def fmax(a: Expr | Number, b: Expr | Number) -> Expr:
    """np.maximum: NaN if either side is NaN."""
    return FMax(*_pair(a, b))


def fmin(a: Expr | Number, b: Expr | Number) -> Expr:
    """np.minimum: NaN if either side is NaN."""
    return FMin(*_pair(a, b))


def muladd(a: Expr, b: Expr | Number, c: Expr | Number) -> Expr:
    """a * b + c, fused where the target has FMA (``MulAdd``)."""
    return MulAdd(a, lift(b, a), lift(c, a))


def clamp(x: Expr, lo: Expr | Number, hi: Expr | Number) -> Expr:
    """min(max(x, lo), hi): keeps a computed index provably inside a buffer."""
    return fmin(fmax(x, lo), hi)


def lt(a: Expr | Number, b: Expr | Number) -> Expr:
    return Lt(*_pair(a, b))


def le(a: Expr | Number, b: Expr | Number) -> Expr:
    return Le(*_pair(a, b))


def gt(a: Expr | Number, b: Expr | Number) -> Expr:
    return Gt(*_pair(a, b))


def ge(a: Expr | Number, b: Expr | Number) -> Expr:
    return Ge(*_pair(a, b))


def eq(a: Expr | Number, b: Expr | Number) -> Expr:
    return Eq(*_pair(a, b))


def ne(a: Expr | Number, b: Expr | Number) -> Expr:
    return Ne(*_pair(a, b))


def select(cond: Expr, a: Expr | Number, b: Expr | Number) -> Expr:
    return Select(cond, *_pair(a, b))


def land(a: Expr, b: Expr) -> Expr:
    """a and b, on i1 (a select: LLVM makes it an `and`)."""
    return Select(a, b, Const(False, "i1"))


def lor(a: Expr, b: Expr) -> Expr:
    """a or b, on i1."""
    return Select(a, Const(True, "i1"), b)


def lnot(a: Expr) -> Expr:
    """not a, on i1."""
    return Select(a, Const(False, "i1"), Const(True, "i1"))


def check(cond: Expr, code: int) -> Check:
    """``if not cond: return code`` (see ``Check``)."""
    return Check(cond, code)


def cast(x: Expr, dtype: Any) -> Expr:
    """Convert x; a cast to its own dtype returns x unchanged."""
    dtype = normalize_dtype(dtype)
    return x if x.dtype == dtype else Cast(x, dtype)


_placeholders = itertools.count()


def _reduce(kind: str, extent: int, body: Callable[[Var], Expr]) -> Reduce:
    # Unique and not an identifier, so it cannot clash with user names or enclosing reductions.
    placeholder = Var(f"%reduce{next(_placeholders)}")
    value = body(placeholder)
    var = Var(f"r{value.depth}")  # inner reductions use r0 .. r{depth-1}
    return Reduce(kind, var, extent, substitute(value, {placeholder.name: var}))


def reduce_sum(extent: int, body: Callable[[Var], Expr]) -> Reduce:
    """sum over k in 0..extent of body(k); may be reassociated to vectorize."""
    return _reduce("sum", extent, body)


def reduce_max(extent: int, body: Callable[[Var], Expr]) -> Reduce:
    """max over k in 0..extent of body(k); NaN if any term is NaN, -inf if empty."""
    return _reduce("max", extent, body)


def reduce_min(extent: int, body: Callable[[Var], Expr]) -> Reduce:
    """min over k in 0..extent of body(k); NaN if any term is NaN, +inf if empty."""
    return _reduce("min", extent, body)


def store(buffer: Buffer, index: Any, value: Expr | Number) -> Store:
    """``buffer[index] = value``; index is an Expr, an int or a tuple of them."""
    return Store(buffer, index, value)


def accumulate(buffer: Buffer, index: Any, value: Expr | Number, kind: str = "sum") -> Accumulate:
    """``buffer[index] += value`` (or max=/min=), for scatter-style gradients."""
    return Accumulate(buffer, index, value, kind)


Body = Stmt | Iterable[Stmt]


def loop(extent: int, body: Callable[[Var], Body], name: str = "i",
         parallel: bool = False) -> Loop:
    """``for name in 0..extent { body(name) }``."""
    var = Var(name)
    stmts = body(var)
    return Loop(var, extent, (stmts,) if isinstance(stmts, Stmt) else tuple(stmts), parallel)


def loop_nest(shape: Sequence[int], body: Callable[..., Body], names: Sequence[str] | None = None,
              parallel: bool = False) -> Stmt:
    """Nested loops over ``shape`` with indices named i, j, k, l, m, n (then i6, i7, ...).

    ``parallel`` marks the outermost loop. An empty shape runs ``body()`` once.
    """
    names = list(names) if names is not None else [
        "ijklmn"[d] if d < 6 else f"i{d}" for d in range(len(shape))]
    variables = [Var(n) for n in names]
    stmts = body(*variables)
    inner = (stmts,) if isinstance(stmts, Stmt) else tuple(stmts)
    if not shape:
        if len(inner) != 1:
            raise TypeError("loop_nest over an empty shape needs exactly one statement")
        return inner[0]
    for depth in reversed(range(len(shape))):
        inner = (Loop(variables[depth], shape[depth], inner, parallel and depth == 0),)
    return inner[0]


# ---------------------------------------------------------------------------------------------
# Tree traversal and rewriting


def walk(node: Node) -> Iterable[Node]:
    """Every expression and statement below ``node`` (including it), each distinct one once."""
    seen: set[int] = set()
    stack = [node]
    while stack:
        n = stack.pop()
        if id(n) in seen:
            continue
        seen.add(id(n))
        yield n
        for child in reversed(children(n)):
            stack.append(child)


def children(node: Node) -> list[Node]:
    """The expressions and statements directly below ``node``, in field order."""
    out: list[Node] = []
    for value in node.fields():
        items = value if isinstance(value, tuple) else (value,)
        out.extend(v for v in items if isinstance(v, (Expr, Stmt)))
    return out


def map_children(node: Node, fn: Callable[[Node], Node]) -> Node:
    """Rebuild ``node`` with ``fn`` applied to each child expression or statement."""
    changed = False
    values = []
    for value in node.fields():
        if isinstance(value, (Expr, Stmt)):
            new: Any = fn(value)
            changed = changed or new is not value
        elif isinstance(value, tuple):
            new = tuple(fn(v) if isinstance(v, (Expr, Stmt)) else v for v in value)
            changed = changed or any(a is not b for a, b in zip(new, value, strict=True))
        else:
            new = value
        values.append(new)
    return type(node)(*values) if changed else node


def substitute(node: Node, mapping: dict[str, Expr]) -> Any:
    """Replace variables by name; a Reduce binding one of the names hides it in its body."""
    memo: dict[int, Node] = {}

    def go(n: Node, names: dict[str, Expr]) -> Recursive:
        if isinstance(n, Var):
            return names.get(n.name, n)
        if isinstance(n, Reduce) and n.var.name in names:
            inner = {k: v for k, v in names.items() if k != n.var.name}
            return (yield from rebuild(n, lambda c: go(c, inner)))
        if names is mapping and id(n) in memo:
            return memo[id(n)]
        result = yield from rebuild(n, lambda c: go(c, names))
        if names is mapping:
            memo[id(n)] = result
        return result

    return iterate(go(node, mapping))


def rebuild(node: Node, fn: Callable[[Node], Recursive]) -> Recursive:
    """``map_children`` for a recursive rewrite run by ``iterate``: ``fn(child)`` is the
    generator computing a child's replacement."""
    new: dict[int, Node] = {}
    for child in children(node):
        if id(child) not in new:
            new[id(child)] = yield fn(child)
    return map_children(node, lambda child: new[id(child)])
