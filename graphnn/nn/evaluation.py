"""Compiled forward passes in evaluation mode: predictions, and the loss and accuracy of a data
set. No gradient is built; dropout is off and batch normalization uses its running statistics.

Both compile once per model (and loss) for one batch size, `batch_size` (256 by default), kept on
the model (the compiler also caches object code on disk), so a validation set and a test set of
any sizes share it. A last, smaller batch is padded to that size: examples do not interact in
evaluation mode, and losses are computed per example, so the padding rows are left out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from graphnn.compiler import Function, compile
from graphnn.ir import input
from graphnn.nn.errors import ModelError
from graphnn.nn.losses import Loss, get_loss

if TYPE_CHECKING:     # annotations only: graphnn.nn.model imports the training modules
    from graphnn.nn.model import Sequential


def check_inputs(model: Sequential, x: np.ndarray, what: str = "x") -> np.ndarray:
    """x as a batch of model inputs, or a ModelError saying what is expected."""
    if not isinstance(x, np.ndarray):
        raise ModelError(f"{what} must be a numpy array, got {type(x).__name__}")
    check_layout(model, x, what)
    model.check_data(x)         # values (token ids within the vocabulary): NumPy arrays only
    return x


def check_layout(model: Sequential, x: Any, what: str = "x") -> None:
    """A ModelError unless the array (NumPy or dask) `x` has the model's input shape (after
    the batch axis) and dtype."""
    if x.shape[1:] != model.input_shape or x.ndim == 0:
        expected = ", ".join(map(str, model.input_shape))
        first = f" (its first layer {model.layers[0].name!r} ({type(model.layers[0]).__name__}) " \
            "was declared for it: a sequence model unrolls that many time steps)" \
            if model.layers else ""
        raise ModelError(f"{what} must have shape (n, {expected}) for this model, got "
                         f"{x.shape}{first}")
    if x.dtype != np.dtype(model.input_dtype):
        verb = "is" if model.input_dtype == model.dtype else "takes"    # "takes int64" tokens
        raise ModelError(f"{what} is {x.dtype} but the model {verb} {model.input_dtype}; "
                         f"convert it with {what}.astype({model.input_dtype!r})")
    return x


def check_finite(array: np.ndarray, what: str) -> None:
    """A ModelError naming the first NaN or infinite element of `array` (its row, the example,
    and its column within it): training on it would only make the loss NaN."""
    if array.dtype.kind not in "fc":
        return
    bad = ~np.isfinite(array)
    if not bad.any():
        return
    index = tuple(int(i) for i in np.argwhere(bad)[0])
    column = "" if len(index) == 1 else f", column {index[1]}" if len(index) == 2 else \
        f", element {index[1:]} of the example"
    raise ModelError(f"{what} holds {int(bad.sum())} NaN or infinite value(s); the first is "
                     f"{what}[{', '.join(map(str, index))}] = {array[index]} (row {index[0]}"
                     f"{column}). Training on it would only make the loss NaN: fix or drop "
                     "those rows first")


def _positive(batch_size: int) -> int:
    if int(batch_size) < 1:
        raise ModelError(f"batch_size must be at least 1, got {batch_size}")
    return int(batch_size)


def _parameter_arrays(model: Sequential) -> list[np.ndarray]:
    return [model.values[name] for name in model.parameters]


def predict_function(model: Sequential, batch: int) -> Function:
    """The compiled evaluation-mode forward pass for `batch` examples: (x, *parameters)."""
    key = ("predict", batch)
    if key not in model.compiled:
        forward = model.build(batch, training=False)
        inputs = [forward.x, *(p.node for p in model.parameters.values())]
        model.compiled[key] = compile(forward.output, inputs, name="predict",
                                      **model.compile_options)
    return model.compiled[key]


def evaluate_function(model: Sequential, loss: Loss, batch: int) -> Function:
    """The compiled (per-example loss, output) for `batch` examples: (x, target, *parameters).
    The data loss alone: weight decay is a training device, not a measure of fit."""
    key = ("evaluate", type(loss).__name__, repr(loss), batch)
    if key not in model.compiled:
        forward = model.build(batch, training=False)
        target = input("target", (batch, *model.output_shape), model.dtype)
        losses = loss.per_example(forward.output, target)
        inputs = [forward.x, target, *(p.node for p in model.parameters.values())]
        model.compiled[key] = compile([losses, forward.output], inputs, name="evaluate",
                                      **model.compile_options)
    return model.compiled[key]


def _chunks(arrays: list[np.ndarray], batch: int):
    """Consecutive chunks of `batch` rows of each array; the last one padded with zeros.
    Yields (chunk arrays, number of real rows)."""
    n = arrays[0].shape[0]
    for start in range(0, n, batch):
        rows = min(batch, n - start)
        if rows == batch:
            yield [a[start:start + batch] for a in arrays], rows
            continue
        padded = [np.zeros((batch, *a.shape[1:]), a.dtype) for a in arrays]
        for pad, a in zip(padded, arrays):
            pad[:rows] = a[start:]
        yield padded, rows


def predict(model: Sequential, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """The model's outputs for every example of x, in batches of `batch_size`.

    >>> import numpy as np
    >>> from graphnn import nn
    >>> model = nn.Sequential([nn.Dense(2)], input_shape=(3,))
    >>> model.predict(np.ones((5, 3), dtype="float32")).shape
    (5, 2)
    """
    x = check_inputs(model, x)
    n, batch = x.shape[0], _positive(batch_size)
    function = predict_function(model, batch)
    params = _parameter_arrays(model)
    out = np.empty((n, *model.output_shape), model.dtype)
    for start, ((chunk,), rows) in zip(range(0, n, batch), _chunks([x], batch)):
        if rows == batch:
            function(chunk, *params, out=out[start:start + batch])
        else:
            out[start:] = function(chunk, *params)[:rows]
    return out


def evaluate(model: Sequential, x: np.ndarray, y: np.ndarray, loss: str | Loss,
             batch_size: int = 256) -> tuple[float, float | None]:
    """(mean data loss, accuracy) of the model on (x, y); accuracy is None for losses without
    one (MSE). Labels are accepted where the loss accepts them (integer classes)."""
    loss = get_loss(loss)
    x = check_inputs(model, x)
    target = loss.targets(y, model.output_shape, model.dtype)
    if target.shape[0] != x.shape[0]:
        raise ModelError(f"x has {x.shape[0]} examples but y has {target.shape[0]}")
    batch = _positive(batch_size)
    function = evaluate_function(model, loss, batch)
    params = _parameter_arrays(model)
    total, correct = 0.0, 0
    for (xs, ts), rows in _chunks([x, target], batch):
        losses, output = function(xs, ts, *params)
        total += float(np.sum(losses[:rows], dtype=np.float64))
        right = loss.correct(output[:rows], ts[:rows])
        correct = None if right is None else correct + right
    return total / x.shape[0], None if correct is None else correct / x.shape[0]
