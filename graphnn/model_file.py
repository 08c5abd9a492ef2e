"""Loading a model defined in a Python file, for the command line.

A model file is ordinary Python that builds a graph with graphnn and names it at module level:

    outputs   a node or a list of nodes (required; or a function `model()` returning them)
    feed      optional: example input values, {name: array}
    wrt       optional: the nodes to differentiate with respect to (default: every input
              of the first output)

The file is run with `runpy`, so it may import numpy, define helpers and so on.
"""

from __future__ import annotations

import os
import re
import runpy
from dataclasses import dataclass, field
from typing import Any

from graphnn.errors import GraphnnError
from graphnn.graph import Graph
from graphnn.ir import Node


class ModelFileError(GraphnnError, ValueError):
    """A model file is missing, fails to run, or does not define `outputs`."""


@dataclass
class Model:
    graph: Graph
    feed: dict[str, Any] = field(default_factory=dict)
    wrt: list[Node] = field(default_factory=list)


def _as_nodes(value: Any, what: str, path: str) -> list[Node]:
    if isinstance(value, Graph):
        return list(value.outputs)
    nodes = [value] if isinstance(value, Node) else list(value) if isinstance(
        value, (list, tuple)) else None
    if nodes is None or not all(isinstance(n, Node) for n in nodes):
        raise ModelFileError(f"{path}: `{what}` must be a graph node or a list of nodes")
    return nodes


def _graph_name(path: str) -> str:
    """examples/02_neuron.py -> neuron: the file name without a numeric prefix."""
    stem = re.sub(r"^\d+_", "", os.path.splitext(os.path.basename(path))[0])
    name = re.sub(r"\W", "_", stem)
    return name if name.isidentifier() else f"model_{name}"


def load_model(path: str) -> Model:
    """Run a model file and collect its outputs, example feed and wrt list."""
    if not os.path.isfile(path):
        raise ModelFileError(f"no model file at {path!r}")
    try:
        namespace = runpy.run_path(path, run_name="__graphnn_model__")
    except Exception as error:   # the user's code: report any failure with its file
        raise ModelFileError(f"{path} failed to run: {type(error).__name__}: {error}") from error
    outputs = namespace.get("outputs")
    if outputs is None and callable(namespace.get("model")):
        outputs = namespace["model"]()
    if outputs is None:
        raise ModelFileError(f"{path} defines neither `outputs` nor a function `model()`")
    nodes = _as_nodes(outputs, "outputs", path)
    graph = Graph(nodes, name=_graph_name(path))
    wrt = _as_nodes(namespace["wrt"], "wrt", path) if "wrt" in namespace else \
        [n for n in Graph(nodes[0]).inputs]
    return Model(graph, dict(namespace.get("feed") or {}), wrt)
