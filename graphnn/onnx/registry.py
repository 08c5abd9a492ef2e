"""The converter table: one entry per ONNX operator (and range of opsets) graphnn imports.

Adding an operator is one entry: a function from the node's inputs and attributes to graphnn
nodes, the opsets it covers and the attributes it reads. The importer, the conformance table
(`python -m graphnn onnx conformance`) and the docs pick it up from here.

    @converter("Gemm", attributes=("alpha", "beta", "transA", "transB"))
    def gemm(ctx, a, b, c=None, *, alpha, beta, transA, transB):
        ...

A converter receives each input as a graphnn Node (a value computed at run time), a NumPy array
(a value known at import: an initializer, a Constant, a folded shape computation) or None (an
omitted optional input), and each attribute it names by keyword: the node's value or else the
operator schema's default (None when the schema has none). It returns a value or a tuple of
values (one per output). What it cannot do it refuses with `ctx.unsupported(...)`: an attribute
the node sets to a value other than the schema's default, and that the entry does not name, is
refused before the converter runs.

`fold` computes the node with NumPy when every input is known at import (shape arithmetic on
int64 arrays: Shape -> Gather -> Concat -> Reshape). Without it, a node whose inputs are all
known float arrays is computed by building it on constants and evaluating that.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import onnx

from graphnn.onnx.tensors import attribute_value


@dataclass(frozen=True)
class Converter:
    """How one ONNX operator becomes graphnn nodes, for the opsets `first`..`last`."""

    op_type: str
    convert: Callable[..., Any]
    attributes: tuple[str, ...] = ()
    first: int = 1                  # oldest ai.onnx opset this entry reads
    last: int | None = None         # newest (None: every later one)
    fold: Callable[..., Any] | None = None
    limits: str = ""                # what it does not do yet, for the docs

    def covers(self, opset: int) -> bool:
        return self.first <= opset and (self.last is None or opset <= self.last)

    def defaults(self, opset: int) -> dict[str, Any]:
        """The schema's default of every attribute the entry reads (None when there is none)."""
        return {name: _schema_default(self.op_type, opset, name) for name in self.attributes}


CONVERTERS: dict[str, list[Converter]] = {}


def converter(op_type: str, *, attributes: tuple[str, ...] = (), opsets: tuple[int, int | None]
              = (1, None), fold: Callable[..., Any] | None = None,
              limits: str = "") -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register the decorated function as the converter of `op_type` for `opsets`
    (first, last inclusive; last None means every later opset)."""
    def register(function: Callable[..., Any]) -> Callable[..., Any]:
        entry = Converter(op_type, function, tuple(attributes), opsets[0], opsets[1], fold,
                          limits)
        entries = CONVERTERS.setdefault(op_type, [])
        for other in entries:
            if other.covers(entry.first) or entry.covers(other.first):
                raise ValueError(f"two converters of {op_type} cover opset "
                                 f"{max(entry.first, other.first)}")
        entries.append(entry)
        entries.sort(key=lambda e: e.first)
        return function
    return register


def find(op_type: str, opset: int) -> Converter | None:
    """The entry converting `op_type` at the model's opset, None when there is none."""
    return next((e for e in CONVERTERS.get(op_type, ()) if e.covers(opset)), None)


def claimed() -> list[str]:
    """Every ONNX operator with a converter, sorted."""
    return sorted(CONVERTERS)


_DEFAULTS: dict[tuple[str, int, str], Any] = {}


def _schema_default(op_type: str, opset: int, name: str) -> Any:
    key = (op_type, opset, name)
    if key not in _DEFAULTS:
        value = None
        try:
            schema = onnx.defs.get_schema(op_type, opset)
        except onnx.defs.SchemaError:
            schema = None
        attribute = schema.attributes.get(name) if schema is not None else None
        if attribute is not None and attribute.default_value.name:
            value = attribute_value(attribute.default_value)
        _DEFAULTS[key] = value
    return _DEFAULTS[key]


def schema_default(op_type: str, opset: int, name: str) -> Any:
    """The default of attribute `name` of `op_type` at `opset`, None when it has none."""
    return _schema_default(op_type, opset, name)
