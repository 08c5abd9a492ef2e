"""The public namespace: every name DESIGN.md promises exists and is what it should be."""

from __future__ import annotations

import types

import graphnn as gn
from graphnn.ir import REGISTRY

ENTRY_POINTS = ["input", "constant", "grad", "evaluate", "compile", "optimize", "render",
                "scope", "apply"]


def test_every_exported_name_exists():
    for name in gn.__all__:
        assert hasattr(gn, name), name


def test_entry_points_are_functions_not_modules():
    for name in ENTRY_POINTS:
        assert callable(getattr(gn, name)) and not isinstance(getattr(gn, name),
                                                              types.ModuleType), name


def test_every_public_op_is_exported():
    public = {name for name, op in REGISTRY.items() if op.public}
    assert public <= set(gn.__all__)
    for name in public:
        assert getattr(gn, name).__name__ == name
