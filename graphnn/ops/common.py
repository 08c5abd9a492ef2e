"""Helpers shared by op definitions: registering graphnn's own ops, elementwise ops, and
reduction bookkeeping."""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable
from typing import Any

import numpy as np

from codegen import loops
from graphnn import ir
from graphnn.errors import OpError
from graphnn.ir import Node, OpDef, apply
from graphnn.opdef import Instance, Symbolic
from graphnn.shapes import Shape, broadcast, reduced


class LazyModule:
    """A module imported on its first attribute access (each attribute is then kept here).

    The ops' SymPy forms need SymPy only when something translates a graph (the symbolic
    checks, `gn.to_sympy`); importing it eagerly took half a second of every `import graphnn`.
    The import goes through `importlib.import_module`, whose module lock makes a second thread
    wait for the first import to finish (importlib's LazyLoader, which swaps the real module
    into sys.modules half-initialized, let other threads see a module without its names on
    Python before 3.12.3), and sys.modules only ever holds the real module.
    """

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attribute: str) -> Any:
        if attribute.startswith("__"):
            raise AttributeError(attribute)          # copy, pickle and repr probes
        value = getattr(importlib.import_module(self._name), attribute)
        setattr(self, attribute, value)
        return value

    def __repr__(self) -> str:
        return f"<lazy module {self._name!r}>"


sympy: Any = LazyModule("sympy")

# Why graphnn's derivative at a kink is what it is (OpDef.kinks), where several ops share it.
TIES_SPLIT = "a tie splits the gradient evenly, as SymPy's Heaviside(0) = 1/2"
SUBGRADIENT = "graphnn's shares add up to 1, so the result stays a subgradient (an average " \
    "of the tied elements' gradients); SymPy's Heaviside(0) = 1/2 per tied element adds up to " \
    "more than 1 when three or more tie"
NO_GRADIENT = "piecewise constant: graphnn propagates 0 (no gradient), as deep-learning " \
    "frameworks do; SymPy's derivative is a Dirac delta, undefined at the jump"


def elementwise_shape(*shapes: Shape, **_attrs: Any) -> Shape:
    """Shape rule of elementwise ops: numpy broadcasting of the operands."""
    return broadcast(*shapes)


def register(op: OpDef) -> OpDef:
    """Register one of graphnn's own ops: `ir.register`, with the op marked builtin (its rules
    are graphnn's source, which the plan cache's stamp covers; see compiler/plans.py)."""
    return ir.register(dataclasses.replace(op, builtin=True))


def scalar_instance(arity: int, **attrs: Any) -> tuple[Instance, ...]:
    """The usual instance of an elementwise op for the symbolic checks: a (2,) first operand
    and scalars after it (so broadcasting, and the walker's summing back, are proven too)."""
    return (Instance(((2,),) + ((),) * (arity - 1), attrs),)


def elementwise(name: str, inputs: tuple[str, ...], doc: str, reference: Callable,
                vjp: Callable | None, to_sympy: Callable, symbol: str, *,
                instances: tuple[Instance, ...] | None = None, **fields: Any) -> OpDef:
    """Register an elementwise op (broadcasting shape rule, scalar SymPy form); `instances`
    default to `scalar_instance`."""
    symbolic = fields.pop("symbolic", None) or Symbolic(
        instances=instances or scalar_instance(len(inputs)), function=fields.pop("function", None))
    return register(OpDef(name, inputs, doc, shape=elementwise_shape, reference=reference,
                          vjp=vjp, to_sympy=to_sympy, elementwise=True, symbol=symbol,
                          symbolic=symbolic, **fields))


def float_attr(name: str, value: Any) -> float:
    """A float attribute as a plain Python float (hashable, prints the same everywhere)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        raise OpError(f"attribute {name!r} must be a number, got {value!r}")
    return float(value)


def reduce_canonical(shape: Shape, axis: tuple[int, ...], keepdims: bool = False) -> dict:
    """Normalize reduction attributes: keepdims as a bool (the axis, declared with kind
    "many", arrives normalized)."""
    return {"axis": axis, "keepdims": bool(keepdims)}


def kept_shape(x: Node, axis: tuple[int, ...]) -> Shape:
    """The shape of a reduction of x over `axis` with keepdims=True."""
    return reduced(x.shape, axis, keepdims=True)


def unreduce(g: Node, x: Node, axis: tuple[int, ...]) -> Node:
    """Spread a reduction's cotangent back over the reduced axes: x's shape again (a
    broadcast_like of x, so the result follows x's shape when a graph is re-specialized)."""
    kept = kept_shape(x, axis)
    if g.shape != kept:
        g = apply("reshape", g, shape=kept)
    return g if g.shape == x.shape else apply("broadcast_like", g, x)


def result_dtype(*arrays: np.ndarray) -> np.dtype:
    """The float dtype of a reference result (object for SymPy arrays)."""
    return np.result_type(*arrays)


# ---------------------------------------------------------------------------------------------
# Lowering helpers for ops that read windows of an array (convolution, pooling, their gradients)


def when(conditions: list, value: loops.Expr) -> loops.Expr:
    """value where every condition holds, else 0 (nested selects: both arms are computed, so
    the value's loads must be in bounds anyway: see clamped)."""
    for condition in reversed(conditions):
        value = loops.select(condition, value, 0)
    return value


def clamped(t: loops.Expr, size: int, stride: int = 1) -> tuple[loops.Expr, list]:
    """Index t // stride into an axis of `size`, clamped in bounds, and the conditions under
    which it is exact: 0 <= t, t // stride < size, and t divisible by stride."""
    top = (size - 1) * stride
    inside = loops.clamp(t, 0, top)
    conditions = [loops.eq(t, inside)]
    if stride == 1:
        return inside, conditions
    return inside // stride, conditions + [loops.eq(inside % stride, 0)]


def window_load(x, prefix: tuple, rows: loops.Expr, cols: loops.Expr, stride=(1, 1),
                guard: bool = True) -> loops.Expr:
    """x[prefix + (rows / sh, cols / sw)] when that is an element of x, else 0.

    `rows` and `cols` may fall outside x (padding, windows that do not cover a position); with
    guard=False the caller promises they cannot, and no check is emitted."""
    if not guard:
        return x[prefix + (rows, cols)]
    row, row_ok = clamped(rows, x.shape[-2], stride[0])
    col, col_ok = clamped(cols, x.shape[-1], stride[1])
    return when(row_ok + col_ok, x[prefix + (row, col)])
