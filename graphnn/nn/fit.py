"""The training loop: epochs of compiled steps over (shuffled) batches, per-epoch loss and
accuracy, optional validation and early stopping, a progress bar (or, when the output is not
a terminal, one summary line), and the History of it all (the bookkeeping: graphnn/nn/loop.py).

The training loss and accuracy of an epoch are averaged over its batches as they were trained
(in training mode, while the parameters changed), as the usual frameworks report them; the
validation ones are computed after the epoch, in evaluation mode.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from graphnn.nn.errors import ModelError
from graphnn.nn.evaluation import check_finite, check_inputs
from graphnn.nn.history import History
from graphnn.nn.loop import (
    Batches,
    Schedule,
    Totals,
    end_epoch,
    finish,
    progress_bar,
    split_validation,
    training_step,
)
from graphnn.nn.losses import Loss, get_loss
from graphnn.nn.optimizers import Optimizer
from graphnn.nn.step import TrainStep

if TYPE_CHECKING:     # annotations only: graphnn.nn.model imports the training modules
    from graphnn.nn.model import Sequential


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
    x, t, validation = split_validation(x, t, validation_split, validation_data, model, loss)
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

def _epoch(step: TrainStep, batches: Batches, bar) -> Totals:
    totals = Totals()
    for xb, tb in batches:
        value = step(xb, tb)
        totals.add(value, xb.shape[0], step.loss.correct(step.output, tb))
        bar.update(1)
    return totals
