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
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from graphnn.render import geometry

SLIDE = (1280, 720)             # pixels of a 16:9 slide
MIN_TEXT_PX = 14                 # the smallest text a slide may show, at SLIDE
ASPECTS = (4 / 3, 21 / 9)        # width over height of a slide-shaped drawing
PAD = 0.05                       # inches of white space around a slide drawing
SLIDE_TEXT = 14                  # points: a slide drawing's smallest text before scaling
LAYOUTS = ("lecture", "slide")
# the derivative formulas on tensors' edges, from all to none (Style.formulas): a slide drops
# them only when no arrangement with them is readable
FORMULAS = ("all", "telling", "none")
Arrangement = tuple[str, int, "int | None"]     # rankdir, bands, tensor lines
# (rankdir, bands): the arrangements a slide layout tries
CANDIDATES = (("LR", 1), ("TB", 1), ("LR", 2), ("TB", 2), ("TB", 3), ("LR", 3), ("TB", 4),
              ("LR", 4))


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


@dataclass(frozen=True)
class Fold:
    """How the ranks fold into bands: `rows` of nodes to put on one rank, the links (by index)
    that stop constraining the ranking (`loose`), the links drawn against the rank order
    (`turned`: the bands running backwards), and pairs of nodes in one row whose order keeps
    the bands in order (`apart`: the first band first). When the bands hold a sequence of
    clusters (time steps), `guides` are the nodes of each band, in band order, in the row
    where most bands meet: an invisible node one rank before each group, the nodes chained
    in order, keeps the steps in order (`_guides`, `write_fold`)."""

    rows: list[list[str]] = field(default_factory=list)
    loose: set[int] = field(default_factory=set)
    turned: set[int] = field(default_factory=set)
    apart: list[tuple[str, str]] = field(default_factory=list)
    guides: list[list[str]] = field(default_factory=list)


def cuts(rank: dict[str, int], links: Sequence[tuple[str, str]], bands: int,
         clusters: Mapping[str, Hashable] | None = None) -> list[int]:
    """The first rank of each band after the first: near an even split, between clusters
    (`clusters` maps a node to its cluster: a time step of an unrolled RNN stays in one
    band), where the fewest links cross from one band into the next (each crossing link is a
    turn to follow).

    >>> chain = [("a", "b"), ("b", "c"), ("c", "d"), ("d", "e"), ("e", "f")]
    >>> cuts({n: k for k, n in enumerate("abcdef")}, chain + [("b", "d")], 2)
    [4]
    >>> cuts({n: k for k, n in enumerate("abcdef")}, chain, 2, dict.fromkeys("abcd", "s0"))
    [4]
    """
    depth = max(rank.values(), default=0) + 1
    every = math.ceil(depth / bands)
    slack = max(1, every // 4)
    spans = [(rank[t], rank[h]) for t, h in links]
    extent: dict[Hashable, list[int]] = {}
    fed = {head for _, head in links}
    for node, cluster in (clusters or {}).items():
        # a cluster's inputs sit one rank before their consumers, in the previous
        # cluster's last rank: the cluster spans the ranks of the nodes it computes
        if node in rank and node in fed:
            low, high = extent.setdefault(cluster, [rank[node], rank[node]])
            extent[cluster] = [min(low, rank[node]), max(high, rank[node])]
    found: list[int] = []
    for _ in range(bands - 1):
        start = found[-1] if found else 0
        if not extent:
            near = start + every
            reach = slack
        else:
            # between clusters (a cut inside one splits it), the rest shared evenly by the
            # bands left: clusters of one size (time steps) get one band each
            near = start + math.ceil((depth - start) / (bands - len(found)))
            reach = every // 2
        options = [c for c in range(near - reach, near + reach + 1) if start < c < depth]
        if not options:
            break
        found.append(min(options, key=lambda c, near=near: (
            sum(low < c <= high for low, high in extent.values()),
            # with clusters: nearest the split, then the earlier; else fewest links crossing
            (abs(c - near), c) if extent else (sum(t < c <= h for t, h in spans),
                                               abs(c - near)))))
    return found


def wrap_rows(node_ids: Sequence[str], links: Sequence[tuple[str, str]], bands: int,
              clusters: Mapping[str, Hashable] | None = None) -> Fold:
    """Fold the ranks into `bands` bands side by side (1 or 0: no folding), as a snake: every
    second band runs backwards, so the last rank of one band is the first of the next, and
    a link from one band into the next is a short step between neighbours, never a detour
    across the drawing. The bands are cut where few links cross (`cuts`).

    >>> chain = [("a", "b"), ("b", "c"), ("c", "d")]
    >>> fold = wrap_rows(["a", "b", "c", "d"], chain, 2)
    >>> fold.rows, fold.loose, fold.turned, fold.apart, fold.guides
    ([['a', 'd'], ['b', 'c']], {1}, {2}, [('a', 'd'), ('b', 'c')], [])
    >>> wrap_rows(["a", "b", "c", "d"], chain, 2, {"b": "step0", "c": "step1"}).guides
    [['a'], ['d']]
    """
    if bands <= 1:
        return Fold()
    rank = ranks(node_ids, links)
    depth = max(rank.values(), default=0) + 1
    starts = cuts(rank, links, bands, clusters)
    if not starts:
        return Fold()
    band = {r: sum(r >= c for c in starts) for r in range(depth)}
    # each band starts in the column where the one before ended, and runs the other way
    column, cursor = {}, 0
    for r in range(depth):
        if r and band[r] == band[r - 1]:
            cursor += -1 if band[r] % 2 else 1
        column[r] = cursor
    least = min(column.values())
    rows: list[list[str]] = [[] for _ in range(max(column.values()) - least + 1)]
    position = {node: k for k, node in enumerate(rank)}
    for node in sorted(rank, key=lambda n: (rank[n], position[n])):
        rows[column[rank[node]] - least].append(node)
    of = {node: band[rank[node]] for node in rank}
    fed = {head for _, head in links}
    for tail, head in links:
        if tail not in fed:             # an input goes with the band of what it feeds
            of[tail] = of[head]
    loose = {k for k, (tail, head) in enumerate(links) if of[tail] != of[head]}
    turned = {k for k, (tail, head) in enumerate(links)
              if column[rank[head]] < column[rank[tail]]}
    # every node of a row before every node of the next band in that row
    apart = [(a, b) for row in rows for a in row for b in row if of[b] == of[a] + 1]
    return Fold([row for row in rows if len(row) > 1], loose, turned, apart,
                _guides(rows, of) if clusters else [])


def _guides(rows: list[list[str]], band: Mapping[str, int]) -> list[list[str]]:
    """The nodes of each band, in band order, in the row holding the most bands (the first
    such row). Graphviz orders clusters freely, whatever the invisible edges between their
    nodes (`apart`) say, but keeps the order of plain nodes joined by such edges: a chain of
    guide nodes one rank before that row, each with edges into its band's nodes, would be
    crossed by those edges if the clusters were in another order than the guides'.

    >>> _guides([["a", "d"], ["b", "c", "e"]], {"a": 0, "b": 0, "c": 1, "d": 1, "e": 2})
    [['b'], ['c'], ['e']]
    """
    row = max(rows, key=lambda r: len({band[n] for n in r}))
    present = sorted({band[n] for n in row})
    return [[n for n in row if band[n] == b] for b in present] if len(present) > 1 else []


def write_fold(graph: Any, links: Sequence[tuple[str, str, dict[str, str]]], fold: Fold,
               prefix: str = "") -> None:
    """Write the edges `links` (tail, head, attributes) into `graph` (a graphviz.Digraph)
    folded as `fold` says: links between bands without ports, links against the rank order
    turned, the rows on one rank each, invisible edges and guide nodes (ids `prefix`guide0,
    ...) keeping the bands in order."""
    for k, (tail, head, edge_attrs) in enumerate(links):
        if k in fold.loose:
            # between bands: no ports (they would force a loop around a node)
            edge_attrs = {a: v for a, v in edge_attrs.items() if not a.endswith("port")}
        if k in fold.turned:
            # against the rank order (a band running backwards): written head to tail,
            # drawn with its arrow at the head as ever
            tail, head, edge_attrs = head, tail, turned(edge_attrs)
        graph.edge(tail, head, **edge_attrs)
    for first, second in fold.apart:        # band 1 above (or left of) band 2, ...
        graph.edge(first, second, style="invis")
    guides = [f"{prefix}guide{k}" for k in range(len(fold.guides))]
    for guide, members in zip(guides, fold.guides):
        graph.node(guide, style="invis", shape="point", width="0", height="0", label="")
        for node_id in members:
            graph.edge(guide, node_id, style="invis")
    for first, second in zip(guides, guides[1:]):
        graph.edge(first, second, style="invis")
    for row in fold.rows + ([guides] if guides else []):
        with graph.subgraph() as same:
            same.attr(rank="same")
            for node_id in row:
                same.node(node_id)


def turned(edge_attrs: dict[str, str]) -> dict[str, str]:
    """The attributes of an edge written from its head to its tail: drawn backwards (its
    arrow where its head is), ports swapped.

    >>> turned({"headport": "w", "arrowhead": "none"})
    {'dir': 'back', 'tailport': 'e', 'arrowtail': 'none'}
    """
    swap = {"headport": "tailport", "tailport": "headport", "arrowhead": "arrowtail"}
    side = {"w": "e", "e": "w", "n": "s", "s": "n"}
    turned = {swap.get(a, a): side.get(v, v) if a.endswith("port") else v
              for a, v in edge_attrs.items()}
    return {"dir": "back", **turned}


Svg = str | ET.Element      # SVG text, or its parsed root (a drawing measured parses it once)


def _root(svg: Svg) -> ET.Element:
    return ET.fromstring(svg) if isinstance(svg, str) else svg


def svg_size(svg: Svg) -> tuple[float, float]:
    """Width and height of a Graphviz SVG in points (its user units)."""
    root = _root(svg)
    return tuple(float(re.sub(r"[a-z]+$", "", root.get(k))) for k in ("width", "height"))


def slide_text_height(svg: Svg, slide: tuple[int, int] = SLIDE) -> float:
    """The height in pixels of the smallest text of `svg` shown as large as fits on `slide`."""
    root = _root(svg)
    width, height = svg_size(root)
    scale = min(slide[0] / width, slide[1] / height)
    sizes = [float(t.get("font-size")) for t in root.iter()
             if t.tag.endswith("text") and t.get("font-size") and (t.text or "").strip()]
    return round(min(sizes, default=0.0) * scale, 2)


def drawn_edges(svg: Svg) -> set[str]:
    """The ids of the edges an SVG draws (Graphviz leaves out one it fails to route)."""
    return {g.get("id") for g in _root(svg).iter("{http://www.w3.org/2000/svg}g")
            if g.get("class") == "edge" and g.find("{http://www.w3.org/2000/svg}path")
            is not None}


@dataclass(frozen=True)
class Measure:
    """A trial drawing measured: its smallest text at 1280x720 (-1 when Graphviz lost an
    edge), its width and height in points, how often its edges cross one another, and how many
    edges run through a cluster's title, how many time steps are out of order (these three
    only when the text is readable: the others are ranked by their text alone)."""

    text: float
    size: tuple[float, float] = (1.0, 1.0)
    crossings: int = 0
    titles: int = 0
    jumps: int = 0          # time steps a reader following them in order jumps over


def _measure(source: str, draw: Callable[[str], tuple[str, list[str]]]) -> Measure:
    """A drawing of `source` measured; text -1 when Graphviz lost an edge (it says so, or
    the edge is missing from the SVG)."""
    svg, heard = draw(source)
    wanted = set(re.findall(r"-> \S+ \[[^\]]*\bid=(\w+)", source))
    root = ET.fromstring(svg)
    if any("lost" in line or "failed" in line for line in heard) \
            or not wanted <= drawn_edges(root):
        return Measure(-1.0)
    text = slide_text_height(root)
    if text < MIN_TEXT_PX:
        # crossings take most of a measurement (every pair of edges): an unreadable
        # drawing is never chosen by them
        return Measure(text, svg_size(root))
    return Measure(text, svg_size(root), len(geometry.crossings(geometry.edge_paths(svg))),
                   len(geometry.through_titles(svg)), len(geometry.out_of_order(svg)))


def _rank(trial: tuple[Measure, Arrangement]) -> tuple[object, ...]:
    """The order of preference among readable arrangements: no edge through a title and the
    time steps in order (`geometry.out_of_order`), then the fewest crossings, then the most
    lines of tensor numbers, then the fewest bands (each costs the reader a turn), then the
    largest text."""
    kept = {None: 0, 1: 1, 0: 2}
    measure, (_, bands, lines) = trial
    return (measure.titles > 0, measure.jumps, measure.crossings, kept[lines], bands,
            -measure.text)


def spread(width: float, height: float, pad: float = PAD) -> str | None:
    """Graphviz's `pad` (inches, x,y) that frames a drawing of `width` x `height` points
    (with `pad` inches already around it) in a slide's shape, or None when it has one. The
    frame is white space along the short side: the text keeps its size on the slide, since
    the long side still sets the scale.

    >>> spread(700, 200), spread(400, 600), spread(1600, 900)
    ('0.05,0.87', '3.31,0.05', None)
    """
    if width / height > ASPECTS[1]:
        return f"{pad:g},{round(pad + (width / 2.2 - height) / 144, 2):g}"   # inside 21:9
    if width / height < ASPECTS[0]:
        return f"{round(pad + (height * 1.45 - width) / 144, 2):g},{pad:g}"  # inside 4:3
    return None


def fit_to_slide(source_for: Callable[..., str],
                 draw: Callable[[str], tuple[str, list[str]]] | None) -> dict[str, object]:
    """The arrangement for a 1280x720 slide, as Style fields (rankdir, bands, tensor_lines,
    formulas, pad), chosen among the drawings `source_for(rankdir, bands, tensor_lines)`
    (with `formulas=` when the full formulas do not fit).

    Every arrangement is tried with tensors showing all their lines of numbers, one, and
    none; among those whose text is at least MIN_TEXT_PX high on the slide the tidiest wins
    (`_rank`), spread to a slide's shape if it has none (`spread`). When none is large
    enough, the same again with the tensors' edges carrying fewer derivative formulas (see
    `FORMULAS`: an unrolled RNN's twenty tensor ops), and when still none is, the one with
    the largest text. `draw` turns DOT into SVG and Graphviz's complaints; without it (no
    Graphviz), left to right in three bands.
    """
    if draw is None:
        return {"rankdir": "LR", "bands": 3, "tensor_lines": 1, "formulas": FORMULAS[0]}
    measured: dict[str, tuple[Measure, Arrangement, str]] = {}
    for formulas in FORMULAS:
        options = {"formulas": formulas} if formulas != FORMULAS[0] else {}
        for lines in (None, 1, 0):
            for rankdir, bands in CANDIDATES:
                source = source_for(rankdir, bands, lines, **options)
                if source not in measured:      # a graph without tensors: one per arrangement
                    measured[source] = (_measure(source, draw), (rankdir, bands, lines),
                                        formulas)
        readable = [m for m in measured.values() if m[0].text >= MIN_TEXT_PX]
        if readable:
            break
    best = min(readable, key=lambda m: _rank(m[:2])) if readable else \
        max(measured.values(), key=lambda m: m[0].text)
    (rankdir, bands, lines) = best[1]
    return {"rankdir": rankdir, "bands": bands, "tensor_lines": lines, "formulas": best[2],
            "pad": spread(*best[0].size)}
