"""Shared pytest configuration: the --update-golden option for golden-file tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.harness import golden_checker, round_trip_every_compiled_kernel

GOLDEN = Path(__file__).parent / "golden"


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true",
                     help="rewrite golden files from the current output (review the diff)")


@pytest.fixture
def golden(request):
    """golden(name, text): compare text with tests/golden/<name>, or rewrite it."""
    return golden_checker(GOLDEN, request.config.getoption("--update-golden"))


@pytest.fixture(autouse=True, scope="session")
def private_compile_cache(tmp_path_factory):
    """Compiled kernels go to a fresh cache directory per test session, never ~/.cache."""
    saved = os.environ.get("GRAPHNN_CACHE_DIR")
    os.environ["GRAPHNN_CACHE_DIR"] = str(tmp_path_factory.mktemp("graphnn-cache"))
    yield
    if saved is None:
        os.environ.pop("GRAPHNN_CACHE_DIR", None)
    else:
        os.environ["GRAPHNN_CACHE_DIR"] = saved


@pytest.fixture(autouse=True, scope="session")
def checked_optimizer():
    """Graph invariants are verified after every optimizer pass in tests (gn.compile too):
    GRAPHNN_CHECK_PASSES is the default of CompileOptions.check_passes, read whenever options
    are made."""
    saved = os.environ.get("GRAPHNN_CHECK_PASSES")
    os.environ["GRAPHNN_CHECK_PASSES"] = "1"
    yield
    if saved is None:
        os.environ.pop("GRAPHNN_CHECK_PASSES", None)
    else:
        os.environ["GRAPHNN_CHECK_PASSES"] = saved


@pytest.fixture(autouse=True, scope="session")
def kernels_round_trip():
    """Every kernel the suite compiles goes through codegen.serialize and back unchanged."""
    undo = round_trip_every_compiled_kernel()
    yield
    undo()
