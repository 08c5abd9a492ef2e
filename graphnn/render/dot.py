"""Graphviz DOT source for a scene: the teaching drawing, built with the `graphviz` package.

Stage: rendering. Input: a `Scene` and its `Numbers`. Output: DOT text, deterministic (ids
are the topological index n0, n1, ...; nothing depends on object ids or hash seeds).

The look follows the lecture's slides: left to right, inputs on the left, each output ending
in an arrow to its name. A scalar's forward value (green) and the gradient flowing back along
an edge (red) are written on its outgoing edges, with the local derivative (purple) and the
chain rule, upstream × local = downstream; a node used twice adds its edges' gradients
(written beside it). Tensors are boxes holding their shape, their value and their gradient
(small ones in full, large ones summarized). With `teaching` off, nothing is written on edges
and every node holds its own numbers: the compact form for large graphs.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import graphviz
import numpy as np

from graphnn.ir import Node
from graphnn.render import labels
from graphnn.render.annotate import Numbers
from graphnn.render.labels import (
    GRADIENT_COLOR,
    LOCAL_COLOR,
    MUTED_COLOR,
    VALUE_COLOR,
    font,
    wrapped,
)
from graphnn.render.layout import wrap_rows, write_fold
from graphnn.render.magnitude import magnitude
from graphnn.render.scene import Edge, Scene, top_scopes
from graphnn.render.style import FOCUS_COLOR, FORWARD_STYLE, INPUT_STYLE, Item, Style, new_graph
from graphnn.render.symbols import derivative, symbol


class _Writer:
    """Emits one scene's nodes and edges into a graphviz graph, ids prefixed by `prefix`."""

    def __init__(self, scene: Scene, numbers: Numbers, style: Style, prefix: str = "") -> None:
        self.scene, self.numbers, self.style, self.prefix = scene, numbers, style, prefix
        self.group_ids = {s: f"{prefix}g{k}" for k, s in enumerate(top_scopes(scene))}

    def number(self, value: Any) -> str:
        return labels.format_number(float(np.asarray(value)), self.style.digits)

    def on_edges(self, node: Node) -> bool:
        """Scalars' numbers go on their edges in teaching mode, as on the slides."""
        return self.style.teaching and node.shape == ()

    def node_id(self, node: Node) -> str:
        group = self.scene.groups.get(node)
        return self.group_ids[group[0]] if group else self.prefix + self.scene.ids[node]

    # Nodes ------------------------------------------------------------------------------

    def number_lines(self, node: Node) -> list[str]:
        """A node's value (green) and gradient (red, marked ∇) when held in the node."""
        if self.on_edges(node):
            return self.fan_out_sum(node)
        lines = []
        digits = self.style.digits
        keep = self.style.tensor_lines
        if node in self.numbers.values and node.op != "constant":
            lines += [self.item(("value", node), t, VALUE_COLOR, 12)
                      for t in labels.value_lines(self.numbers.values[node], digits)[:keep]]
        if node in self.numbers.grads:
            grad = labels.value_lines(self.numbers.grads[node], digits)[:keep]
            lines += [self.item(("grad", node), ("∇ " if k == 0 else "") + t, GRADIENT_COLOR, 12)
                      for k, t in enumerate(grad)]
        return lines

    def fan_out_sum(self, node: Node) -> list[str]:
        """For a scalar used more than once: its gradient as the sum of its edges' gradients."""
        flows = [self.numbers.flow[(e.consumer, e.position)] for e in self.scene.fan_out(node)
                 if (e.consumer, e.position) in self.numbers.flow]
        if len(flows) < 2 or node not in self.numbers.grads:
            return []
        terms = " + ".join(self.number(f) for f in flows).replace("+ -", "- ")
        return [self.item(("grad", node), f"∇ {terms} = {self.number(self.numbers.grads[node])}",
                          GRADIENT_COLOR, 11)]

    def font(self, text: str, color: str | None = None, size: int = 14, **kwargs: bool) -> str:
        """labels.font at this style's least text size (slides draw larger text)."""
        return font(text, color, size=max(size, self.style.min_text), **kwargs)

    def item(self, key: Item, text: str, color: str, size: int) -> str:
        """A number of the drawing, which an animation frame may show or hide (`paint`)."""
        paint = self.style.paint
        return self.font(text, paint(key, color) if paint else color, size)

    def shown_name(self, node: Node) -> str | None:
        """The name written under a node's symbol: its own, or in teaching mode the name its
        edges' formulas call it by."""
        if node.name:
            return node.name
        cited = self.style.teaching and self.numbers.carries_gradient
        return self.scene.names.get(node) if cited else None

    def label(self, node: Node) -> str:
        shape = labels.shape_text(node.shape)
        name = self.shown_name(node)
        if node.op == "input":
            head = [self.font(node.name, bold=True)]
        elif node.op == "constant":
            title = f"{name or 'constant'} {shape}".strip()
            head = [self.font(title, MUTED_COLOR, size=10, italic=True)]
            head += [self.font(t, MUTED_COLOR, size=12)
                     for t in labels.value_lines(node.value, self.style.digits)
                     [:self.style.tensor_lines]]
        else:
            head = [self.font(symbol(node), size=16)]
            if name:
                head.append(self.font(name, MUTED_COLOR, size=11, italic=True))
        if shape and node.op != "constant":
            head.append(self.font(shape, MUTED_COLOR, size=10))
        return labels.html_label(head + self.number_lines(node))

    def node_attrs(self, node: Node) -> dict[str, str]:
        if node.op == "input":
            attrs = dict(INPUT_STYLE)
        elif node.op == "constant":
            attrs = {"shape": "plaintext"}
        elif self.on_edges(node) and not node.name and not self.fan_out_sum(node):
            attrs = {"shape": "circle", "margin": "0.04"}      # a gate of the lecture
        elif self.on_edges(node):
            attrs = {"shape": "ellipse", "margin": "0.06,0.02"}
        else:
            attrs = {"shape": "box", "style": "rounded"}
        if node in self.style.forward and node.inputs:
            attrs.update(FORWARD_STYLE)
        attrs["label"] = self.label(node)
        attrs["tooltip"] = node.describe()
        attrs["id"] = self.prefix + self.scene.ids[node]
        if attrs["id"] in self.style.focus:
            attrs.update(color=FOCUS_COLOR, penwidth="3")
        return attrs

    def group_attrs(self, scope: str) -> dict[str, str]:
        """A collapsed scope: its name, how many ops of which kinds, the shapes it outputs."""
        members = [n for n, s in self.scene.groups.items() if s[0] == scope]
        ops: dict[str, None] = {}
        for node in members:
            ops.setdefault(symbol(node), None)
        leaving = {e.source for e in self.scene.edges if e.source in members
                   and self.scene.groups.get(e.consumer) != (scope,)}
        shapes = [labels.shape_text(n.shape) or "scalar" for n in members if n in leaving]
        symbols = list(ops)[:8] + (["…"] if len(ops) > 8 else [])
        # a slide's text is large: the lists wrap, so the box is not the widest of its rank
        per_line = (3, 2) if self.style.min_text else (len(symbols), len(shapes))
        text = [f"{len(members)} ops:"] + wrapped(symbols, per_line[0], " ")
        if shapes:
            text += wrapped([f"→ {shapes[0]}"] + shapes[1:], per_line[1], ", ")
        if not self.style.min_text:                 # one line each, as ever
            text = [f"{text[0]} {text[1]}", *text[2:]]
        lines = [self.font(scope, bold=True)]
        lines += [self.font(t, MUTED_COLOR, size=10) for t in text]
        return {"shape": "box3d", "label": labels.html_label(lines),
                "tooltip": f"scope {scope}: {len(members)} ops (collapsed)"}

    # Edges ------------------------------------------------------------------------------

    def local_line(self, edge: Edge) -> str | None:
        key = (edge.consumer, edge.position)
        if key not in self.numbers.carries_gradient:
            return None
        text = derivative(edge.consumer, edge.position, self.scene.names,
                          gradient_of=self.style.gradient_of)
        shown = self.style.formulas
        if edge.source.shape != () and (shown == "none" or
                                        shown == "telling" and _is_number(text.formula)):
            return None
        line = f"{text.symbol} = {text.formula}"
        if key in self.numbers.local and not _is_number(text.formula):
            line += f" = {self.number(self.numbers.local[key])}"
        return self.item(("local", *key), line, LOCAL_COLOR, 10)

    def flow_line(self, edge: Edge) -> str | None:
        key = (edge.consumer, edge.position)
        if key not in self.numbers.flow or edge.source.shape != ():
            return None
        down = self.number(self.numbers.flow[key])
        if key in self.numbers.local and edge.consumer in self.numbers.grads:
            up = self.number(self.numbers.grads[edge.consumer])
            local = self.number(self.numbers.local[key])
            # the lecture's rounded numbers, with ≈ where they do not multiply to the shown
            # result (0.20 × 2.00 ≈ 0.39: the exact factor is 0.1966); the step-through's
            # words give the digits that make it exact
            sign = "=" if self.number(float(up) * float(local)) == down else "≈"
            return self.item(("flow", *key), f"{_operand(up)} × {_operand(local)} {sign} {down}",
                             GRADIENT_COLOR, 11)
        return self.item(("flow", *key), down, GRADIENT_COLOR, 11)

    def edge_label(self, edge: Edge) -> str | None:
        if not self.style.teaching or edge.consumer in self.scene.groups:
            return None
        lines = []
        if self.on_edges(edge.source) and edge.source in self.numbers.values:
            lines.append(self.item(("value", edge.source),
                                   self.number(self.numbers.values[edge.source]), VALUE_COLOR, 11))
        lines += [line for line in (self.local_line(edge), self.flow_line(edge)) if line]
        return labels.html_label(lines) if lines else None

    def edge_attrs(self, edge: Edge) -> dict[str, str]:
        key = (edge.consumer, edge.position)
        scale = self.style.grad_scale
        stroke = scale.edge(magnitude(self.numbers.flow[key])) \
            if scale and key in self.numbers.flow else {}
        return {**self.label_attrs(edge), **stroke}

    def label_attrs(self, edge: Edge) -> dict[str, str]:
        label = self.edge_label(edge)
        if label:
            return {"label": label}
        op, count = edge.consumer.opdef, len(edge.consumer.inputs)
        if (count == 2 or op.variadic and count > 1) and not op.commutative and \
                not self.style.teaching:
            return {"headlabel": op.input_names(count)[edge.position],
                    "fontsize": str(max(9, self.style.min_text)),
                    "fontcolor": MUTED_COLOR}
        return {}

    def output_label(self, k: int, node: Node) -> tuple[dict[str, str], dict[str, str]]:
        """The output's name, and the arrow to it carrying its value (and gradient 1)."""
        names = self.style.output_names
        name = names[k] if names else node.name or (
            "output" if len(self.scene.outputs) == 1 else f"output {k}")
        lines = []
        if self.on_edges(node) and node in self.numbers.values:
            lines.append(self.item(("value", node), self.number(self.numbers.values[node]),
                                   VALUE_COLOR, 11))
            if k == 0 and self.numbers.grads:
                lines.append(self.item(("grad", node), self.number(1.0), GRADIENT_COLOR, 11))
        edge = {"label": labels.html_label(lines)} if lines else {}
        if k == 0 and self.style.grad_scale and self.numbers.grads:
            edge.update(self.style.grad_scale.edge(1.0))           # |∂f/∂f| = 1
        return {"shape": "plaintext",
                "label": labels.html_label([self.font(name, bold=True)])}, edge

    # Assembly ---------------------------------------------------------------------------

    def write(self, graph: graphviz.Digraph) -> None:
        tree, attrs = self.node_tree()
        shared = self.shared_leaves()
        for node in shared:
            tree[self.scene.scopes[node]].remove(self.node_id(node))
        links: list[tuple[str, str, dict[str, str]]] = []
        seen: set[tuple[str, str]] = set()
        for k, edge in enumerate(self.scene.edges):
            if edge.source in self.scene.hidden:
                continue
            tail, head = self.node_id(edge.source), self.node_id(edge.consumer)
            if edge.source in shared:
                tail = self.copy_of(edge.source, self.scene.scopes[edge.consumer], tree, attrs)
            grouped = edge.source in self.scene.groups or edge.consumer in self.scene.groups
            if tail == head or (grouped and (tail, head) in seen):
                continue
            seen.add((tail, head))
            edge_attrs = self.edge_attrs(edge)
            if _between_clusters(self.scene.scopes[edge.source], self.scene.scopes[edge.consumer]):
                # a layer's weights sit one rank before its first op; a longer edge from the
                # previous layer keeps the two clusters' ranks apart, so layers line up left
                # to right instead of stepping down the page
                edge_attrs["minlen"] = "2"
            where = _common(self.scene.scopes[edge.source], self.scene.scopes[edge.consumer])
            links += self.link(f"{self.prefix}e{k}", tail, head, edge_attrs, tree, attrs, where)
        for k, node in enumerate(self.scene.outputs):
            terminal, arrow = self.output_label(k, node)
            attrs[f"{self.prefix}out{k}"] = terminal
            tree[()].append(f"{self.prefix}out{k}")
            links += self.link(f"{self.prefix}o{k}", self.node_id(node), f"{self.prefix}out{k}",
                               arrow, tree, attrs, ())
        sequences = _sequence_clusters(tree)
        # on a slide, a layer holding time steps (an nn.RNN's rnn1) draws no box of its own:
        # Graphviz would order the steps inside it freely, and its margins cost text size
        flat = {path[:-1] for path in sequences.values()} - {()} if self.style.min_text \
            else set()
        self.write_cluster(graph, (), tree, attrs, flat)
        fold = wrap_rows([i for ids in tree.values() for i in ids],
                         [(tail, head) for tail, head, _ in links], self.style.bands, sequences)
        write_fold(graph, links, fold, self.prefix)

    def shared_leaves(self) -> set[Node]:
        """On a slide, the inputs used in two or more clusters of their own cluster (an
        unrolled RNN's W_hh in every time step): each is drawn once in every cluster that
        uses it, so no edge from one shared weight runs across the drawing to every step."""
        if not self.style.min_text:
            return set()
        used: dict[Node, set[tuple[str, ...]]] = {}
        for edge in self.scene.edges:
            if edge.source.op == "input" and edge.source not in self.scene.outputs:
                used.setdefault(edge.source, set()).add(self.scene.scopes[edge.consumer])
        return {node for node, scopes in used.items()
                if len(scopes) > 1 and all(len(s) > len(self.scene.scopes[node]) and
                                           s[:len(self.scene.scopes[node])] ==
                                           self.scene.scopes[node] for s in scopes)}

    def copy_of(self, node: Node, where: tuple[str, ...],
                tree: dict[tuple[str, ...], list[str]], attrs: dict[str, dict[str, str]]) -> str:
        """The id of `node`'s copy drawn in the cluster `where` (made on first use)."""
        copy_id = f"{self.node_id(node)}_{'_'.join(where)}"
        if copy_id not in attrs:
            attrs[copy_id] = {**attrs[self.node_id(node)], "id": copy_id}
            tree.setdefault(where, []).append(copy_id)
        return copy_id

    def link(self, edge_id: str, tail: str, head: str, edge_attrs: dict[str, str],
             tree: dict[tuple[str, ...], list[str]], attrs: dict[str, dict[str, str]],
             where: tuple[str, ...]) -> list[tuple[str, str, dict[str, str]]]:
        """An edge; one with a label becomes two, through a node holding the label.

        Graphviz places an edge label beside its edge, sometimes nearer another edge; a
        label node on the edge's own path can only be read as that edge's.
        """
        label = edge_attrs.pop("label", None)
        focus = {"color": FOCUS_COLOR, "penwidth": "3"} if edge_id in self.style.focus else {}
        if label is None:
            return [(tail, head, {"id": edge_id, **edge_attrs, **focus})]
        stroke = {k: v for k, v in edge_attrs.items() if k in ("color", "penwidth", "style")}
        # the edge enters and leaves the label at opposite sides, so it runs through the
        # label's middle; a margin keeps other edges clear of the label's outer lines
        # (the margin is small where the edge meets the label, so it reaches the text)
        into, out, margin = ("n", "s", "0.15,0.03") if self.style.rankdir == "TB" \
            else ("w", "e", "0.04,0.15")
        attrs[edge_id] = {"shape": "box", "penwidth": "0", "margin": margin,
                          "label": label, "id": edge_id}
        tree.setdefault(where, []).append(edge_id)
        return [(tail, edge_id, {"id": edge_id + "a", "arrowhead": "none", "headport": into,
                                 **edge_attrs, **focus}),
                (edge_id, head, {"id": edge_id + "b", "tailport": out, **stroke, **focus})]

    def node_tree(self) -> tuple[dict[tuple[str, ...], list[str]], dict[str, dict[str, str]]]:
        """Node ids by the cluster path they are drawn in, and their attributes; a collapsed
        scope is one box in its cluster."""
        tree: dict[tuple[str, ...], list[str]] = {(): []}
        attrs = {self.prefix + self.scene.ids[n]: self.node_attrs(n) for n in self.scene.drawn}
        for scope, group_id in self.group_ids.items():
            if (scope,) in self.scene.groups.values():
                attrs[group_id] = self.group_attrs(scope)
                tree.setdefault((scope,), []).append(group_id)
        for node in self.scene.drawn:
            path = self.scene.scopes[node]
            for depth in range(1, len(path) + 1):
                tree.setdefault(path[:depth], [])
            tree[path].append(self.prefix + self.scene.ids[node])
        return tree, attrs

    def write_cluster(self, graph: graphviz.Digraph, path: tuple[str, ...],
                      tree: Mapping[tuple[str, ...], list[str]],
                      attrs: Mapping[str, dict[str, str]],
                      flat: Collection[tuple[str, ...]] = ()) -> None:
        """The nodes of cluster `path` and its clusters, in `graph`; those in `flat` are
        written without a box, their nodes and clusters straight into `graph`."""
        for node_id in tree[path]:
            graph.node(node_id, **attrs[node_id])
        children = [p for p in tree if len(p) == len(path) + 1 and p[:len(path)] == path]
        if self.style.min_text:
            # time steps in order (step2 before step10): Graphviz keeps the order it is
            # given where it can, and a slide's folded bands follow it
            children.sort(key=lambda p: [int(w) if w.isdigit() else w
                                         for w in re.split(r"(\d+)", p[-1])])
        for child in children:
            if child in flat:
                self.write_cluster(graph, child, tree, attrs, flat)
                continue
            name = f"cluster_{self.prefix}{'_'.join(child)}"
            with graph.subgraph(name=name) as cluster:
                # a slide's titles go to a corner: on the right left to right, where no
                # edge enters; on the left top to bottom
                corner = "r" if self.style.rankdir == "LR" else "l"
                left = {"labeljust": corner} if self.style.min_text else {}
                cluster.attr(label=child[-1], labelloc="t", fontname="Helvetica", **left,
                             fontsize=str(max(12, self.style.min_text)),
                             style="rounded,dashed", color="#9e9e9e",
                             fontcolor=MUTED_COLOR)
                self.write_cluster(cluster, child, tree, attrs, flat)


def _sequence_clusters(tree: Mapping[tuple[str, ...], list[str]]) -> dict[str, tuple[str, ...]]:
    """The cluster of each node drawn in a cluster of a sequence: three or more clusters in
    one parent named by one stem and a number (the time steps step0, step1, ... of an
    unrolled RNN), which a slide's bands keep whole. Other clusters (an MLP's layers) are cut
    by rank alone."""
    siblings: dict[tuple[str, ...], int] = {}
    numbered = [p for p in tree if p and re.fullmatch(r"\D+\d+", p[-1])]
    for path in numbered:       # step0, step1, ...: one stem, numbered
        stem = path[:-1] + (path[-1].rstrip("0123456789"),)
        siblings[stem] = siblings.get(stem, 0) + 1
    return {node_id: path for path in numbered for node_id in tree[path]
            if siblings[path[:-1] + (path[-1].rstrip("0123456789"),)] >= 3}


def _between_clusters(source: tuple[str, ...], consumer: tuple[str, ...]) -> bool:
    """Whether an edge joins two sibling clusters (neither scope contains the other)."""
    if not source or not consumer:
        return False
    depth = min(len(source), len(consumer))
    return source[:depth] != consumer[:depth]


def _common(source: tuple[str, ...], consumer: tuple[str, ...]) -> tuple[str, ...]:
    """The innermost cluster holding both ends of an edge (where its label node goes)."""
    depth = 0
    while depth < min(len(source), len(consumer)) and source[depth] == consumer[depth]:
        depth += 1
    return source[:depth]


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _operand(text: str) -> str:
    """A factor of a product: negative numbers in parentheses, 0.20 × (-1.00)."""
    return f"({text})" if text.startswith("-") else text


def scene_source(scene: Scene, numbers: Numbers, style: Style, name: str = "f") -> str:
    """The DOT text of one scene.

    >>> import graphnn as gn
    >>> from graphnn.render.annotate import annotate
    >>> from graphnn.render.scene import build_scene
    >>> x = gn.input("x")
    >>> scene = build_scene([gn.exp(x)])
    >>> numbers = annotate(scene.nodes, scene.edges, scene.outputs[0], {"x": 0.0}, [x])
    >>> source = scene_source(scene, numbers, Style(legend=False))
    >>> [line.split(" [")[0].strip() for line in source.splitlines()[4:]]
    ['n0', 'n1', 'e0', 'out0', 'o0', 'n0 -> e0', 'e0 -> n1', 'n1 -> o0', 'o0 -> out0', '}']
    >>> "∂exp/∂x = exp = 1.00" in source and "1.00 × 1.00 = 1.00" in source
    True

    A labelled edge runs through a node holding its label (e0, o0), so the label can only
    be read as its own edge's.
    """
    graph = new_graph(name, style, numbers)
    _Writer(scene, numbers, style).write(graph)
    return graph.source


def comparison_source(panels: Sequence[tuple[str, Scene, Numbers]], style: Style,
                      name: str = "comparison") -> str:
    """Scenes one above the other, each in a titled cluster (before and after a pass, say)."""
    graph = new_graph(name, style, panels[0][2] if panels else Numbers())
    # written last to first: dot turned left to right draws the first cluster lowest
    for k, (title, scene, numbers) in reversed(list(enumerate(panels))):
        with graph.subgraph(name=f"cluster_panel{k}") as panel:
            panel.attr(label=title, labelloc="t", fontname="Helvetica", fontsize="14",
                       style="rounded", color="#bdbdbd")
            _Writer(scene, numbers, style, prefix=f"p{k}_").write(panel)
    return graph.source
