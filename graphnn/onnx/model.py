"""`OnnxModel`: an imported ONNX graph as graphnn nodes, with its parameters and names."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from graphnn.compiler import Function, compile
from graphnn.errors import InputError
from graphnn.graph import Graph
from graphnn.ir import Node
from graphnn.onnx.names import NameMap, python_name


class OnnxModel:
    """An ONNX model imported by `gn.onnx.load`.

    - `inputs`: the input nodes, in the ONNX graph's input order (initializers excluded);
    - `outputs`: the output nodes, in order;
    - `params`: initializer name -> NumPy array;
    - `param_inputs`: initializer name -> input node, when loaded with params="inputs"
      (empty otherwise: the initializers are then constants of the graph);
    - `graph`: a `gn.Graph` of the outputs over `inputs` then the parameter inputs;
    - `names`: ONNX name -> graphnn name of every input and parameter input (`onnx_names`
      the other way); `output_names`: the ONNX names of the outputs;
    - `opset`, `producer`: the model's ai.onnx opset and the tool that wrote it.
    """

    def __init__(self, inputs: Sequence[Node], outputs: Sequence[Node],
                 params: Mapping[str, np.ndarray], param_inputs: Mapping[str, Node],
                 names: NameMap, output_names: Sequence[str], opset: int,
                 producer: str, name: str) -> None:
        self.inputs = list(inputs)
        self.outputs = list(outputs)
        self.params = dict(params)
        self.param_inputs = dict(param_inputs)
        self.names = dict(names.to_python)
        self.onnx_names = dict(names.to_onnx)
        self.output_names = list(output_names)
        self.opset, self.producer, self.name = opset, producer, name
        self.graph = Graph(self.outputs, [*self.inputs, *self.param_inputs.values()],
                           name=python_name(name) if name else "model")

    def feed(self, *arrays: Any, **named: Any) -> dict[Node, Any]:
        """A feed for `gn.evaluate(model.outputs, ...)`: the inputs by position (ONNX order) or
        by name (ONNX or graphnn names), plus the parameters' values when they are inputs.

        >>> # gn.evaluate(model.outputs, model.feed(x))
        """
        if len(arrays) > len(self.inputs):
            raise InputError(f"the model takes {len(self.inputs)} inputs, got {len(arrays)}")
        feed: dict[Node, Any] = dict(zip(self.inputs, arrays))
        by_name = {n.name: n for n in self.inputs}
        for key, value in named.items():
            node = by_name.get(self.names.get(key, key))
            if node is None:
                listed = ", ".join(repr(self.onnx_names[n.name]) for n in self.inputs)
                raise InputError(f"the model has no input {key!r} (inputs: {listed})")
            if node in feed:
                raise InputError(f"input {key!r} is given twice")
            feed[node] = value
        for name, node in self.param_inputs.items():
            feed[node] = self.params[name]
        return feed

    def compile(self, **options: Any) -> Function:
        """`gn.compile` of the outputs over `graph.inputs` (the parameter inputs, if any, come
        after the data inputs)."""
        return compile(self.outputs, inputs=list(self.graph.inputs), **options)

    def __repr__(self) -> str:
        shown = ", ".join(f"{n.name}: {n.dtype}{list(n.shape)}" for n in self.inputs)
        return (f"<OnnxModel {self.name or 'model'}({shown}) -> {len(self.outputs)} outputs, "
                f"{len(self.params)} params, opset {self.opset}>")
