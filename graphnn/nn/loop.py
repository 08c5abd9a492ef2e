"""The bookkeeping of training loops, shared by `fit` (graphnn/nn/fit.py) and its data-parallel
form (graphnn/nn/parallel.py): the batches of each epoch, the settings of the loop, an epoch's
running totals, validation and early stopping at an epoch's end, the progress bar or summary.
"""

from __future__ import annotations

import math
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
from graphnn.nn.losses import Loss
from graphnn.nn.optimizers import Optimizer
from graphnn.nn.step import TrainStep

if TYPE_CHECKING:     # annotations only: graphnn.nn.model imports the training modules
    from graphnn.nn.model import Sequential


@dataclass
class Batches:
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

    def batches(self, x: Any, t: Any) -> Batches:
        size = x.shape[0] if self.batch_size is None else int(self.batch_size)
        return Batches(x, t, size, self.shuffle, np.random.default_rng(self.seed),
                        self.drop_last)

def split_validation(x, t, validation_split, validation_data, model, loss):
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
