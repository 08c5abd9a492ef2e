"""Measuring laid-out drawings: edge crossings, cluster titles crossed, and edges that reach
the label they run through."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from graphnn.render import geometry
from graphnn.render.drawing import backend
from graphnn.render.pictures import render
from tests.render.svg_geometry import SVG
from tests.render.test_layout import lecture_graphs


def svg_of(*groups: str) -> str:
    return ('<svg xmlns="http://www.w3.org/2000/svg" width="100pt" height="100pt">'
            + "".join(groups) + "</svg>")


def edge(edge_id: str, d: str) -> str:
    return f'<g id="{edge_id}" class="edge"><path d="{d}"/></g>'


def test_crossing_paths_are_counted_once_per_crossing():
    x = edge("x", "M0,0C30,30 60,60 90,90")
    bent = edge("bent", "M0,20C20,20 40,20 60,20C60,40 60,60 60,80")   # at (20,20), (60,60)
    apart = edge("apart", "M0,50C5,55 10,60 20,70")                    # beside the diagonal
    crossed = geometry.crossings(geometry.edge_paths(svg_of(x, bent, apart)))
    assert crossed == [("x", "bent"), ("x", "bent")]


def test_edges_meeting_at_a_shared_end_do_not_cross():
    one = edge("one", "M0,0C10,10 20,20 30,30")
    two = edge("two", "M0,0C10,-10 20,-20 30,-30")
    assert geometry.crossings(geometry.edge_paths(svg_of(one, two))) == []


def test_an_edge_through_a_cluster_title_is_found():
    title = ('<g id="clust1" class="cluster"><title>cluster_layer1</title>'
             '<text text-anchor="middle" x="50" y="-80" font-size="14.00">layer1</text></g>')
    through = edge("through", "M50,-120C50,-100 50,-60 50,-40")
    beside = edge("beside", "M90,-120C90,-100 90,-60 90,-40")
    svg = svg_of(title, through, beside)
    left, top, right, bottom = geometry.title_boxes(svg)["cluster_layer1"]
    assert left < 50 - 20 and right > 50 + 20 and top < -80 < bottom
    assert geometry.through_titles(svg) == [("cluster_layer1", "through")]


@pytest.mark.skipif(backend() is None, reason="no Graphviz to lay out with")
def test_a_slide_edge_reaches_the_text_of_its_label():
    # the label node is invisible: its margin on the edge's side would show as a gap between
    # the line and the numbers
    graphs = lecture_graphs()
    rendering = render(**graphs["neuron primitives"], layout="slide")
    svg = rendering.svg()
    assert "rankdir=TB" in rendering.source
    # edges between bands have no ports: they meet their label where Graphviz routes them
    ported = set(re.findall(r"id=(e\d+)a\b[^\]]*port=", rendering.source))
    paths = geometry.edge_paths(svg)
    gaps = {}
    for group in ET.fromstring(svg).iter(f"{SVG}g"):
        label = group.get("id") or ""
        if group.get("class") == "node" and label in ported:
            texts = [t for t in group.iter(f"{SVG}text") if (t.text or "").strip()]
            top = min(float(t.get("y")) - 0.75 * float(t.get("font-size")) for t in texts)
            bottom = max(float(t.get("y")) + 0.25 * float(t.get("font-size")) for t in texts)
            # a turned edge (drawn backwards) starts at the label and meets it from below
            ends = paths[label + "a"][[0, -1], 1]
            gaps[label] = min(min(abs(top - end), abs(end - bottom)) for end in ends)
    # the margin was 11 pt (a 14 pt gap); now about 5
    assert gaps and max(gaps.values()) < 8.0, gaps
