"""`gn.onnx.save`: a graphnn graph (forward values, gradients, or both) as an ONNX model.

Stage: export. Input: output nodes and the inputs in call order. Output: a ModelProto (or its
file) whose graph inputs are graphnn's inputs by name, whose initializers are its constants,
and whose nodes follow graphnn.onnx.export_ops, one rule per op.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper

from graphnn.graph import Graph
from graphnn.ir import Node, toposort
from graphnn.onnx.builder import Builder
from graphnn.onnx.errors import OnnxError
from graphnn.onnx.export_ops import EXPORTS, NO_COUNTERPART
from graphnn.onnx.reader import newest_opset
from graphnn.onnx.tensors import element_type
from graphnn.version import __version__

DEFAULT_OPSET = 18        # what current runtimes (onnxruntime among them) all run
OLDEST_EXPORT_OPSET = 13


def to_model(outputs: Node | Sequence[Node], inputs: Sequence[Node] | None = None, *,
             opset: int = DEFAULT_OPSET, names: Sequence[str] | None = None,
             name: str = "graphnn",
             initializers: Mapping[Node, np.ndarray] | None = None) -> onnx.ModelProto:
    """The ONNX model of a graph: inputs by their names, outputs named by `names` (default:
    the output node's name where it has a distinct one, else output_0, output_1, ...).
    `initializers` gives inputs values that are written into the model (a network's weights),
    under the input's name, instead of graph inputs."""
    newest = newest_opset()
    if not isinstance(opset, int) or not OLDEST_EXPORT_OPSET <= opset <= newest:
        raise OnnxError(f"opset must be an int from {OLDEST_EXPORT_OPSET} to {newest} (the "
                        f"newest the installed onnx knows), got {opset!r}", "bad opset")
    graph = Graph(outputs, inputs, name=name)
    builder = Builder(opset)
    values: dict[Node, str] = {n: n.name for n in graph.inputs}
    fixed = dict(initializers or {})
    for node, array in fixed.items():
        builder.initializers.append(numpy_helper.from_array(
            np.asarray(array, dtype=node.dtype).reshape(node.shape), node.name))
    graph_inputs = [n for n in graph.inputs if n not in fixed]
    for k, node in enumerate(graph.nodes):
        _write(builder, node, values, f"{node.op}_{k}")
    _name_scope_outputs(builder, graph, values)
    out_names = _output_names(graph, names)
    for node, out_name in zip(graph.outputs, out_names):
        builder.nodes.append(helper.make_node("Identity", [values[node]], [out_name],
                                              name=f"output_{out_name}"))
    proto = helper.make_graph(
        builder.nodes, name, [_value_info(n, n.name) for n in graph_inputs],
        [_value_info(n, o) for n, o in zip(graph.outputs, out_names)], builder.initializers)
    model = helper.make_model(proto, producer_name="graphnn", producer_version=__version__,
                              opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = min(model.ir_version, _ir_version(opset))
    onnx.checker.check_model(model)
    return model


def save(outputs: Node | Sequence[Node], path: str | os.PathLike,
         inputs: Sequence[Node] | None = None, *, opset: int = DEFAULT_OPSET,
         names: Sequence[str] | None = None) -> Path:
    """Write a graph as an ONNX model file (see `to_model`); returns the path.

    >>> import graphnn as gn, tempfile, os
    >>> x = gn.input("x", shape=(4, 3), dtype="float32")
    >>> w = gn.input("w", shape=(3, 2), dtype="float32")
    >>> y = gn.sum(gn.relu(x @ w))
    >>> path = gn.onnx.save([y, *gn.grad(y, [w])], os.path.join(tempfile.mkdtemp(), "m.onnx"))
    >>> [i.name for i in gn.onnx.load(path).inputs]
    ['x', 'w']
    """
    return write(to_model(outputs, inputs, opset=opset, names=names), path)


def write(model: onnx.ModelProto, path: str | os.PathLike) -> Path:
    """Write a model file; an OnnxError names the path when it cannot be written."""
    path = Path(path)
    try:
        path.write_bytes(model.SerializeToString())
    except OSError as error:
        raise OnnxError(f"cannot write {str(path)!r}: {error.strerror or error}",
                        "unwritable file") from None
    return path


def to_bytes(outputs: Node | Sequence[Node], inputs: Sequence[Node] | None = None, *,
             opset: int = DEFAULT_OPSET, names: Sequence[str] | None = None) -> bytes:
    """The serialized ONNX model of a graph (see `to_model`)."""
    return to_model(outputs, inputs, opset=opset, names=names).SerializeToString()


def _write(builder: Builder, node: Node, values: dict[Node, str], label: str) -> None:
    """Emit `node` (and, for a composite without a rule, its expansion)."""
    if node in values:
        return
    if node.op == "constant":
        values[node] = builder.constant(node.value, node.dtype)
        return
    rule = EXPORTS.get(node.op)
    if rule is not None:
        builder.scope = label
        written = rule(builder, node, *(values[i] for i in node.inputs))
        if written is not None:          # None: a composite written as its expansion
            values[node] = written
            return
    if node.opdef.composite:
        expansion = node.expansion()
        for k, part in enumerate(toposort([expansion], leaves=node.inputs)):
            _write(builder, part, values, f"{label}_{k}")
        values[node] = values[expansion]
        return
    reason = NO_COUNTERPART.get(node.op, "no ONNX rule")
    raise OnnxError(f"graphnn op {node.op} ({node.describe()}) has no ONNX form: {reason}",
                    f"no ONNX form for {node.op}")


def _name_scope_outputs(builder: Builder, graph: Graph, values: dict[Node, str]) -> None:
    """Rename the value leaving each scope (a layer) after the scope, "dense1" or
    "block/conv", when exactly one value leaves it: `gn.onnx.load(path, outputs=["dense1"])`
    then cuts a network there."""
    users: dict[Node, set[tuple[str, ...]]] = {}
    for node in graph.nodes:
        for source in node.inputs:
            users.setdefault(source, set()).add(node.scope)
    leaving: dict[tuple[str, ...], list[Node]] = {}
    for node in graph.nodes:
        if node.scope and node.op not in ("input", "constant") and (
                any(s != node.scope for s in users.get(node, ())) or node in graph.outputs):
            leaving.setdefault(node.scope, []).append(node)
    taken = {n.name for n in graph.inputs}
    renames = {}
    for scope_path, nodes in leaving.items():
        name = "/".join(scope_path)
        if len(nodes) == 1 and name not in taken and values[nodes[0]] not in taken:
            renames[values[nodes[0]]] = name
            taken.add(name)
    for proto in builder.nodes:
        for field in (proto.input, proto.output):
            for k, value in enumerate(field):
                if value in renames:
                    field[k] = renames[value]
    for node in list(values):
        values[node] = renames.get(values[node], values[node])


def _output_names(graph: Graph, names: Sequence[str] | None) -> list[str]:
    taken = {n.name for n in graph.inputs}
    if names is not None:
        names = list(names)
        if len(names) != len(graph.outputs) or len(set(names)) != len(names) or taken & set(names):
            raise OnnxError(f"names must give {len(graph.outputs)} distinct output names, "
                            f"none an input's, got {names!r}", "bad names")
        return names
    out = []
    for k, node in enumerate(graph.outputs):
        name = node.name if node.name and node.op != "input" else f"output_{k}"
        out.append(name if name not in taken else f"output_{k}")
        taken.add(out[-1])
    return out


def _value_info(node: Node, name: str) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, element_type(node.dtype), list(node.shape))


def _ir_version(opset: int) -> int:
    """The IR version that goes with an opset (runtimes refuse newer IR than they know)."""
    for entry in helper.VERSION_TABLE:
        if entry[2] == opset:
            return entry[1]
    return helper.VERSION_TABLE[-1][1]


def model_proto(model: Any, batch: int | None = None,
                opset: int = DEFAULT_OPSET) -> onnx.ModelProto:
    """An `nn.Sequential` model's inference graph (evaluation mode: dropout off, batch
    normalization with its running statistics), its parameters as initializers; the input is
    named "x", the output "y", each layer's output after the layer ("conv1", "dense2").
    `batch` None gives a symbolic batch dimension ("batch"), where the graph allows it."""
    protos = [_model_at(model, size, opset) for size in ((1, 2) if batch is None else (batch,))]
    if batch is None:
        if _without_shapes(protos[0]) != _without_shapes(protos[1]):
            raise OnnxError(f"model {model.name!r} fixes its batch size in its graph; export "
                            "it for one batch size: save_onnx(path, batch=...)", "fixed batch")
        for value in (*protos[0].graph.input, *protos[0].graph.output):
            value.type.tensor_type.shape.dim[0].dim_param = "batch"
    return protos[0]


def _model_at(model: Any, batch: int, opset: int) -> onnx.ModelProto:
    forward = model.build(int(batch), training=False)
    used = set(Graph(forward.output).inputs)
    weights = {p.node: model.values[name] for name, p in model.parameters.items()
               if p.node in used}
    return to_model([forward.output], [forward.x, *weights], opset=opset, names=["y"],
                    name=model.name, initializers=weights)


def _without_shapes(proto: onnx.ModelProto) -> bytes:
    """The graph's nodes and initializers, without the inputs' and outputs' shapes."""
    copy = onnx.ModelProto()
    copy.CopyFrom(proto)
    for value in (*copy.graph.input, *copy.graph.output):
        value.type.tensor_type.ClearField("shape")
    return copy.SerializeToString()


def save_model(model: Any, path: str | os.PathLike, *, batch: int | None = None,
               opset: int = DEFAULT_OPSET) -> Path:
    """Write `model_proto(model, batch, opset)` to `path`."""
    return write(model_proto(model, batch, opset), path)
