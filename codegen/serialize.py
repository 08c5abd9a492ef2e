"""Loop IR <-> plain data (JSON-compatible), so kernels can be stored without pickle.

Input: a ``Kernel`` (or any loop IR node). Output: ``{"format": FORMAT, "nodes": [...],
"root": n}``, made of dicts, lists, strings, ints and bools only; ``from_data`` turns it back
into the equal node. Each entry of ``nodes`` is ``[class name, field, ...]`` in the class's
field order, listed after the nodes it refers to (a reference is the referred node's index), so
equal nodes are listed once and decoding is one forward pass, with no recursion however deep
the tree. Floats are written with ``float.hex`` (exact, with ``inf`` and ``nan``).

Decoding trusts nothing: class names come from a fixed table of the loop IR's classes, every
field is checked against its declared type, references only point backwards, and each node is
rebuilt through its own constructor, so a decoded kernel passed the same checks
(``codegen.verify``: dtypes, bound variables, index bounds) as one built by hand. Anything else
raises ``FormatError``.

>>> from codegen import loops
>>> x = loops.Buffer("x", "f64", (4,)); y = loops.Buffer("y", "f64", (4,))
>>> k = loops.Kernel("twice", [x], [y], body=[loops.loop(4, lambda i: loops.store(y, i,
...     x[i] * 2.0))])
>>> from_data(to_data(k)) == k
True
"""

from __future__ import annotations

import dataclasses
from typing import Any

from codegen import exprs, stmts
from codegen.exprs import Node

FORMAT = "loops 2"


class FormatError(ValueError):
    """Data that is not a serialized loop IR node of this format."""


def _node_classes() -> dict[str, type]:
    """Every concrete node class of the loop IR, by name."""
    found = {}
    for module in (exprs, stmts):
        for name, value in vars(module).items():
            if isinstance(value, type) and issubclass(value, Node) and \
                    dataclasses.is_dataclass(value) and not name.startswith("_") and \
                    value.__module__ == module.__name__:
                found[name] = value
    return found


CLASSES = _node_classes()
_FIELDS = {name: tuple((f.name, str(f.type)) for f in dataclasses.fields(cls))
           for name, cls in CLASSES.items()}
_REFERENCES = {"Expr": exprs.Expr, "Var": exprs.Var, "Buffer": stmts.Buffer,
               "Stmt": stmts.Stmt}
_SCALARS = {"str": (str,), "int": (int,), "bool": (bool,)}
# the declared field types this format can hold (a tuple of any of them too)
FIELD_TYPES = frozenset([*_SCALARS, "float", "float | int | bool", *_REFERENCES,
                         "Buffer | None",
                         *(f"tuple[{t}, ...]" for t in (*_SCALARS, *_REFERENCES))])


def to_data(root: Node) -> dict[str, Any]:
    """``root`` and everything below it as plain data (see the module docstring)."""
    index: dict[int, int] = {}            # id(node) -> its entry
    entries: dict[tuple[Any, ...], int] = {}   # an entry's contents -> its position: equal
    nodes: list[list[Any]] = []                # nodes are listed once, however often built
    keep: list[Node] = []        # keeps every indexed node alive, so no id() is reused
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, ready = stack.pop()
        if id(node) in index:
            continue
        name = type(node).__name__
        if CLASSES.get(name) is not type(node):
            raise FormatError(f"{name} is not a loop IR node class")
        if not ready:
            stack.append((node, True))
            stack.extend((child, False) for child in reversed(_children(node)))
            continue
        entry = [name]
        for (field, annotation), value in zip(_FIELDS[name], node.fields(), strict=True):
            entry.append(_encode(value, annotation, index, f"{name}.{field}"))
        contents = tuple(tuple(v) if isinstance(v, list) else v for v in entry)
        if contents not in entries:
            entries[contents] = len(nodes)
            nodes.append(entry)
        index[id(node)] = entries[contents]
        keep.append(node)
    return {"format": FORMAT, "nodes": nodes, "root": index[id(root)]}


def _children(node: Node) -> list[Node]:
    out: list[Node] = []
    for value in node.fields():
        items = value if isinstance(value, tuple) else (value,)
        out.extend(v for v in items if isinstance(v, Node))
    return out


def _encode(value: Any, annotation: str, index: dict[int, int], where: str) -> Any:
    if annotation.endswith(" | None"):          # an optional reference: null when absent
        return None if value is None else _encode(value, annotation[:-7], index, where)
    if annotation.startswith("tuple[") and annotation.endswith(", ...]"):
        item = annotation[len("tuple["):-len(", ...]")]
        return [_encode(v, item, index, where) for v in value]
    if annotation in _REFERENCES:
        return index[id(value)]
    if isinstance(value, float):
        return value.hex()
    if annotation in ("str", "int", "bool", "float | int | bool"):
        return value
    raise FormatError(f"{where}: no encoding for fields of type {annotation}")


def from_data(data: Any) -> Any:
    """The node ``to_data`` described; ``FormatError`` for anything that is not one."""
    if not isinstance(data, dict) or data.get("format") != FORMAT or \
            not isinstance(data.get("nodes"), list) or type(data.get("root")) is not int:
        raise FormatError(f"not serialized loop IR of format {FORMAT!r}")
    nodes: list[Node] = []
    for position, entry in enumerate(data["nodes"]):
        if not isinstance(entry, list) or not entry or not isinstance(entry[0], str) or \
                entry[0] not in CLASSES or len(entry) != len(_FIELDS[entry[0]]) + 1:
            raise FormatError(f"node {position}: not a known node class with its fields")
        name = entry[0]
        values = [_decode(value, annotation, nodes, f"node {position} ({name}.{field})")
                  for (field, annotation), value in zip(_FIELDS[name], entry[1:], strict=True)]
        try:
            nodes.append(CLASSES[name](*values))
        except (TypeError, ValueError, ArithmeticError) as error:   # the constructor's checks
            raise FormatError(f"node {position} ({name}): {error}") from error
    if not 0 <= data["root"] < len(nodes):
        raise FormatError(f"root {data['root']} is not a node")
    return nodes[data["root"]]


def _decode(value: Any, annotation: str, nodes: list[Node], where: str) -> Any:
    if annotation.endswith(" | None"):
        return None if value is None else _decode(value, annotation[:-7], nodes, where)
    if annotation.startswith("tuple[") and annotation.endswith(", ...]"):
        if not isinstance(value, list):
            raise FormatError(f"{where}: expected a list")
        item = annotation[len("tuple["):-len(", ...]")]
        return tuple(_decode(v, item, nodes, where) for v in value)
    if annotation in _REFERENCES:
        if type(value) is not int or not 0 <= value < len(nodes) or \
                not isinstance(nodes[value], _REFERENCES[annotation]):
            raise FormatError(f"{where}: {value!r} is not an earlier {annotation}")
        return nodes[value]
    if annotation == "float" or (annotation == "float | int | bool" and isinstance(value, str)):
        return _float(value, where)
    if annotation == "float | int | bool":
        annotation = "bool" if isinstance(value, bool) else "int"
    if annotation not in _SCALARS or type(value) not in _SCALARS[annotation]:
        raise FormatError(f"{where}: {value!r} is not a {annotation}")
    return value


def _float(value: Any, where: str) -> float:
    try:
        return float.fromhex(value)
    except (TypeError, ValueError):
        raise FormatError(f"{where}: {value!r} is not a float in hex") from None
