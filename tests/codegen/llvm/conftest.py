"""Fixtures for the math function tests: the CPU each runs for, this one and every x86-64 level
it can run (tests/codegen/llvm/test_mathlib.py, test_special.py)."""

from __future__ import annotations

import pytest

from tests.harness import cpu_levels


@pytest.fixture(scope="module", params=["host", *cpu_levels()])
def cpu(request) -> str:
    return request.param
