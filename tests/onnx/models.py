"""Small ONNX models built by hand for the import tests."""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper, numpy_helper

FLOAT = TensorProto.FLOAT


def model(nodes, inputs, outputs, initializers=(), opset: int = 18, name: str = "test"):
    """A ModelProto from node specs (op_type, inputs, outputs, attributes) and value specs
    (name, element type, dims)."""
    graph = helper.make_graph(
        [helper.make_node(op, ins, outs, name=f"n{k}_{op.lower()}", **attrs)
         for k, (op, ins, outs, attrs) in enumerate(nodes)], name,
        [helper.make_tensor_value_info(n, t, d) for n, t, d in inputs],
        [helper.make_tensor_value_info(n, t, d) for n, t, d in outputs],
        [numpy_helper.from_array(np.asarray(a), n) for n, a in initializers])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def dense_relu(dims=(2, 3), opset: int = 18):
    """y = relu(x @ w.weight + b), with ONNX names that are not identifiers."""
    rng = np.random.default_rng(0)
    w = rng.standard_normal((dims[1], 4)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    return model([("MatMul", ["input/0", "w.weight"], ["h"], {}),
                  ("Add", ["h", "b"], ["z"], {}),
                  ("Relu", ["z"], ["0"], {})],
                 [("input/0", FLOAT, list(dims))], [("0", FLOAT, [dims[0], 4])],
                 [("w.weight", w), ("b", b)], opset=opset)
