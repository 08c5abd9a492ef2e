"""How a drawing looks: the `Style` of a drawing, Graphviz's shared attributes, the legend.

Stage: rendering. Input: the choices of a view (teaching or compact, slide sizes, an
animation frame's paint, focus and caption, a gradient-magnitude scale). Output: Graphviz graph
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


@dataclass(frozen=True)
class Caption:
    """Text under a drawing, in a box of fixed size so that frames with other text keep one
    layout: an animation frame's step words (`lines`, wrapped to `width` points) and its
    number ("3 / 22") at the right. `rows` is how many lines of words the box holds."""

    lines: tuple[str, ...]
    number: str
    width: float
    rows: int
    size: int = 14

    @property
    def line_height(self) -> float:
        return self.size * 1.3


@dataclass
class Style:
    """How to draw a scene.

    `teaching`: numbers and the chain rule on edges (else compact). `gradient_of`: the name
    of the differentiated output in ∂f/∂x. `output_names`: labels of the output arrows.
    `forward`: nodes drawn muted (the forward nodes a gradient graph reuses), explained by
    `note` in the legend. `min_text` raises every text size to at least that many points
    (slides), and `tensor_lines` keeps that many lines of a tensor's value and of its gradient
    (None: all); `formulas` which derivative formulas a tensor's edge carries ("all",
    "telling": not those that are a number, as the 1 of ∂(a + b)/∂a, or "none": a slide of
    a large graph). `rankdir` and `bands` place the ranks (see layout.py). An animation frame
    sets `paint`, which gives the colour of each numbered item (key, colour) -> colour, and `focus`,
    the DOT ids of the node or edge of the current step. `grad_scale` draws each edge's
    width and colour by the magnitude of the gradient flowing along it (magnitude.py).
    `caption` writes text under the legend (a PDF frame's words and number), `pad` sets the
    margins, Graphviz's "x,y" in inches (a slide drawing's frame in a slide's shape, see
    layout.py; a PDF frame's page shape).
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
    formulas: str = "all"
    rankdir: str = "LR"
    bands: int = 1
    paint: Callable[[Item, str], str] | None = None
    focus: frozenset[str] = frozenset()
    grad_scale: Scale | None = None
    caption: Caption | None = None
    pad: str | None = None


def legend_items(style: Style, numbers: Numbers) -> list[tuple[str, str]]:
    """The colour key of a drawing: (text, colour) per kind of number it shows."""
    items = []
    if style.teaching and numbers.values:
        items.append(("value", VALUE_COLOR))
        if numbers.grads:
            items += [(f"gradient ∂{style.gradient_of}/∂·", GRADIENT_COLOR),
                      ("local derivative", LOCAL_COLOR),
                      ("upstream × local = downstream", GRADIENT_COLOR)]
    if style.note:
        items.append((style.note, MUTED_COLOR))
    return items


def legend(style: Style, numbers: Numbers) -> str | None:
    """The colour key under a teaching drawing with numbers (and the title above it)."""
    parts = [font(text, color) for text, color in legend_items(style, numbers)]
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


def captioned(key: str | None, caption: Caption) -> str:
    """The legend label `key` (HTML-like, or none) with the caption's box under it.

    >>> captioned("<value>", Caption(("q = x + y",), "2 / 8", 200, 2)).count("fixedsize")
    2
    """
    size, height = caption.size, caption.line_height
    words = "<br/>".join(font(line, size=size) for line in caption.lines) or font(" ")
    cell = f'fixedsize="true" width="{caption.width:.0f}" height'
    box = ('<table border="0" cellborder="0" cellspacing="0" cellpadding="0">'
           f'<tr><td {cell}="{caption.rows * height:.0f}" align="left" balign="left" '
           f'valign="top">{words}</td></tr>'
           f'<tr><td {cell}="{height:.0f}" align="right">{font(caption.number, size=size)}'
           "</td></tr></table>")
    legend_row = f"<tr><td>{key[1:-1]}</td></tr>" if key else ""
    return f'<<table border="0" cellspacing="4">{legend_row}<tr><td>{box}</td></tr></table>>'


def new_graph(name: str, style: Style, numbers: Numbers) -> graphviz.Digraph:
    """An empty left-to-right digraph with the shared attributes and the legend."""
    graph_attrs = dict(GRAPH_ATTRS, rankdir=style.rankdir)
    if style.teaching:
        graph_attrs.update(ranksep="0.5", nodesep="0.35")
    if style.min_text:
        graph_attrs.update(ranksep="0.15", nodesep="0.12", pad=str(PAD))
    if style.pad is not None:
        graph_attrs.update(pad=style.pad)
    key = legend(style, numbers)
    if style.caption:
        key = captioned(key, style.caption)
    if key:
        graph_attrs.update(label=key, labelloc="b", fontsize=str(max(11, style.min_text)))
    return graphviz.Digraph(name, graph_attr=graph_attrs, node_attr=NODE_ATTRS,
                            edge_attr=EDGE_ATTRS)
