"""Normalization ONNX operators as compositions: BatchNormalization (inference),
InstanceNormalization, LayerNormalization, GroupNormalization, RMSNormalization,
MeanVarianceNormalization, LpNormalization. Each but the last is (x - mean) / sqrt(var +
epsilon), scaled and shifted, with the statistics over the operator's axes (or, for
BatchNormalization, given as inputs); LpNormalization is x / ||x||_p.
BatchNormalization is graphnn's batch_norm (folded into a Conv or Gemm with constant weights
before it: graphnn/onnx/fold.py), LayerNormalization its layer_norm (a composition
where the mean and inverse deviation outputs are wanted too)."""

from __future__ import annotations

import numpy as np

from graphnn import ops
from graphnn.onnx.fold import fold_batch_norm
from graphnn.onnx.registry import converter


def _per_channel(ctx, value, x):
    """A (C,) parameter shaped (C, 1, ..., 1) to broadcast over x's axis 1."""
    return ops.reshape(ctx.node(value, like=x), (x.shape[1],) + (1,) * (len(x.shape) - 2))


def _normalize(x, axes, epsilon):
    """(x - mean) / sqrt(var + epsilon) over axes, and the statistics (kept as size 1)."""
    mean = ops.mean(x, axis=axes, keepdims=True)
    centered = x - mean
    variance = ops.mean(ops.square(centered), axis=axes, keepdims=True)
    inverse = 1.0 / ops.sqrt(variance + float(epsilon))
    return centered * inverse, mean, inverse


@converter("BatchNormalization", attributes=("epsilon", "momentum", "training_mode", "spatial"))
def batch_normalization(ctx, x, scale, bias, mean, var, *, epsilon, momentum,
                        training_mode=None, spatial=None):
    if training_mode or any(ctx.wants(k) for k in range(1, 5)):
        raise ctx.unsupported("training mode (batch statistics; graphnn imports inference "
                              "graphs: use nn.BatchNorm to train)")
    if spatial == 0:
        raise ctx.attribute_error("spatial", spatial, "per-activation statistics")
    statistics = (mean, var, scale, bias)
    if ctx.readers[:1] == (1,) and all(isinstance(v, np.ndarray) for v in statistics):
        folded = fold_batch_norm(x, statistics, float(epsilon))
        if folded is not None:          # into the Conv or Gemm before it (graphnn/onnx/fold.py)
            return folded
    return ops.batch_norm(x, *(ctx.node(v, like=x) for v in (mean, var, scale, bias)),
                          eps=float(epsilon))


@converter("InstanceNormalization", attributes=("epsilon",))
def instance_normalization(ctx, x, scale, bias, *, epsilon):
    y, _, _ = _normalize(x, tuple(range(2, len(x.shape))), epsilon)
    return y * _per_channel(ctx, scale, x) + _per_channel(ctx, bias, x)


@converter("LayerNormalization", attributes=("axis", "epsilon", "stash_type"), opsets=(17, None))
def layer_normalization(ctx, x, scale, bias=None, *, axis, epsilon, stash_type):
    axes = tuple(range(axis % len(x.shape), len(x.shape)))
    if len(ctx.outputs) > 1:             # the statistics wanted too: the composition
        y, *statistics = _normalize(x, axes, epsilon)
    else:
        y, statistics = ops.layer_norm(x, axis=axes, eps=float(epsilon)), []
    y = y * ctx.node(scale, like=x)
    if bias is not None:
        y = y + ctx.node(bias, like=x)
    return (y, *statistics)[:max(1, len(ctx.outputs))]


@converter("RMSNormalization", attributes=("axis", "epsilon", "stash_type"), opsets=(23, None))
def rms_normalization(ctx, x, scale, *, axis, epsilon, stash_type):
    axes = tuple(range(axis % len(x.shape), len(x.shape)))
    square_mean = ops.mean(ops.square(x), axis=axes, keepdims=True)
    return x / ops.sqrt(square_mean + float(epsilon)) * ctx.node(scale, like=x)


@converter("GroupNormalization", attributes=("epsilon", "num_groups", "stash_type"),
           opsets=(18, None))
def group_normalization(ctx, x, scale, bias, *, epsilon, num_groups, stash_type):
    n, channels = x.shape[:2]
    if channels % num_groups:
        raise ctx.unsupported("channels not divisible by num_groups",
                              f" ({channels} and {num_groups})")
    grouped = ops.reshape(x, (n, num_groups, -1))
    y = ops.reshape(_normalize(grouped, (2,), epsilon)[0], x.shape)
    scale, bias = ctx.node(scale, like=x), ctx.node(bias, like=x)
    if scale.shape[0] != channels:          # opset 18: one scale and bias per group
        per = channels // num_groups
        scale, bias = (ops.reshape(ops.broadcast_to(ops.reshape(v, (num_groups, 1)),
                                                    (num_groups, per)), (channels,))
                       for v in (scale, bias))
    return y * _per_channel(ctx, scale, x) + _per_channel(ctx, bias, x)


@converter("MeanVarianceNormalization", attributes=("axes",))
def mean_variance_normalization(ctx, x, *, axes):
    # the ONNX function body: (x - E[x]) / (sqrt(E[x^2] - E[x]^2) + 1e-9)
    axes = tuple(a % len(x.shape) for a in (axes or (0, 2, 3)))
    mean = ops.mean(x, axis=axes, keepdims=True)
    variance = ops.mean(ops.square(x), axis=axes, keepdims=True) - ops.square(mean)
    return (x - mean) / (ops.sqrt(variance) + 1e-9)


@converter("LpNormalization", attributes=("axis", "p"))
def lp_normalization(ctx, x, *, axis, p):
    # x / ||x||_p along axis, p 1 or 2 (the only ones ONNX defines); a lane of zeros stays
    # zeros (ONNX's 0/0 = 0), divided by 1 where its norm is 0
    if p == 1:
        norm = ops.sum(ops.abs(x), axis=axis, keepdims=True)
    elif p == 2:
        norm = ops.sqrt(ops.sum(ops.square(x), axis=axis, keepdims=True))
    else:
        raise ctx.attribute_error("p", p, "ONNX defines p 1 and 2")
    zero = ops.equal(norm, ctx.node(np.zeros((), x.dtype)))
    return x / ops.where(zero, ctx.node(np.ones(norm.shape, x.dtype)), norm)
