"""A data set split into shards held by Dask workers, each shard with the compiled functions
that run on its rows: the workers' side of data-parallel training.

Stage: calling, on a cluster. Input: a `distributed.Client`, the examples x and targets t (NumPy
or dask arrays), the global batch size. Output: a `ShardGroup` that computes, for the rows of a
global batch, the sums of a shard function's results over every worker's part of the batch.

Rows are striped by their position in a batch: with W workers and global batch size N, row r
lives on worker ((r mod N) W) // N. An unshuffled batch is then split evenly, and a shuffled one
in parts whose sizes vary around N / W; a worker pads its part to the group's `capacity` (rows
of weight 0), so one compiled function serves every batch.

A shard function is a compiled graph with inputs (x, target, weight, *row_arrays, *whole,
share) and outputs (value, rows_output, *sums): x and target are the part's rows (padded to the
capacity), weight is 1 / total for each real row and 0 for padding, row_arrays come with the
batch (dropout masks: the part's rows of each), whole arrays are the same for every worker
(parameters), share is the part's fraction of the batch. The group returns the sum of `value`
and of each of `sums` over the workers, and the sum of `counter(rows_output, target)` (correct
predictions) over the real rows.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from graphnn.compiler.function import rebuild
from graphnn.distributed.errors import DistributedError, WorkerLostError


def _threads() -> int | None:
    """The thread budget of the worker running this (its Dask threads), None outside one."""
    try:
        from distributed import get_worker
        return get_worker().state.nthreads
    except (ImportError, ValueError, AttributeError):
        return None


class ShardActor:
    """One worker's shard (a Dask actor): its rows of x and of the targets, and the shard
    functions compiled for each capacity."""

    def __init__(self, x: np.ndarray, t: np.ndarray,
                 counter: Callable[[np.ndarray, np.ndarray], int | None] | None) -> None:
        self.x = np.ascontiguousarray(x)
        self.t = np.ascontiguousarray(t)
        self.counter = counter
        self.threads = _threads()
        self.functions: dict[int, Any] = {}
        self.buffers: dict[int, list[np.ndarray]] = {}

    def pid(self) -> int:
        return os.getpid()

    def rows(self) -> int:
        return self.x.shape[0]

    def prepare(self, capacity: int, shipped: bytes) -> float:
        """Compile (or load from the disk cache) the shard function for `capacity` rows;
        returns the seconds it took."""
        started = time.perf_counter()
        self.functions[capacity] = rebuild(shipped, False)
        self.buffers[capacity] = [np.empty((capacity, *a.shape[1:]), a.dtype)
                                  for a in (self.x, self.t)]
        return time.perf_counter() - started

    def _padded(self, buffer: np.ndarray, rows: int) -> np.ndarray:
        buffer[rows:] = buffer[0]             # padding: a copy of a real row, weighted 0
        return buffer

    def run(self, capacity: int, rows: np.ndarray, total: int, row_arrays: Sequence[np.ndarray],
            whole: Sequence[np.ndarray]) -> tuple[float, list[np.ndarray], int | None, float]:
        """(value, sums, correct, seconds) of the shard function on this shard's `rows` (local
        indices) of a batch of `total` rows."""
        started = time.perf_counter()
        function = self.functions[capacity]
        xb, tb = self.buffers[capacity]
        n = len(rows)
        np.take(self.x, rows, axis=0, out=xb[:n])
        np.take(self.t, rows, axis=0, out=tb[:n])
        dtype = xb.dtype
        weight = np.zeros(capacity, dtype)
        weight[:n] = 1.0 / total
        padded = []
        for array in row_arrays:
            buffer = np.empty((capacity, *array.shape[1:]), array.dtype)
            buffer[:n] = array
            padded.append(self._padded(buffer, n))
        value, output, *sums = function.call(
            [self._padded(xb, n), self._padded(tb, n), weight, *padded, *whole,
             np.asarray(n / total, dtype)], threads=self.threads)
        correct = self.counter(output[:n], tb[:n]) if self.counter is not None else None
        return float(value), sums, correct, time.perf_counter() - started


def striped_owners(count: int, period: int, workers: int) -> np.ndarray:
    """The worker of each of `count` rows: row r goes to ((r mod period) workers) // period.

    >>> striped_owners(10, 4, 2).tolist()
    [0, 0, 1, 1, 0, 0, 1, 1, 0, 0]
    """
    return (np.arange(count) % period) * workers // period


def _lost(address: str, doing: str, error: BaseException) -> WorkerLostError:
    return WorkerLostError(f"worker {address} was lost while {doing} "
                           f"({type(error).__name__}: {error})", address)


def _place(client: Any, array: Any, rows: np.ndarray, address: str) -> Any:
    """A future of the rows of `array` (NumPy or dask), held by the worker at `address`."""
    if isinstance(array, np.ndarray):
        return client.scatter(np.ascontiguousarray(array[rows]), workers=[address], hash=False)
    part = array[rows].rechunk({0: -1, **{k: -1 for k in range(1, array.ndim)}})
    return client.compute(part, workers=[address], allow_other_workers=False)


class ShardGroup:
    """The shards of (x, t) on the cluster's current workers (see the module docstring)."""

    def __init__(self, client: Any, x: Any, t: Any, period: int,
                 counter: Callable[[np.ndarray, np.ndarray], int | None] | None = None) -> None:
        self.client = client
        workers = sorted(client.scheduler_info(n_workers=-1)["workers"])
        if not workers:
            raise DistributedError("the Dask cluster has no workers to hold the data")
        count = x.shape[0]
        owners = striped_owners(count, period, len(workers))
        used = [i for i in range(len(workers)) if (owners == i).any()]
        self.workers = [workers[i] for i in used]
        self.owner = np.searchsorted(used, owners)       # index into self.workers
        self.local = np.empty(count, np.int64)
        futures = []
        for k, address in enumerate(self.workers):
            rows = np.flatnonzero(self.owner == k)
            self.local[rows] = np.arange(len(rows))
            data = [_place(client, a, rows, address) for a in (x, t)]
            futures.append(client.submit(ShardActor, *data, counter, actor=True,
                                         workers=[address], allow_other_workers=False,
                                         pure=False))
        self._futures = futures
        self.actors = self._gather([(k, f) for k, f in enumerate(futures)], "receiving its shard")
        self.capacity = 0

    def _gather(self, pending: list[tuple[int, Any]], doing: str) -> list[Any]:
        """The results of the workers' futures, in worker order; a WorkerLostError naming the
        first worker that cannot answer."""
        results = []
        for k, future in pending:
            try:
                results.append(future.result())
            except OSError as error:          # distributed's CommClosedError is an OSError
                raise _lost(self.workers[k], doing, error) from None
            except Exception as error:
                if type(error).__module__.startswith(("distributed", "asyncio", "concurrent")):
                    raise _lost(self.workers[k], doing, error) from None
                raise
        return results

    def parts(self, rows: np.ndarray) -> list[np.ndarray]:
        """Per worker, the positions within a batch of its rows."""
        owners = self.owner[rows]
        return [np.flatnonzero(owners == k) for k in range(len(self.workers))]

    def largest_part(self, batches: Sequence[np.ndarray]) -> int:
        """The most rows any worker holds of any of these batches."""
        counts = [np.bincount(self.owner[rows], minlength=len(self.workers)).max()
                  for rows in batches if len(rows)]
        return int(max(counts, default=0))

    def prepare(self, capacity: int, shipped: bytes) -> float:
        """Every worker compiles the shard function (`shipping` bytes) for `capacity` rows;
        the longest compile's seconds."""
        pending = [(k, a.prepare(capacity, shipped)) for k, a in enumerate(self.actors)]
        seconds = self._gather(pending, f"compiling the shard function for {capacity} rows")
        self.capacity = capacity
        return max(seconds)

    def run(self, rows: np.ndarray, row_arrays: Sequence[np.ndarray],
            whole: Sequence[np.ndarray]) -> tuple[float, list[np.ndarray], int | None, float]:
        """(value, sums, correct, seconds) for the batch of global `rows`: sums over the
        workers, in worker order; seconds is the slowest worker's."""
        pending = []
        for k, positions in enumerate(self.parts(rows)):
            if len(positions):
                pending.append((k, self.actors[k].run(
                    self.capacity, self.local[rows[positions]], len(rows),
                    [a[positions] for a in row_arrays], whole)))
        results = self._gather(pending, f"computing its part of a batch of {len(rows)} rows")
        value = sum(r[0] for r in results)
        sums = [functools.reduce(np.add, column) for column in zip(*(r[1] for r in results))]
        counts = [r[2] for r in results]
        correct = None if any(c is None for c in counts) else sum(counts)
        return value, sums, correct, max(r[3] for r in results)

    def close(self) -> None:
        """Let the workers drop their shards and functions."""
        self.actors = []
        self.client.cancel(self._futures)
        self._futures = []


__all__ = ["ShardActor", "ShardGroup", "striped_owners"]
