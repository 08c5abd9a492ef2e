"""Building an ONNX graph: nodes, initializers and fresh value names, for the exporter.

Stage: export. The builder knows ONNX protobuf; the per-op rules (graphnn.onnx.export_ops)
only call `add`, `constant` and `ints`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper


class Builder:
    """The nodes and initializers of one ONNX graph being written, at opset `opset`."""

    def __init__(self, opset: int) -> None:
        self.opset = opset
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._count = 0
        self._constants: dict[tuple, str] = {}
        self.scope = ""                      # prefix of node names: the graphnn op's position

    def fresh(self, hint: str) -> str:
        self._count += 1
        return f"{hint}_{self._count}"

    def add(self, op_type: str, inputs: list[str], outputs: int = 1, **attributes: Any) -> Any:
        """Append a node; its output name (a list of names when `outputs` > 1)."""
        names = [self.fresh(op_type.lower()) for _ in range(outputs)]
        kept = {k: v for k, v in attributes.items() if v is not None}
        self.nodes.append(helper.make_node(op_type, inputs, names, name=self.fresh(
            self.scope or op_type), **kept))
        return names[0] if outputs == 1 else names

    def constant(self, value: Any, dtype: str | np.dtype) -> str:
        """An initializer holding `value` (shared between equal constants)."""
        array = np.asarray(value, dtype=dtype)
        key = (array.dtype.str, array.shape, array.tobytes())
        if key not in self._constants:
            name = self.fresh("const")
            self.initializers.append(numpy_helper.from_array(array.copy(order="C"), name))
            self._constants[key] = name
        return self._constants[key]

    def ints(self, values: Any) -> str:
        """An int64 initializer (shapes, axes, pads)."""
        return self.constant(np.asarray(values, dtype=np.int64).reshape(-1), np.int64)
