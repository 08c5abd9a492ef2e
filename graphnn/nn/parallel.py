"""Data-parallel training on a Dask cluster: the `client=` path of `fit`.

Each worker holds a shard of the examples and the shard function compiled from the graph this
module builds (graphnn.distributed.shards): the gradient, in every trainable parameter, of

    value_i = sum over its rows b of the batch of  w_b l_b  +  share_i decay

where l_b is the loss of example b (`Loss.per_example`), w_b = 1 / N for a batch of N rows,
share_i = N_i / N is the worker's part of them, and decay the weight decay term. Summed over
the workers, value_i is mean_b l_b + decay, the batch's loss as single-process training
computes it, for any sizes N_i: so the summed gradients are the single-process gradients up to
rounding (and the order of additions).

This process (the driver) keeps the parameters, the optimizer state and both RNGs as
`TrainStep` does, and runs the batches in the order single-process `fit` would (the same seed,
permutations and dropout masks, drawn here for the whole batch and sent to each worker by
rows). Per step it sends each worker the indices of its rows, their masks and the current
parameters, adds the workers' gradients and applies the optimizer's update, compiled here from
the same rule as the single-process step. BatchNorm is refused: its batch statistics would be
a shard's.

With `checkpoint=`, the run saves its state (graphnn.nn.checkpoint) every `checkpoint_every`
steps and after each epoch; when a worker is lost, the shards are placed again on the workers
the cluster has then and the run goes on from the last checkpoint. Without one, a lost worker
is a WorkerLostError naming the step.
"""

from __future__ import annotations

import math
import os
import time
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from graphnn.autodiff import grad
from graphnn.compiler import compile
from graphnn.compiler.shipping import Shipped, cpu_setting, encode
from graphnn.distributed import DistributedError, ShardGroup, WorkerLostError
from graphnn.graph import Graph
from graphnn.ir import input
from graphnn.nn import checkpoint as checkpoints
from graphnn.nn import loop
from graphnn.nn.checkpoint import Position
from graphnn.nn.errors import ModelError
from graphnn.nn.history import History
from graphnn.nn.losses import Loss
from graphnn.nn.optimizers import Optimizer
from graphnn.nn.parallel_data import cluster_data
from graphnn.nn.step import TrainStep, _fill_mask, optimizer_updates
from graphnn.ops import sum as total
from graphnn.options import CompileOptions

if TYPE_CHECKING:     # annotations only: graphnn.nn.model imports the training modules
    from graphnn.nn.model import Sequential

RESTARTS = 3          # workers lost in one fit before it gives up, even with a checkpoint
_ROWS_MULTIPLE = 8    # capacities are rounded up to this: fewer compiled sizes


def shard_graph(model: Sequential, loss: Loss, capacity: int) -> Graph:
    """The shard function for `capacity` rows (graphnn.distributed.shards): inputs x, target,
    weight, the dropout masks, the trainable parameters, share; outputs value, the model's
    output, the gradient of value in each trainable parameter."""
    if any(not p.trainable for p in model.parameters.values()):
        raise ModelError("data-parallel training cannot train a model with BatchNorm: its "
                         "statistics are the batch's, which no worker holds whole")
    dtype = model.dtype
    forward = model.build(capacity, training=True)
    target = input("target", (capacity, *model.output_shape), dtype)
    weight = input("example_weight", (capacity,), dtype)
    share = input("decay_share", (), dtype)
    trainable = model.trainable
    value = total(loss.per_example(forward.output, target) * weight)
    decay = loss.decay([p.node for p in trainable if p.decay])
    if decay is not None:
        value = value + share * decay
    grads = grad(value, [p.node for p in trainable])
    inputs = [forward.x, target, weight, *(m for m, _ in forward.build.masks),
              *(p.node for p in trainable), share]
    return Graph([value, forward.output, *grads], inputs, name="shard_step")


def _shipped(graph: Graph, options: dict[str, Any]) -> bytes:
    """The shard function as a worker compiles it: `model.compile_options` as gn.compile
    would take them."""
    cpu = options.get("cpu", "host")
    return encode(Shipped(graph, False, graph.name, options.get("gemm", "auto"),
                          options.get("threads"), options.get("optimize", True),
                          cpu if isinstance(cpu, str) else cpu_setting(cpu),
                          options.get("options") or CompileOptions()))


class ParallelStep:
    """`TrainStep`'s state (model, loss, optimizer slots and count, dropout RNG) trained by a
    ShardGroup's workers (see the module docstring). Call it with a batch's rows."""

    def __init__(self, step: TrainStep, group: ShardGroup, period: int) -> None:
        self.step = step
        self.group = group
        self.period = period
        model = step.model
        self.masks = [(m.shape[1:], rate) for m, rate in model.build(1, training=True).build.masks]
        trainable = model.trainable
        grads = [input(f"{p.name}_gradient", p.shape, model.dtype) for p in trainable]
        # clip_norm applies to the summed gradient, as in one process
        updates = optimizer_updates(step.optimizer, trainable, step.optimizer.clip(grads),
                                    model.dtype)
        self.buffers = tuple(updates.new)
        self.update = compile([updates.new[k] for k in self.buffers],
                              [*(p.node for p in trainable), *updates.slots.values(), *grads,
                               *updates.scalars.values()], name="update",
                              **model.compile_options)
        self.timings: list[tuple[float, float, float]] = []   # (step, workers, update) seconds

    def reserve(self, batches: list[np.ndarray]) -> None:
        """Compile (on every worker) a shard function big enough for any part of these."""
        needed = self.group.largest_part(batches)
        capacity = min(self.period, -(-needed // _ROWS_MULTIPLE) * _ROWS_MULTIPLE)
        if capacity > self.group.capacity:
            graph = shard_graph(self.step.model, self.step.loss, capacity)
            self.group.prepare(capacity, _shipped(graph, self.step.model.compile_options))

    def __call__(self, rows: np.ndarray) -> tuple[float, int | None]:
        """One step on the batch of `rows`: (its loss before the update, correct predictions);
        nothing changes when a worker is lost (WorkerLostError)."""
        started = time.perf_counter()
        step, model = self.step, self.step.model
        rng_state = step.rng.bit_generator.state
        masks = []
        for shape, rate in self.masks:
            masks.append(np.empty((len(rows), *shape), model.dtype))
            _fill_mask(step.rng, masks[-1], rate)
        trainable = [model.values[p.name] for p in model.trainable]
        try:
            value, grads, correct, seconds = self.group.run(rows, masks, trainable)
        except WorkerLostError:
            step.rng.bit_generator.state = rng_state
            raise
        applied = time.perf_counter()
        scalars = step.optimizer.hyperparameters(step.count + 1)
        new = self.update(*trainable, *step.slots.values(), *grads,
                          *(np.asarray(v, model.dtype) for v in scalars.values()))
        for name, array in zip(self.buffers, new):
            (step.slots if name in step.slots else model.values)[name] = array
        step.count += 1
        done = time.perf_counter()
        self.timings.append((done - started, seconds, done - applied))
        return value, correct


class _Run:
    """One data-parallel fit: its loop over epochs and batches, checkpoints and recovery."""

    def __init__(self, step: TrainStep, data: tuple, schedule: loop.Schedule, client: Any,
                 checkpoint: str | os.PathLike | None, every: int) -> None:
        self.step, self.schedule, self.client = step, schedule, client
        self.x, self.t, self.validation = data
        self.batches = schedule.batches(self.x, self.t)
        self.checkpoint, self.every = checkpoint, every
        self.run_id = checkpoints.fingerprint(step.model, step, self.x.shape[0],
                                              self.batches.size, schedule.shuffle,
                                              schedule.drop_last, schedule.seed)
        self.history = History()
        self.lost = 0
        self.parallel = self._connect()

    def _connect(self) -> ParallelStep:
        group = ShardGroup(self.client, self.x, self.t, self.batches.size,
                           self.step.loss.correct)
        return ParallelStep(self.step, group, self.batches.size)

    def start(self) -> Position:
        fresh = Position(1, 0, self.batches.rng.bit_generator.state, loop.Totals())
        if self.checkpoint is None:
            return fresh
        if os.path.exists(self.checkpoint):
            return checkpoints.load(self.checkpoint, self.step, self.history, self.run_id)
        self._save(fresh)
        return fresh

    def _save(self, position: Position) -> None:
        checkpoints.save(self.checkpoint, self.step, position, self.history, self.run_id)

    def epoch(self, position: Position, bar) -> Position:
        """Train the rest of the epoch at `position`; the position at its end."""
        self.batches.rng.bit_generator.state = position.epoch_rng
        order = self.batches.order()
        rows = [self.batches.rows(order, k) for k in range(len(self.batches))]
        rows = [np.arange(r.start, r.stop) if isinstance(r, slice) else r for r in rows]
        try:
            self.parallel.reserve(rows)
        except WorkerLostError as lost:
            raise self._named(lost, position.epoch, position.batch, "before") from None
        for k in range(position.batch, len(rows)):
            try:
                value, correct = self.parallel(rows[k])
            except WorkerLostError as lost:
                raise self._named(lost, position.epoch, k) from None
            position.totals.add(value, len(rows[k]), correct)
            position.batch = k + 1
            bar.update(1)
            if self.checkpoint is not None and self.step.count % self.every == 0:
                self._save(position)
        return position

    def _named(self, lost: WorkerLostError, epoch: int, k: int,
               when: str = "during") -> WorkerLostError:
        return WorkerLostError(f"{lost} {when} step {self.step.count + 1} (epoch {epoch}, "
                               f"batch {k + 1} of {len(self.batches)})", lost.worker)

    def recover(self, lost: WorkerLostError) -> Position:
        """Go on from the last checkpoint on the workers the cluster has now."""
        self.lost += 1
        if self.checkpoint is None:
            raise WorkerLostError(f"{lost}; the model holds the parameters after step "
                                  f"{self.step.count}; give fit checkpoint=PATH to go on from "
                                  "the last saved step instead", lost.worker) from None
        if self.lost > RESTARTS:
            raise WorkerLostError(f"{lost}; {self.lost} workers were lost in this fit, giving "
                                  f"up (the last checkpoint is {os.fspath(self.checkpoint)})",
                                  lost.worker) from None
        self.parallel.group.close()
        self.client.wait_for_workers(1, timeout=60)
        self.parallel = self._connect()
        position = checkpoints.load(self.checkpoint, self.step, self.history, self.run_id)
        warnings.warn(f"{lost}; going on from the checkpoint {os.fspath(self.checkpoint)} "
                      f"(after step {self.step.count}) with {len(self.parallel.group.workers)} "
                      "worker(s)", RuntimeWarning, stacklevel=5)
        return position

    def train(self) -> History:
        schedule, history = self.schedule, self.history
        position = self.start()
        with loop.progress_bar(schedule, len(self.batches)) as bar:
            while position.epoch <= schedule.epochs:
                bar.set_description(f"epoch {position.epoch}/{schedule.epochs}")
                started = time.perf_counter()
                try:
                    position = self.epoch(position, bar)
                except WorkerLostError as lost:
                    position = self.recover(lost)
                    continue
                stop = loop.end_epoch(position.epoch, self.step, position.totals,
                                      self.validation, history, started, bar, schedule)
                position = Position(position.epoch + 1, 0, self.batches.rng.bit_generator.state,
                                    loop.Totals())
                if self.checkpoint is not None:
                    self._save(position)
                if stop:
                    break
        loop.finish(history, self.step.model, schedule, len(self.batches))
        return history

    def close(self) -> None:
        self.parallel.group.close()


def fit_parallel(model: Sequential, x: Any, y: Any, loss: Loss, optimizer: str | Optimizer,
                 schedule: loop.Schedule, step: TrainStep | None, validation: tuple, client: Any,
                 checkpoint: str | os.PathLike | None, checkpoint_every: int) -> History:
    """`fit(..., client=)`: see the module docstring and `graphnn.nn.fit`."""
    if type(checkpoint_every) is not int or checkpoint_every < 1:
        raise ModelError(f"checkpoint_every must be a positive int, got {checkpoint_every!r}")
    if not hasattr(client, "scheduler_info"):
        raise DistributedError(f"client must be a distributed.Client, got "
                               f"{type(client).__name__}")
    x, t, validation_data = cluster_data(model, x, y, loss, validation[1])
    x, t, held_out = loop.split_validation(x, t, validation[0], validation_data, model, loss)
    if held_out is not None:
        held_out = tuple(np.asarray(a) if isinstance(a, np.ndarray) else a.compute()
                         for a in held_out)
    step = loop.training_step(model, loss, optimizer, step, schedule.seed)
    if math.prod(x.shape) == 0:
        raise ModelError("x has no examples to train on")
    run = _Run(step, (x, t, held_out), schedule, client, checkpoint, checkpoint_every)
    try:
        return run.train()
    finally:
        run.close()
