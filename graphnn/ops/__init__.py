"""The op table: importing this package registers every op in `graphnn.ir.REGISTRY`.

One module per op family; each op declares all its facets in one OpDef. This file only
re-exports the public op functions.
"""

from graphnn.ops.activations import elu, leaky_relu, relu, sigmoid, step, tanh
from graphnn.ops.arithmetic import abs, add, div, exp, log, mul, neg, pow, sign, sqrt, square, sub
from graphnn.ops.compare import (
                                 cast,
                                 clip,
                                 equal,
                                 greater,
                                 greater_equal,
                                 less,
                                 less_equal,
                                 logical_and,
                                 logical_not,
                                 logical_or,
                                 not_equal,
                                 where,
)
from graphnn.ops.conv import conv2d, conv2d_grad_input, conv2d_grad_weight
from graphnn.ops.conv1d import conv1d
from graphnn.ops.gates import above, maximum, minimum
from graphnn.ops.gather import argmax, argmin, first_match, one_hot, take, take_grad
from graphnn.ops.indexing import slice_grad
from graphnn.ops.indexing import slice_op as slice  # noqa: A004 (gn.ops.slice, as numpy's)
from graphnn.ops.joining import concat, pad, split, stack
from graphnn.ops.layout import broadcast_like, broadcast_to, reshape, transpose
from graphnn.ops.linalg import matmul
from graphnn.ops.losses import binary_cross_entropy, mse, softmax_cross_entropy
from graphnn.ops.rearrange import expand_dims, flip, repeat, squeeze, tile
from graphnn.ops.avgpool import avg_pool2d, avg_pool2d_grad, global_avg_pool2d
from graphnn.ops.maxpool import max_pool2d, max_pool2d_grad, max_pool2d_select
from graphnn.ops.normalization import batch_norm, layer_norm
from graphnn.ops.reduce import max, mean, min, sum
from graphnn.ops.softmax import log_softmax, softmax
from graphnn.ops.source import size
