"""Geometry of a laid-out drawing: edge paths, where they cross, cluster title boxes.

Stage: rendering. Input: Graphviz SVG text. Output: measurements a slide layout is chosen by
(layout.py) and tests assert: how many times the drawn edges cross one another, and which
edges run through a cluster's title. An edge is its Bezier path sampled as a polyline.

    >>> svg = ('<svg xmlns="http://www.w3.org/2000/svg" width="10pt" height="10pt">'
    ...        '<g id="a" class="edge"><path d="M0,0C3,3 6,6 10,10"/></g>'
    ...        '<g id="b" class="edge"><path d="M0,10C3,7 6,4 10,0"/></g></svg>')
    >>> crossings(edge_paths(svg))
    [('a', 'b')]
"""

from __future__ import annotations

import itertools
import re
import xml.etree.ElementTree as ET

import numpy as np

SVG = "{http://www.w3.org/2000/svg}"
STEPS = 12                 # polyline points per Bezier piece
NEAR = 3.0                 # points: crossings this close to an edge's end are where it meets a node
TEXT_WIDTH = 0.6           # an upper bound of Helvetica's mean character width, in font sizes

Polyline = np.ndarray       # shape (n, 2)


def bezier_points(d: str, steps: int = STEPS) -> Polyline:
    """Points along an SVG path of Graphviz's form `M x,y C x1,y1 x2,y2 x3,y3 ...`."""
    numbers = [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?(?:e-?\d+)?", d)]
    corners = np.array(numbers, dtype=float).reshape(-1, 2)
    t = np.linspace(0.0, 1.0, steps + 1)[1:, None]
    weights = [(1 - t) ** 3, 3 * (1 - t) ** 2 * t, 3 * (1 - t) * t ** 2, t ** 3]
    points = [corners[:1]]
    for k in range(0, len(corners) - 3, 3):
        points.append(sum(w * corners[k + i] for i, w in enumerate(weights)))
    return np.concatenate(points)


def edge_paths(svg: str) -> dict[str, Polyline]:
    """Each drawn edge's path as a polyline, by the edge's SVG id (ids in document order)."""
    paths = {}
    for group in ET.fromstring(svg).iter(f"{SVG}g"):
        path = group.find(f"{SVG}path")
        if group.get("class") == "edge" and path is not None:
            paths[group.get("id")] = bezier_points(path.get("d"))
    return paths


def _segment_crossings(a: Polyline, b: Polyline) -> np.ndarray:
    """The points where a segment of polyline `a` properly crosses one of `b`."""
    p, r = a[:-1, None, :], (a[1:] - a[:-1])[:, None, :]
    q, s = b[None, :-1, :], (b[1:] - b[:-1])[None, :, :]
    denominator = r[..., 0] * s[..., 1] - r[..., 1] * s[..., 0]
    gap = q - p
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (gap[..., 0] * s[..., 1] - gap[..., 1] * s[..., 0]) / denominator
        u = (gap[..., 0] * r[..., 1] - gap[..., 1] * r[..., 0]) / denominator
        hit = (denominator != 0) & (t >= 0) & (t < 1) & (u >= 0) & (u < 1)
    rows, columns = np.nonzero(hit)
    return a[rows] + t[rows, columns, None] * (a[rows + 1] - a[rows])


def crossings(paths: dict[str, Polyline]) -> list[tuple[str, str]]:
    """Each pair of edges that cross, once per crossing; meeting at an end (at a node they
    share) is not crossing."""
    found = []
    boxes = {k: (v.min(axis=0), v.max(axis=0)) for k, v in paths.items()}
    for (one, a), (two, b) in itertools.combinations(paths.items(), 2):
        if np.any(boxes[one][1] < boxes[two][0]) or np.any(boxes[two][1] < boxes[one][0]):
            continue
        ends = np.array([a[0], a[-1], b[0], b[-1]])
        for point in _segment_crossings(a, b):
            if np.min(np.hypot(*(ends - point).T)) > NEAR:
                found.append((one, two))
    return found


def title_boxes(svg: str) -> dict[str, tuple[float, float, float, float]]:
    """Each cluster's title as a box (left, top, right, bottom), by the cluster's name: the
    width is estimated generously from the text (SVG does not record it)."""
    boxes = {}
    for group in ET.fromstring(svg).iter(f"{SVG}g"):
        text = group.find(f"{SVG}text")
        if group.get("class") != "cluster" or text is None or not (text.text or "").strip():
            continue
        size = float(text.get("font-size", "14"))
        x, y = float(text.get("x")), float(text.get("y"))
        half = TEXT_WIDTH * size * len(text.text.strip()) / 2
        boxes[group.findtext(f"{SVG}title")] = (x - half, y - size, x + half, y + size / 4)
    return boxes


def through_titles(svg: str) -> list[tuple[str, str]]:
    """(cluster, edge) for each edge whose path runs through a cluster's title."""
    paths = edge_paths(svg)
    found = []
    for cluster, (left, top, right, bottom) in title_boxes(svg).items():
        outline = np.array([(left, top), (right, top), (right, bottom), (left, bottom),
                            (left, top)])
        for edge, points in paths.items():
            x, y = points[:, 0], points[:, 1]
            inside = (left <= x) & (x <= right) & (top <= y) & (y <= bottom)
            if inside.any() or len(_segment_crossings(points, outline)):
                found.append((cluster, edge))
    return found


def cluster_boxes(svg: str) -> dict[str, tuple[float, float, float, float]]:
    """Each cluster's outline as a box (left, top, right, bottom), by the cluster's name."""
    boxes = {}
    for group in ET.fromstring(svg).iter(f"{SVG}g"):
        outline = group.find(f"{SVG}path")
        if outline is None:
            outline = group.find(f"{SVG}polygon")
        if group.get("class") != "cluster" or outline is None:
            continue
        points = bezier_points(outline.get("d")) if outline.tag == f"{SVG}path" else \
            np.array([[float(v) for v in p.split(",")] for p in outline.get("points").split()])
        (left, top), (right, bottom) = points.min(axis=0), points.max(axis=0)
        boxes[group.findtext(f"{SVG}title")] = (left, top, right, bottom)
    return boxes


def out_of_order(svg: str) -> list[tuple[str, str]]:
    """The pairs of consecutive clusters of a numbered sequence (an unrolled RNN's
    cluster_step0, cluster_step1, ...) whose centres a straight line joins only across
    another cluster of the sequence: a reader following the steps in order jumps over one.

    >>> svg = ('<svg xmlns="http://www.w3.org/2000/svg" width="90pt" height="10pt">' + "".join(
    ...     f'<g class="cluster"><title>cluster_step{k}</title>'
    ...     f'<polygon points="{x},0 {x + 20},0 {x + 20},10 {x},10"/></g>'
    ...     for k, x in enumerate([0, 60, 30])) + '</svg>')
    >>> out_of_order(svg)
    [('cluster_step0', 'cluster_step1')]
    """
    boxes = cluster_boxes(svg)
    numbered: dict[str, dict[int, str]] = {}
    for name in boxes:
        found = re.fullmatch(r"(.*\D)(\d+)", name)
        if found:
            numbered.setdefault(found.group(1), {})[int(found.group(2))] = name
    jumps = []
    for steps in numbered.values():
        for k in sorted(steps):
            if k + 1 not in steps:
                continue
            (x0, y0), (x1, y1) = (_centre(boxes[steps[t]]) for t in (k, k + 1))
            line = np.linspace((x0, y0), (x1, y1), 50)
            for t, name in steps.items():
                left, top, right, bottom = boxes[name]
                if t not in (k, k + 1) and (
                        (left < line[:, 0]) & (line[:, 0] < right) &
                        (top < line[:, 1]) & (line[:, 1] < bottom)).any():
                    jumps.append((steps[k], steps[k + 1]))
                    break
    return jumps


def _centre(box: tuple[float, float, float, float]) -> tuple[float, float]:
    left, top, right, bottom = box
    return (left + right) / 2, (top + bottom) / 2
