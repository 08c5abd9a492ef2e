"""How a drawing looks: the `Style` of a drawing, Graphviz's shared attributes, the legend.

Stage: rendering. Input: the choices of a view (teaching or compact, slide sizes, an
animation frame's paint and focus, a gradient-magnitude scale). Output: Graphviz graph
attributes and the legend's HTML-like label; dot.py writes the nodes and edges.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field

import graphviz

from graphnn.ir import Node
from graphnn.render import labels
from graphnn.render.annotate import Numbers
from graphnn.render.labels import GRADIENT_COLOR, LOCAL_COLOR, MUTED_COLOR, VALUE_COLOR, font
from graphnn.render.layout import PAD
from graphnn.render.magnitude import Scale

GRAPH_ATTRS = {"rankdir": "LR", "fontname": "Helvetica", "bgcolor": "white", "pad": "0.2",
               "nodesep": "0.3", "ranksep": "0.45", "newrank": "true",
               "ordering": "in"}
NODE_ATTRS = {"fontname": "Helvetica", "fontsize": "14", "color": "#424242", "penwidth": "1.2"}
EDGE_ATTRS = {"fontname": "Helvetica", "fontsize": "11", "color": "#757575", "arrowsize": "0.6"}
INPUT_STYLE = {"shape": "box", "style": "rounded,filled", "fillcolor": "#e3f2fd",
               "color": "#1e88e5"}
FOCUS_COLOR = "#ef6c00"       # the node or edge of an animation's current step
Item = tuple[Hashable, ...]    # ("value", node), ("grad", node), ("local" | "flow", node, k)
FORWARD_STYLE = {"color": "#9e9e9e", "fontcolor": "#757575", "style": "rounded,dashed"}


@dataclass
class Style:
    """How to draw a scene.

    `teaching`: numbers and the chain rule on edges (else compact). `gradient_of`: the name
    of the differentiated output in ∂f/∂x. `output_names`: labels of the output arrows.
    `forward`: nodes drawn muted (the forward nodes a gradient graph reuses), explained by
    `note` in the legend. `min_text` raises every text size to at least that many points
    (slides), and `tensor_lines` keeps that many lines of a tensor's value and of its gradient
    (None: all). `rankdir` and `bands` place the ranks, and `pad` (Graphviz's, in inches)
    frames the drawing in a slide's shape (see layout.py). An animation frame sets
    `paint`, which gives the colour of each numbered item (key, colour) -> colour, and `focus`,
    the DOT ids of the node or edge of the current step. `grad_scale` draws each edge's
    width and colour by the magnitude of the gradient flowing along it (magnitude.py).
    """

    digits: int = 2
    teaching: bool = True
    legend: bool = True
    title: str | None = None
    gradient_of: str = "f"
    output_names: Sequence[str] | None = None
    forward: set[Node] = field(default_factory=set)
    note: str | None = None
    min_text: int = 0
    tensor_lines: int | None = None
    rankdir: str = "LR"
    bands: int = 1
    pad: str | None = None
    paint: Callable[[Item, str], str] | None = None
    focus: frozenset[str] = frozenset()
    grad_scale: Scale | None = None


def legend(style: Style, numbers: Numbers) -> str | None:
    """The colour key under a teaching drawing with numbers (and the title above it)."""
    parts = []
    if style.teaching and numbers.values:
        parts.append(font("value", VALUE_COLOR))
        if numbers.grads:
            parts += [font(f"gradient ∂{style.gradient_of}/∂·", GRADIENT_COLOR),
                      font("local derivative", LOCAL_COLOR),
                      font("upstream × local = downstream", GRADIENT_COLOR)]
    if style.note:
        parts.append(font(style.note, MUTED_COLOR))
    lines = [font(style.title, bold=True, size=14)] if style.title else []
    if parts and style.legend:
        lines.append("     ".join(parts))
    if style.grad_scale and style.legend:
        # a label holds text or one table: with the scale, the lines go into its first row
        size = max(11, style.min_text)
        rows = "".join(f'<tr><td colspan="7">{line}</td></tr>' for line in lines)
        return (f'<<table border="0" cellspacing="2">{rows}'
                f'{style.grad_scale.legend(style.gradient_of, size)}</table>>')
    return labels.html_label(lines) if lines else None


def new_graph(name: str, style: Style, numbers: Numbers) -> graphviz.Digraph:
    """An empty left-to-right digraph with the shared attributes and the legend."""
    graph_attrs = dict(GRAPH_ATTRS, rankdir=style.rankdir)
    if style.teaching:
        graph_attrs.update(ranksep="0.5", nodesep="0.35")
    if style.min_text:
        graph_attrs.update(ranksep="0.15", nodesep="0.12", pad=style.pad or str(PAD))
    key = legend(style, numbers)
    if key:
        graph_attrs.update(label=key, labelloc="b", fontsize=str(max(11, style.min_text)))
    return graphviz.Digraph(name, graph_attr=graph_attrs, node_attr=NODE_ATTRS,
                            edge_attr=EDGE_ATTRS)
