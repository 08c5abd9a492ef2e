"""Compiled forward passes in evaluation mode: predictions, and the loss and accuracy of a data
set. No gradient is built; dropout is off and batch normalization uses its running statistics.

Compiled functions are kept on the model per purpose and batch size (the compiler also caches
object code on disk). Predictions pad a last, smaller batch to the compiled size, since examples
do not interact in evaluation mode; the loss, a mean over the batch, compiles that size once.
"""

from __future__ import annotations

import numpy as np

from graphnn.compiler import Function, compile
from graphnn.ir import input
from graphnn.nn.errors import ModelError
from graphnn.nn.losses import Loss, get_loss
from graphnn.nn.model import Sequential


def check_inputs(model: Sequential, x: np.ndarray, what: str = "x") -> np.ndarray:
    """x as a batch of model inputs, or a ModelError saying what is expected."""
    if not isinstance(x, np.ndarray):
        raise ModelError(f"{what} must be a numpy array, got {type(x).__name__}")
    if x.shape[1:] != model.input_shape or x.ndim == 0:
        expected = ", ".join(map(str, model.input_shape))
        raise ModelError(f"{what} must have shape (n, {expected}) for this model, got {x.shape}")
    if x.dtype != np.dtype(model.dtype):
        raise ModelError(f"{what} is {x.dtype} but the model is {model.dtype}; convert it with "
                         f"{what}.astype({model.dtype!r})")
    return x


def _parameter_arrays(model: Sequential) -> list[np.ndarray]:
    return [model.values[name] for name in model.parameters]


def predict_function(model: Sequential, batch: int) -> Function:
    """The compiled evaluation-mode forward pass for `batch` examples: (x, *parameters)."""
    key = ("predict", batch)
    if key not in model.compiled:
        forward = model.build(batch, training=False)
        inputs = [forward.x, *(p.node for p in model.parameters.values())]
        model.compiled[key] = compile(forward.output, inputs, name="predict")
    return model.compiled[key]


def evaluate_function(model: Sequential, loss: Loss, batch: int) -> Function:
    """The compiled (loss, output) for `batch` examples: (x, target, *parameters). The loss
    here is the data loss alone: weight decay is a training device, not a measure of fit."""
    key = ("evaluate", type(loss).__name__, repr(loss), batch)
    if key not in model.compiled:
        forward = model.build(batch, training=False)
        target = input("target", (batch, *model.output_shape), model.dtype)
        value = loss.data_loss(forward.output, target)
        inputs = [forward.x, target, *(p.node for p in model.parameters.values())]
        model.compiled[key] = compile([value, forward.output], inputs, name="evaluate")
    return model.compiled[key]


def predict(model: Sequential, x: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """The model's outputs for every example of x, in batches of `batch_size`.

    >>> import numpy as np
    >>> from graphnn import nn
    >>> model = nn.Sequential([nn.Dense(2)], input_shape=(3,))
    >>> model.predict(np.ones((5, 3), dtype="float32")).shape
    (5, 2)
    """
    x = check_inputs(model, x)
    n = x.shape[0]
    batch = max(1, min(batch_size, n))
    function = predict_function(model, batch)
    params = _parameter_arrays(model)
    out = np.empty((n, *model.output_shape), model.dtype)
    for start in range(0, n, batch):
        chunk = x[start:start + batch]
        if chunk.shape[0] < batch:          # pad: rows are independent in evaluation mode
            padded = np.zeros((batch, *model.input_shape), model.dtype)
            padded[:chunk.shape[0]] = chunk
            out[start:] = function(padded, *params)[:chunk.shape[0]]
        else:
            function(chunk, *params, out=out[start:start + batch])
    return out


def evaluate(model: Sequential, x: np.ndarray, y: np.ndarray, loss: str | Loss,
             batch_size: int = 1024) -> tuple[float, float | None]:
    """(mean data loss, accuracy) of the model on (x, y); accuracy is None for losses without
    one (MSE). Labels are accepted where the loss accepts them (integer classes)."""
    loss = get_loss(loss)
    x = check_inputs(model, x)
    target = loss.targets(y, model.output_shape, model.dtype)
    if target.shape[0] != x.shape[0]:
        raise ModelError(f"x has {x.shape[0]} examples but y has {target.shape[0]}")
    n = x.shape[0]
    batch = max(1, min(batch_size, n))
    params = _parameter_arrays(model)
    total, correct = 0.0, 0
    for start in range(0, n, batch):
        xs, ts = x[start:start + batch], target[start:start + batch]
        value, output = evaluate_function(model, loss, xs.shape[0])(xs, ts, *params)
        total += float(value) * xs.shape[0]
        right = loss.correct(output, ts)
        correct = None if right is None else correct + right
    return total / n, None if correct is None else correct / n
