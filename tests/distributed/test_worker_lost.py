"""A worker process killed (SIGKILL) in the middle of data-parallel training: `fit` raises a
WorkerLostError naming the step, or, given `checkpoint=`, goes on from the last checkpoint on
the workers left and ends where uninterrupted training ends. Never a hang, nothing skipped.

The kill is real (the worker's process, found through its actor); the test only chooses the
moment, by running it from the driver just before a given step."""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest

from graphnn import nn
from graphnn.distributed import WorkerLostError
from graphnn.nn import parallel

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
KILLED_BEFORE = 4            # steps completed when the second worker is killed


@pytest.fixture
def kill_a_worker(monkeypatch, client):
    """Kill the second shard's worker once, after KILLED_BEFORE steps; the pids killed."""
    client.wait_for_workers(2, timeout=60)          # the nanny restarted any earlier victim
    killed = []
    original = parallel.ParallelStep.__call__

    def step_then_maybe_kill(self, rows):
        if self.step.count == KILLED_BEFORE and not killed:
            pid = self.group.actors[1].pid().result()
            assert pid != os.getpid()
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
        return original(self, rows)
    monkeypatch.setattr(parallel.ParallelStep, "__call__", step_then_maybe_kill)
    return killed


def train(**options):
    x, y = nn.datasets.blobs(96, centers=3, std=0.8, seed=0)
    model = nn.Sequential([nn.Dense(8, "tanh"), nn.Dropout(0.2), nn.Dense(3)],
                          input_shape=(2,), seed=0)
    model.fit(x, y, loss="softmax_cross_entropy", optimizer=nn.SGD(0.1, momentum=0.9),
              epochs=2, batch_size=16, progress=False, **options)
    return model


def test_a_lost_worker_is_an_error_naming_the_step(client, kill_a_worker):
    with pytest.raises(WorkerLostError) as caught:
        train(client=client)
    assert kill_a_worker
    message = str(caught.value)
    assert f"during step {KILLED_BEFORE + 1} (epoch 1, batch {KILLED_BEFORE + 1} of 6)" in message
    assert f"the model holds the parameters after step {KILLED_BEFORE}" in message
    assert "checkpoint=PATH" in message and caught.value.worker.startswith("tcp://")


def test_with_a_checkpoint_training_goes_on_and_ends_as_uninterrupted(client, kill_a_worker,
                                                                      tmp_path):
    path = tmp_path / "run.npz"
    with pytest.warns(RuntimeWarning, match=f"going on from the checkpoint .*run.npz "
                                            f"\\(after step {KILLED_BEFORE - 1}\\)"):
        resumed = train(client=client, checkpoint=path, checkpoint_every=3)
    assert kill_a_worker
    alone = train()
    for name, value in alone.values.items():
        # float32; the steps redone ran on another number of workers: other sums' order
        np.testing.assert_allclose(resumed.values[name], value, rtol=1e-5, atol=1e-6,
                                   err_msg=name)
