"""What a drawing contains: the nodes, edges, names, clusters and collapsed groups to draw.

Stage: rendering. Input: output nodes. Output: a `Scene`, the drawn graph before any styling.
Composite ops are drawn as the user wrote them (one `mse` node) or expanded into primitives;
scalar constants fold into their gate (1/x, +1, ×-1); nodes built under `gn.scope(...)` form
clusters, and a scope can be collapsed into a single box, which keeps a graph of a few hundred
nodes readable.

    >>> import graphnn as gn
    >>> x = gn.input("x")
    >>> scene = build_scene([1.0 / (1.0 + gn.exp(-x))])
    >>> [(scene.ids[n], scene.folds[n].symbol if n in scene.folds else n.op) for n in scene.drawn]
    [('n1', 'input'), ('n2', 'neg'), ('n3', 'exp'), ('n4', '+1'), ('n5', '1/x')]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from graphnn.errors import OpError, did_you_mean
from graphnn.ir import Node, apply, toposort
from graphnn.render.labels import literal
from graphnn.render.symbols import Fold, fold

Scope = tuple[str, ...]


@dataclass(frozen=True)
class Edge:
    """Operand `position` of `consumer` is `source`."""

    source: Node
    consumer: Node
    position: int


@dataclass
class Scene:
    """The drawn graph. `nodes` are in topological order; ids are "n" + that index."""

    nodes: list[Node]
    outputs: list[Node]
    ids: dict[Node, str]
    names: dict[Node, str]                  # display names: given, literals, made up (mul₁)
    scopes: dict[Node, Scope]               # cluster path of each node
    folds: dict[Node, Fold]
    edges: list[Edge]
    hidden: set[Node]                       # constants folded into every gate that uses them
    groups: dict[Node, Scope] = field(default_factory=dict)   # node -> collapsed scope
    drawn_as: dict[Node, Node] = field(default_factory=dict)  # expanded: original -> drawn
    made_up: set[Node] = field(default_factory=set)           # names given by the drawing

    def node_for(self, node: Node) -> Node:
        """The drawn node standing for `node` of the original graph (expansion rebuilds)."""
        return self.drawn_as.get(node, node)

    @property
    def drawn(self) -> list[Node]:
        """Nodes drawn on their own (not hidden, not inside a collapsed group)."""
        return [n for n in self.nodes if n not in self.hidden and n not in self.groups]

    def fan_out(self, node: Node) -> list[Edge]:
        """The drawn edges leaving `node`, in consumer order."""
        return [e for e in self.edges if e.source is node]


def _rebuild(node: Node, inputs: tuple[Node, ...]) -> Node:
    if all(new is old for new, old in zip(inputs, node.inputs)):
        return node
    return apply(node.op, *inputs, name=node.name, **node.attrs)


def _expand_into(roots: Sequence[Node], mapping: dict[Node, Node], scope: Scope | None,
                 scopes: dict[Node, Scope]) -> None:
    """Map every node under `roots` to its primitive form, composites through their expansion.

    Nodes built here are created outside the user's `gn.scope`, so each result records the
    scope of the node it stands for (for an expansion: the composite's scope).
    """
    for node in toposort(roots, leaves=tuple(mapping)):
        if node in mapping:
            continue
        if node.opdef.composite:
            inner = {i: mapping[i] for i in node.inputs}
            _expand_into([node.expansion()], inner, scope or node.scope, scopes)
            result = inner[node.expansion()]
            result = result.named(node.name) if node.name and result.op != "input" else result
        else:
            result = _rebuild(node, tuple(mapping[i] for i in node.inputs))
        mapping[node] = result
        scopes.setdefault(result, scope if scope is not None else node.scope)


def expand_composites(outputs: Sequence[Node]
                      ) -> tuple[list[Node], dict[Node, Scope], dict[Node, Node]]:
    """Outputs rebuilt from primitives only, each rebuilt node's scope, original -> rebuilt.

    >>> import graphnn as gn
    >>> p, t = gn.input("p", shape=(2,)), gn.input("t", shape=(2,))
    >>> [n.op for n in toposort(expand_composites([gn.mse(p, t)])[0]) if n.inputs]
    ['neg', 'add', 'square', 'mean']
    """
    mapping: dict[Node, Node] = {}
    scopes: dict[Node, Scope] = {}
    _expand_into(outputs, mapping, None, scopes)
    return [mapping[o] for o in outputs], scopes, mapping


_SUBSCRIPTS = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


def _stem(node: Node) -> str:
    """What a made-up name starts with: σ for a one-letter gate, c for an array constant, else
    the op's name."""
    glyph = node.opdef.symbol
    if len(glyph) == 1 and glyph.isalpha() and len(node.inputs) == 1:
        return glyph
    return "c" if node.op == "constant" else node.op


def _display_names(nodes: Sequence[Node]) -> tuple[dict[Node, str], set[Node]]:
    """Display names, and which of them were made up here.

    Inputs and named nodes keep their names, scalar constants are their literal. Every other
    node is called by its op (exp, σ; c for an array constant), with a subscript when the op
    occurs more than once (mul₁, mul₂), so a formula on an edge names the operand it
    differentiates by the node it comes from, never by the gate's placeholder (the x of
    ∂out/∂x could be an input called x).
    """
    names: dict[Node, str] = {}
    for node in nodes:
        if node.name:
            names[node] = node.name
        elif node.op == "constant" and node.shape == ():
            names[node] = literal(node.value)
    unnamed = [n for n in nodes if n not in names]
    stems = [_stem(n) for n in unnamed]
    taken = set(names.values())
    counts: dict[str, int] = {}
    for node, stem in zip(unnamed, stems):
        name = stem
        while name in taken or (name == stem and stems.count(stem) > 1):
            counts[stem] = counts.get(stem, 0) + 1
            name = stem + str(counts[stem]).translate(_SUBSCRIPTS)
        names[node] = name
        taken.add(name)
    return names, set(unnamed)


def _edges_and_hidden(nodes: Sequence[Node], folds: dict[Node, Fold],
                      outputs: Sequence[Node]) -> tuple[list[Edge], set[Node]]:
    edges = []
    used: set[Node] = set(outputs)
    for node in nodes:
        folded = folds.get(node)
        for position, source in enumerate(node.inputs):
            if folded is None or folded.position != position:
                edges.append(Edge(source, node, position))
                used.add(source)
    hidden = {n for n in nodes if n.op == "constant" and n not in used}
    return edges, hidden


def build_scene(outputs: Sequence[Node], expand: bool = False,
                collapse: Sequence[str] | bool = (),
                scopes: Mapping[Node, Scope] | None = None) -> Scene:
    """The scene of `outputs`: composites expanded if asked, scopes in `collapse` collapsed.

    `collapse` names top-level scopes (or True: every scope) to draw as one box each.
    `scopes` overrides the scope of some nodes (the backward clusters of a gradient graph).
    """
    outputs = list(outputs)
    scopes = dict(scopes or {})
    mapping: dict[Node, Node] = {}
    if expand:
        outputs, scopes, mapping = expand_composites(outputs)
    nodes = toposort(outputs)
    for node in nodes:
        scopes.setdefault(node, node.scope)
    folds = {n: f for n in nodes if (f := fold(n)) is not None}
    edges, hidden = _edges_and_hidden(nodes, folds, outputs)
    names, made_up = _display_names([n for n in nodes if n not in hidden])
    scene = Scene(nodes, outputs, {n: f"n{k}" for k, n in enumerate(nodes)}, names, scopes,
                  folds, edges, hidden, drawn_as=mapping, made_up=made_up)
    collapse_scopes(scene, collapse)
    return scene


def collapse_scopes(scene: Scene, collapse: Sequence[str] | bool) -> None:
    """Put the op nodes of each collapsed top-level scope into one group (inputs stay out).

    Inputs stay visible (a layer's weights are what a learner looks for), and so do outputs.
    """
    if collapse is True:
        wanted = {s[0] for s in scene.scopes.values() if s}
    else:
        wanted = set(collapse or ())
        known = top_scopes(scene)
        for name in sorted(wanted - set(known), key=str):
            listed = ", ".join(repr(k) for k in known) or "none (no node was built under " \
                                                            "gn.scope)"
            raise OpError(f"cannot collapse scope {name!r}: the graph's scopes are {listed}"
                          f"{did_you_mean(name, known)}")
    for node in scene.nodes:
        path = scene.scopes[node]
        if path and path[0] in wanted and node.inputs and node not in scene.outputs:
            scene.groups[node] = path[:1]


def top_scopes(scene: Scene) -> list[str]:
    """The top-level scope names of the drawn nodes, in order of first appearance."""
    seen: dict[str, None] = {}
    for node in scene.nodes:
        if scene.scopes[node]:
            seen.setdefault(scene.scopes[node][0], None)
    return list(seen)
