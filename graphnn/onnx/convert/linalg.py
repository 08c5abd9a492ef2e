"""MatMul and Gemm: graphnn's matmul (numpy's rules: 1-D operands, batched leading axes), and
alpha op(A) @ op(B) + beta C with op a transpose where transA or transB is set."""

from __future__ import annotations

import numpy as np

from graphnn import ops
from graphnn.onnx.registry import converter

converter("MatMul")(lambda ctx, a, b: ops.matmul(a, b))


@converter("Gemm", attributes=("alpha", "beta", "transA", "transB"))
def gemm(ctx, a, b, c=None, *, alpha, beta, transA, transB):  # noqa: N803 (ONNX's names)
    a = ops.transpose(ctx.node(a)) if transA else a
    if transB and isinstance(b, np.ndarray):
        # a weight known at import is stored transposed, (K, N) row-major: a product with one
        # row (batch 1) then reads it along contiguous rows (same values, no arithmetic)
        b = np.ascontiguousarray(b.T)
    elif transB:
        b = ops.transpose(ctx.node(b, like=a))
    y = ops.matmul(a, b)
    if alpha != 1.0:
        y = float(alpha) * y
    if c is None:
        return y
    c = ctx.node(c, like=y)
    return y + (c if beta == 1.0 else float(beta) * c)
