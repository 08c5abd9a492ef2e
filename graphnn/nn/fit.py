"""The training loop: epochs of compiled steps over (shuffled) batches, per-epoch loss and
accuracy, optional validation and early stopping, a progress bar (or, when the output is not
a terminal, one summary line), and the History of it all.

The training loss and accuracy of an epoch are averaged over its batches as they were trained
(in training mode, while the parameters changed), as the usual frameworks report them; the
validation ones are computed after the epoch, in evaluation mode.
"""

from __future__ import annotations

import math
import os
import sys
import time
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from tqdm.auto import tqdm

from graphnn.nn.errors import ModelError
from graphnn.nn.evaluation import check_finite, check_inputs, evaluate
from graphnn.nn.history import History
from graphnn.nn.losses import Loss, get_loss
from graphnn.nn.optimizers import Optimizer
from graphnn.nn.step import TrainStep

if TYPE_CHECKING:     # annotations only: graphnn.nn.model imports the training modules
    from graphnn.nn.model import Sequential


@dataclass
class _Batches:
    """The batches of each epoch: an order of the examples drawn at the epoch's start (from
    `rng`, when shuffling), cut into `size` rows. Iterating yields them in preallocated arrays
    (no allocation when shuffling: np.take writes the chosen rows into the batch buffers)."""

    x: Any
    t: Any
    size: int
    shuffle: bool
    rng: np.random.Generator
    drop_last: bool = False

    def __post_init__(self) -> None:
        self.buffers: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def __len__(self) -> int:
        whole = self.x.shape[0] // self.size
        return whole if self.drop_last and whole else math.ceil(self.x.shape[0] / self.size)

    def order(self) -> np.ndarray | None:
        """This epoch's order of the examples (None: as they are), drawn from `rng`."""
        return self.rng.permutation(self.x.shape[0]) if self.shuffle else None

    def rows(self, order: np.ndarray | None, k: int) -> np.ndarray | slice:
        """The rows of batch k of an epoch in `order`."""
        start = k * self.size
        stop = min(start + self.size, self.x.shape[0])
        return slice(start, stop) if order is None else order[start:stop]

    def __iter__(self):
        order = self.order()
        for k in range(len(self)):
            rows = self.rows(order, k)
            if isinstance(rows, slice):
                yield self.x[rows], self.t[rows]
                continue
            xb, tb = self._buffers(len(rows))
            np.take(self.x, rows, axis=0, out=xb)
            np.take(self.t, rows, axis=0, out=tb)
            yield xb, tb

    def _buffers(self, count: int) -> tuple[np.ndarray, np.ndarray]:
        if count not in self.buffers:
            self.buffers[count] = (np.empty((count, *self.x.shape[1:]), self.x.dtype),
                                   np.empty((count, *self.t.shape[1:]), self.t.dtype))
        return self.buffers[count]


@dataclass
class Totals:
    """An epoch's training loss and correct predictions so far, summed over its examples."""

    loss: float = 0.0
    correct: int | None = 0
    seen: int = 0

    def add(self, value: float, count: int, correct: int | None) -> None:
        self.loss += value * count
        self.seen += count
        self.correct = None if correct is None or self.correct is None else \
            self.correct + correct

    def means(self) -> tuple[float, float | None]:
        """(mean loss, accuracy or None) of the examples seen."""
        return self.loss / self.seen, None if self.correct is None else self.correct / self.seen


@dataclass(frozen=True)
class Schedule:
    """fit's settings of the loop (see `fit`), checked."""

    epochs: int = 10
    batch_size: int | None = 32
    shuffle: bool = True
    drop_last: bool = False
    patience: int | None = None
    min_delta: float = 0.0
    restore_best: bool = True
    progress: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        if self.batch_size is not None and int(self.batch_size) < 1 or self.epochs < 1:
            raise ModelError(f"epochs and batch_size must be at least 1, got {self.epochs} and "
                             f"{self.batch_size}")

    def batches(self, x: Any, t: Any) -> _Batches:
        size = x.shape[0] if self.batch_size is None else int(self.batch_size)
        return _Batches(x, t, size, self.shuffle, np.random.default_rng(self.seed),
                        self.drop_last)


def _split(x, t, validation_split, validation_data, model, loss):
    """(train x, train t, validation (x, t) or None): the last `validation_split` of the
    examples, or the given validation data."""
    if validation_data is not None:
        vx, vy = validation_data
        vx = check_inputs(model, vx, "validation x")
        check_finite(vx, "validation x")
        check_finite(np.asarray(vy), "validation y")
        return x, t, (vx, loss.targets(vy, model.output_shape, model.dtype))
    if not validation_split:
        return x, t, None
    if not 0.0 < validation_split < 1.0:
        raise ModelError(f"validation_split must be in (0, 1), got {validation_split}")
    keep = x.shape[0] - int(round(x.shape[0] * validation_split))
    if keep < 1 or keep == x.shape[0]:
        raise ModelError(f"validation_split {validation_split} of {x.shape[0]} examples leaves "
                         "no training or no validation examples")
    return x[:keep], t[:keep], (x[keep:], t[keep:])


def fit(model: Sequential, x: Any, y: Any, *, loss: str | Loss,
        optimizer: str | Optimizer, epochs: int = 10, batch_size: int | None = 32,
        shuffle: bool = True, drop_last: bool = False, validation_split: float = 0.0,
        validation_data: tuple[np.ndarray, np.ndarray] | None = None,
        patience: int | None = None, min_delta: float = 0.0, restore_best: bool = True,
        progress: bool = True, seed: int = 0, step: TrainStep | None = None,
        client: Any = None, checkpoint: str | os.PathLike | None = None,
        checkpoint_every: int = 1) -> History:
    """Train `model` on (x, y) and return the History of each epoch's metrics.

    - `batch_size`: examples per step; None uses the whole set (batch gradient descent), 1 is
      stochastic gradient descent. `shuffle` draws a new order every epoch (from `seed`).
      `drop_last` skips the last, smaller batch of an epoch (one compiled step, not two).
    - `validation_split` holds out the last fraction of the examples (or pass
      `validation_data=(x, y)`); their loss and accuracy are measured after every epoch.
    - `patience`: stop when the monitored loss (validation loss, else training loss) has not
      improved by more than `min_delta` for that many epochs; with `restore_best` the
      parameters of the best epoch are put back.
    - `progress`: a tqdm progress bar over the batches, with the latest metrics, when stderr
      is a terminal (or in a notebook); otherwise (a log, CI) one summary line at the end.
    - `step`: continue with an existing TrainStep of this model and loss (its optimizer
      state and dropout RNG); `optimizer` is then not used.
    - `client`: a `distributed.Client`: data-parallel training on its workers, each holding a
      shard of (x, y) (NumPy or dask arrays), with the same result as training here up to
      rounding (graphnn/nn/parallel.py, docs/distributed.md). `checkpoint`: a path where the
      parameters, optimizer state and position are saved every `checkpoint_every` steps and
      after each epoch; a lost worker then costs the steps since, not the run, and a fit
      given an existing checkpoint of the same run resumes from it.

    >>> import numpy as np
    >>> from graphnn import nn
    >>> x, y = nn.datasets.blobs(200, seed=0)
    >>> model = nn.Sequential([nn.Dense(2)], input_shape=(2,), seed=0)
    >>> history = nn.fit(model, x, y, loss="softmax_cross_entropy", optimizer=nn.SGD(lr=0.5),
    ...                  epochs=5, progress=False)
    >>> history.accuracy[-1] > 0.9
    True
    """
    loss = get_loss(loss)
    schedule = Schedule(epochs, batch_size, shuffle, drop_last, patience, min_delta,
                        restore_best, progress, seed)
    if client is not None:
        from graphnn.nn.parallel import fit_parallel
        return fit_parallel(model, x, y, loss, optimizer, schedule, step,
                            (validation_split, validation_data), client,
                            checkpoint, checkpoint_every)
    if checkpoint is not None:
        raise ModelError("checkpoint= saves data-parallel training: give fit a client= too")
    x = check_inputs(model, x)
    check_finite(x, "x")
    check_finite(np.asarray(y), "y")
    t = loss.targets(y, model.output_shape, model.dtype)
    if t.shape[0] != x.shape[0]:
        raise ModelError(f"x has {x.shape[0]} examples but y has {t.shape[0]}")
    x, t, validation = _split(x, t, validation_split, validation_data, model, loss)
    step = training_step(model, loss, optimizer, step, seed)
    batches = schedule.batches(x, t)
    history = History()
    with progress_bar(schedule, len(batches)) as bar:
        for epoch in range(1, epochs + 1):
            bar.set_description(f"epoch {epoch}/{epochs}")
            started = time.perf_counter()
            totals = _epoch(step, batches, bar)
            if end_epoch(epoch, step, totals, validation, history, started, bar, schedule):
                break
    finish(history, model, schedule, len(batches))
    return history


def training_step(model: Sequential, loss: Loss, optimizer: str | Optimizer,
                  step: TrainStep | None, seed: int) -> TrainStep:
    """A new TrainStep, or the given one when it trains this model and loss."""
    if step is None:
        return TrainStep(model, loss, optimizer, seed=seed)
    if step.model is not model or step.loss != loss:
        raise ModelError("the given step trains another model or loss than fit was asked for")
    return step


def progress_bar(schedule: Schedule, batches: int) -> tqdm:
    """The bar over every batch of the run (disabled when it cannot redraw itself)."""
    shown = schedule.progress and _interactive()
    return tqdm(total=schedule.epochs * batches, disable=not shown, unit="batch", leave=True,
                dynamic_ncols=True)


def end_epoch(epoch: int, step: TrainStep, totals: Totals, validation, history: History,
              started: float, bar, schedule: Schedule) -> bool:
    """Measure the validation set, record the epoch; True when training stops here."""
    val_loss, val_accuracy = evaluate(step.model, *validation, step.loss) if validation else \
        (None, None)
    history.record(epoch, *totals.means(), val_loss, val_accuracy,
                   time.perf_counter() - started)
    bar.set_postfix(history.latest(), refresh=False)
    return _diverged(history) or _should_stop(history, step.model, schedule.patience,
                                              schedule.min_delta)


def finish(history: History, model: Sequential, schedule: Schedule, batches: int) -> None:
    """The summary line (when no bar was drawn) and the best epoch's parameters put back."""
    if schedule.progress and not _interactive():        # no bar was drawn
        print(_summary(history, batches), file=sys.stderr)
    if schedule.patience is not None and schedule.restore_best and \
            history.best_parameters is not None:
        model.set_parameters(history.best_parameters, "the best epoch's parameters")


def _interactive() -> bool:
    """Whether a progress bar can redraw itself: stderr is a terminal, or tqdm draws a notebook
    widget. In a log file or CI output every redraw would be a line of its own."""
    notebook = any(kind.__module__ == "tqdm.notebook" for kind in tqdm.__mro__)
    return notebook or (sys.stderr is not None and sys.stderr.isatty())


def _summary(history: History, batches: int) -> str:
    """One line for a log, instead of the bar: what was trained, how long, the last metrics."""
    epochs = len(history.epoch)
    metrics = ", ".join(f"{name} {value}" for name, value in history.latest().items())
    return (f"fit: {epochs} epoch{'s' * (epochs != 1)} of {batches} batches in "
            f"{sum(history.seconds):.1f} s; {metrics}")


def _diverged(history: History) -> bool:
    loss = history.loss[-1]
    if math.isfinite(loss):
        return False
    warnings.warn(f"training stopped at epoch {history.epoch[-1]}: the loss is {loss} "
                  "(diverged); try a smaller learning rate", stacklevel=4)
    return True


def _epoch(step: TrainStep, batches: _Batches, bar) -> Totals:
    totals = Totals()
    for xb, tb in batches:
        value = step(xb, tb)
        totals.add(value, xb.shape[0], step.loss.correct(step.output, tb))
        bar.update(1)
    return totals


def _should_stop(history: History, model: Sequential, patience: int | None,
                 min_delta: float) -> bool:
    """Track the best epoch (and its parameters); True when `patience` epochs did not improve."""
    if patience is None:
        return False
    monitored = history.monitored()
    current = monitored[-1]
    if history.best_epoch is None or current < history.best_value - min_delta:
        history.best_epoch, history.best_value = history.epoch[-1], current
        history.best_parameters = model.get_parameters()
        return False
    if history.epoch[-1] - history.best_epoch >= patience:
        history.stopped_epoch = history.epoch[-1]
        return True
    return False
