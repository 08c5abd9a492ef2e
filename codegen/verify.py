"""Kernel invariants, checked when a ``Kernel`` is built: names, roles, scoping, index bounds.

Input: a ``Kernel``. Output: nothing, or a ``KernelError`` naming the kernel, the fault and the
statement. Bounds use interval arithmetic over loop extents: every index of every Load, Store,
Accumulate and Gemm operand must provably stay inside its buffer, so native code never touches
memory outside the arrays the caller validated. The analysis is conservative: an index that is
only in bounds because a Select guards it is rejected (both Select arms are evaluated), so clamp it
with ``loops.clamp``.
"""

from __future__ import annotations

import re

from codegen import exprs as E
from codegen import stmts as S

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
Interval = tuple[int | None, int | None]  # None: unbounded on that side


class KernelError(ValueError):
    """A kernel that cannot be lowered safely; the message names the kernel and statement."""


def check_kernel(kernel: S.Kernel) -> None:
    if not _IDENTIFIER.match(kernel.name):
        raise KernelError(f"kernel name {kernel.name!r} is not an identifier")
    roles: dict[str, tuple[str, S.Buffer]] = {}
    for role, buffers in (("input", kernel.inputs), ("output", kernel.outputs),
                          ("temp", kernel.temps)):
        for b in buffers:
            if not isinstance(b, S.Buffer):
                raise KernelError(f"kernel {kernel.name}: {role} {type(b).__name__} "
                                  f"`{_short(b)}` is not a Buffer")
            if not _IDENTIFIER.match(b.name) or b.name in roles:
                raise KernelError(f"kernel {kernel.name}: buffer name {b.name!r} is not a unique "
                                  "identifier")
            roles[b.name] = (role, b)
    checker = _Checker(kernel.name, roles)
    for s in kernel.body:
        checker.stmt(s, {}, top=True, live=True)


def _short(node: E.Node) -> str:
    text = str(node).split("\n")[0]
    return text if len(text) <= 160 else text[:157] + "..."


class _Checker:
    def __init__(self, kernel: str, roles: dict[str, tuple[str, S.Buffer]]) -> None:
        self.kernel = kernel
        self.roles = roles
        self.seen: set[tuple[tuple[tuple[str, Interval], ...], bool, int]] = set()
        self.current: E.Node | None = None  # the statement being checked, for messages
        self.parallel = False               # inside a parallel loop

    def fail(self, message: str) -> KernelError:
        return KernelError(f"kernel {self.kernel}: {message}, in `{_short(self.current)}`")

    def buffer(self, b: S.Buffer, writing: bool) -> None:
        role, declared = self.roles.get(b.name, (None, None))
        if declared is None:
            raise self.fail(f"buffer {b.name} is not declared")
        if declared != b:
            raise self.fail(f"buffer {b.name} is declared as {declared} but used as {b}")
        if writing and role == "input":
            raise self.fail(f"writes input buffer {b.name}")

    def stmt(self, s: S.Stmt, env: dict[str, Interval], top: bool, live: bool) -> None:
        self.current = s
        if isinstance(s, (S.Store, S.Accumulate)):
            self.buffer(s.buffer, writing=True)
            self.access(s.buffer, s.index, env, live)
            self.expr(s.value, env, live)
        elif isinstance(s, S.Loop):
            self.bind(s.var.name, env)
            if s.parallel and not top:
                raise self.fail(f"parallel loop {s.var.name} is not at the top level")
            inner = {**env, s.var.name: (0, s.extent - 1)}
            outer, self.parallel = self.parallel, self.parallel or s.parallel
            for child in s.body:
                self.stmt(child, inner, top=False, live=live and s.extent > 0)
            self.parallel = outer
        elif isinstance(s, S.Gemm):
            self.gemm(s, env, live)
        elif isinstance(s, S.DirectConv):
            self.direct_conv(s, env, live)
        elif isinstance(s, S.Check):
            if self.parallel:
                raise self.fail("a check inside a parallel loop (an outlined body cannot "
                                "return its code)")
            self.expr(s.cond, env, live)
        else:
            raise self.fail(f"unknown statement {type(s).__name__}")

    def bind(self, name: str, env: dict[str, Interval]) -> None:
        if not _IDENTIFIER.match(name):
            raise self.fail(f"loop variable {name!r} is not an identifier")
        if name in env:
            raise self.fail(f"loop variable {name} shadows an enclosing loop")

    def direct_conv(self, s: S.DirectConv, env: dict[str, Interval], live: bool) -> None:
        for name, (offset, extent) in s.extents().items():
            buffer = getattr(s, name)
            self.buffer(buffer, writing=name == "out")
            self.expr(offset, env, live)
            if not live or s.empty:
                continue
            lo, hi = interval(offset, env)
            last = None if hi is None else hi + extent
            if lo is None or last is None or lo < 0 or last >= buffer.size:
                raise self.fail(f"direct conv operand {name} reaches {buffer.name} elements "
                                f"[{lo}, {last}] outside [0, {buffer.size - 1}]")

    def gemm(self, g: S.Gemm, env: dict[str, Interval], live: bool) -> None:
        for extra in (g.bias, g.packed_b):     # sizes checked by the statement itself
            if extra is not None:
                self.buffer(extra, writing=False)
        laid_out = [("a", g.a, g.a_offset, g.lda), ("b", g.b, g.b_offset, g.ldb),
                    ("c", g.c, g.c_offset, g.ldc)]
        if g.source is not None:         # the beta term's matrix, laid out as c
            laid_out.append(("source", g.source, g.c_offset, g.ldc))
        for operand, buffer, offset, ld in laid_out:
            self.buffer(buffer, writing=operand == "c")
            self.expr(offset, env, live)
            lo, hi = interval(offset, env)
            rows, cols = g.rows_cols("c" if operand == "source" else operand)
            if not live or rows * cols == 0:
                continue
            last = None if hi is None else hi + (rows - 1) * ld + cols - 1
            if lo is None or last is None or lo < 0 or last >= buffer.size:
                raise self.fail(f"gemm operand {operand} reads {buffer.name} elements "
                                f"[{lo}, {last}] outside [0, {buffer.size - 1}]")

    def access(self, b: S.Buffer, index: tuple[E.Expr, ...], env: dict[str, Interval],
               live: bool) -> None:
        E.iterate(self._access(b, index, env, live))

    def _access(self, b: S.Buffer, index: tuple[E.Expr, ...], env: dict[str, Interval],
                live: bool) -> E.Recursive:
        dims = b.shape if len(index) == b.ndim else (b.size,)
        for position, (e, dim) in enumerate(zip(index, dims, strict=True)):
            yield self._expr(e, env, live)
            lo, hi = interval(e, env)
            if live and (lo is None or hi is None or lo < 0 or hi >= dim):
                raise self.fail(f"index {position} of {b.name} ({_short(e)}) ranges over "
                                f"[{lo}, {hi}] but the dimension is {dim}")

    def expr(self, e: E.Expr, env: dict[str, Interval], live: bool) -> None:
        E.iterate(self._expr(e, env, live))

    def _expr(self, e: E.Expr, env: dict[str, Interval], live: bool) -> E.Recursive:
        # a shared subexpression is checked once per scope (by identity: comparing equal
        # copies node by node costs as much as checking them again)
        key = (tuple(env.items()), live, id(e))
        if key in self.seen:
            return
        self.seen.add(key)
        if isinstance(e, E.Var) and e.name not in env:
            raise self.fail(f"variable {e.name} is not bound by an enclosing loop or reduction")
        if isinstance(e, E.Load):
            self.buffer(e.buffer, writing=False)
            yield self._access(e.buffer, e.index, env, live)
        if isinstance(e, E.Reduce):
            if e.var.name in env:
                raise self.fail(f"reduction variable {e.var.name} shadows an enclosing variable")
            inner = {**env, e.var.name: (0, e.extent - 1)}
            yield self._expr(e.body, inner, live and e.extent > 0)
            return
        for child in E._flat(e.fields()):
            if isinstance(child, E.Expr):
                yield self._expr(child, env, live)


def interval(e: E.Expr, env: dict[str, Interval]) -> Interval:
    """Bounds of an i64 expression given bounds of its variables (None: unbounded)."""
    return E.iterate(_interval(e, env))


def _interval(e: E.Expr, env: dict[str, Interval]) -> E.Recursive:
    if isinstance(e, E.Const):
        return (int(e.value), int(e.value))
    if isinstance(e, E.Var):
        return env.get(e.name, (None, None))
    rule = _RULES.get(type(e))
    if rule is None:
        return (None, None)  # loads, casts, reductions: data dependent
    args = []
    for c in e.fields():
        args.append((yield _interval(c, env)) if isinstance(c, E.Expr) else c)
    return rule(*args)


def _add(a: Interval, b: Interval) -> Interval:
    lo = None if a[0] is None or b[0] is None else a[0] + b[0]
    hi = None if a[1] is None or b[1] is None else a[1] + b[1]
    return (lo, hi)


def _neg(a: Interval) -> Interval:
    return (None if a[1] is None else -a[1], None if a[0] is None else -a[0])


def _mul(a: Interval, b: Interval) -> Interval:
    if None in a or None in b:
        return (None, None)
    products = [x * y for x in a for y in b]  # type: ignore[operator]
    return (min(products), max(products))


def _floordiv(a: Interval, d: Interval) -> Interval:
    k = d[0]
    return (None if a[0] is None else a[0] // k, None if a[1] is None else a[1] // k)


def _mod(a: Interval, d: Interval) -> Interval:
    k = d[0]
    assert k is not None  # FloorDiv/Mod divisors are positive constants (checked in exprs)
    if a[0] is not None and a[1] is not None and a[1] - a[0] < k and a[0] % k <= a[1] % k:
        return (a[0] % k, a[1] % k)  # the range does not wrap around a multiple of k
    return (0, k - 1)


def _max(a: Interval, b: Interval) -> Interval:
    los = [x for x in (a[0], b[0]) if x is not None]
    return (max(los) if los else None, None if None in (a[1], b[1]) else max(a[1], b[1]))


def _min(a: Interval, b: Interval) -> Interval:
    his = [x for x in (a[1], b[1]) if x is not None]
    return (None if None in (a[0], b[0]) else min(a[0], b[0]), min(his) if his else None)


def _select(_cond: Interval, a: Interval, b: Interval) -> Interval:
    return _min(a, b)[0:1] + _max(a, b)[1:2]  # the union of both arms


_RULES = {
    E.Add: _add,
    E.Sub: lambda a, b: _add(a, _neg(b)),
    E.Neg: _neg,
    E.Mul: _mul,
    E.FloorDiv: _floordiv,
    E.Mod: _mod,
    E.FMax: _max,
    E.FMin: _min,
    E.Select: _select,
}
