"""A real Dask cluster for these tests: a LocalCluster of 2 worker processes (one thread
each), started once per test module (a few seconds) and closed after it. Its workers inherit
the session's private compile cache (GRAPHNN_CACHE_DIR) and import this checkout."""

from __future__ import annotations

import logging

import pytest

WORKERS = 2


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=WORKERS, threads_per_worker=1, processes=True,
                           dashboard_address=None, silence_logs=logging.CRITICAL)
    with cluster, Client(cluster) as connected:
        connected.wait_for_workers(WORKERS, timeout=60)
        yield connected
