"""Fixtures for optimizer tests: invariant checks on between passes, golden files of our own."""

from __future__ import annotations

from pathlib import Path

import pytest

from graphnn.passes import verify

GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture(autouse=True)
def checked_passes(monkeypatch):
    """Every optimize() in these tests verifies the graph after each pass."""
    monkeypatch.setattr(verify, "CHECKS", True)


@pytest.fixture
def golden(request):
    """golden(name, text): compare text with tests/passes/golden/<name>, or rewrite it with
    pytest --update-golden."""
    update = request.config.getoption("--update-golden")

    def check(name: str, text: str) -> None:
        path = GOLDEN / name
        if update:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            return
        if not path.exists():
            pytest.fail(f"golden file {path} is missing; run pytest --update-golden")
        assert text == path.read_text(), f"{name} differs from its golden file"
    return check
