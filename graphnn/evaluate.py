"""The NumPy reference interpreter: run each node's `reference` in topological order.

Stage: reference evaluation. Input: output nodes (or a Graph) and a feed of input values.
Output: NumPy arrays, the ground truth that compiled kernels and SymPy are checked against.
IEEE semantics are intended (exp overflows to inf, 0/0 is NaN), so numpy's warnings about them
are silenced.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from graphnn.errors import GraphnnError, InputError, OpError, did_you_mean, short_repr
from graphnn.graph import Graph, check_input_names, reached_inputs
from graphnn.ir import INT_DTYPES, Node, holds_numbers, identifier, toposort


def _expected(node: Node) -> str:
    return f"a {node.dtype} array of shape {node.shape}"


NUMBERS = (bool, int, float, np.generic, list, tuple)     # values converted to an input's dtype


def convert(node: Node, value: Any) -> np.ndarray:
    """A number, NumPy scalar or nested list as an array of input `node`'s dtype, converted as
    NumPy converts it (1e39 is inf in float32, with NumPy's warning); an int that no float
    holds (beyond float64's range), or a list holding anything but numbers (None, which NumPy
    would make NaN; strings), is an InputError."""
    try:
        if isinstance(value, (list, tuple)) and not holds_numbers(np.asarray(value)):
            raise TypeError("not numbers")
        given = np.asarray(value)
    except (TypeError, ValueError):
        raise InputError(f"input {node.name!r} expects {_expected(node)}, got "
                         f"{short_repr(value)}") from None
    _keeps_value(node, given)
    try:
        return np.asarray(value, dtype=node.dtype)
    except OverflowError:
        if node.dtype in INT_DTYPES:
            raise InputError(f"input {node.name!r} expects {_expected(node)}, got "
                             f"{short_repr(value)}, beyond {node.dtype}'s range") from None
        largest = float(np.finfo(node.dtype).max)
        raise InputError(f"input {node.name!r} expects {_expected(node)}, got "
                         f"{short_repr(value)}, beyond {node.dtype}'s range (its largest "
                         f"number is {largest:.4g})") from None
    except (TypeError, ValueError):
        raise InputError(f"input {node.name!r} expects {_expected(node)}, got "
                         f"{short_repr(value)}") from None


def _keeps_value(node: Node, given: np.ndarray) -> None:
    """Numbers fed to an int or bool input must be ints (bools): 1.5 is never truncated."""
    kinds = {"int32": "iub", "int64": "iub", "bool": "b"}.get(node.dtype)
    if kinds is not None and given.dtype.kind not in kinds:
        raise InputError(f"input {node.name!r} expects {_expected(node)}, got "
                         f"{short_repr(given)}; graphnn never converts silently")


def check_value(node: Node, value: Any) -> np.ndarray:
    """The value fed for input `node` as an array, or an InputError naming what was expected.

    Arrays must match the input's dtype and shape exactly (graphnn never casts silently);
    Python numbers and lists, which carry no dtype, are converted.
    """
    if isinstance(value, np.ndarray):
        if value.dtype.name != node.dtype:
            raise InputError(f"input {node.name!r} expects {_expected(node)}, got a "
                             f"{value.dtype} array; convert it with "
                             f".astype({node.dtype!r})")
        array = value
    elif isinstance(value, NUMBERS):
        array = convert(node, value)
    else:
        raise InputError(f"input {node.name!r} expects {_expected(node)}, got a "
                         f"{type(value).__name__}")
    if array.shape != node.shape:
        raise InputError(f"input {node.name!r} expects {_expected(node)}, got shape "
                         f"{array.shape}")
    return array


_EXTRA = "; evaluate(..., allow_extra=True) ignores keys that name no input here"


def _unknown(key: str, inputs: Sequence[Node]) -> InputError:
    """The error for a feed key that names none of `inputs`."""
    names = [n.name for n in inputs]
    listed = ", ".join(repr(n) for n in names) or "none"
    hint = did_you_mean(key, names) or _EXTRA
    return InputError(f"feed names {key!r}, which is not an input here (inputs: {listed})"
                      f"{hint}")


def bind_feed(inputs: Sequence[Node], feed: Mapping[str | Node, Any] | None,
              allow_extra: bool = False) -> dict[Node, np.ndarray]:
    """Match a feed (keys: input names or input nodes) to `inputs`, checking every value.

    A key that is none of `inputs` is an error (a misspelled name, a node of another graph),
    whatever other graphs the process built, unless `allow_extra`: then it is ignored, so one
    feed can serve several evaluations.
    """
    by_name = {n.name: n for n in inputs}
    bound: dict[Node, np.ndarray] = {}
    for key, value in (feed or {}).items():
        if isinstance(key, Node):
            if key.op != "input":
                raise InputError(f"feed keys must be inputs; got {key.describe()}")
            node = by_name.get(key.name) if by_name.get(key.name) is key else None
            if node is None and not allow_extra:
                raise InputError(f"feed has {key.describe()}, which is not an input here"
                                 f"{_EXTRA}")
        elif isinstance(key, str):
            key = identifier(key)
            node = by_name.get(key)
            if node is None and not allow_extra:
                raise _unknown(key, inputs)
        else:
            raise InputError(f"feed keys must be input names or input nodes, got {key!r}")
        if node is None:
            continue
        if node in bound:
            raise InputError(f"input {node.name!r} is fed twice (by name and by node)")
        bound[node] = check_value(node, value)
    for node in inputs:
        if node not in bound:
            raise InputError(f"missing a value for input {node.name!r} ({node.dtype}, shape "
                             f"{node.shape}); pass it in the feed, e.g. {{{node.name!r}: ...}}")
    return bound


def _compute(node: Node, args: list[np.ndarray]) -> np.ndarray:
    try:
        result = np.asarray(node.opdef.reference(*args, **node.attrs))
    except InputError as error:       # a value the op refuses (an index out of range)
        operands = ", ".join(f"{label} = {i.describe()}"
                             for label, i in zip(node.opdef.inputs, node.inputs))
        raise InputError(f"{node.op}({operands}): {error}") from None
    if result.shape != node.shape:
        raise GraphnnError(f"internal error: the reference of {node.op} returned shape "
                           f"{result.shape}, but its shape rule says {node.shape}")
    return result.astype(node.dtype, copy=False)


def run(order: Sequence[Node], feed: dict[Node, np.ndarray]) -> dict[Node, np.ndarray]:
    """Values of every node of `order` (topologically sorted), inputs taken from `feed`."""
    values: dict[Node, np.ndarray] = {}
    with np.errstate(all="ignore"):
        for node in order:
            if node.op == "input":
                values[node] = feed[node]
            elif node.op == "constant":
                values[node] = node.value
            else:
                values[node] = _compute(node, [values[i] for i in node.inputs])
    return values


def evaluate(outputs: Node | Sequence[Node] | Graph,
             feed: Mapping[str | Node, Any] | None = None, *,
             allow_extra: bool = False) -> np.ndarray | list[np.ndarray]:
    """Evaluate nodes (or a Graph) with the NumPy reference semantics of every op.

    `feed` maps input names (or input nodes) to values: every input the outputs reach (or
    the Graph's inputs), and nothing else unless `allow_extra` (then keys naming no input
    here are ignored: one feed for several evaluations). A single node gives one array, a
    list gives a list. Returned arrays are fresh copies owned by the caller.

    >>> import graphnn as gn
    >>> x, y = gn.input("x", shape=(2,)), gn.input("y")
    >>> gn.evaluate(gn.sigmoid(x) * 2.0, {"x": [0.0, 0.0]})
    array([1., 1.])
    >>> gn.evaluate(x * 3.0, {"x": [1.0, 2.0], "y": 5.0}, allow_extra=True)
    array([3., 6.])
    """
    if isinstance(outputs, Graph):
        nodes, inputs, single = list(outputs.outputs), list(outputs.inputs), False
    else:
        single = isinstance(outputs, Node)
        nodes = [outputs] if single else list(outputs)
        for k, node in enumerate(nodes):
            if not isinstance(node, Node):
                raise OpError(f"evaluate takes graph nodes; output {k} is a "
                              f"{type(node).__name__}")
        inputs = reached_inputs(toposort(nodes))
    check_input_names(inputs)
    values = run(toposort(nodes), bind_feed(inputs, feed, allow_extra))
    results = [np.array(values[n], copy=True) for n in nodes]
    return results[0] if single else results

