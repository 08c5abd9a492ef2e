"""Linear algebra: matmul (also the @ operator), with numpy's rules for 1-D and batched operands.

1-D operands are promoted (a row vector on the left, a column vector on the right) and the
promoted dimension is dropped from the result; leading batch dimensions broadcast.
"""

from __future__ import annotations

import numpy as np

from codegen import loops
from graphnn.errors import ShapeError
from graphnn.ir import Node, OpDef, apply, op_function
from graphnn.opdef import Instance, Labels, Lowering, Symbolic
from graphnn.ops.common import register
from graphnn.shapes import Shape, broadcast


def _matmul_shape(a: Shape, b: Shape) -> Shape:
    if not a or not b:
        raise ShapeError("matmul needs arrays with at least one dimension (use mul for scalars)")
    a2 = (1,) + a if len(a) == 1 else a
    b2 = b + (1,) if len(b) == 1 else b
    if a2[-1] != b2[-2]:
        raise ShapeError(f"inner dimensions differ: {a2[-1]} (last of a) and {b2[-2]} "
                         f"({'only' if len(b) == 1 else 'second to last'} of b)")
    try:
        batch = broadcast(a2[:-2], b2[:-2])
    except ShapeError:
        raise ShapeError(f"batch dimensions {a2[:-2]} and {b2[:-2]} do not broadcast") from None
    return batch + a2[-2:-1] * (len(a) > 1) + b2[-1:] * (len(b) > 1)


def _batch_index(batch_out: tuple, batch_shape: Shape) -> tuple:
    """An operand's batch index from the output's: right-aligned, 0 on broadcast axes."""
    lead = len(batch_out) - len(batch_shape)
    return tuple(0 if d == 1 else o for o, d in zip(batch_out[lead:], batch_shape))


def _matmul_compute(out, a, b):
    # out[..., i, j] = sum_k a[..., i, k] b[..., k, j], with 1-D operands promoted
    i = () if len(a.shape) == 1 else (out[-1 if len(b.shape) == 1 else -2],)
    j = () if len(b.shape) == 1 else (out[-1],)
    batch = out[:len(out) - len(i) - len(j)]
    a_batch = _batch_index(batch, a.shape[:-2])
    b_batch = _batch_index(batch, b.shape[:-2])
    return loops.reduce_sum(a.shape[-1], lambda k: a[a_batch + i + (k,)] * b[b_batch + (k,) + j])


def _swap_last(x: Node) -> Node:
    """x with its last two axes exchanged (the transpose of each matrix in a batch)."""
    axes = tuple(range(x.ndim - 2)) + (x.ndim - 1, x.ndim - 2)
    return apply("transpose", x, axes=axes)


def _matmul_vjp(g, out, a, b):
    # C = A B  =>  dA = G Bᵀ, dB = Aᵀ G. 1-D operands are promoted to matrices first; the walker
    # sums the results over broadcast batch dimensions.
    a2 = apply("reshape", a, shape=(1,) + a.shape) if a.ndim == 1 else a
    b2 = apply("reshape", b, shape=b.shape + (1,)) if b.ndim == 1 else b
    promoted = _matmul_shape(a2.shape, b2.shape)
    g2 = apply("reshape", g, shape=promoted) if promoted != g.shape else g
    ga = apply("matmul", g2, _swap_last(b2))
    gb = apply("matmul", _swap_last(a2), g2)
    if a.ndim == 1:          # drop the promoted row: (..., 1, K) -> (..., K)
        ga = apply("reshape", ga, shape=ga.shape[:-2] + ga.shape[-1:])
    if b.ndim == 1:          # drop the promoted column: (..., K, 1) -> (..., K)
        gb = apply("reshape", gb, shape=gb.shape[:-1])
    return ga, gb


MATMUL = register(OpDef(
    "matmul", ("a", "b"),
    doc="""Matrix product a @ b with numpy's rules: 2-D matrices, 1-D vectors (promoted and
    the promoted axis dropped), and broadcast leading batch dimensions.

    Gradient: dA = G Bᵀ and dB = Aᵀ G (summed over broadcast batch dimensions). A zero-length
    dimension works as in numpy: (3, 0) @ (0, 2) is a (3, 2) array of zeros (each entry a sum
    of nothing), (3, 2) @ (2, 0) an empty (3, 0) array.

    >>> gn.evaluate(np.array([[1.0, 2.0]]) @ gn.constant(np.array([[3.0], [4.0]])))
    array([[11.]])
    """,
    shape=_matmul_shape,
    reference=np.matmul,
    vjp=_matmul_vjp,
    to_sympy=lambda a, b: np.matmul(a, b),
    compute=_matmul_compute,
    derivative=("g @ bᵀ", "aᵀ @ g"),
    symbol="@", labels=Labels(infix=True), kinks=(),
    lowering=Lowering(gemm="matmul"),
    symbolic=Symbolic(instances=(Instance(((2, 3), (3, 2))), Instance(((3,), (3, 2)))),
                      terms=lambda node: node.inputs[0].shape[-1]),    # K: out = sum_k a b
))

matmul = op_function(MATMUL)
