"""Fixtures for optimizer tests: invariant checks on between passes, golden files of our own."""

from __future__ import annotations

from pathlib import Path

import pytest

from graphnn.passes import verify
from tests.harness import golden_checker

GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture(autouse=True)
def checked_passes(monkeypatch):
    """Every optimize() in these tests verifies the graph after each pass."""
    monkeypatch.setattr(verify, "CHECKS", True)


@pytest.fixture
def golden(request):
    """golden(name, text): compare text with tests/passes/golden/<name>, or rewrite it with
    pytest --update-golden."""
    return golden_checker(GOLDEN, request.config.getoption("--update-golden"))
