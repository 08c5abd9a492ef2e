"""graphnn: a symbolic compute-graph compiler for neural networks.

Declare a network as a graph of op nodes, differentiate it symbolically (gradients are graphs),
evaluate it with the NumPy reference semantics, optimize it, draw it, verify its derivatives
with SymPy, and compile it to native code through LLVM.

>>> import graphnn as gn
>>> x = gn.input("x")
>>> dy = gn.grad(gn.sigmoid(x), x)
>>> float(gn.evaluate(dy, {"x": 0.0}))
0.25
"""

from graphnn import ops
from graphnn.api import CompileOptions, Function, Graph, Node, animate, apply, compile, constant
from graphnn.api import evaluate, grad
from graphnn.api import input
from graphnn.api import optimize, render, scope
from graphnn.api import SYMBOLIC, SymbolicLimitError
from graphnn.errors import (
    DTypeError,
    ExportError,
    GradError,
    GraphnnError,
    IndexingError,
    InputError,
    LoweringError,
    OpError,
    ShapeError,
)
from graphnn.ir import REGISTRY, OpDef
from graphnn.version import __version__
from graphnn.ops import abs, add, avg_pool2d, binary_cross_entropy, broadcast_to, conv2d, div
from graphnn.ops import elu, exp, leaky_relu, log, log_softmax, matmul, max, max_pool2d, maximum
from graphnn.ops import mean, min, minimum, mse, mul, neg, pow, relu, reshape, sigmoid, softmax
from graphnn.ops import softmax_cross_entropy, sqrt, square, step, sub, sum, tanh, transpose
from graphnn.ops import ceil, cos, erf, expm1, floor, gelu, log1p, logsumexp, reciprocal, round
from graphnn.ops import rsqrt, sign, silu, sin, softplus, softsign
from graphnn.ops import concat, expand_dims, flip, pad, repeat, split, squeeze, stack, tile
from graphnn.ops import batch_norm, conv1d, global_avg_pool2d, layer_norm
from graphnn.ops import argmax, argmin, cast, clip, equal, greater, greater_equal, less
from graphnn.ops import less_equal, logical_and, logical_not, logical_or, not_equal, one_hot
from graphnn.ops import take, where


__all__ = [
    "CompileOptions", "Function", "Graph", "Node", "OpDef", "REGISTRY", "animate", "apply",
    "compile", "constant",
    "evaluate", "grad", "input", "nn", "ops", "optimize", "render", "scope",
    "SymbolicLimitError", "check_gradients", "check_ops", "to_sympy",
    "DTypeError", "ExportError", "GradError", "GraphnnError", "InputError", "LoweringError",
    "OpError", "ShapeError",
    "abs", "add", "avg_pool2d", "binary_cross_entropy", "broadcast_to", "conv2d", "div", "elu",
    "exp", "leaky_relu", "log", "log_softmax", "matmul", "max", "max_pool2d", "maximum", "mean",
    "min", "minimum", "mse", "mul", "neg", "pow", "relu", "reshape", "sigmoid", "softmax",
    "softmax_cross_entropy", "sqrt", "square", "step", "sub", "sum", "tanh", "transpose",
    "ceil", "cos", "erf", "expm1", "floor", "gelu", "log1p", "logsumexp", "reciprocal", "round",
    "rsqrt", "sign", "silu", "sin", "softplus", "softsign",
    "IndexingError", "concat", "expand_dims", "flip", "pad", "repeat", "split", "squeeze",
    "stack", "tile",
    "batch_norm", "conv1d", "global_avg_pool2d", "layer_norm",
    "argmax", "argmin", "cast", "clip", "equal", "greater", "greater_equal", "less",
    "less_equal", "logical_and", "logical_not", "logical_or", "not_equal", "one_hot", "take",
    "where",
]

_SUBMODULES = ("distributed", "nn", "onnx")


def __getattr__(name: str):
    """check_gradients, check_ops and to_sympy, imported with SymPy when first used; `onnx`
    (graphnn.onnx), which imports the onnx package only when its functions are used,
    `distributed` (graphnn.distributed), which imports dask only when its functions are, and
    `nn` (graphnn.nn, with its progress bars' tqdm), imported on first use: compiling a graph,
    or loading one from the disk cache, needs none of them."""
    if name in _SUBMODULES:
        import importlib
        return importlib.import_module(f"graphnn.{name}")
    if name in SYMBOLIC:
        from graphnn import api
        return getattr(api, name)
    raise AttributeError(f"module 'graphnn' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(SYMBOLIC) | set(_SUBMODULES))
