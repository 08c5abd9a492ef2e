"""The export benchmark builds its C harness, and checks the C results against the Python
function before any timing (nothing here asserts a time)."""

from __future__ import annotations

import pytest

from benchmarks.workload import CheckError
from benchmarks.workloads import export
from tests.codegen.aot_support import needs_cc


@needs_cc
def test_the_harness_runs_and_checks_its_results(monkeypatch):
    rows = export.measure(budget=0.01)
    assert {(w, label) for w, label, _ in rows} == {
        (f"export {name}", label) for name in ("neuron", "mlp_step")
        for label in ("graphnn", "ctypes .so", "C call .so")}
    assert all(seconds > 0 for _, _, seconds in rows)
    real = export.check

    def wrong(name, want, folder):
        real(name, [w + 1 for w in want], folder)
    monkeypatch.setattr(export, "check", wrong)
    with pytest.raises(CheckError, match="the C call's result 0 differs"):
        export.measure(budget=0.01)
