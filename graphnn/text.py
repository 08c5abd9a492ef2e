"""The text form of a graph: the canonical form (errors, cache keys, hashes) and the one print
shows, which is the same without products by a scalar 1.

Part of the core (below graphnn.graph, which prints itself with it, and the optimizer's checks,
which name nodes with it): the text form is the IR's own notation, not a rendering.

    graph f(x: f64[2,3], w: f64[3,4]) {
      %0 = matmul x, w  : f64[2,4]
      %1 = sigmoid %0   : f64[2,4]
      return %1
    }

Inputs keep their names; other nodes are %0, %1, ... in topological order; scalar constants
are written inline as literals; attributes that differ from the op's default are listed in
braces, sorted. Nothing depends on object ids or hash seeds, so the text is the same in every
process.

Reverse mode seeds the output's gradient with 1 and every rule multiplies by its upstream
gradient, so the graphs gn.grad builds hold `mul 1.0, x` (and `mul 1.0, 1.0`) until gn.optimize
removes them. `without_unit_factors` rebuilds outputs without them for reading: print(graph)
and the drawings show that; the raw form (`graph.text(raw=True)`) is what was built.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from graphnn.ir import Node, apply, toposort
from graphnn.shapes import format_shape

_SHORT = {"float32": "f32", "float64": "f64", "int32": "i32", "int64": "i64", "bool": "bool"}
_INLINE_ELEMENTS = 16      # array constants up to this size are printed in full
_ALIGN_LIMIT = 40          # the type column is aligned up to this width


def type_text(node: Node) -> str:
    """f32[64,784]"""
    return _SHORT[node.dtype] + format_shape(node.shape)


def number_text(value: Any, dtype: str) -> str:
    """Shortest text that reads back as the same number of that dtype: 0.1, -inf, nan; ints
    and bools as Python writes them (3, True)."""
    if dtype in ("int32", "int64"):
        return str(int(value))
    if dtype == "bool":
        return str(bool(value))
    text = str(np.float32(value)) if dtype == "float32" else repr(float(value))
    return text if any(c in text for c in ".enia") else text + ".0"


def constant_text(node: Node) -> str:
    """A constant's value: its elements when small, else a content hash."""
    value = node.value
    if value.size <= _INLINE_ELEMENTS:
        text = np.array2string(value, separator=", ", max_line_width=1 << 30,
                               formatter={"float": lambda v: number_text(v, node.dtype),
                                          "int": lambda v: number_text(v, node.dtype),
                                          "bool": lambda v: number_text(v, node.dtype)})
        return text.replace("\n", "")
    digest = hashlib.sha256(value.tobytes()).hexdigest()[:12]
    return f"<sha256:{digest}>"


def attr_text(node: Node) -> str:
    defaults = dict(node.opdef.params)
    shown = [f"{k}={v!r}" for k, v in node.attr_items if defaults.get(k, _NONE) != v]
    return " {" + ", ".join(shown) + "}" if shown else ""


_NONE = object()


def node_names(nodes: Sequence[Node]) -> dict[Node, str]:
    """How each node is referred to: input names, inline scalar literals, or %k."""
    names: dict[Node, str] = {}
    counter = 0
    for node in nodes:
        if node.op == "input":
            names[node] = node.name
        elif node.op == "constant" and node.shape == ():
            names[node] = number_text(node.value, node.dtype)
        else:
            names[node] = f"%{counter}"
            counter += 1
    return names


def graph_text(name: str, inputs: Sequence[Node], outputs: Sequence[Node],
               nodes: Sequence[Node]) -> str:
    """The text form of a graph (see the module docstring)."""
    names = node_names(nodes)
    rows = []
    for node in nodes:
        if node.op == "input" or (node.op == "constant" and node.shape == ()):
            continue
        if node.op == "constant":
            body = f"constant {constant_text(node)}"
        else:
            args = ", ".join(names[i] for i in node.inputs)
            body = f"{node.op} {args}{attr_text(node)}"
        note = f"  # {node.name}" if node.name else ""
        rows.append((f"{names[node]} = {body}", f": {type_text(node)}{note}"))
    width = min(max((len(left) for left, _ in rows), default=0), _ALIGN_LIMIT) + 2
    signature = ", ".join(f"{n.name}: {type_text(n)}" for n in inputs)
    lines = [f"graph {name}({signature}) {{"]
    lines += [f"  {left.ljust(width)}{right}" for left, right in rows]
    lines.append("  return " + ", ".join(names[o] for o in outputs))
    lines.append("}")
    return "\n".join(lines)


def _is_one(node: Node) -> bool:
    return node.op == "constant" and node.shape == () and float(node.value) == 1.0


def _identity_operand(node: Node, inputs: tuple[Node, ...]) -> Node | None:
    """The operand `node` equals when it multiplies or divides it by a scalar 1 (None: none).

    Only when that operand already has the node's shape and dtype: 1 * x with x broadcast
    to a larger shape is not x.
    """
    if node.op == "mul":
        candidates = [b for a, b in (inputs, inputs[::-1]) if _is_one(a)]
    elif node.op == "div":
        candidates = [inputs[0]] if _is_one(inputs[1]) else []
    else:
        return None
    for other in candidates:
        if other.shape == node.shape and other.dtype == node.dtype:
            return other
    return None


def without_unit_factors(outputs: Sequence[Node]) -> tuple[list[Node], dict[Node, Node]]:
    """`outputs` without products and quotients by a scalar 1 (x * 1 = x and x / 1 = x
    exactly, for every x); and original -> shown node. The nodes given are not changed.

    A rebuilt node keeps its name; a removed `× 1` shows as its operand, under the operand's
    name (or none).

    >>> import graphnn as gn
    >>> x = gn.input("x")
    >>> (shown,), _ = without_unit_factors([gn.exp(x * 1.0) / 1.0])
    >>> shown.op, shown.inputs[0] is x
    ('exp', True)
    """
    mapping: dict[Node, Node] = {}
    for node in toposort(list(outputs)):
        inputs = tuple(mapping[i] for i in node.inputs)
        same = _identity_operand(node, inputs)
        if same is not None:
            mapping[node] = same
        elif all(new is old for new, old in zip(inputs, node.inputs)):
            mapping[node] = node
        else:
            mapping[node] = apply(node.op, *inputs, name=node.name, **node.attrs)
    return [mapping[o] for o in outputs], mapping
