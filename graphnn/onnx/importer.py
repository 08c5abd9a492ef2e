"""`gn.onnx.load`: an ONNX model as graphnn nodes.

Stage: import. Input: a model file (or bytes, or a ModelProto). Output: an `OnnxModel` whose
outputs are graphnn nodes over input nodes named after the ONNX inputs. Each ONNX node is
converted by its entry in graphnn.onnx.registry inside a graphnn scope named after it, so
drawings show one cluster per ONNX node. Values known at import (initializers as constants,
Constant nodes, shape computations) stay NumPy arrays and are folded.
"""

from __future__ import annotations

import inspect
import os
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import onnx

from graphnn.errors import GraphnnError, did_you_mean
from graphnn.evaluate import evaluate
from graphnn.ir import DTYPES, Node, constant, input, scope
from graphnn.onnx import convert  # noqa: F401 (fills the converter table)
from graphnn.onnx.context import NodeContext, Value
from graphnn.onnx.errors import OnnxError
from graphnn.onnx.model import OnnxModel
from graphnn.onnx.names import NameMap, python_name
from graphnn.onnx.reader import ONNX_DOMAINS, checked, opset_of, read_model
from graphnn.onnx.registry import Converter, find, schema_default
from graphnn.onnx.tensors import (
    attribute_value,
    graph_dtype,
    numpy_dtype,
    supported_dtypes,
    to_array,
    type_name,
    value_type,
)

PARAMS = ("constants", "inputs")


def load(source: str | os.PathLike | bytes | onnx.ModelProto, params: str = "constants", *,
         shapes: Mapping[str, Sequence[int]] | None = None, batch: int | None = None,
         constants: Mapping[str, Any] | None = None,
         outputs: Sequence[str] | None = None) -> OnnxModel:
    """Import an ONNX model (a path, serialized bytes or an `onnx.ModelProto`).

    `params="constants"` makes the initializers constants of the graph; `params="inputs"`
    makes the float ones graph inputs (named like the initializers), so gradients with respect
    to the weights can be taken and the model fine-tuned. graphnn graphs have static shapes:
    an input with a symbolic dimension ("N") takes its size from `shapes` (input name, ONNX or
    graphnn, -> shape) or, for a leading dimension, from `batch`. `constants` (input name ->
    array) fixes inputs at import: an input that sets a shape (a Reshape's target, a
    reduction's axes) must be known then; such inputs are not in `model.inputs`.

    >>> import numpy as np, graphnn as gn
    >>> x = gn.input("x", shape=(2, 3), dtype="float32")
    >>> data = gn.onnx.to_bytes([gn.relu(x) * 2.0], inputs=[x])
    >>> m = gn.onnx.load(data)
    >>> gn.evaluate(m.outputs, {m.inputs[0]: np.array([[-1, 0, 1]] * 2, "float32")})[0][0]
    array([0., 0., 2.], dtype=float32)
    """
    if params not in PARAMS:
        raise OnnxError(f"params must be 'constants' or 'inputs', got {params!r}", "bad option")
    model = read_model(source)
    opset = opset_of(model)
    model = checked(model)
    importer = Importer(model, opset, params, dict(shapes or {}), batch, dict(constants or {}))
    return importer.run(None if outputs is None else list(outputs))


class Importer:
    """One import: ONNX value names -> values (graphnn nodes, or arrays known at import)."""

    def __init__(self, model: onnx.ModelProto, opset: int, params: str,
                 shapes: dict[str, Sequence[int]], batch: int | None,
                 constants: dict[str, Any]) -> None:
        self.model, self.graph, self.opset = model, model.graph, opset
        self.params_mode, self.shapes, self.batch = params, shapes, batch
        self.values: dict[str, Value] = {}
        self.known: dict[Node, np.ndarray] = {}       # parameter inputs -> their arrays
        initializers = {t.name for t in self.graph.initializer}
        infos = [i for i in self.graph.input if i.name not in initializers]
        self.values.update(_fixed(infos, constants))
        self.input_infos = [i for i in infos if i.name not in self.values]
        self.names = NameMap(i.name for i in self.input_infos)
        self.scopes = NameMap()
        self.readers: Counter[str] = Counter()     # ONNX value name -> nodes and outputs reading it

    def run(self, wanted: list[str] | None = None) -> OnnxModel:
        inputs = [self._declare(info) for info in self.input_infos]
        params, param_inputs = self._initializers()
        infos = list(self.graph.output)
        if wanted is not None:
            infos = [self._inner(name) for name in wanted]
        needed = _needed(self.graph, [i.name for i in infos])
        self.readers = Counter(name for k in needed for name in self.graph.node[k].input)
        self.readers.update(i.name for i in infos)
        for index, proto in enumerate(self.graph.node):
            if index in needed:
                self._convert(index, proto)
        outputs = [self._output(info) for info in infos]
        return OnnxModel(inputs, outputs, params, param_inputs, self.names,
                         [o.name for o in infos], self.opset,
                         self.model.producer_name, self.graph.name)

    def _inner(self, name: str) -> onnx.ValueInfoProto:
        """A value to return as an output: a graph output, or any node's output by name."""
        declared = {v.name: v for v in (*self.graph.output, *self.graph.value_info)}
        if name in declared:
            return declared[name]
        made = {o for n in self.graph.node for o in n.output if o}
        if name not in made:
            raise OnnxError(f"outputs names {name!r}, which no node of the model computes"
                            f"{did_you_mean(name, sorted(made))}", "unknown output")
        return onnx.helper.make_empty_tensor_value_info(name)

    # -- inputs and initializers -----------------------------------------------------------------

    def _declare(self, info: onnx.ValueInfoProto) -> Node:
        element, dims = value_type(info)
        dtype = graph_dtype(element)
        if element < 0:
            raise OnnxError(f"graph input {info.name!r} is not a tensor (a sequence, map or "
                            "optional value); graphnn graphs hold tensors", "non-tensor input")
        if dtype is None:
            raise OnnxError(f"graph input {info.name!r} holds {type_name(element)} elements; "
                            f"graphnn graphs hold {supported_dtypes()}",
                            f"dtype {type_name(element)} (graphnn holds {supported_dtypes()})")
        shape = self._input_shape(info.name, dims)
        node = input(self.names.python(info.name), shape, dtype)
        self.values[info.name] = node
        return node

    def _input_shape(self, name: str, dims) -> tuple[int, ...]:
        given = self.shapes.get(name, self.shapes.get(self.names.python(name)))
        if given is not None:
            given = tuple(int(d) for d in given)
            fixed = dims is not None and len(dims) != len(given) or any(
                isinstance(d, int) and d > 0 and d != g for d, g in zip(dims or (), given))
            if fixed:
                raise OnnxError(f"shapes gives input {name!r} the shape {given}, but the model "
                                f"declares {_dims_text(dims)}", "inconsistent shapes")
            return given
        if dims is None:
            raise OnnxError(f"graph input {name!r} has no declared shape; give it: "
                            f"gn.onnx.load(..., shapes={{{name!r}: (...)}})", "unknown shape")
        shape = []
        for axis, d in enumerate(dims):
            if isinstance(d, int):
                shape.append(d)
            elif axis == 0 and self.batch is not None:
                shape.append(int(self.batch))
            else:
                example = tuple(1 if not isinstance(e, int) else e for e in dims)
                raise OnnxError(
                    f"graph input {name!r} has the symbolic dimension {d or '?'!r} at axis "
                    f"{axis} ({_dims_text(dims)}); graphnn graphs have static shapes: give its "
                    f"size, e.g. gn.onnx.load(..., shapes={{{name!r}: {example}}})"
                    + (" or batch=1" if axis == 0 else ""), "symbolic dimension")
        return tuple(shape)

    def _initializers(self) -> tuple[dict[str, np.ndarray], dict[str, Node]]:
        params, param_inputs = {}, {}
        for tensor in self.graph.initializer:
            array = to_array(tensor, f"initializer {tensor.name!r}")
            params[tensor.name] = array
            if self.params_mode == "inputs" and array.dtype.name in DTYPES:
                node = input(self.names.add(tensor.name), array.shape, array.dtype.name)
                self.known[node] = array
                param_inputs[tensor.name] = node
                self.values[tensor.name] = node
            else:
                self.values[tensor.name] = array
        return params, param_inputs

    # -- nodes -------------------------------------------------------------------------------------

    def _convert(self, index: int, proto: onnx.NodeProto) -> None:
        op_type = proto.op_type
        ctx = NodeContext(index, proto.name, op_type, self.opset, proto.output, self.known,
                          [self.readers[name] for name in proto.input])
        entry = self._entry(ctx, proto)
        inputs = [self._value(ctx, name) for name in proto.input]
        attributes = self._attributes(ctx, entry, proto)
        _check_arity(ctx, entry, len(inputs))
        with scope(self.scopes.add(proto.name or f"{op_type}_{index}")):
            try:
                results = self._apply(ctx, entry, inputs, attributes)
            except OnnxError:
                raise
            except GraphnnError as error:
                text = str(error).split("\n")[0]
                raise OnnxError(f"{ctx.label}: {error}",
                                f"refused by graphnn's {type(error).__name__}: {_gist(text)}") \
                    from None
        results = results if isinstance(results, tuple) else (results,)
        for k, name in enumerate(proto.output):
            if not name:
                continue
            if k >= len(results) or results[k] is None:
                raise ctx.unsupported(f"output {k} ({name!r})")
            self.values[name] = results[k]

    def _entry(self, ctx: NodeContext, proto: onnx.NodeProto) -> Converter:
        if proto.domain not in ONNX_DOMAINS:
            raise ctx.unsupported(f"the operator domain {proto.domain!r} (graphnn reads "
                                  "ai.onnx operators)")
        entry = find(proto.op_type, self.opset)
        if entry is None:
            raise ctx.unsupported(f"the operator {proto.op_type} at opset {self.opset} (no "
                                  "converter: see docs/onnx.md for the supported operators)")
        return entry

    def _value(self, ctx: NodeContext, name: str) -> Value:
        if not name:
            return None
        if name not in self.values:
            raise OnnxError(f"{ctx.label}: input {name!r} is produced by no earlier node, "
                            "initializer or graph input", "dangling input")
        return self.values[name]

    def _attributes(self, ctx: NodeContext, entry: Converter, proto) -> dict[str, Any]:
        given = {a.name: attribute_value(a) for a in proto.attribute}
        for name, value in given.items():
            if name in entry.attributes:
                continue
            default = schema_default(ctx.op_type, self.opset, name)
            if default is None or not _same(value, default):
                raise ctx.unsupported(f"the attribute {name}", f" (= {value!r})")
        return {**entry.defaults(self.opset), **{k: v for k, v in given.items()
                                                   if k in entry.attributes}}

    def _apply(self, ctx: NodeContext, entry: Converter, inputs: list[Value],
               attributes: dict[str, Any]) -> Any:
        present = [v for v in inputs if v is not None]
        if not present or any(isinstance(v, Node) for v in present):
            return entry.convert(ctx, *inputs, **attributes)
        if entry.fold is not None:
            try:
                with np.errstate(all="ignore"):
                    return _arrays(entry.fold(ctx, *inputs, **attributes))
            except OnnxError:
                raise
            except (ArithmeticError, ValueError, TypeError, IndexError) as error:
                raise ctx.unsupported(f"computing it at import failed ({error})") from None
        odd = [v.dtype.name for v in present if v.dtype.name not in DTYPES]
        if odd:
            raise ctx.unsupported(f"computing {ctx.op_type} on {odd[0]} values at import")
        results = entry.convert(ctx, *inputs, **attributes)
        return _arrays(results)

    # -- outputs -----------------------------------------------------------------------------------

    def _output(self, info: onnx.ValueInfoProto) -> Node:
        value = self.values.get(info.name)
        if value is None:
            raise OnnxError(f"graph output {info.name!r} is produced by no node", "dangling output")
        if isinstance(value, np.ndarray):
            if value.dtype.name not in DTYPES:
                raise OnnxError(f"graph output {info.name!r} is a {value.dtype.name} array "
                                f"(computed at import); graphnn graphs hold "
                                f"{supported_dtypes()}",
                                f"dtype {value.dtype.name} (graphnn holds {supported_dtypes()})")
            value = constant(value)
        element, dims = value_type(info)
        dtype = graph_dtype(element) if element > 0 else value.dtype
        if dtype != value.dtype:
            raise OnnxError(f"graph output {info.name!r} is declared {type_name(element)} but "
                            f"computes {value.dtype}", "inconsistent dtypes")
        if dims is not None and (len(dims) != len(value.shape) or any(
                isinstance(d, int) and d > 0 and d != s for d, s in zip(dims, value.shape))):
            raise OnnxError(f"graph output {info.name!r} is declared with shape "
                            f"{_dims_text(dims)} but computes {value.shape}",
                            "inconsistent shapes")
        return value


def _needed(graph: onnx.GraphProto, outputs: list[str]) -> set[int]:
    """Indices of the nodes the outputs depend on (a cut network converts no more)."""
    producer = {o: k for k, n in enumerate(graph.node) for o in n.output if o}
    needed: set[int] = set()
    stack = [producer[o] for o in outputs if o in producer]
    while stack:
        k = stack.pop()
        if k not in needed:
            needed.add(k)
            stack.extend(producer[i] for i in graph.node[k].input if i in producer)
    return needed


def _fixed(infos: Sequence[onnx.ValueInfoProto], constants: dict[str, Any]
           ) -> dict[str, np.ndarray]:
    """The inputs given values at import (`constants`), checked against their declarations."""
    by_name = {i.name: i for i in infos}
    by_python = {python_name(i.name): i for i in infos}
    fixed = {}
    for key, value in constants.items():
        info = by_name.get(key) or by_python.get(key)
        if info is None:
            listed = ", ".join(repr(i.name) for i in infos)
            raise OnnxError(f"constants names {key!r}, which is no graph input (inputs: "
                            f"{listed})", "unknown input")
        element, dims = value_type(info)
        array = np.asarray(value)
        declared = numpy_dtype(element)
        if declared is not None and array.dtype != declared:
            raise OnnxError(f"constants gives input {info.name!r} a {array.dtype} array; it "
                            f"holds {type_name(element)} elements", "inconsistent dtypes")
        if dims is not None and (len(dims) != array.ndim or any(
                isinstance(d, int) and d != n for d, n in zip(dims, array.shape))):
            raise OnnxError(f"constants gives input {info.name!r} the shape {array.shape}; it is "
                            f"declared {_dims_text(dims)}", "inconsistent shapes")
        fixed[info.name] = array
    return fixed


def _arrays(results: Any) -> Any:
    """Results known at import as arrays: nodes built on constants only are evaluated, NumPy
    scalars (what NumPy returns for 0-d operands) become 0-d arrays."""
    if isinstance(results, tuple):
        return tuple(_arrays(r) for r in results)
    if isinstance(results, Node):
        return evaluate(results)
    return np.asarray(results) if isinstance(results, np.generic) else results


def _check_arity(ctx: NodeContext, entry: Converter, count: int) -> None:
    parameters = list(inspect.signature(entry.convert).parameters.values())[1:]
    if any(p.kind is p.VAR_POSITIONAL for p in parameters):
        return
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY,
                                                      p.POSITIONAL_OR_KEYWORD)]
    required = sum(1 for p in positional if p.default is p.empty)
    if count > len(positional):
        raise ctx.unsupported(f"{count} inputs (graphnn reads {len(positional)})")
    if count < required:
        raise ctx.unsupported(f"{count} inputs where {required} are required")


def _gist(text: str) -> str:
    """An error message without its particulars (the op's operands, numbers): the cause."""
    return text.split("): ", 1)[-1][:80]


def _same(value: Any, default: Any) -> bool:
    if isinstance(value, np.ndarray) or isinstance(default, np.ndarray):
        return bool(np.array_equal(np.asarray(value), np.asarray(default)))
    return value == default


def _dims_text(dims) -> str:
    if dims is None:
        return "an unknown shape"
    return "(" + ", ".join(str(d) if d is not None else "?" for d in dims) + ")"

