"""What a converter knows about the ONNX node it converts, and the helpers it refuses with.

Stage: import. A `NodeContext` names the node (index, name, operator, opset) in every error,
turns values that must be known at import (a Reshape's shape, a Clip's bounds) into arrays, and
lifts arrays to graphnn constants of the right dtype.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from graphnn.ir import DTYPES, Node, constant
from graphnn.onnx.errors import OnnxError, node_label

Value = Node | np.ndarray | None
# the end of the reason of every refusal of a value that must be known at import
STATIC_REASON = ("(graphnn graphs have static shapes and attributes: it must be known at "
                 "import)")


class NodeContext:
    """The ONNX node being converted: `index`, `name`, `op_type`, `opset`, `outputs` (its
    output names, "" for an omitted optional output), `readers` (for each input, how many
    ONNX nodes and graph outputs read that value: 1 when this node is its only reader)."""

    def __init__(self, index: int, name: str, op_type: str, opset: int,
                 outputs: Sequence[str], known: Mapping[Node, np.ndarray],
                 readers: Sequence[int] = ()) -> None:
        self.index, self.name, self.op_type, self.opset = index, name, op_type, opset
        self.outputs = tuple(outputs)
        self.readers = tuple(readers)
        self._known = known

    @property
    def label(self) -> str:
        return node_label(self.index, self.name, self.op_type)

    def unsupported(self, reason: str, detail: str = "") -> OnnxError:
        """The error for something this node asks that graphnn does not do (to raise)."""
        return OnnxError(f"{self.label}: {reason}{detail}", reason)

    def wants(self, k: int) -> bool:
        """Whether output k is requested (present and not omitted)."""
        return k < len(self.outputs) and bool(self.outputs[k])

    def known(self, value: Value) -> bool:
        return isinstance(value, np.ndarray) or (isinstance(value, Node) and value in self._known)

    def static(self, value: Value, what: str) -> np.ndarray:
        """The array of a value that must be known at import (graphnn graphs are static)."""
        if isinstance(value, np.ndarray):
            return value
        if isinstance(value, Node) and value in self._known:
            return self._known[value]
        raise self.unsupported(f"{what} computed at run time {STATIC_REASON}")

    def ints(self, value: Value, what: str) -> tuple[int, ...]:
        """A value known at import as a tuple of ints (axes, shapes, pads)."""
        return tuple(int(v) for v in np.asarray(self.static(value, what)).reshape(-1))

    def number(self, value: Value, what: str) -> float:
        """A scalar known at import as a Python float (a bound, an epsilon)."""
        array = np.asarray(self.static(value, what))
        if array.size != 1:
            raise self.unsupported(f"{what} of shape {array.shape} where a scalar is expected")
        return float(array.reshape(-1)[0])

    def node(self, value: Value, like: Node | str | None = None) -> Node:
        """A value as a graph node: arrays become constants, of `like`'s dtype when given."""
        if isinstance(value, Node):
            return value
        if value is None:
            raise self.unsupported("a missing input")
        dtype = like.dtype if isinstance(like, Node) else \
            like.dtype.name if isinstance(like, np.ndarray) else like
        if dtype is None:
            if value.dtype.name not in DTYPES:
                raise self.unsupported(f"dtype {value.dtype.name} (graphnn graphs hold "
                                       f"{' and '.join(DTYPES)})")
            dtype = value.dtype.name
        return constant(value, dtype=dtype)

    def dtype_of(self, *values: Value) -> str:
        """The dtype of the first node among values (else of the first array)."""
        for value in values:
            if isinstance(value, Node):
                return value.dtype
        for value in values:
            if isinstance(value, np.ndarray):
                return value.dtype.name
        raise self.unsupported("no input to take a dtype from")

    def rank(self, value: Value) -> int:
        return len(value.shape)

    def attribute_error(self, name: str, value: Any, supported: str) -> OnnxError:
        """The error for an attribute value the converter does not support."""
        return self.unsupported(f"attribute {name}={_short(value)} ({supported})")


def _short(value: Any) -> str:
    if isinstance(value, tuple):
        return "[" + ",".join(str(v) for v in value) + "]"
    return repr(value) if isinstance(value, str) else str(value)
