"""benchmarks/epoch.py: every implementation's step is checked against NumPy's float64 step
before it is timed, a wrong one is caught, and measure() returns the documented numbers."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks import epoch


@pytest.fixture(autouse=True)
def numpy_only(monkeypatch):
    monkeypatch.setenv("BENCH_PEERS", "none")


def test_measure_checks_then_times_every_implementation():
    result = epoch.measure(samples=512, batch=256, repeats=1)
    assert set(result["median"]) == {"graphnn", "graphnn native", "numpy"}
    assert result["ratio"]["graphnn"] == 1.0
    assert all(len(times) == 1 and times[0] > 0 for times in result["epochs"].values())
    assert "graphnn" in epoch.report(result) and "BLAS threads: 1" in result["settings"]


def test_a_wrong_update_is_caught():
    x, t = epoch.synthetic(64)
    want = epoch._reference_step(x, t)
    params = epoch.initial()
    loss = epoch.numpy_step(params, x, t)
    epoch._check("numpy", loss, params, want)
    params[0][0, 0] += 1e-3
    with pytest.raises(epoch.CheckError, match="updated w1 differs from NumPy's"):
        epoch._check("broken", loss, params, want)
    with pytest.raises(epoch.CheckError, match="loss"):
        epoch._check("broken", loss * 1.01, epoch.initial(), want)


def test_synthetic_data_is_mnist_shaped():
    x, t = epoch.synthetic(10)
    assert x.shape == (10, 784) and x.dtype == np.float32 and t.sum(axis=1).tolist() == [1] * 10
