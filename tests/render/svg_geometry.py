"""Reading a Graphviz SVG's geometry in tests: text positions, edge paths, distances."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET

SVG = "{http://www.w3.org/2000/svg}"


def edge_points(d: str, steps: int = 24) -> list[tuple[float, float]]:
    """Points along an SVG path of Graphviz's form `M x,y C x1,y1 x2,y2 x3,y3 ...`."""
    numbers = [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?(?:e-?\d+)?", d)]
    corners = list(zip(numbers[0::2], numbers[1::2]))
    points = [corners[0]]
    for k in range(1, len(corners) - 2, 3):
        p0, p1, p2, p3 = corners[k - 1:k + 3]
        for step in range(1, steps + 1):
            t = step / steps
            a, b, c, e = (1 - t) ** 3, 3 * (1 - t) ** 2 * t, 3 * (1 - t) * t ** 2, t ** 3
            points.append((a * p0[0] + b * p1[0] + c * p2[0] + e * p3[0],
                           a * p0[1] + b * p1[1] + c * p2[1] + e * p3[1]))
    return points


def distance_to(points: list[tuple[float, float]], x: float, y: float) -> float:
    """Distance from (x, y) to a polyline through `points`."""
    best = math.inf
    for (ax, ay), (bx, by) in zip(points, points[1:]):
        dx, dy = bx - ax, by - ay
        length = dx * dx + dy * dy
        t = 0.0 if length == 0 else max(0.0, min(1.0, ((x - ax) * dx + (y - ay) * dy) / length))
        best = min(best, math.hypot(ax + t * dx - x, ay + t * dy - y))
    return best


def edge_paths(root: ET.Element) -> dict[str, list[tuple[float, float]]]:
    """Each drawn edge's path points, by the edge's SVG id."""
    paths = {}
    for group in root.iter(f"{SVG}g"):
        if group.get("class") == "edge":
            path = group.find(f"{SVG}path")
            if path is not None:
                paths[group.get("id")] = edge_points(path.get("d"))
    return paths


def logical_edges(root: ET.Element) -> dict[str, list[tuple[float, float]]]:
    """Each edge of the graph as drawn: an edge whose label is a node on its path (e3a into
    label node e3, e3b out of it) is one polyline through that node, by its label's id."""
    paths = edge_paths(root)
    edges = {}
    for edge_id, points in paths.items():
        if edge_id.endswith("a") and edge_id[:-1] + "b" in paths:
            edges[edge_id[:-1]] = points + paths[edge_id[:-1] + "b"]
        elif not edge_id.endswith("b"):
            edges[edge_id] = points
    return edges


def label_numbers(root: ET.Element) -> list[tuple[str, str, float, float]]:
    """(label node id, text, x, y) for every text holding a number in an edge's label node
    (ids e0, e1, ... for edges, o0, ... for output arrows), at the text's middle: the lines
    of a label are centred on its node, and Graphviz puts a text's baseline about a third of
    the font size below its middle."""
    found = []
    for group in root.iter(f"{SVG}g"):
        if group.get("class") == "node" and re.fullmatch(r"[eo]\d+", group.get("id") or ""):
            box = [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?",
                                                group.find(f"{SVG}polygon").get("points"))]
            middle = (min(box[0::2]) + max(box[0::2])) / 2
            for text in group.iter(f"{SVG}text"):
                if re.search(r"\d", text.text or ""):
                    size = float(text.get("font-size", "14"))
                    found.append((group.get("id"), text.text, middle,
                                  float(text.get("y")) - size / 3))
    return found
