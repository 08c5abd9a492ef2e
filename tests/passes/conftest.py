"""Fixtures for optimizer tests: invariant checks on between passes, golden files of our own."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.harness import golden_checker

GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture(autouse=True)
def checked_passes(monkeypatch):
    """Every optimize() in these tests verifies the graph after each pass (the environment
    variable is the default of CompileOptions.check_passes)."""
    monkeypatch.setenv("GRAPHNN_CHECK_PASSES", "1")


@pytest.fixture
def golden(request):
    """golden(name, text): compare text with tests/passes/golden/<name>, or rewrite it with
    pytest --update-golden."""
    return golden_checker(GOLDEN, request.config.getoption("--update-golden"))
