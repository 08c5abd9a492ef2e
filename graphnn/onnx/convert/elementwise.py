"""Elementwise ONNX operators: arithmetic, activations, variadic Sum/Mean/Max/Min, Clip.

Each becomes a graphnn op or a short composition of them; each has a NumPy fold for values
known at import (shape arithmetic on int64 arrays). Compositions are exact where it matters:
they return x itself on the identity side of an activation (PRelu, Celu). Softplus, Softsign,
Gelu, Swish (alpha 1), Erf, Sin, Cos, Floor, Ceil and Round are graphnn ops of their own.
"""

from __future__ import annotations

import functools

import numpy as np

from graphnn import ops
from graphnn.ir import DTYPES, FLOAT_DTYPES
from graphnn.onnx.registry import converter
from graphnn.onnx.tensors import supported_dtypes

# -- arithmetic -------------------------------------------------------------------------------


def _int_divide(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Integer division truncating toward zero, as ONNX (C) does; floats divide exactly."""
    if a.dtype.kind == "f":
        return np.divide(a, b)
    quotient = np.abs(a) // np.abs(b)
    return (quotient * np.sign(a) * np.sign(b)).astype(a.dtype)


def _pow_fold(ctx, x, y):
    return np.power(x, y.astype(x.dtype)).astype(x.dtype)


def _pow(ctx, x, y):
    if isinstance(x, np.ndarray) and x.dtype.name not in DTYPES:
        raise ctx.unsupported(f"dtype {x.dtype.name} (graphnn holds {supported_dtypes()})")
    dtype = ctx.dtype_of(x)
    if dtype not in FLOAT_DTYPES:
        raise ctx.unsupported(f"Pow of {dtype} values (graphnn's pow takes floats)")
    if isinstance(y, np.ndarray):            # an exponent of another type (int64): X's type
        y = y.astype(dtype)
    elif y.dtype != dtype:
        y = ops.cast(y, dtype)
    return ops.pow(x, y)


BINARY = {
    "Add": (ops.add, np.add), "Sub": (ops.sub, np.subtract), "Mul": (ops.mul, np.multiply),
    "Div": (ops.div, _int_divide),
}

for _name, (_op, _numpy) in BINARY.items():
    converter(_name, fold=lambda ctx, a, b, f=_numpy: f(a, b))(
        lambda ctx, a, b, op=_op: op(a, b))
converter("Pow", fold=_pow_fold)(_pow)


def _relu_fold(x):
    return np.maximum(x, np.zeros((), x.dtype))


UNARY = {
    "Neg": (ops.neg, np.negative), "Abs": (ops.abs, np.abs), "Sqrt": (ops.sqrt, np.sqrt),
    "Exp": (ops.exp, np.exp), "Log": (ops.log, np.log), "Sign": (ops.sign, np.sign),
    "Relu": (ops.relu, _relu_fold), "Sigmoid": (ops.sigmoid, None), "Tanh": (ops.tanh, None),
    "Reciprocal": (ops.reciprocal, None), "Identity": (lambda x: x, lambda x: x),
    "Softsign": (ops.softsign, None), "Softplus": (ops.softplus, None), "Erf": (ops.erf, None),
    "Sin": (ops.sin, None), "Cos": (ops.cos, None), "Floor": (ops.floor, np.floor),
    "Ceil": (ops.ceil, np.ceil), "Round": (ops.round, np.round),   # both: half to even
}

for _name, (_op, _numpy) in UNARY.items():
    converter(_name, fold=None if _numpy is None else lambda ctx, x, f=_numpy: f(x))(
        lambda ctx, x, op=_op: op(x))

# -- activations with attributes ----------------------------------------------------------------


@converter("LeakyRelu", attributes=("alpha",))
def leaky_relu(ctx, x, *, alpha):
    return ops.leaky_relu(x, alpha=float(alpha))


@converter("Elu", attributes=("alpha",))
def elu(ctx, x, *, alpha):
    return ops.elu(x, alpha=float(alpha))


@converter("Selu", attributes=("alpha", "gamma"))
def selu(ctx, x, *, alpha, gamma):
    # gamma (x if x > 0 else alpha (e^x - 1)) = gamma elu(x, alpha)
    return float(gamma) * ops.elu(x, alpha=float(alpha))


@converter("Celu", attributes=("alpha",))
def celu(ctx, x, *, alpha):
    # max(0, x) + min(0, alpha (e^(x/alpha) - 1)): x itself where x > 0
    if alpha == 1.0:
        return ops.elu(x)
    return ops.relu(x) + float(alpha) * ops.minimum(ops.elu(x / float(alpha)), 0.0)


def _hard_sigmoid(x, alpha: float, beta: float):
    # max(0, min(1, alpha x + beta))
    return ops.maximum(ops.minimum(float(alpha) * x + float(beta), 1.0), 0.0)


@converter("HardSigmoid", attributes=("alpha", "beta"))
def hard_sigmoid(ctx, x, *, alpha, beta):
    return _hard_sigmoid(x, alpha, beta)


@converter("ThresholdedRelu", attributes=("alpha",))
def thresholded_relu(ctx, x, *, alpha):
    # x where x > alpha, else 0 (a where, not a product with the mask: -inf * 0 is NaN)
    dtype = ctx.dtype_of(x)
    x = ctx.node(x)
    zero = ctx.node(np.zeros(x.shape, dtype))
    return ops.where(ops.greater(x, ctx.node(np.array(alpha, dtype))), x, zero)


@converter("HardSwish")
def hard_swish(ctx, x):
    return x * _hard_sigmoid(x, 1.0 / 6.0, 0.5)


@converter("PRelu")
def prelu(ctx, x, slope):
    if isinstance(slope, np.ndarray) and slope.size and np.all(slope == slope.flat[0]) \
            and np.broadcast_shapes(slope.shape, x.shape) == x.shape:
        return ops.leaky_relu(x, alpha=float(slope.flat[0]))
    # relu(x) - slope relu(-x): x where x > 0, slope x where x < 0, both exactly
    return ops.relu(x) - ctx.node(slope, like=x) * ops.relu(-x)


@converter("Mish")
def mish(ctx, x):
    return x * ops.tanh(ops.softplus(x))


@converter("Swish", attributes=("alpha",))
def swish(ctx, x, *, alpha):
    return ops.silu(x) if alpha == 1.0 else x * ops.sigmoid(float(alpha) * x)


@converter("Gelu", attributes=("approximate",))
def gelu(ctx, x, *, approximate):
    if approximate not in ("none", "tanh"):
        raise ctx.attribute_error("approximate", approximate, "'none' or 'tanh'")
    return ops.gelu(x, approximate=approximate)


# -- variadic and Clip -----------------------------------------------------------------------------

def _chain(op, xs):
    return functools.reduce(op, xs)


VARIADIC = {
    "Sum": (ops.add, np.add), "Max": (ops.maximum, np.maximum),
    "Min": (ops.minimum, np.minimum),
}

for _name, (_op, _numpy) in VARIADIC.items():
    converter(_name, fold=lambda ctx, *xs, f=_numpy: _chain(f, xs))(
        lambda ctx, *xs, op=_op: _chain(op, xs))


@converter("Mean", fold=lambda ctx, *xs: (_chain(np.add, xs) / len(xs)).astype(xs[0].dtype))
def mean(ctx, *xs):
    return _chain(ops.add, xs) / float(len(xs))


def _clip_fold(ctx, x, low=None, high=None):
    if low is not None:
        x = np.maximum(x, low)
    return x if high is None else np.minimum(x, high)


def _extreme(dtype: str, side: int):
    """The lowest (side 0) or highest (side 1) value of a dtype: a bound that changes nothing."""
    if dtype in FLOAT_DTYPES:
        return (-np.inf, np.inf)[side]
    info = np.iinfo(dtype)
    return (info.min, info.max)[side]


@converter("Clip", opsets=(11, None), fold=_clip_fold)
def clip(ctx, x, low=None, high=None):
    # min(max(x, low), high): every element is high when low > high, as ONNX specifies; an
    # omitted bound is the dtype's extreme (-inf or inf for floats)
    low, high = (ctx.node(np.asarray(_extreme(x.dtype, side)) if v is None else v, like=x)
                 for side, v in enumerate((low, high)))
    return ops.clip(x, low, high)
