"""Fixtures for codegen tests: a private disk cache, golden files, a compile-and-run helper."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness import golden_checker

GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture(scope="session", autouse=True)
def private_cache() -> Iterator[Path]:
    """Compile into a throwaway cache, never into the user's ~/.cache."""
    previous = os.environ.get("GRAPHNN_CACHE_DIR")
    with tempfile.TemporaryDirectory(prefix="graphnn-codegen-test-") as directory:
        os.environ["GRAPHNN_CACHE_DIR"] = directory
        yield Path(directory)
    if previous is None:
        os.environ.pop("GRAPHNN_CACHE_DIR", None)
    else:
        os.environ["GRAPHNN_CACHE_DIR"] = previous


@pytest.fixture
def codegen_golden(request: pytest.FixtureRequest):
    """check(name, text): compare with tests/codegen/golden/<name>; rewrite on --update-golden
    (or GRAPHNN_UPDATE_GOLDEN=1)."""
    update = bool(request.config.getoption("--update-golden", default=False)) or \
        os.environ.get("GRAPHNN_UPDATE_GOLDEN") == "1"
    return golden_checker(GOLDEN, update)
