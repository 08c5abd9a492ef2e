"""Initializers: the starting values of parameters, by name or as functions.

An initializer is called as `init(rng, shape, fan_in, fan_out, dtype)` and returns a new array.
`fan_in` is how many inputs feed one output unit (a dense layer's input size, a convolution's
C·KH·KW); `fan_out` how many outputs one input reaches (units, or O·KH·KW).

| name | values | use |
|---|---|---|
| `"zeros"`, `"ones"` | 0 or 1 | biases; batch-norm shift and scale |
| `"normal"` | N(0, 0.01²): the lecture's `randn * 0.01` | small networks; too small for deep ones |
| `"xavier"` (`"glorot"`) | N(0, 2 / (fan_in + fan_out)) | sigmoid and tanh layers |
| `"xavier_uniform"` | U(-a, a), a = sqrt(6 / (fan_in + fan_out)) | the same variance, bounded |
| `"he"` | N(0, 2 / fan_in) | ReLU layers (half the units are off) |

>>> import numpy as np
>>> w = initializer("he")(np.random.default_rng(0), (1000, 100), 1000, 100, "float32")
>>> w.dtype, round(float(w.std()), 3)
(dtype('float32'), 0.045)
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from graphnn.errors import did_you_mean
from graphnn.nn.errors import ModelError

Initializer = Callable[[np.random.Generator, tuple, int, int, str], np.ndarray]


def constant(value: float) -> Initializer:
    """Every element `value`.

    >>> constant(0.5)(np.random.default_rng(0), (2,), 1, 1, "float64")
    array([0.5, 0.5])
    """
    def init(rng, shape, fan_in, fan_out, dtype):
        return np.full(shape, value, dtype=dtype)
    return init


def normal(std: float = 0.01) -> Initializer:
    """N(0, std²); the default std 0.01 is the lecture's `np.random.randn(...) * 0.01`.

    >>> normal()(np.random.default_rng(0), (2,), 1, 1, "float64").round(4)
    array([ 0.0013, -0.0013])
    """
    def init(rng, shape, fan_in, fan_out, dtype):
        return (rng.standard_normal(shape) * std).astype(dtype)
    return init


def xavier(rng, shape, fan_in, fan_out, dtype):
    """Glorot and Bengio (2010), normal form: N(0, 2 / (fan_in + fan_out)). Keeps the variance of
    activations and gradients about constant through sigmoid or tanh layers."""
    std = np.sqrt(2.0 / (fan_in + fan_out))
    return (rng.standard_normal(shape) * std).astype(dtype)


def xavier_uniform(rng, shape, fan_in, fan_out, dtype):
    """Glorot and Bengio (2010), uniform form: U(-a, a) with a = sqrt(6 / (fan_in + fan_out)),
    the variance of `xavier`."""
    bound = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-bound, bound, shape).astype(dtype)


def he(rng, shape, fan_in, fan_out, dtype):
    """He et al. (2015): N(0, 2 / fan_in). A ReLU zeroes half its inputs on average, so the
    variance is doubled to keep activations from shrinking layer after layer."""
    return (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(dtype)


INITIALIZERS: dict[str, Initializer] = {
    "zeros": constant(0.0),
    "ones": constant(1.0),
    "normal": normal(0.01),
    "xavier": xavier,
    "glorot": xavier,
    "xavier_uniform": xavier_uniform,
    "he": he,
}


def initializer(spec: str | Initializer) -> Initializer:
    """The initializer named `spec` (see the table above), or `spec` itself if callable."""
    if callable(spec):
        return spec
    found = INITIALIZERS.get(spec) if isinstance(spec, str) else None
    if found is None:
        raise ModelError(f"unknown initializer {spec!r}{did_you_mean(spec, INITIALIZERS)} (use "
                         f"one of {sorted(INITIALIZERS)} or a function (rng, shape, fan_in, "
                         "fan_out, dtype) -> array)")
    return found
