"""`gn.animate`: backpropagation step by step, as a web page, a PDF or numbered pictures.

Stage: rendering. Input: output nodes, a Graph or a compiled function, input values, the
nodes to differentiate with respect to. Output: an `Animation`, its `frames` (steps.py) over
one drawing. Every frame is that drawing with the numbers of later steps left out: their
text is still laid out, in transparent ink, so nothing moves from one frame to the next.

- `.save("x.html")`: one self-contained page (page.py) with previous, next and play
  controls, the arrow keys, a frame counter and the current step in words; its drawing is
  arranged for the page's wide box under the controls, not for a 16:9 slide;
- `.save("x.pdf")`: one 16:9 page per frame, for slides, with the step in words and the
  frame's number ("3 / 22") under the drawing;
- `.save("dir/", format="svg" | "png")`: the frames as frame_01.svg, frame_02.svg, ...
"""

from __future__ import annotations

import os
import re
import textwrap
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from graphnn.errors import GraphnnError, OpError
from graphnn.graph import Graph
from graphnn.ir import Node
from graphnn.render.annotate import annotate
from graphnn.render.dot import scene_source
from graphnn.render.drawing import RenderError, Rendering, draw
from graphnn.render.layout import CANDIDATES, drawn_edges, slide_text_height, svg_size
from graphnn.render.page import ItemColors, page
from graphnn.render.pdf import merge_pdfs, page_size
from graphnn.render.pictures import Feed, _outputs, _style, _wrt, arranged
from graphnn.render.scene import Scene, build_scene
from graphnn.render.steps import Frame, frames
from graphnn.render.style import Caption, Item, Style, legend_items

HIDDEN = "transparent"
SLIDE_RATIO = 16 / 9      # a PDF frame's page: width over height
# the step-through page's box for its drawing in a 1280x540 window (a laptop's browser): the
# window less the page's margins (16 px a side), its two lines of controls and words
PAGE_BOX = (1248, 450)
CHARACTER_WIDTH = 0.6     # of a caption character, in ems: wide enough for Helvetica's widest


class Animation:
    """The frames of a step-through of one drawing (see the module docstring)."""

    def __init__(self, scene: Scene, style: Style, numbers: Any, name: str) -> None:
        self.scene, self.style, self.name = scene, style, name
        self.numbers = numbers
        self.frames: list[Frame] = frames(scene, numbers, style.digits, style.gradient_of)

    def source(self, k: int, **fields: Any) -> str:
        """The DOT text of frame k (0-based): numbers not yet computed are transparent.
        `fields` change the style further (a PDF page's caption and pad)."""
        frame = self.frames[k]
        shown = frame.shown
        style = replace(self.style, focus=frame.focus,
                        paint=lambda key, color: color if key in shown else HIDDEN, **fields)
        return scene_source(self.scene, self.numbers, style, self.name)

    def pdf(self) -> bytes:
        """One 16:9 page per frame: the drawing, the step in words under it and the frame's
        number ("3 / 22"). Every page has one size and one layout: the words sit in a box as
        wide as the page, with as many lines as the longest step needs."""
        bare = svg_size(draw(self.source(0, pad="0,0"), "svg").decode())
        width = max(bare[0], bare[1] * SLIDE_RATIO)
        count = len(self.frames)
        captions = [_caption(f.words, f"{f.index + 1} / {count}", width) for f in self.frames]
        rows = max(len(c.lines) for c in captions)
        captions = [replace(c, rows=rows) for c in captions]
        # the page Graphviz makes (drawing, words and its own margin) widened or heightened
        page = page_size(draw(self.source(0, caption=captions[0], pad="0,0"), "pdf"))
        pad = _slide_pad(*page)
        return merge_pdfs([draw(self.source(k, caption=c, pad=pad), "pdf")
                           for k, c in enumerate(captions)])

    def rendering(self, k: int) -> Rendering:
        """Frame k as a Rendering (.save by suffix, .svg(), Jupyter display)."""
        return Rendering(self.source(k), f"{self.name}_frame{k + 1}")

    def html(self) -> str:
        """The self-contained page: the drawing once, each text tagged with the first frame
        that shows it, and a script that steps through the frames."""
        colors = ItemColors()
        coded = replace(self.page_style(), paint=lambda key, color: colors.code(key, color))
        svg = draw(scene_source(self.scene, self.numbers, coded, self.name), "svg").decode()
        appears = {code: _first_frame(self.frames, key) for key, code in colors.codes.items()}
        return page(svg, self.frames, colors.real, appears, title=self.name,
                    legend=legend_items(self.style, self.numbers))

    def page_style(self) -> Style:
        """The style of the page's drawing: its colour key on the page instead, its ranks
        arranged (among layout.CANDIDATES) for the largest smallest text in PAGE_BOX, a box
        far wider than a slide. A lecture layout is kept as it is."""
        plain = replace(self.style, legend=False)
        if not self.style.min_text:
            return plain
        best, chosen = -1.0, plain
        for rankdir, bands in CANDIDATES:
            style = replace(plain, rankdir=rankdir, bands=bands)
            source = scene_source(self.scene, self.numbers, style, self.name)
            svg = draw(source, "svg").decode()
            if not set(re.findall(r"-> \S+ \[[^\]]*\bid=(\w+)", source)) <= drawn_edges(svg):
                continue                             # Graphviz lost an edge of this one
            size = slide_text_height(svg, PAGE_BOX)
            if size > best:
                best, chosen = size, style
        return chosen

    def save(self, path: str | os.PathLike, format: str | None = None) -> Path:  # noqa: A002
        """Write the step-through: `.html` (a page), `.pdf` (a page per frame), or with
        `format` "svg" or "png" (or a path ending in "/") a directory of numbered frames.
        Returns the path written."""
        path = Path(path)
        kind = format or path.suffix.lower().lstrip(".") or "svg"
        if str(path).endswith(("/", os.sep)) or format in ("svg", "png"):
            return self._save_frames(path, kind)
        path.parent.mkdir(parents=True, exist_ok=True)
        if kind == "html":
            path.write_text(self.html(), encoding="utf-8")
        elif kind == "pdf":
            path.write_bytes(self.pdf())
        else:
            raise RenderError(f"cannot tell how to save an animation as {str(path)!r}: use "
                              ".html, .pdf, or a directory with format='svg' or 'png'")
        return path

    def _save_frames(self, directory: Path, kind: str) -> Path:
        if kind not in ("svg", "png"):
            raise RenderError(f"frames are saved as svg or png, not {kind!r}")
        directory.mkdir(parents=True, exist_ok=True)
        width = len(str(len(self.frames)))
        for k in range(len(self.frames)):
            self.rendering(k).save(directory / f"frame_{k + 1:0{width}d}.{kind}")
        return directory

    def text(self) -> str:
        """The frames as text: what each shows first, where, and its words (golden files).

        >>> import graphnn as gn
        >>> x = gn.input("x")
        >>> print(animate(gn.exp(x), feed={"x": 0.0}).text())
        frame 1 (inputs) x: value x
          given: x = 0
        frame 2 (forward) exp: value exp
          exp = exp(x) = exp(0) = 1
        frame 3 (seed) exp: grad exp
          ∂exp/∂exp = 1: the gradient of the output with respect to itself starts the backward pass
        frame 4 (backward) x: flow x→exp, grad x, local x→exp
          ∂exp/∂x = exp = 1; upstream 1 × local 1 = 1
        """
        lines, before = [], frozenset()
        for frame in self.frames:
            new = sorted(self._item_text(key) for key in frame.shown - before)
            before = frame.shown
            lines.append(f"frame {frame.index + 1} ({frame.phase}) {frame.node}: "
                         f"{', '.join(new)}")
            lines.append(f"  {frame.words}")
        return "\n".join(lines)

    def _item_text(self, key: Item) -> str:
        names = self.scene.names
        if key[0] in ("local", "flow"):
            consumer, position = key[1], key[2]
            return f"{key[0]} {names[consumer.inputs[position]]}→{names[consumer]}"
        return f"{key[0]} {names[key[1]]}"

    def __len__(self) -> int:
        return len(self.frames)

    def __repr__(self) -> str:
        return (f"<Animation {self.name}: {len(self.frames)} frames; "
                f".save('{self.name}.html') writes the step-through page>")

    def _repr_html_(self) -> str:
        """Jupyter shows the page in a frame of its own (its script and styles stay inside)."""
        import html
        return (f'<iframe srcdoc="{html.escape(self.html(), quote=True)}" '
                'style="width:100%;height:620px;border:0"></iframe>')


def _caption(words: str, number: str, width: float) -> Caption:
    """A frame's words wrapped to `width` points, and its number."""
    size = Caption((), "", 0, 0).size
    columns = max(20, int(width / (CHARACTER_WIDTH * size)))
    return Caption(tuple(textwrap.wrap(words, columns)), number, width, 1)


def _slide_pad(width: float, height: float) -> str:
    """Graphviz's pad ("x,y" inches, added on both sides) that makes a page of width x
    height points 16:9."""
    page_width = max(width, height * SLIDE_RATIO)
    page_height = page_width / SLIDE_RATIO
    return f"{(page_width - width) / 144:.4f},{(page_height - height) / 144:.4f}"


def _first_frame(steps: Sequence[Frame], key: Item) -> int:
    """The index of the first frame showing item `key` (past the last: never shown)."""
    return next((f.index for f in steps if key in f.shown), len(steps))


def animate(outputs: Any, feed: Feed = None, grads: bool | Node | Sequence[Node] | None = True,
            *, layout: str = "slide", expand: bool = False, digits: int = 2,
            legend: bool = True) -> Animation:
    """Backpropagation step by step: forward one node's value per frame, then backward one
    gradient per frame with the chain-rule product on its edge.

    `outputs`: a node, a list of nodes, a Graph, or a compiled function (its first output);
    the first output is differentiated (a scalar). `feed` gives the input values, `grads`
    the nodes to differentiate with respect to (True: every input; None: forward frames
    only). `layout` "slide" (default) fits the drawing to 16:9 as gn.render does; "lecture"
    draws it left to right.

    >>> import graphnn as gn
    >>> x, y, z = gn.input("x"), gn.input("y"), gn.input("z")
    >>> f = gn.mul(gn.add(x, y, name="q"), z, name="f")
    >>> anim = animate(f, feed={"x": -2.0, "y": 5.0, "z": -4.0})
    >>> len(anim.frames), anim.frames[4].words
    (8, '∂f/∂q = z = -4; upstream 1 × local -4 = -4')
    """
    graph = getattr(outputs, "graph", None)
    if isinstance(graph, Graph):
        # a compiled [loss, *grads]: the step-through computes the gradients itself
        outputs = Graph(graph.outputs[:1], name=graph.name)
    nodes, name = _outputs(outputs)
    if feed is None:
        raise GraphnnError("animate needs feed: the input values to compute, e.g. "
                           "feed={'x': -2.0, 'y': 5.0}")
    root = nodes[0]
    wrt = _wrt(root, grads)
    if wrt and root.shape != ():
        raise OpError(f"animate differentiates the first output, which must be a scalar; it "
                      f"is {root.describe()} (reduce it with gn.sum or gn.mean, or grads=None)")
    scene = build_scene(nodes, expand=expand)
    numbers = annotate(scene.nodes, scene.edges, scene.outputs[0], feed,
                       [scene.node_for(w) for w in wrt])
    # an unnamed output is called by its drawn name (exp, σ), not an f seen nowhere
    output = scene.names[scene.outputs[0]]
    style = _style(scene, True, layout=layout, gradient_of=output, digits=digits, legend=legend)
    return Animation(scene, arranged(scene, numbers, style, name), numbers, name)
