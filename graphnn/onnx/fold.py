"""An inference BatchNormalization folded into the Conv, Gemm or MatMul before it, at import.

Stage: import. Input: the graphnn node a BatchNormalization normalizes and its four
per-channel arrays. Output: the same linear op with scaled weights and a shifted bias, or None
when the pattern does not hold. With s = scale / sqrt(var + epsilon) per channel c,

    batch_norm(W * x + b) = (W * x + b - mean) s + beta = (s W) * x + ((b - mean) s + beta)

so the normalization costs nothing at run time: one pass over every activation less (what
onnxruntime's graph optimizer does too). It applies only where the weights and bias are
constants (`params="constants"`: with `params="inputs"` they are trained, and stay apart), the
statistics are known at import, and the BatchNormalization is the only reader of the linear
op's output (else both values would be computed). The new weights are computed in float64 and
rounded once to the model's dtype, so results differ from the unfolded graph's by rounding
only.
"""

from __future__ import annotations

import numpy as np

from graphnn import ops
from graphnn.evaluate import evaluate
from graphnn.ir import Node, constant
from graphnn.passes.rewrite import rebuild


def fold_batch_norm(x: Node, statistics: tuple, epsilon: float) -> Node | None:
    """batch_norm(x, mean, var, scale, bias) as x's linear op with folded weights, or None.

    `statistics` are (mean, var, scale, bias) arrays of x's channel count; x is a conv2d,
    or a 2-D matmul, possibly plus a bias added to it (as Conv and Gemm import)."""
    linear, bias = _split_bias(x)
    folded = _FOLDS.get(linear.op)
    if folded is None or len(linear.shape) != (4 if linear.op == "conv2d" else 2):
        return None
    weights = _constant_value(linear.inputs[1])
    if weights is None or (bias is not None and _constant_value(bias) is None):
        return None
    mean, var, scale, beta = (np.asarray(v, np.float64).reshape(-1) for v in statistics)
    factor = scale / np.sqrt(var + np.float64(epsilon))          # s, one per channel
    old_bias = 0.0 if bias is None else _per_channel(_constant_value(bias), x.shape)
    if old_bias is None:
        return None
    shift = (old_bias - mean) * factor + beta                      # (b - mean) s + beta
    return folded(linear, weights.astype(np.float64), factor, shift)


def _split_bias(x: Node) -> tuple[Node, Node | None]:
    """x as (linear op, bias added to it), the bias None when nothing is added."""
    if x.op == "add":
        for k in (0, 1):
            if x.inputs[k].op in _FOLDS and x.inputs[k].shape == x.shape:
                return x.inputs[k], x.inputs[1 - k]
    return x, None


def _constant_value(node: Node) -> np.ndarray | None:
    """node's value when it is a constant, or a constant rearranged (Gemm's transposed weight,
    Conv's bias reshaped to (C, 1, 1)); else None."""
    source = node
    while source.op in _REARRANGE:
        source = source.inputs[0]
    return None if source.op != "constant" else evaluate(node)


def _per_channel(bias: np.ndarray, shape: tuple[int, ...]) -> np.ndarray | None:
    """A bias that broadcasts over `shape` as one value per channel (axis 1), or None when it
    has more than one value along another axis."""
    bias = np.asarray(bias, np.float64)
    full = (1,) * (len(shape) - bias.ndim) + bias.shape
    if any(n != 1 for axis, n in enumerate(full) if axis != 1):
        return None
    return np.broadcast_to(bias.reshape(-1), (shape[1],))


def _conv(linear: Node, weights: np.ndarray, factor: np.ndarray, shift: np.ndarray) -> Node:
    # conv2d is linear in w: scaling output channel o's filter scales that channel
    scaled = constant((weights * factor[:, None, None, None]).astype(linear.dtype))
    y = rebuild(linear, [linear.inputs[0], scaled])
    return y + ops.reshape(constant(shift.astype(linear.dtype)), (len(shift), 1, 1))


def _matmul(linear: Node, weights: np.ndarray, factor: np.ndarray, shift: np.ndarray) -> Node:
    # (a @ B)[:, c] = a @ B[:, c]: scaling column c scales that channel
    scaled = constant((weights * factor[None, :]).astype(linear.dtype))
    return rebuild(linear, [linear.inputs[0], scaled]) + constant(shift.astype(linear.dtype))


_REARRANGE = ("reshape", "transpose", "broadcast_to")
_FOLDS = {"conv2d": _conv, "matmul": _matmul}
