"""Errors of running graphnn on a Dask cluster: a lost worker, a cluster that cannot train."""

from __future__ import annotations

from graphnn.errors import GraphnnError


class DistributedError(GraphnnError, RuntimeError):
    """A computation on the cluster cannot go on: no workers, data that cannot be sharded."""


class WorkerLostError(DistributedError):
    """A worker died (or its connection broke) while it held a shard: `worker` is its
    address; the message says what it was doing."""

    def __init__(self, message: str, worker: str = "") -> None:
        super().__init__(message)
        self.worker = worker
