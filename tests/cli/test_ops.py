"""docs/ops.md is the registry's op reference, regenerated: it must not drift."""

from __future__ import annotations

from pathlib import Path

from graphnn.cli.ops import FAMILIES, family_ops, op_reference
from graphnn.ir import REGISTRY

DOC = Path(__file__).parents[2] / "docs" / "ops.md"


def test_docs_ops_md_is_up_to_date():
    assert DOC.read_text() == op_reference(), "run: python -m graphnn ops > docs/ops.md"


def test_every_registered_op_is_in_a_family():
    listed = {op.name for _, module in FAMILIES for op in family_ops(module)}
    assert listed == set(REGISTRY)
