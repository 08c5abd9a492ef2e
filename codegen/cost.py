"""Cost estimates for scheduling and for the parallel grain: pure Python, no llvmlite.

Input: loop IR statements. Output: an estimate of the simple vectorized operations they run
(about 0.025 ns each on this project's machines, measured on elementwise and polynomial loops).
"""

from __future__ import annotations

from codegen import loops

# Relative cost of a node in simple operations: the polynomial math functions are some twenty
# instructions, pow a libm call per element, division and square root several cycles.
_COST = {loops.Exp: 20, loops.Expm1: 20, loops.Log: 20, loops.Tanh: 25, loops.Pow: 40, loops.Div: 4,
         loops.Sqrt: 4}


def work(node: loops.Node, seen: set[int] | None = None) -> int:
    """Estimated simple operations to run a statement once (shared subexpressions count once)."""
    return loops.iterate(_work(node, set() if seen is None else seen))


def _work(node: loops.Node, seen: set[int]) -> loops.Recursive:
    if id(node) in seen:
        return 0
    seen.add(id(node))
    if isinstance(node, loops.Gemm):
        return 2 * node.m * node.n * node.k
    inner = 0
    for child in loops.children(node):
        inner += yield _work(child, seen)
    if isinstance(node, (loops.Loop, loops.Reduce)):
        return node.extent * (1 + inner)
    return _COST.get(type(node), 1) + inner
