"""The cost model: every estimate made of loop IR, in one place. Pure Python, no llvmlite.

Input: loop IR expressions and statements. Output: three estimates, each from the one table of
what a loop node costs (`_COST`):

- ``work``: the simple vectorized operations a statement runs (about 0.025 ns each on this
  project's machines, measured on elementwise and polynomial loops). The scheduler parallelizes
  a loop with enough of it and the module builder sizes a parallel loop's grain by it
  (``CodegenOptions.parallel_min_work``).
- ``statement_size``: about how many instructions a statement becomes, which cuts a long
  kernel into stage functions (``codegen.llvm.stages``, ``CodegenOptions.stage_size``).
- ``inline_cost``: what computing one element of an op costs in lowering's units, which bound
  the expression inlined into one loop body and the members of one loop (graphnn's lowering
  asks it of each op's scalar rule; ``CompileOptions.max_inline_cost``, ``max_group_cost``).

Graph ops have no cost of their own: an op costs what the loop IR its lowering builds costs.
"""

from __future__ import annotations

from collections.abc import Iterable

from codegen import loops

# Relative cost of a node in simple operations: the polynomial math functions are some twenty
# instructions (log1p a log and a few more, softplus an exp and a short series; erf and Φ up to
# two rational functions and an exp; sin and cos a reduction and two polynomials, in double),
# pow a libm call per element, division and square root several cycles.
_COST = {loops.Exp: 20, loops.Expm1: 20, loops.Log: 20, loops.Tanh: 25, loops.Pow: 40, loops.Div: 4,
         loops.Sqrt: 4, loops.Log1p: 30, loops.Erf: 60, loops.NormalCdf: 60, loops.Softplus: 30,
         loops.Sin: 50, loops.Cos: 50}
# A call to one of the polynomial math functions (codegen.llvm.mathlib), which LLVM inlines,
# or to a GEMM (13 arguments passed through memory): about this many instructions
_CALL_SIZE = 30
_CALLS = (loops.Exp, loops.Expm1, loops.Log, loops.Tanh, loops.Gemm, loops.Log1p, loops.Erf,
          loops.NormalCdf, loops.Softplus, loops.Sin, loops.Cos)
# Lowering's unit: an op whose element runs a node costing at least EXPENSIVE simple operations
# (a math function, a division, a square root) costs EXPENSIVE units, any other op 1. Coarse on
# purpose: the caps it feeds bound how much code LLVM sees in one loop, not run time.
EXPENSIVE = 4


def work(node: loops.Node, seen: set[int] | None = None) -> int:
    """Estimated simple operations to run a statement once (shared subexpressions count once)."""
    return loops.iterate(_work(node, set() if seen is None else seen))


def _work(node: loops.Node, seen: set[int]) -> loops.Recursive:
    if id(node) in seen:
        return 0
    seen.add(id(node))
    if isinstance(node, loops.Gemm):
        return 2 * node.m * node.n * node.k
    if isinstance(node, loops.DirectConv):
        return 2 * node.outs * node.rows * node.cols * len(node.taps)
    inner = 0
    for child in loops.children(node):
        inner += yield _work(child, seen)
    if isinstance(node, (loops.Loop, loops.Reduce)):
        return node.extent * (1 + inner)
    return _COST.get(type(node), 1) + inner


def statement_size(stmt: loops.Stmt) -> int:
    """About how many instructions a top-level statement becomes: its distinct loop IR nodes
    (the emitter computes a shared subexpression once), a math function or a GEMM counted as
    the instructions of the inlined polynomial or the call."""
    return sum(_CALL_SIZE if isinstance(n, _CALLS) else 1 for n in loops.walk(stmt))


def inline_cost(expr: loops.Expr, operands: Iterable[loops.Expr]) -> int:
    """What computing `expr` costs in lowering's units (EXPENSIVE or 1), its `operands` (given
    where it is used) not counted.

    >>> x = loops.Buffer("x", "f32", ())[()]
    >>> inline_cost(x * 2.0, [x]), inline_cost(1.0 / (1.0 + loops.exp(-x)), [x])
    (1, 4)
    """
    given = {id(o) for o in operands}
    costliest = max((_COST.get(type(n), 1) for n in loops.walk(expr) if id(n) not in given),
                    default=1)
    return EXPENSIVE if costliest >= EXPENSIVE else 1
