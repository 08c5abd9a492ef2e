"""Checkpoints of data-parallel training (graphnn/nn/checkpoint.py) without a cluster: a saved
run restores parameters, optimizer state, step count, RNGs, position and history exactly; a
file that is not a checkpoint, or one of another run, is a ParameterFileError."""

from __future__ import annotations

import numpy as np
import pytest

from graphnn import nn
from graphnn.nn import checkpoint
from graphnn.nn.errors import ParameterFileError
from graphnn.nn.history import History
from graphnn.nn.loop import Totals


def trained_step(seed=0):
    model = nn.Sequential([nn.Dense(4, "tanh"), nn.Dropout(0.5), nn.Dense(2)],
                          input_shape=(3,), seed=seed)
    step = nn.TrainStep(model, "softmax_cross_entropy", nn.Adam(0.1), seed=seed)
    rng = np.random.default_rng(seed)
    for _ in range(3):
        step(rng.normal(size=(5, 3)).astype("float32"), nn.one_hot(rng.integers(0, 2, 5), 2))
    return step


def run_of(step):
    return checkpoint.fingerprint(step.model, step, 100, 5, True, False, 0)


def test_a_checkpoint_restores_the_run_exactly(tmp_path):
    step, history = trained_step(), History()
    history.record(1, 0.5, 0.75, None, None, 0.1)
    rng = np.random.default_rng(7)
    position = checkpoint.Position(2, 3, rng.bit_generator.state, Totals(1.5, 3, 4))
    checkpoint.save(tmp_path / "run.npz", step, position, history, run_of(step))

    fresh, restored = trained_step(), History()
    fresh.count, fresh.rng = 0, np.random.default_rng(99)
    fresh.model.set_parameters({k: np.zeros_like(v) for k, v in fresh.model.values.items()})
    back = checkpoint.load(tmp_path / "run.npz", fresh, restored, run_of(step))
    assert back == position
    assert fresh.count == step.count == 3
    assert fresh.rng.bit_generator.state == step.rng.bit_generator.state
    for name, value in step.model.values.items():
        np.testing.assert_array_equal(fresh.model.values[name], value)
    for name, value in step.slots.items():
        np.testing.assert_array_equal(fresh.slots[name], value)
    assert (restored.epoch, restored.loss, restored.accuracy) == ([1], [0.5], [0.75])


def test_a_file_that_is_not_a_checkpoint_is_named(tmp_path):
    path = tmp_path / "run.npz"
    path.write_bytes(b"PK\x03\x04 not really a zip")
    step = trained_step()
    with pytest.raises(ParameterFileError, match="run.npz is not a readable graphnn checkpoint"):
        checkpoint.load(path, step, History(), run_of(step))
    np.savez(path, state=np.frombuffer(b'{"format": "other"}', np.uint8))
    with pytest.raises(ParameterFileError, match="is not a graphnn checkpoint of version 1"):
        checkpoint.load(path, step, History(), run_of(step))


def test_a_checkpoint_of_another_run_is_refused_by_what_differs(tmp_path):
    step = trained_step()
    position = checkpoint.Position(1, 0, np.random.default_rng(0).bit_generator.state, Totals())
    checkpoint.save(tmp_path / "run.npz", step, position, History(), run_of(step))
    other = checkpoint.fingerprint(step.model, step, 100, 5, True, False, seed=1)
    with pytest.raises(ParameterFileError, match="its seed is 0, this fit's is 1"):
        checkpoint.load(tmp_path / "run.npz", step, History(), other)
