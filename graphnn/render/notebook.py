"""Jupyter display of graphs, nodes and compiled functions: a drawing, the text as fallback.

Stage: rendering. Input: a `gn.Graph`, a node, or a compiled function. Output: a MIME
bundle: `image/svg+xml` (the drawing, with the seed's `× 1` left out of gradient graphs) and
`text/plain` (the text form), or the text alone when no Graphviz can draw or the graph is too
large to draw inline.

`install(Function)` gives the three classes their `_repr_mimebundle_`, the method Jupyter looks for.
It is called when graphnn is imported (graphnn.api): the classes live in lower layers, which
may not import the renderer.
"""

from __future__ import annotations

from typing import Any

from graphnn.graph import Graph
from graphnn.ir import Node
from graphnn.render.drawing import RenderError
from graphnn.render.pictures import render
from graphnn.text import without_unit_factors

INLINE_LIMIT = 2000      # nodes: larger graphs show their text only (drawing takes seconds)


def _bundle(graph: Graph, plain: str) -> dict[str, str]:
    if len(graph.nodes) > INLINE_LIMIT:
        return {"text/plain": f"{plain}\n({len(graph.nodes)} nodes: too many to draw inline; "
                              "gn.render(...).save('graph.svg') draws it)"}
    outputs, _ = without_unit_factors(graph.outputs)
    try:
        svg = render(Graph(outputs, inputs=graph.inputs, name=graph.name)).svg()
    except RenderError as error:
        return {"text/plain": f"{plain}\n({error})"}
    return {"image/svg+xml": svg, "text/plain": plain}


def graph_bundle(graph: Graph, include: Any = None, exclude: Any = None) -> dict[str, str]:
    """A Graph: its drawing and its text form (both without the seed's × 1).

    >>> import graphnn as gn
    >>> x = gn.input("x")
    >>> bundle = graph_bundle(gn.Graph(gn.grad(gn.exp(x), [x])))
    >>> sorted(bundle), "mul" in bundle["text/plain"]
    (['image/svg+xml', 'text/plain'], False)
    """
    return _bundle(graph, str(graph))


def node_bundle(node: Node, include: Any = None, exclude: Any = None) -> dict[str, str]:
    """A node: the drawing and text form of the graph computing it."""
    graph = Graph(node)
    return _bundle(graph, f"{node!r}\n{graph}")


def function_bundle(function: Any, include: Any = None, exclude: Any = None) -> dict[str, str]:
    """A compiled function: the drawing and text form of the graph it was compiled from."""
    return _bundle(function.graph, f"{function!r}\n{function.graph}")


def install(function_class: type) -> None:
    """Set `_repr_mimebundle_` on Graph, Node and the compiled function class (passed in:
    the compiler is a layer the renderer does not import); see the module docstring."""
    for cls, bundle in ((Graph, graph_bundle), (Node, node_bundle),
                        (function_class, function_bundle)):
        cls._repr_mimebundle_ = bundle
