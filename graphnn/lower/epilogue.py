"""Elementwise work on a matrix product's result, fused into the product's store.

Stage: lowering, on the loop IR of a kernel's body. Input: the statements in order, the temps.
Output: the same work with each fusable pair replaced by one Gemm whose epilogue does the
elementwise part (codegen.stmts.Gemm: beta times a source matrix, a bias along the rows, a
ReLU), and the temps no longer written.

A pair is a top-level Gemm writing a temp T (offset 0, dense rows, beta 0, no epilogue yet)
followed at once by a loop nest over T's elements (i, j in m x n, or one flat loop) with one
store, O[i, j] = f, where T is read nowhere else and f is

    relu?(s * T[i, j] + w * W[i, j] + bias[j])       (every term but T optional)

in any arrangement of adds, subtracts, negations and products by constants, and relu? is
max(., 0.0) around it all. The Gemm then writes O itself: alpha *= s, beta = w, source = W,
plus the bias and the ReLU. So the SGD update w - lr (xᵀ g) is one product writing the new
weights, no pass over the gradient; a dense layer's bias + ReLU (an imported MLP's, or a
convolution's lowered to im2col + Gemm) is applied as each tile is stored. The rounding is the
one the separate nest had: s * T rounded, then the source and the bias added in turn.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from codegen import loops


@dataclass
class _Terms:
    scale: float | None = None       # of T
    source: tuple[loops.Buffer, float] | None = None
    bias: loops.Buffer | None = None


def fuse_epilogues(body: list[loops.Stmt], temps: list[loops.Buffer]) \
        -> tuple[list[loops.Stmt], list[loops.Buffer]]:
    """`body` with each product + elementwise nest pair fused (see the module docstring), and
    `temps` without the products' former results."""
    out: list[loops.Stmt] = []
    dropped: set[str] = set()
    temp_names = {t.name for t in temps}
    touches: dict[str, int] = {}          # statements touching each buffer
    for stmt in body:
        for name in _touched(stmt):
            touches[name] = touches.get(name, 0) + 1
    k = 0
    while k < len(body):
        stmt = body[k]
        fused = None
        # T is touched by the product and the nest alone
        if isinstance(stmt, loops.Gemm) and k + 1 < len(body) and \
                stmt.c.name in temp_names and touches[stmt.c.name] == 2:
            fused = _fuse(stmt, body[k + 1])
        if fused is None:
            out.append(stmt)
            k += 1
        else:
            out.append(fused)
            dropped.add(stmt.c.name)
            k += 2
    return out, [t for t in temps if t.name not in dropped]


def _touched(stmt: loops.Stmt) -> set[str]:
    names: set[str] = set()
    for node in loops.walk(stmt):
        if isinstance(node, loops.Load):
            names.add(node.buffer.name)
        elif isinstance(node, (loops.Store, loops.Accumulate)):
            names.add(node.buffer.name)
        elif isinstance(node, loops.Gemm):
            names |= {node.c.name, *(x.name for x in node.operands)}
        elif isinstance(node, loops.DirectConv):
            names |= {node.out.name, *(x.name for x in node.operands)}
    return names


def _fuse(g: loops.Gemm, nest: loops.Stmt) -> loops.Gemm | None:
    if g.beta != 0 or g.source is not None or g.bias is not None or g.relu or \
            g.ldc != g.n or not (isinstance(g.c_offset, loops.Const) and g.c_offset.value == 0) \
            or g.c.size != g.m * g.n:
        return None
    found = _elementwise_store(nest, g.m, g.n)
    if found is None:
        return None
    store, index, column = found
    target = store.buffer
    if target.size != g.m * g.n or target.dtype != g.c.dtype or \
            target.name in (g.a.name, g.b.name) or \
            (len(store.index) == 2 and target.shape != (g.m, g.n)):
        return None
    value, relu = store.value, False
    if isinstance(value, loops.FMax) and _is_zero(value.b):
        value, relu = value.a, True
    terms = _Terms()
    if not _linear(value, 1.0, terms, g.c, index, column, target) or terms.scale is None:
        return None
    source, beta = terms.source if terms.source is not None else (None, 0.0)
    if source is not None and source.name == target.name:
        source = None            # O = s T + w O: the beta term reads the output itself
    return replace(g, c=target, alpha=g.alpha * terms.scale, beta=beta, source=source,
                   bias=terms.bias, relu=relu)


def _elementwise_store(nest: loops.Stmt, m: int, n: int):
    """(the store, its index, the column variable or None) of a nest that stores once per
    element of an m x n matrix: for i { for j { O[i, j] = ... } } or for i { O.flat[i] }."""
    if not isinstance(nest, loops.Loop) or len(nest.body) != 1:
        return None
    inner = nest.body[0]
    if nest.extent == m * n and isinstance(inner, loops.Store) and len(inner.index) == 1 and \
            _is_var(inner.index[0], nest.var):
        return inner, inner.index, None
    if nest.extent == m and isinstance(inner, loops.Loop) and inner.extent == n and \
            len(inner.body) == 1 and isinstance(inner.body[0], loops.Store):
        store = inner.body[0]
        if len(store.index) == 2 and _is_var(store.index[0], nest.var) and \
                _is_var(store.index[1], inner.var):
            return store, store.index, inner.var
    return None


def _linear(e: loops.Expr, sign: float, terms: _Terms, t: loops.Buffer, index, column,
            target: loops.Buffer) -> bool:
    """Whether `e` (times `sign`) is a sum of the recognized terms; collects them."""
    if isinstance(e, (loops.Add, loops.Sub)):
        other = -sign if isinstance(e, loops.Sub) else sign
        return _linear(e.a, sign, terms, t, index, column, target) and \
            _linear(e.b, other, terms, t, index, column, target)
    if isinstance(e, loops.Neg):
        return _linear(e.a, -sign, terms, t, index, column, target)
    if isinstance(e, loops.Mul):
        for factor, rest in ((e.a, e.b), (e.b, e.a)):
            if isinstance(factor, loops.Const):
                return _linear(rest, sign * float(factor.value), terms, t, index, column,
                               target)
        return False
    if not isinstance(e, loops.Load):
        return False
    if e.buffer.name == t.name and e.index == index and terms.scale is None:
        terms.scale = sign
        return True
    if e.index == index and e.buffer.name != t.name and terms.source is None and \
            e.buffer.size == t.size and (len(index) == 1 or e.buffer.shape == t.shape):
        terms.source = (e.buffer, sign)
        return True
    if column is not None and sign == 1.0 and terms.bias is None and e.buffer.ndim == 1 and \
            len(e.index) == 1 and _is_var(e.index[0], column):
        terms.bias = e.buffer
        return True
    return False


def _is_var(e: loops.Expr, var: loops.Var) -> bool:
    return isinstance(e, loops.Var) and e.name == var.name


def _is_zero(e: loops.Expr) -> bool:
    return isinstance(e, loops.Const) and float(e.value) == 0.0
