"""Optimizers: update rules written as graph nodes, compiled into the training step.

An optimizer says which per-parameter state arrays ("slots", zeros at the start) it keeps, which
scalars it feeds at each step (the learning rate, Adam's bias corrections: inputs rather than
constants, so changing `optimizer.lr` between steps needs no recompilation), and how one
parameter's new value and new slots follow from its gradient. The training step applies the
rule to every trainable parameter, in the same compiled call as the forward and backward pass.

Batch gradient descent, stochastic gradient descent and mini-batch SGD share the rule
p <- p - lr g; they differ in how many examples each gradient averages over (`fit`'s
`batch_size`: the whole set, 1, or b) and in shuffling (`fit`'s `shuffle`).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass

from graphnn.errors import did_you_mean
from graphnn.ir import Node
from graphnn.nn.errors import ModelError
from graphnn.ops import maximum, sqrt
from graphnn.ops import sum as total


class Optimizer(ABC):
    """Base of the optimizers. `slots` names the state arrays kept per parameter.

    Every optimizer takes `clip_norm`: when set, the gradients are first scaled together so
    that their global norm sqrt(sum over parameters of sum(g²)) is at most `clip_norm`
    (gradient clipping by global norm, Pascanu et al. 2013; recurrent nets need it), inside
    the compiled step like the rest of the update.
    """

    slots: tuple[str, ...] = ()
    clip_norm: float | None = None

    def clip(self, grads: list[Node]) -> list[Node]:
        """The gradients scaled by clip_norm / max(norm, clip_norm): unchanged when their
        global norm is within clip_norm, else rescaled to exactly that norm (the direction
        kept). The norm is computed in the graph, so clipping needs no extra call."""
        if self.clip_norm is None or not grads:
            return grads
        squares = [total(g * g) for g in grads]
        norm = sqrt(sum(squares[1:], squares[0]))
        scale = self.clip_norm / maximum(norm, self.clip_norm)
        return [g * scale for g in grads]

    @abstractmethod
    def hyperparameters(self, step: int) -> dict[str, float]:
        """The scalars fed at step number `step` (1 for the first step)."""

    @abstractmethod
    def update(self, p: Node, g: Node, slots: dict[str, Node],
               h: dict[str, Node]) -> tuple[Node, dict[str, Node]]:
        """(new p, new slots) from parameter p, its gradient g, its slots and the scalars h."""


def _check_clip(value: float | None) -> float | None:
    if value is None:
        return None
    if not float(value) > 0.0:
        raise ModelError(f"clip_norm must be a positive number (or None), got {value}")
    return float(value)


def _check(name: str, value: float, low: float, high: float = math.inf) -> float:
    value = float(value)
    if not low <= value < high:
        raise ModelError(f"{name} must be in [{low}, {high}), got {value}")
    return value


@dataclass
class SGD(Optimizer):
    """Gradient descent p <- p - lr g; with `momentum` mu > 0, classical momentum

        v <- mu v - lr g,    p <- p + v

    and with `nesterov=True`, Nesterov's momentum in the form of CS231n:
    p <- p - mu v_old + (1 + mu) v.

    >>> SGD(lr=0.1).hyperparameters(1)
    {'lr': 0.1}
    """

    lr: float = 0.01
    momentum: float = 0.0
    nesterov: bool = False
    clip_norm: float | None = None

    def __post_init__(self) -> None:
        self.clip_norm = _check_clip(self.clip_norm)
        _check("lr", self.lr, 0.0)
        _check("momentum", self.momentum, 0.0, 1.0)
        if self.nesterov and not self.momentum:
            raise ModelError("nesterov=True needs a momentum > 0")

    @property
    def slots(self) -> tuple[str, ...]:  # type: ignore[override]
        return ("velocity",) if self.momentum else ()

    def hyperparameters(self, step: int) -> dict[str, float]:
        return {"lr": self.lr}

    def update(self, p, g, slots, h):
        if not self.momentum:
            return p - h["lr"] * g, {}
        mu, v = self.momentum, slots["velocity"]
        velocity = mu * v - h["lr"] * g
        if self.nesterov:
            return p - mu * v + (1.0 + mu) * velocity, {"velocity": velocity}
        return p + velocity, {"velocity": velocity}


def Momentum(lr: float = 0.01, momentum: float = 0.9, nesterov: bool = False,  # noqa: N802
             clip_norm: float | None = None) -> SGD:
    """SGD with classical (or Nesterov) momentum, mu = 0.9 by default."""
    return SGD(lr=lr, momentum=momentum, nesterov=nesterov, clip_norm=clip_norm)


@dataclass
class Adam(Optimizer):
    """Adam (Kingma and Ba, 2015), as in the paper:

        m <- b1 m + (1 - b1) g,    v <- b2 v + (1 - b2) g²
        p <- p - lr m̂ / (sqrt(v̂) + eps),  m̂ = m / (1 - b1^t),  v̂ = v / (1 - b2^t)

    The bias corrections 1 / (1 - b^t) change every step, so they are fed as scalars.

    >>> Adam(lr=0.001).hyperparameters(1)["correct1"]
    10.000000000000002
    """

    lr: float = 0.001
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    clip_norm: float | None = None
    slots = ("m", "v")

    def __post_init__(self) -> None:
        self.clip_norm = _check_clip(self.clip_norm)
        _check("lr", self.lr, 0.0)
        _check("beta1", self.beta1, 0.0, 1.0)
        _check("beta2", self.beta2, 0.0, 1.0)

    def hyperparameters(self, step: int) -> dict[str, float]:
        return {"lr": self.lr, "correct1": 1.0 / (1.0 - self.beta1 ** step),
                "correct2": 1.0 / (1.0 - self.beta2 ** step)}

    def update(self, p, g, slots, h):
        b1, b2 = self.beta1, self.beta2
        m = b1 * slots["m"] + (1.0 - b1) * g
        v = b2 * slots["v"] + (1.0 - b2) * (g * g)
        step = h["lr"] * (m * h["correct1"]) / (sqrt(v * h["correct2"]) + self.eps)
        return p - step, {"m": m, "v": v}


OPTIMIZERS = {"sgd": SGD, "momentum": Momentum, "adam": Adam}


def get_optimizer(spec: str | Optimizer) -> Optimizer:
    """An optimizer from its name ("sgd", "momentum", "adam": default settings) or as is."""
    if isinstance(spec, Optimizer):
        return spec
    if isinstance(spec, str) and spec in OPTIMIZERS:
        return OPTIMIZERS[spec]()
    raise ModelError(f"unknown optimizer {spec!r}{did_you_mean(spec, OPTIMIZERS)} (use one of "
                     f"{sorted(OPTIMIZERS)} or an Optimizer object such as nn.SGD(lr=0.1))")
