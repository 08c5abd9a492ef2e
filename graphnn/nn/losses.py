"""Losses for training: mean squared error, binary and softmax cross-entropy, each with optional
L2 weight decay, and how each turns labels into targets and counts correct predictions.

A loss object is called on the model's output node and a target node and returns the scalar
to minimize: the data loss (mean over the batch) plus (weight_decay / 2) times the sum of
squared weights (so the decay adds weight_decay * w to each weight's gradient). Biases and
normalization parameters are not decayed.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from graphnn.errors import did_you_mean
from graphnn.ir import Node
from graphnn.nn.errors import ModelError
from graphnn.ops import (
    abs,
    binary_cross_entropy,
    cast,
    exp,
    log,
    log_softmax,
    maximum,
    mean,
    mse,
    softmax_cross_entropy,
    square,
)
from graphnn.ops import sum as total


def one_hot(labels: np.ndarray, classes: int, dtype: str = "float32") -> np.ndarray:
    """Integer labels (n,) as one-hot rows (n, classes).

    >>> one_hot(np.array([2, 0]), 3)
    array([[0., 0., 1.],
           [1., 0., 0.]], dtype=float32)
    """
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise ModelError(f"labels must be a 1-D integer array, got {labels.dtype} {labels.shape}")
    bad = labels[(labels < 0) | (labels >= classes)]
    if bad.size:
        raise ModelError(f"label {int(bad[0])} is outside 0..{classes - 1} (the model has "
                         f"{classes} outputs)")
    out = np.zeros((labels.size, classes), dtype=dtype)
    out[np.arange(labels.size), labels] = 1.0
    return out


def sequence_labels(labels: np.ndarray, steps: int, classes: int,
                    dtype: str = "float32") -> np.ndarray:
    """Integer labels (n, time) as one-hot (n, time, classes); a label -1 marks a padded step
    (PyTorch's ignore_index), whose row stays all zeros and so takes no part in the loss.

    >>> sequence_labels(np.array([[1, -1]]), 2, 2)
    array([[[0., 1.],
            [0., 0.]]], dtype=float32)
    """
    labels = np.asarray(labels)
    if labels.ndim != 2 or labels.shape[1] != steps or labels.dtype.kind not in "iu":
        raise ModelError(f"labels must be an integer array (n, {steps}), got {labels.dtype} "
                         f"{labels.shape}")
    bad = labels[(labels < -1) | (labels >= classes)]
    if bad.size:
        raise ModelError(f"label {int(bad[0])} is outside 0..{classes - 1} (the model has "
                         f"{classes} outputs per step; -1 marks padding)")
    out = np.zeros((*labels.shape, classes), dtype=dtype)
    n, t = np.nonzero(labels >= 0)
    out[n, t, labels[n, t]] = 1.0
    return out


def sequence_cross_entropy(logits: Node, onehot: Node, mask: Node | None = None) -> Node:
    """Per-step softmax cross-entropy of logits (batch, time, classes) against one-hot targets,
    averaged over the real steps: sum over real steps of -sum(t log softmax(z)), divided by
    their number. `mask` (batch, time) is 1 for real steps and 0 for padding; without it, a
    step whose target row is all zeros (label -1) is padding.

    >>> import numpy as np, graphnn as gn
    >>> t = sequence_labels(np.array([[0, -1]]), 2, 4, "float64")
    >>> float(gn.evaluate(sequence_cross_entropy(gn.constant(np.zeros((1, 2, 4))), t)))
    1.3862943611198906
    """
    if logits.ndim != 3 or onehot.shape != logits.shape:
        raise ModelError(f"sequence_cross_entropy takes logits and targets of one shape "
                         f"(batch, time, classes), got {logits.shape} and {onehot.shape}")
    if mask is None:
        real = total(onehot, axis=-1)                     # 1 per real step, 0 per padded one
    elif mask.shape != logits.shape[:2]:
        raise ModelError(f"sequence_cross_entropy: the mask must have shape (batch, time) = "
                         f"{logits.shape[:2]}, got {mask.shape}")
    else:
        real = cast(mask, logits.dtype)
        onehot = onehot * real[:, :, None]
    # the op averages over all batch * time rows (padded ones contribute 0); rescale to the
    # mean over real steps (max(., 1): a batch of padding only has loss 0, not 0 / 0)
    rows = logits.shape[0] * logits.shape[1]
    return softmax_cross_entropy(logits, onehot) * (rows / maximum(total(real), 1.0))


def _mean_per_example(values: Node) -> Node:
    """The mean over every axis but the first (batch) one: shape (batch,)."""
    return values if values.ndim == 1 else mean(values, axis=tuple(range(1, values.ndim)))


@dataclass(frozen=True)
class Loss(ABC):
    """Base of the losses: the data loss (defined by each subclass) plus L2 weight decay."""

    weight_decay: float = 0.0

    def __call__(self, output: Node, target: Node, weights: Sequence[Node] = ()) -> Node:
        loss = self.data_loss(output, target)
        decay = self.decay(weights)
        return loss if decay is None else loss + decay

    def decay(self, weights: Sequence[Node]) -> Node | None:
        """The L2 term (weight_decay / 2) * sum of squared weights; None without decay. It
        does not depend on the data (data-parallel training adds it once per batch)."""
        if not self.weight_decay or not weights:
            return None
        squares = [total(w * w) for w in weights]
        return (self.weight_decay / 2.0) * sum(squares[1:], squares[0])

    @abstractmethod
    def data_loss(self, output: Node, target: Node) -> Node:
        """The mean loss of the batch, a scalar node (what training minimizes)."""

    @abstractmethod
    def per_example(self, output: Node, target: Node) -> Node:
        """Each example's loss, shape (batch,): their mean is `data_loss`. Evaluation uses it
        to leave out the padding rows of a last, smaller batch."""

    def targets(self, y: np.ndarray, output_shape: tuple[int, ...], dtype: str) -> np.ndarray:
        """y as targets of the output's shape (batch first) and the model's dtype: labels of
        shape (n,) fill a single output column; integers become floats."""
        y = np.asarray(y)
        if y.dtype.kind not in "fiub":
            raise ModelError(f"targets must be numbers, got dtype {y.dtype}")
        if y.dtype.kind == "f" and y.dtype != np.dtype(dtype):
            raise ModelError(f"targets are {y.dtype} but the model is {dtype}; convert them "
                             f"with y.astype({dtype!r})")
        if y.shape[1:] != output_shape and y.ndim == 1 and output_shape == (1,):
            y = y.reshape(-1, 1)
        if y.shape[1:] != output_shape:
            raise ModelError(f"{type(self).__name__} needs targets of shape (n, "
                             f"{', '.join(map(str, output_shape))}) like the model's output, "
                             f"got {y.shape}")
        return np.ascontiguousarray(y, dtype=dtype)

    def correct(self, output: np.ndarray, target: np.ndarray) -> int | None:
        """How many examples the output gets right (None: the loss has no notion of it)."""
        return None


@dataclass(frozen=True)
class MSE(Loss):
    """Mean squared error over every element: mean((output - target)²). No accuracy."""

    def data_loss(self, output: Node, target: Node) -> Node:
        return mse(output, target)

    def per_example(self, output: Node, target: Node) -> Node:
        return _mean_per_example(square(output - target))


@dataclass(frozen=True)
class BinaryCrossEntropy(Loss):
    """-mean(t log p + (1 - t) log(1 - p)) for targets t in {0, 1}.

    With `from_logits=True` (the default) the model outputs z and p = sigmoid(z); the loss is
    computed stably as mean(max(z, 0) + log(1 + e^-|z|) - t z), which stays finite where p
    rounds to 0 or 1. With `from_logits=False` the model outputs p itself (a sigmoid last
    layer, as in the lecture) and `gn.binary_cross_entropy` is used as written. An example is
    correct when p > 0.5 agrees with t > 0.5.
    """

    from_logits: bool = True

    def data_loss(self, output: Node, target: Node) -> Node:
        if not self.from_logits:
            return binary_cross_entropy(output, target)
        return mean(self._terms(output, target))

    def per_example(self, output: Node, target: Node) -> Node:
        return _mean_per_example(self._terms(output, target))

    def _terms(self, output: Node, target: Node) -> Node:
        if not self.from_logits:
            return -(target * log(output) + (1.0 - target) * log(1.0 - output))
        # log(1 + e^z) - t z, with log(1 + e^z) = max(z, 0) + log(1 + e^-|z|). The max gate
        # splits its gradient at z = 0, so d/dz is sigmoid(z) - t there too (1/2 - t).
        return maximum(output, 0.0) + log(1.0 + exp(-abs(output))) - target * output

    def correct(self, output: np.ndarray, target: np.ndarray) -> int:
        threshold = 0.0 if self.from_logits else 0.5
        return int(np.sum((output > threshold) == (target > 0.5)))


@dataclass(frozen=True)
class SoftmaxCrossEntropy(Loss):
    """Softmax cross-entropy of logits (classes on the last axis) against one-hot targets,
    averaged over the batch. Integer labels (n,) are turned into one-hot rows when fed.
    An example is correct when its largest logit is its label's.

    Per-step outputs (batch, time, classes) take labels (n, time), -1 marking padded steps:
    the loss is `sequence_cross_entropy`, the mean over real steps, and accuracy counts each
    example's fraction of real steps right."""

    def data_loss(self, output: Node, target: Node) -> Node:
        if output.ndim == 3:
            return sequence_cross_entropy(output, target)
        return softmax_cross_entropy(output, target)

    def per_example(self, output: Node, target: Node) -> Node:
        terms = -total(target * log_softmax(output), axis=-1)
        if output.ndim == 3:          # the mean over each example's real steps
            return total(terms, axis=1) / maximum(total(target, axis=(1, 2)), 1.0)
        # the mean over positions of -sum(t log softmax(z)) over classes, for each example
        return _mean_per_example(terms)

    def targets(self, y: np.ndarray, output_shape: tuple[int, ...], dtype: str) -> np.ndarray:
        y = np.asarray(y)
        if y.ndim == 1 and y.dtype.kind in "iu" and len(output_shape) == 1:
            return one_hot(y, output_shape[0], dtype)
        if y.ndim == 2 and y.dtype.kind in "iu" and len(output_shape) == 2:
            return sequence_labels(y, *output_shape, dtype)
        return super().targets(y, output_shape, dtype)

    def correct(self, output: np.ndarray, target: np.ndarray) -> int | float:
        right = np.argmax(output, axis=-1) == np.argmax(target, axis=-1)
        if output.ndim == 2:
            return int(np.sum(right))
        # per-step outputs: each example counts the fraction of its real steps it gets right
        real = target.sum(axis=-1)
        return float(np.sum((right * real).sum(axis=1) / np.maximum(real.sum(axis=1), 1.0)))


LOSSES = {"mse": MSE, "binary_cross_entropy": BinaryCrossEntropy,
          "softmax_cross_entropy": SoftmaxCrossEntropy}


def get_loss(spec: str | Loss) -> Loss:
    """A Loss from its name ("mse", "binary_cross_entropy", "softmax_cross_entropy") or as is."""
    if isinstance(spec, Loss):
        return spec
    if isinstance(spec, str) and spec in LOSSES:
        return LOSSES[spec]()
    raise ModelError(f"unknown loss {spec!r}{did_you_mean(spec, LOSSES)} (use one of "
                     f"{sorted(LOSSES)} or a Loss object)")
