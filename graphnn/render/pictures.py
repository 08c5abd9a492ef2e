"""Teaching renders with Graphviz: `render`, `compare`, and saving them (`write_picture`,
`save_pictures`; the command line's drawing commands are graphnn/cli/render.py).

Stage: rendering. Input: output nodes or a Graph, optional input values and the nodes to
differentiate with respect to. Output: a `Rendering` (DOT source, saved as SVG, PNG, PDF or
DOT, displayed in Jupyter).

Views: "forward" (default) draws the graph as written, annotated with values and gradients;
"gradient" draws the gradient graph `gn.grad` built, its reused forward nodes muted;
"optimized" draws the graph (with its gradients) before and after `gn.optimize`. `compare`
puts any graphs side by side.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from graphnn.autodiff import grad
from graphnn.errors import GraphnnError, OpError
from graphnn.graph import Graph, reached_inputs
from graphnn.ir import Node, toposort
from graphnn.passes import optimize
from graphnn.render.annotate import Numbers, annotate, backward_scopes
from graphnn.render.display import carry_scopes
from graphnn.render.dot import comparison_source, scene_source
from graphnn.render.drawing import Rendering, backend, draw
from graphnn.render.layout import LAYOUTS, SLIDE_TEXT, fit_to_slide
from graphnn.render.magnitude import Scale, magnitude
from graphnn.render.scene import Scene, build_scene
from graphnn.render.style import Style
from graphnn.text import without_unit_factors

TEACHING_LIMIT = 40       # up to this many drawn nodes, edges carry the chain rule
MAX_NODES = 150           # beyond this many, scopes collapse into one box each

Feed = Mapping[str | Node, Any] | None
Outputs = Node | Sequence[Node] | Graph


def _outputs(outputs: Outputs) -> tuple[list[Node], str]:
    if isinstance(outputs, Graph):
        return list(outputs.outputs), outputs.name
    nodes = [outputs] if isinstance(outputs, Node) else list(outputs)
    if not nodes or not all(isinstance(n, Node) for n in nodes):
        raise OpError("render takes a graph node, a list of nodes or a Graph")
    return nodes, "f"


def _wrt(root: Node, grads: bool | Node | Sequence[Node] | None) -> list[Node]:
    """The nodes to differentiate with respect to: True means every input of the output."""
    if grads is None or grads is False:
        return []
    if grads is True:
        return reached_inputs(toposort([root]))
    nodes = [grads] if isinstance(grads, Node) else list(grads)
    if not all(isinstance(n, Node) for n in nodes):
        raise OpError("grads must be True, a node or a list of nodes (the wrt of gn.grad)")
    return nodes


def _scene(outputs: list[Node], expand: bool, collapse: Sequence[str] | bool,
           max_nodes: int, scopes: Mapping[Node, tuple[str, ...]] | None = None) -> Scene:
    scene = build_scene(outputs, expand=expand, collapse=collapse, scopes=scopes)
    if not collapse and len(scene.drawn) > max_nodes:
        scene = build_scene(outputs, expand=expand, collapse=True, scopes=scopes)
    return scene


def _style(scene: Scene, teaching: bool | None, layout: str = "lecture", **fields: Any) -> Style:
    if layout not in LAYOUTS:
        raise OpError(f"unknown layout {layout!r}; the layouts are {', '.join(LAYOUTS)}")
    if teaching is None:
        teaching = len(scene.drawn) <= TEACHING_LIMIT
    return Style(teaching=teaching, min_text=SLIDE_TEXT if layout == "slide" else 0, **fields)


def arranged(scene: Scene, numbers: Numbers, style: Style, name: str,
             framed: bool = False) -> Style:
    """`style` with its ranks placed: a slide style (min_text set) is arranged to fit 16:9
    (layout.py), measured on drawings of `scene`; any other is returned as it is. `framed`
    also pads the drawing to a slide's shape (a picture; an animation shapes its own pages)."""
    if not style.min_text:
        return style
    fields = fit_to_slide(
        lambda rankdir, bands, lines, formulas="all": scene_source(
            scene, numbers, replace(style, rankdir=rankdir, bands=bands, tensor_lines=lines,
                                    formulas=formulas), name),
        _trial if backend() else None)
    if not framed:
        fields.pop("pad", None)
    return replace(style, **fields)


def _trial(source: str) -> tuple[str, list[str]]:
    """A trial drawing for a slide arrangement: its SVG and what Graphviz complained of."""
    heard: list[str] = []
    return draw(source, "svg", heard=heard).decode(), heard


def scene_dot(scene: Scene, numbers: Numbers, style: Style, name: str) -> str:
    """DOT for a scene, arranged and framed for a slide when the style asks for one."""
    return scene_source(scene, numbers, arranged(scene, numbers, style, name, framed=True),
                        name)


def render(outputs: Outputs, feed: Feed = None, grads: bool | Node | Sequence[Node] | None = None,
           view: str = "forward", expand: bool = False, *,
           collapse: Sequence[str] | bool = (), teaching: bool | None = None, digits: int = 2,
           title: str | None = None, legend: bool = True, max_nodes: int = MAX_NODES,
           layout: str = "lecture", raw: bool = False, grad_scale: bool = False) -> Rendering:
    """Draw a graph for teaching: values, gradients and the chain rule on its edges.

    `feed` gives input values (names or input nodes to values); `grads` the nodes to take the
    gradient of the first output (a scalar) with respect to, or True for all its inputs.
    `view` is "forward", "gradient" (the graph gn.grad builds) or "optimized" (the graph, with
    its gradients if grads are given, before and after gn.optimize). `expand` draws composite
    ops (mse, softmax, ...) as their primitives. Nodes built under `gn.scope(name)` are drawn
    in a cluster; `collapse` (scope names, or True) draws a scope as one box, as happens by
    itself past `max_nodes`. `teaching` (default: for small graphs) writes numbers and
    derivatives on edges; `digits` is the number of decimals shown. `layout` "slide" arranges
    the drawing for a 16:9 slide with text at least 14 px high at 1280x720 (layout.py), where
    "lecture" (default) draws left to right. The gradient view leaves out the seed's `× 1`
    unless `raw`. `grad_scale` draws each edge's width and colour by the magnitude of the
    gradient flowing along it, on a log scale with a legend (needs feed and grads).

    >>> import graphnn as gn
    >>> x, y, z = gn.input("x"), gn.input("y"), gn.input("z")
    >>> f = gn.mul(x + y, z, name="f")
    >>> r = render(f, feed={"x": -2.0, "y": 5.0, "z": -4.0}, grads=True)
    >>> "-12.00" in r.source and "(-4.00) = -4.00" in r.source
    True
    """
    nodes, name = _outputs(outputs)
    view_of = _VIEWS.get(view)
    if view_of is None:
        raise OpError(f"unknown view {view!r}; the views are {', '.join(VIEWS)}")
    return view_of(nodes, name, feed, _wrt(nodes[0], grads), expand=expand, collapse=collapse,
                teaching=teaching, max_nodes=max_nodes, digits=digits, title=title,
                legend=legend, layout=layout, raw=raw, grad_scale=grad_scale)


def _forward_view(nodes: list[Node], name: str, feed: Feed, wrt: list[Node], *, expand: bool,
                  collapse: Sequence[str] | bool, teaching: bool | None, max_nodes: int,
                  raw: bool, grad_scale: bool, **style: Any) -> Rendering:
    """The graph as written, with values, gradients and the chain rule."""
    scene = _scene(nodes, expand, collapse, max_nodes)
    numbers = annotate(scene.nodes, scene.edges, scene.outputs[0], feed,
                       [scene.node_for(w) for w in wrt])
    if grad_scale:
        if not numbers.flow:
            raise GraphnnError("grad_scale draws the gradients' magnitudes: it needs feed "
                               "(the input values) and grads (what to differentiate by)")
        flows = {key: magnitude(value) for key, value in numbers.flow.items()}
        style["grad_scale"] = Scale.of({**flows, "seed": 1.0})
    result = _style(scene, teaching, gradient_of=nodes[0].name or "f", **style)
    return Rendering(scene_dot(scene, numbers, result, name), name)


def _gradient_view(nodes: list[Node], name: str, feed: Feed, wrt: list[Node], *, expand: bool,
                   collapse: Sequence[str] | bool, teaching: bool | None, max_nodes: int,
                   raw: bool, grad_scale: bool, **style: Any) -> Rendering:
    """The gradient graph: one output arrow per ∂f/∂w, forward nodes it reuses muted."""
    if not wrt:
        raise GraphnnError("the gradient view needs grads: the nodes to differentiate with "
                           "respect to (or grads=True for every input)")
    root = nodes[0]
    gradients = grad(root, wrt)
    scopes = backward_scopes(root, wrt)
    if not raw:
        gradients, shown = without_unit_factors(gradients)
        scopes = carry_scopes(scopes, shown)
    if style.get("layout") == "slide" and not collapse:
        # a slide shows the backward pass; each forward layer it reuses is one box
        drawn = {scopes.get(n, n.scope) for n in toposort(list(gradients))}
        collapse = sorted({n.scope[0] for n in toposort([root]) if n.scope}
                          & {s[0] for s in drawn if s})
    scene = _scene(list(gradients), expand, collapse, max_nodes, scopes)
    numbers = annotate(scene.nodes, scene.edges, scene.outputs[0], feed)
    forward = set(toposort([root])) & set(scene.nodes)
    result = _style(scene, teaching, output_names=_gradient_names(root, wrt), forward=forward,
                    gradient_of=root.name or "f",
                    note="dashed: forward nodes the gradient reuses", **style)
    return Rendering(scene_dot(scene, numbers, result, f"{name}_gradient"), f"{name}_gradient")


def _gradient_names(root: Node, wrt: Sequence[Node]) -> list[str]:
    f = root.name or "f"
    return [f"∂{f}/∂{w.name or 'x' + str(k)}" for k, w in enumerate(wrt)]


def _optimized_view(nodes: list[Node], name: str, feed: Feed, wrt: list[Node], *,
                    expand: bool, collapse: Sequence[str] | bool, teaching: bool | None,
                    max_nodes: int, raw: bool, layout: str, grad_scale: bool,
                    **style: Any) -> Rendering:
    """The graph (and its gradients, with grads) as built and after gn.optimize: raw,
    since what the optimizer removes is the point (left to right, a layout of its own)."""
    if collapse:
        raise OpError("the optimized view draws every op (it compares them); collapse is for "
                      "the forward and gradient views")
    names = [n.name or (f"output {k}" if len(nodes) > 1 else "output")
             for k, n in enumerate(nodes)]
    if wrt:
        nodes = nodes + list(grad(nodes[0], wrt))
        names += _gradient_names(nodes[0], wrt)
    before = Graph(nodes, name=name)
    after = optimize(before)
    titles = [f"{what}: {sum(1 for n in g.nodes if n.inputs)} ops"
              for what, g in (("as built", before), ("optimized", after))]
    return compare([before, after], titles, feed, expand=expand, teaching=teaching,
                   output_names=names, **style)


_VIEWS = {"forward": _forward_view, "gradient": _gradient_view, "optimized": _optimized_view}
VIEWS = tuple(_VIEWS)


def compare(graphs: Sequence[Outputs], titles: Sequence[str] | None = None, feed: Feed = None,
            *, expand: bool = False, teaching: bool | None = None,
            output_names: Sequence[str] | None = None, **style: Any) -> Rendering:
    """Graphs side by side in titled boxes, each with its values: before and after a pass.

    `style` takes render's digits, title and legend.

    >>> import graphnn as gn
    >>> x = gn.input("x")
    >>> r = compare([x * 1.0 + 0.0, x], ["before", "after"], feed={"x": 3.0})
    >>> "cluster_panel1" in r.source
    True
    """
    titles = list(titles) if titles else [f"graph {k}" for k in range(len(graphs))]
    panels = []
    for title, outputs in zip(titles, graphs, strict=True):
        nodes, _ = _outputs(outputs)
        scene = build_scene(nodes, expand=expand)
        panels.append((title, scene, annotate(scene.nodes, scene.edges, scene.outputs[0], feed)))
    largest = max(panels, key=lambda p: len(p[1].drawn))[1]
    result = _style(largest, teaching, output_names=output_names, **style)
    return Rendering(comparison_source(panels, result), "comparison")


def write_picture(outputs: Outputs, path: str | os.PathLike, **options: Any) -> Path:
    """Render (options as for `render`) and save to `path` by its suffix; the absolute path.

    >>> import graphnn as gn, tempfile, os
    >>> x = gn.input("x")
    >>> out = write_picture(gn.sigmoid(x), os.path.join(tempfile.mkdtemp(), "s.dot"))
    >>> out.read_text().startswith("digraph")
    True
    """
    return render(outputs, **options).save(path).resolve()


def save_pictures(renderings: Mapping[str, Rendering], argv: Sequence[str] | None = None
                  ) -> list[Path]:
    """Save named renderings as `<name>.svg` (and .png with --png); the paths written.

    For the examples' command line, `[DIRECTORY] [--png]`: the directory defaults to
    $GRAPHNN_OUT, else `out` (ignored by git).

    >>> import graphnn as gn, tempfile
    >>> r = render(gn.input("x") * 2.0)
    >>> [p.name for p in save_pictures({"double": r}, [tempfile.mkdtemp()])]
    ['double.svg']
    """
    args = list(sys.argv[1:] if argv is None else argv)
    png = "--png" in args
    places = [a for a in args if a != "--png"]
    if len(places) > 1 or any(a.startswith("-") for a in places):
        raise GraphnnError(f"usage: [DIRECTORY] [--png], got {' '.join(args)}")
    directory = Path(places[0] if places else os.environ.get("GRAPHNN_OUT", "out"))
    suffixes = (".svg", ".png") if png else (".svg",)
    return [renderings[name].save(directory / (name + suffix))
            for name in renderings for suffix in suffixes]
