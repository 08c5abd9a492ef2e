"""Slide-shaped layouts: place a drawing's ranks so it fills a 16:9 slide with readable text.

Stage: rendering. Input: a function that writes DOT for a `Style` (direction and wrapping).
Output: the DOT whose drawing, scaled to fit a 1280x720 slide, has the largest smallest text.

Graphviz's dot puts each rank (a step along the longest path) in one column (left to right)
or row (top to bottom). A long chain is a strip far wider than 16:9, so its text shrinks to a
few pixels on a slide. Besides the two directions, a slide layout may wrap the ranks into two
or three bands: every band's first rank shares a row (`rank=same`) with the others' first
ranks, and the edges from one band to the next do not constrain the ranking. The candidates are
few, and each is drawn and measured, which is more reliable than predicting Graphviz's sizes.

    >>> slide_text_height('<svg width="640pt" height="180pt"><text font-size="14.00">a</text>'
    ...                   '</svg>')
    28.0
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence

SLIDE = (1280, 720)             # pixels of a 16:9 slide
MIN_TEXT_PX = 14                 # the smallest text a slide may show, at SLIDE
SLIDE_TEXT = 14                  # points: a slide drawing's smallest text before scaling
LAYOUTS = ("lecture", "slide")
# (rankdir, bands): the arrangements a slide layout tries
CANDIDATES = (("LR", 1), ("TB", 1), ("LR", 2), ("TB", 2), ("TB", 3), ("LR", 3))


def ranks(node_ids: Sequence[str], links: Sequence[tuple[str, str]]) -> dict[str, int]:
    """Each node's rank: at least the length of the longest chain of links ending at it, and
    one less than its first consumer's.

    >>> ranks(["x", "w", "p", "f"], [("x", "p"), ("p", "f"), ("w", "f")])
    {'x': 0, 'w': 1, 'p': 1, 'f': 2}
    """
    rank = {node: 0 for node in node_ids}
    incoming: dict[str, list[str]] = {node: [] for node in node_ids}
    for tail, head in links:
        incoming.setdefault(head, []).append(tail)
        rank.setdefault(tail, 0)
    done: set[str] = set()

    def visit(node: str) -> int:
        # iterative depth-first: a long chain must not exhaust Python's recursion limit
        stack = [node]
        while stack:
            top = stack[-1]
            waiting = [t for t in incoming.get(top, ()) if t not in done]
            if waiting:
                stack.extend(waiting)
                continue
            stack.pop()
            if top not in done:
                rank[top] = max((rank[t] + 1 for t in incoming.get(top, ())), default=0)
                done.add(top)
        return rank[node]

    for node in list(rank):
        visit(node)
    # then as late as its consumers allow: an input drawn next to the gate it feeds (w2 one
    # rank before its +, not in the first rank), so a folded band keeps it
    outgoing: dict[str, list[str]] = {}
    for tail, head in links:
        outgoing.setdefault(tail, []).append(head)
    for node in sorted(rank, key=lambda n: -rank[n]):
        if node in outgoing:
            rank[node] = max(rank[node], min(rank[h] for h in outgoing[node]) - 1)
    return rank


def wrap_rows(node_ids: Sequence[str], links: Sequence[tuple[str, str]], bands: int
              ) -> tuple[list[list[str]], set[int], list[tuple[str, str]]]:
    """How to fold the ranks into `bands` bands side by side (1 or 0: no folding): rows of
    nodes to put on one rank, the links (by index) that stop constraining, and pairs of
    nodes in one row whose order keeps the bands in order (the first band first).

    >>> wrap_rows(["a", "b", "c", "d"], [("a", "b"), ("b", "c"), ("c", "d")], 2)
    ([['a', 'c'], ['b', 'd']], {1}, [('a', 'c'), ('b', 'd')])
    """
    if bands <= 1:
        return [], set(), []
    rank = ranks(node_ids, links)
    depth = max(rank.values(), default=0) + 1
    every = math.ceil(depth / bands)
    if every >= depth:
        return [], set(), []
    rows: list[list[str]] = [[] for _ in range(every)]
    position = {node: k for k, node in enumerate(rank)}
    for node in sorted(rank, key=lambda n: (rank[n], position[n])):
        rows[rank[node] % every].append(node)
    loose = {k for k, (tail, head) in enumerate(links)
             if rank[tail] // every != rank[head] // every}
    apart = [(a, b) for row in rows for a, b in zip(row, row[1:])
             if rank[a] // every != rank[b] // every]
    return [row for row in rows if len(row) > 1], loose, apart


def svg_size(svg: str) -> tuple[float, float]:
    """Width and height of a Graphviz SVG in points (its user units)."""
    root = ET.fromstring(svg)
    return tuple(float(re.sub(r"[a-z]+$", "", root.get(k))) for k in ("width", "height"))


def slide_text_height(svg: str, slide: tuple[int, int] = SLIDE) -> float:
    """The height in pixels of the smallest text of `svg` shown as large as fits on `slide`."""
    width, height = svg_size(svg)
    scale = min(slide[0] / width, slide[1] / height)
    sizes = [float(t.get("font-size")) for t in ET.fromstring(svg).iter()
             if t.tag.endswith("text") and t.get("font-size") and (t.text or "").strip()]
    return round(min(sizes, default=0.0) * scale, 2)


def drawn_edges(svg: str) -> set[str]:
    """The ids of the edges an SVG draws (Graphviz leaves out one it fails to route)."""
    return {g.get("id") for g in ET.fromstring(svg).iter("{http://www.w3.org/2000/svg}g")
            if g.get("class") == "edge" and g.find("{http://www.w3.org/2000/svg}path")
            is not None}


def _measure(source: str, draw: Callable[[str], tuple[str, list[str]]]) -> float:
    """The slide text height of a drawing of `source`, or -1 when Graphviz lost an edge
    (it says so, or the edge is missing from the SVG)."""
    svg, heard = draw(source)
    wanted = set(re.findall(r"-> \S+ \[[^\]]*\bid=(\w+)", source))
    if any("lost" in line or "failed" in line for line in heard):
        return -1.0
    return slide_text_height(svg) if wanted <= drawn_edges(svg) else -1.0


def fit_to_slide(source_for: Callable[[str, int, int | None], str],
                 draw: Callable[[str], tuple[str, list[str]]] | None
                 ) -> tuple[str, int, int | None]:
    """The arrangement for a 1280x720 slide: (rankdir, bands, tensor_lines) among the
    drawings `source_for(rankdir, bands, tensor_lines)`.

    Tensors keep as many lines of numbers (all, one, none) as leave the smallest text at
    least MIN_TEXT_PX high; an arrangement in one band is preferred when it reaches that
    (bands cost the reader the edges between them), else the tallest text wins. `draw` turns
    DOT into SVG and Graphviz's complaints; without it (no Graphviz), top to bottom in two
    bands.
    """
    if draw is None:
        return "TB", 2, 1
    tried: list[tuple[float, tuple[str, int, int | None]]] = []
    for lines in (None, 1, 0):
        measured = [(_measure(source_for(rankdir, bands, lines), draw),
                     (rankdir, bands, lines)) for rankdir, bands in CANDIDATES]
        best_plain = max((m for m in measured if m[1][1] == 1), key=lambda m: m[0])
        if best_plain[0] >= MIN_TEXT_PX:
            return best_plain[1]
        best = max(measured, key=lambda m: m[0])
        if best[0] >= MIN_TEXT_PX:
            return best[1]
        tried.append(best)
    return max(tried, key=lambda m: m[0])[1]
