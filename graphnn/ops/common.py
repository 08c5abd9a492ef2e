"""Helpers shared by op definitions: elementwise registration and reduction bookkeeping."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from graphnn.errors import OpError
from graphnn.ir import Node, OpDef, apply, register
from graphnn.shapes import Shape, broadcast, normalize_axes, reduced


def elementwise_shape(*shapes: Shape, **_attrs: Any) -> Shape:
    """Shape rule of elementwise ops: numpy broadcasting of the operands."""
    return broadcast(*shapes)


def elementwise(name: str, inputs: tuple[str, ...], doc: str, reference: Callable,
                vjp: Callable | None, to_sympy: Callable, symbol: str,
                **fields: Any) -> OpDef:
    """Register an elementwise op (broadcasting shape rule, scalar SymPy form)."""
    return register(OpDef(name, inputs, doc, shape=elementwise_shape, reference=reference,
                          vjp=vjp, to_sympy=to_sympy, elementwise=True, symbol=symbol, **fields))


def float_attr(name: str, value: Any) -> float:
    """A float attribute as a plain Python float (hashable, prints the same everywhere)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        raise OpError(f"attribute {name!r} must be a number, got {value!r}")
    return float(value)


def reduce_canonical(shape: Shape, axis: Any = None, keepdims: bool = False) -> dict:
    """Normalize reduction attributes: axis as a sorted tuple, keepdims as a bool."""
    return {"axis": normalize_axes(axis, len(shape)), "keepdims": bool(keepdims)}


def kept_shape(x: Node, axis: tuple[int, ...]) -> Shape:
    """The shape of a reduction of x over `axis` with keepdims=True."""
    return reduced(x.shape, axis, keepdims=True)


def unreduce(g: Node, x: Node, axis: tuple[int, ...]) -> Node:
    """Spread a reduction's cotangent back over the reduced axes: x's shape again."""
    kept = kept_shape(x, axis)
    if g.shape != kept:
        g = apply("reshape", g, shape=kept)
    return apply("broadcast_to", g, shape=x.shape)


def result_dtype(*arrays: np.ndarray) -> np.dtype:
    """The float dtype of a reference result (object for SymPy arrays)."""
    return np.result_type(*arrays)
