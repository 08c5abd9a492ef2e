"""The symbolic package's docstring examples run, and docs/verification.md shows the
conventions table the code checks (generated, so it cannot drift)."""

from __future__ import annotations

import pkgutil
from pathlib import Path

import pytest

import graphnn.symbolic
from graphnn.symbolic import conventions_table
from tests.harness import run_docstring_examples

MODULES = sorted(m.name for m in pkgutil.iter_modules(graphnn.symbolic.__path__,
                                                      "graphnn.symbolic."))
DOC = Path(__file__).parents[2] / "docs" / "verification.md"


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    result = run_docstring_examples(name)
    assert result.failed == 0, f"{name}: {result.failed} docstring examples fail"


def test_the_conventions_table_in_the_docs_is_current():
    assert conventions_table() in DOC.read_text(encoding="utf-8"), \
        "docs/verification.md: paste the output of graphnn.symbolic.conventions_table()"
