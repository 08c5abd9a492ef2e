"""Loop IR -> deterministic text, used by ``str()``, error messages and golden files.

Input: any loop IR node. Output: a string. Expressions print infix with the fewest parentheses
that keep the tree unambiguous (``a - (b - c)`` keeps its parentheses: float arithmetic does not
reassociate). A kernel prints as

    kernel sigmoid(x: f32[1000]) -> (out: f32[1000]) {
      for i in 0..1000 {
        out[i] = 1.0 / (1.0 + exp(-x[i]))
      }
    }
"""

from __future__ import annotations

import math

from codegen import exprs as E
from codegen import stmts as S

_ATOM, _PREFIX, _PRODUCT, _SUM, _COMPARE = 100, 90, 80, 70, 60
_INFIX = {
    E.Mul: ("*", _PRODUCT), E.Div: ("/", _PRODUCT), E.FloorDiv: ("//", _PRODUCT),
    E.Mod: ("%", _PRODUCT), E.Add: ("+", _SUM), E.Sub: ("-", _SUM),
    E.Lt: ("<", _COMPARE), E.Le: ("<=", _COMPARE), E.Gt: (">", _COMPARE),
    E.Ge: (">=", _COMPARE), E.Eq: ("==", _COMPARE), E.Ne: ("!=", _COMPARE),
}
_CALLS = {
    E.Exp: "exp", E.Expm1: "expm1", E.Log: "log", E.Log1p: "log1p", E.Tanh: "tanh",
    E.Erf: "erf", E.NormalCdf: "normal_cdf", E.Softplus: "softplus",
    E.Sin: "sin", E.Cos: "cos", E.Sqrt: "sqrt",
    E.Abs: "abs", E.Floor: "floor", E.Ceil: "ceil", E.RoundEven: "roundeven", E.Pow: "pow",
    E.FMax: "max", E.FMin: "min", E.Select: "select", E.MulAdd: "muladd",
}
_ACCUMULATE_OPS = {"sum": "+=", "max": "max=", "min": "min="}


def render(node: E.Node) -> str:
    """Text of a kernel, statement, buffer or expression."""
    if isinstance(node, S.Kernel):
        return render_kernel(node)
    if isinstance(node, S.Stmt):
        return "\n".join(render_stmt(node))
    if isinstance(node, S.Buffer):
        return f"{node.name}: {buffer_type(node)}"
    return _expr(node)[0]


def buffer_type(buffer: S.Buffer) -> str:
    return f"{buffer.dtype}[{','.join(str(d) for d in buffer.shape)}]"


def format_const(value: float | int | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return repr(value)


def _expr(e: E.Expr) -> tuple[str, int]:
    """Text and binding strength of an expression."""
    return E.iterate(_text(e))


def _text(e: E.Expr) -> E.Recursive:
    kind = type(e)
    if kind in _INFIX:
        op, prec = _INFIX[kind]
        left = yield _text(e.a)  # type: ignore[attr-defined]
        right = yield _text(e.b)  # type: ignore[attr-defined]
        a = left[0] if left[1] >= prec else f"({left[0]})"
        b = right[0] if right[1] > prec else f"({right[0]})"
        return f"{a} {op} {b}", prec
    if kind in _CALLS:
        args = []
        for child in e.fields():
            args.append((yield _text(child))[0])
        return f"{_CALLS[kind]}({', '.join(args)})", _ATOM
    if isinstance(e, E.Const):
        text = format_const(e.value)
        return text, _PREFIX if text.startswith("-") else _ATOM
    if isinstance(e, E.Var):
        return e.name, _ATOM
    if isinstance(e, E.Load):
        return (yield _access(e.buffer, e.index)), _ATOM
    if isinstance(e, E.Neg):
        text, prec = yield _text(e.x)
        return (f"-{text}" if prec > _PREFIX else f"-({text})"), _PREFIX
    if isinstance(e, E.Cast):
        return f"{e.dtype}({(yield _text(e.x))[0]})", _ATOM
    if isinstance(e, E.Reduce):
        return f"{e.kind}({e.var.name} in 0..{e.extent}: {(yield _text(e.body))[0]})", _ATOM
    raise TypeError(f"no text form for {kind.__name__}")


def access(buffer: S.Buffer, index: tuple[E.Expr, ...]) -> str:
    """``x[i, j]``, or ``x.flat[k]`` when a multi-dimensional buffer is indexed flat."""
    return E.iterate(_access(buffer, index))


def _access(buffer: S.Buffer, index: tuple[E.Expr, ...]) -> E.Recursive:
    parts = []
    for i in index:
        parts.append((yield _text(i))[0])
    flat = len(index) == 1 and buffer.ndim != 1
    return f"{buffer.name}{'.flat' if flat else ''}[{', '.join(parts)}]"


def render_stmt(s: S.Stmt, indent: str = "") -> list[str]:
    if isinstance(s, S.Store):
        return [f"{indent}{access(s.buffer, s.index)} = {_expr(s.value)[0]}"]
    if isinstance(s, S.Accumulate):
        op = _ACCUMULATE_OPS[s.kind]
        return [f"{indent}{access(s.buffer, s.index)} {op} {_expr(s.value)[0]}"]
    if isinstance(s, S.Loop):
        head = f"{indent}{'parallel ' if s.parallel else ''}for {s.var.name} in 0..{s.extent} {{"
        inner = [line for child in s.body for line in render_stmt(child, indent + "  ")]
        return [head, *inner, f"{indent}}}"]
    if isinstance(s, S.Gemm):
        return [indent + _gemm(s)]
    if isinstance(s, S.DirectConv):
        return [indent + _direct_conv(s)]
    if isinstance(s, S.Check):
        return [f"{indent}check {_expr(s.cond)[0]} else return {s.code}"]
    raise TypeError(f"no text form for {type(s).__name__}")


def _direct_conv(s: S.DirectConv) -> str:
    taps = ", ".join(map(str, s.taps[:4])) + (", ..." if len(s.taps) > 4 else "")
    pooled = ", each 2x2 window's maximum" if s.lanes == "pool2x2" else ""
    return (f"direct conv {s.outs}x{s.rows}x{s.cols} over {len(s.taps)} taps{pooled}: "
            f"{s.out.name}[{_expr(s.out_offset)[0]}, o*{s.out_stride} + i*{s.out_row} + j] = "
            f"sum_k {s.w.name}[{_expr(s.w_offset)[0]}, "
            f"{f'o*{s.ldw} + k' if s.lanes == 'positions' else f'k*{s.ldw} + o'}] * "
            f"{s.x.name}[{_expr(s.x_offset)[0]}, taps[k] + i*{s.row_stride} + j], "
            f"taps = ({taps})")


def _gemm(g: S.Gemm) -> str:
    def operand(buffer: S.Buffer, offset: E.Expr, ld: int, trans: bool) -> str:
        return f"{buffer.name}[{_expr(offset)[0]}, ld={ld}]{'^T' if trans else ''}"

    a = operand(g.a, g.a_offset, g.lda, g.trans_a)
    b = operand(g.b, g.b_offset, g.ldb, g.trans_b)
    c = operand(g.c, g.c_offset, g.ldc, False)
    alpha, beta = format_const(g.alpha), format_const(g.beta)
    if g.packed_b is not None:
        b += f" (packed {g.packed_b.name})"
    value = f"{alpha} * {a} @ {b} + {beta} * {(g.source or g.c).name}"
    if g.bias is not None:
        value += f" + {g.bias.name}[j]"
    return f"gemm {g.m}x{g.n}x{g.k}: {c} = {f'relu({value})' if g.relu else value}"


def render_kernel(k: S.Kernel) -> str:
    ins = ", ".join(render(b) for b in k.inputs)
    outs = ", ".join(render(b) for b in k.outputs)
    lines = [f"kernel {k.name}({ins}) -> ({outs}) {{"]
    lines += [f"  temp {render(t)}" for t in k.temps]
    lines += [line for s in k.body for line in render_stmt(s, "  ")]
    lines.append("}")
    return "\n".join(lines)
