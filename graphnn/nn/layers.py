"""Layers without training-time behaviour: dense, convolution, pooling, flatten, activations,
maxout. Each declares its parameters through the Build and returns graph nodes; gradients come
from `gn.grad` on the whole step, never from hand-written backward code.

Shapes are batch first: dense layers take (batch, features), convolutions and pooling NCHW
(batch, channels, height, width) with OIHW weights.
"""

from __future__ import annotations

import math

from graphnn.errors import did_you_mean
from graphnn.ir import REGISTRY, Node, apply
from graphnn.nn.init import Initializer
from graphnn.nn.model import Build, Layer
from graphnn.ops import avg_pool2d, conv2d, leaky_relu, max, max_pool2d, reshape


def activations() -> dict[str, str]:
    """The activations layers take by name, each with the initializer it defaults to: "linear"
    (none), and every registered op that declares itself one (OpDef.activation).

    >>> activations()["relu"], activations()["linear"]
    ('he', 'xavier')
    """
    return {"linear": "xavier",
            **{name: op.activation for name, op in REGISTRY.items() if op.activation}}


def activate(name: str, x: Node) -> Node:
    """The activation `name` applied to x ("linear": x itself)."""
    return x if name == "linear" else apply(name, x)


def _activation(layer: Layer, name: str | None) -> str:
    name = name or "linear"
    known = activations()
    if name not in known:
        raise layer.error(f"unknown activation {name!r}{did_you_mean(name, known)} "
                          f"(the activations are {', '.join(sorted(known))})")
    return name


def _default_init(init: str | Initializer | None, activation: str) -> str | Initializer:
    """The activation's initializer (He for ReLU-like activations, Xavier otherwise), unless
    an initializer was given."""
    if init is not None:
        return init
    return activations()[activation]


def _need_rank(layer: Layer, x: Node, rank: int, layout: str, hint: str = "") -> None:
    if x.ndim != rank:
        raise layer.error(f"expects input of shape {layout}, got {x.shape}{hint}")


class Dense(Layer):
    """Fully connected: activation(x @ w + b), w of shape (features, units).

    `init` defaults to "he" for ReLU-like activations and "xavier" otherwise; biases start at
    zero. Input: (batch, features); with `per_step=True`, (batch, time, features), the same
    weights applied at every time step (a per-step classifier after a recurrent layer with
    `return_sequences=True`).

    >>> from graphnn import nn
    >>> nn.Sequential([nn.Dense(5, "tanh")], input_shape=(3,)).values["dense1_w"].shape
    (3, 5)
    """

    kind = "dense"

    def __init__(self, units: int, activation: str | None = None, *,
                 init: str | Initializer | None = None, bias_init: str | Initializer = "zeros",
                 bias: bool = True, per_step: bool = False, name: str | None = None) -> None:
        super().__init__(name)
        self.units = int(units)
        self.per_step = bool(per_step)
        self.activation = _activation(self, activation)
        self.init = _default_init(init, self.activation)
        self.bias_init = bias_init
        self.bias = bias

    def forward(self, x: Node, build: Build) -> Node:
        if self.per_step:
            _need_rank(self, x, 3, "(batch, time, features) (per_step=True)")
        else:
            _need_rank(self, x, 2, "(batch, features)", "; put nn.Flatten() before it (or, "
                       "on a sequence, give per_step=True)")
        fans = (x.shape[-1], self.units)
        y = x @ build.parameter(self, "w", fans, self.init, fans)
        if self.bias:
            y = y + build.parameter(self, "b", (self.units,), self.bias_init, decay=False)
        return activate(self.activation, y)

    def describe(self) -> str:
        return f"{self.units}, {self.activation}"


class Conv2D(Layer):
    """2-D convolution (cross-correlation) with `channels` filters of size `kernel`, then a
    per-channel bias and the activation. Input NCHW; weights OIHW; output height
    (H + 2 padding - kernel) // stride + 1.

    >>> from graphnn import nn
    >>> nn.Sequential([nn.Conv2D(4, 3, padding=1)], input_shape=(1, 8, 8)).output_shape
    (4, 8, 8)
    """

    kind = "conv"

    def __init__(self, channels: int, kernel: int | tuple[int, int] = 3, *,
                 stride: int | tuple[int, int] = 1, padding: int | tuple[int, int] = 0,
                 activation: str | None = None, init: str | Initializer | None = None,
                 bias_init: str | Initializer = "zeros", name: str | None = None) -> None:
        super().__init__(name)
        self.channels = int(channels)
        self.kernel = (kernel, kernel) if isinstance(kernel, int) else tuple(kernel)
        self.stride, self.padding = stride, padding
        self.activation = _activation(self, activation)
        self.init = _default_init(init, self.activation)
        self.bias_init = bias_init

    def forward(self, x: Node, build: Build) -> Node:
        _need_rank(self, x, 4, "(batch, channels, height, width)")
        area = self.kernel[0] * self.kernel[1]
        shape = (self.channels, x.shape[1], *self.kernel)
        w = build.parameter(self, "w", shape, self.init,
                            (x.shape[1] * area, self.channels * area))
        b = build.parameter(self, "b", (self.channels,), self.bias_init, decay=False)
        y = conv2d(x, w, stride=self.stride, padding=self.padding)
        return activate(self.activation, y + reshape(b, (self.channels, 1, 1)))

    def describe(self) -> str:
        return f"{self.channels}, {self.kernel[0]}x{self.kernel[1]}, {self.activation}"


class MaxPool2D(Layer):
    """Max pooling over `kernel` windows moved by `stride` (default: the kernel). NCHW."""

    kind = "pool"

    def __init__(self, kernel: int | tuple[int, int] = 2,
                 stride: int | tuple[int, int] | None = None, name: str | None = None) -> None:
        super().__init__(name)
        self.kernel, self.stride = kernel, stride

    def forward(self, x: Node, build: Build) -> Node:
        _need_rank(self, x, 4, "(batch, channels, height, width)")
        return max_pool2d(x, kernel=self.kernel, stride=self.stride)

    def describe(self) -> str:
        return f"{self.kernel}"


class AvgPool2D(MaxPool2D):
    """Average pooling over `kernel` windows moved by `stride` (default: the kernel). NCHW."""

    def forward(self, x: Node, build: Build) -> Node:
        _need_rank(self, x, 4, "(batch, channels, height, width)")
        return avg_pool2d(x, kernel=self.kernel, stride=self.stride)


class Flatten(Layer):
    """(batch, d1, d2, ...) -> (batch, d1 d2 ...), row-major (a view: nothing is copied)."""

    kind = "flatten"

    def forward(self, x: Node, build: Build) -> Node:
        # the size spelled out, not -1: a batch of 0 has no elements to infer it from
        return reshape(x, (x.shape[0], math.prod(x.shape[1:])))


class Activation(Layer):
    """An activation function as a layer: "relu", "sigmoid", "tanh", "leaky_relu", "elu",
    "softmax" or "linear" (`activations()` lists them)."""

    kind = "activation"

    def __init__(self, activation: str, name: str | None = None) -> None:
        super().__init__(name)
        self.activation = _activation(self, activation)

    def forward(self, x: Node, build: Build) -> Node:
        return activate(self.activation, x)

    def describe(self) -> str:
        return "" if type(self) is not Activation else repr(self.activation)


class ReLU(Activation):
    """max(x, 0) as a layer."""

    def __init__(self, name: str | None = None) -> None:
        super().__init__("relu", name)


class Sigmoid(Activation):
    """1 / (1 + e^-x) as a layer."""

    def __init__(self, name: str | None = None) -> None:
        super().__init__("sigmoid", name)


class Tanh(Activation):
    """tanh as a layer."""

    def __init__(self, name: str | None = None) -> None:
        super().__init__("tanh", name)


class Softmax(Activation):
    """Softmax over the last axis as a layer (losses that take logits do not need it)."""

    def __init__(self, name: str | None = None) -> None:
        super().__init__("softmax", name)


class LeakyReLU(Layer):
    """x if x > 0 else alpha x, as a layer."""

    kind = "activation"

    def __init__(self, alpha: float = 0.01, name: str | None = None) -> None:
        super().__init__(name)
        self.alpha = float(alpha)

    def forward(self, x: Node, build: Build) -> Node:
        return leaky_relu(x, alpha=self.alpha)

    def describe(self) -> str:
        return f"alpha={self.alpha}"


class Maxout(Layer):
    """Maxout (Goodfellow et al., 2013): `pieces` linear functions per unit, keep the largest.
    A dense layer to units·pieces outputs, viewed as (batch, units, pieces), max over pieces.
    The gradient goes to the winning piece (tied pieces share it)."""

    kind = "maxout"

    def __init__(self, units: int, pieces: int = 2, *, init: str | Initializer = "xavier",
                 name: str | None = None) -> None:
        super().__init__(name)
        self.units, self.pieces, self.init = int(units), int(pieces), init

    def forward(self, x: Node, build: Build) -> Node:
        _need_rank(self, x, 2, "(batch, features)", "; put nn.Flatten() before it")
        width = self.units * self.pieces
        w = build.parameter(self, "w", (x.shape[1], width), self.init, (x.shape[1], width))
        b = build.parameter(self, "b", (width,), "zeros", decay=False)
        pieces = reshape(x @ w + b, (x.shape[0], self.units, self.pieces))
        return max(pieces, axis=2)

    def describe(self) -> str:
        return f"{self.units}, {self.pieces} pieces"
