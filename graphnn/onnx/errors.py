"""The error of ONNX import and export: a model graphnn cannot read, run or write, named by the
ONNX node (index, name, operator) and what is missing."""

from __future__ import annotations

from graphnn.errors import GraphnnError


class OnnxError(GraphnnError, ValueError):
    """An ONNX model is damaged, uses an operator, attribute or dtype graphnn does not support,
    or a graphnn graph has no ONNX form.

    `reason` is the short cause without the node's particulars (the conformance table groups
    cases by it); the message adds the node and the values involved.
    """

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason or message


def node_label(index: int, name: str, op_type: str) -> str:
    """How messages name an ONNX node: `ONNX node 3 'conv1' (Conv)`.

    >>> node_label(3, "conv1", "Conv"), node_label(0, "", "Relu")
    ("ONNX node 3 'conv1' (Conv)", 'ONNX node 0 (Relu)')
    """
    named = f" {name!r}" if name else ""
    return f"ONNX node {index}{named} ({op_type})"
