"""gn.render: the lecture's pictures, views, large graphs, model files, determinism."""

from __future__ import annotations

import hashlib
import os
import re
import runpy
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

import graphnn as gn
from graphnn.render.pictures import (
    compare,
    render,
    save_pictures,
    write_picture,
)

EXAMPLES = Path(__file__).parents[2] / "examples"
NEURON = {"w0": 2.0, "x0": -1.0, "w1": -3.0, "x1": -2.0, "w2": -3.0}
GRADIENTS = {"w0": "-0.20", "x0": "0.39", "w1": "-0.39", "x1": "-0.59", "w2": "0.20"}
VALUE, GRADIENT = "#1b7a3a", "#c0392b"


def neuron(primitives: bool):
    w0, x0, w1, x1, w2 = inputs = [gn.input(name) for name in NEURON]
    z = w0 * x0 + w1 * x1 + w2
    return (1.0 / (1.0 + gn.exp(-z)) if primitives else gn.sigmoid(z)), inputs


def svg_groups(svg: str) -> dict[str, list[tuple[str, str]]]:
    """For each SVG node or edge group, by its title (n3, n0->n3): its texts and colours.

    A labelled edge is drawn through a node holding its label (n0->e2, e2, e2->n3): it is
    reported as one edge n0->n3 with the label's texts.
    """
    groups = {}
    for group in ET.fromstring(svg).iter("{http://www.w3.org/2000/svg}g"):
        title = group.find("{http://www.w3.org/2000/svg}title")
        if title is not None and group.get("class") in ("node", "edge"):
            title = re.sub(r":[nsew]\b", "", title.text)       # ports of label nodes
            groups[title] = [(t.text, t.get("fill", "")) for t in group.iter()
                             if t.tag.endswith("text")]
    for label in [t for t in groups if re.fullmatch(r"[eo]\d+", t)]:
        (tail,) = [t.split("->")[0] for t in groups if t.endswith("->" + label)]
        (head,) = [t.split("->")[1] for t in groups if t.startswith(label + "->")]
        groups[f"{tail}->{head}"] = groups.pop(label)
        del groups[f"{tail}->{label}"], groups[f"{label}->{head}"]
    return groups


PRODUCT = re.compile(r"^\(?(-?[\d.]+)\)? × \(?(-?[\d.]+)\)? ([=≈]) (-?[\d.]+)$")


def assert_reads_right(label: str) -> None:
    """An edge's chain-rule product says = only when its shown factors give its shown result
    (at the shown decimals), ≈ otherwise: 0.20 × 2.00 ≈ 0.39, 1.00 × (-0.20) = -0.20."""
    up, local, sign, result = PRODUCT.match(label).groups()
    decimals = len(result.split(".")[1]) if "." in result else 0
    exact = f"{float(up) * float(local):.{decimals}f}" == f"{float(result):.{decimals}f}"
    assert sign == ("=" if exact else "≈"), label


@pytest.mark.parametrize("primitives", [False, True], ids=["sigma_gate", "primitives"])
def test_neuron_svg_shows_the_lecture_numbers(primitives):
    f, inputs = neuron(primitives)
    groups = svg_groups(render(f, feed=NEURON, grads=inputs).svg())
    ids = {texts[0][0]: title for title, texts in groups.items() if "->" not in title}
    for name, gradient in GRADIENTS.items():
        (edge,) = [texts for title, texts in groups.items()
                   if title.startswith(ids[name] + "->")]
        assert (f"{NEURON[name]:.2f}", VALUE) in edge                  # its value, green
        products = [text for text, fill in edge if fill == GRADIENT]
        assert products and products[-1].split()[-1] == gradient     # its gradient, red
        assert_reads_right(products[-1])
    output = [texts for title, texts in groups.items() if title.endswith("->out0")][0]
    assert output == [("0.73", VALUE), ("1.00", GRADIENT)]
    symbols = sorted(texts[0][0] for title, texts in groups.items()
                     if "->" not in title and title[0] == "n" and texts[0][0] not in NEURON)
    expected = ["+", "+", "+1", "1/x", "exp", "×", "×", "×-1"] if primitives else \
        ["+", "+", "×", "×", "σ"]
    assert symbols == expected


def test_the_sigma_gate_shows_its_local_derivative():
    f, inputs = neuron(primitives=False)
    source = render(f, feed=NEURON, grads=inputs).source
    assert "∂σ/∂add₂ = σ·(1 - σ) = 0.20" in source and "1.00 × 0.20 = 0.20" in source


def test_gradient_flow_patterns_are_written_on_the_edges():
    x, y, z = gn.input("x"), gn.input("y"), gn.input("z")
    q = gn.add(x, y, name="q")
    f = gn.mul(q, z, name="f")
    source = render(f, feed={"x": -2.0, "y": 5.0, "z": -4.0}, grads=True).source
    assert source.count("(-4.00) × 1.00 = -4.00") == 2                 # add distributes
    assert "∂f/∂q = z = -4.00" in source and "∂f/∂z = q = 3.00" in source   # mul swaps
    m = gn.maximum(x, y)
    source = render(m * 2.0, feed={"x": 4.0, "y": 1.0}, grads=True).source
    assert "2.00 × 1.00 = 2.00" in source and "2.00 × 0.00 = 0.00" in source  # max routes
    a = x * 3.0
    source = render(a + a * a, feed={"x": 2.0}, grads=True).source
    assert "∇ 6.00 + 6.00 + 1.00 = 13.00" in source                   # fan-out adds


def svg_by_name(svg: str) -> tuple[dict[str, list], dict[tuple[str, str], list]]:
    """The texts and colours of a drawing's nodes and edges, by node name: a node's name is
    read from its tooltip (`input 'x' f64[]`, `mul 'p' f64[]`), so a test can say which edge
    it means without knowing the topological ids."""
    names = {}
    for group in ET.fromstring(svg).iter("{http://www.w3.org/2000/svg}g"):
        link = group.find(".//{http://www.w3.org/2000/svg}a")
        if group.get("class") == "node" and link is not None:
            tooltip = link.get("{http://www.w3.org/1999/xlink}title", "")
            named = re.search(r"'([^']+)'", tooltip)
            if named:
                names[group.find("{http://www.w3.org/2000/svg}title").text] = named.group(1)
    groups = svg_groups(svg)
    nodes = {names[title]: texts for title, texts in groups.items() if title in names}
    edges = {(names[a], names[b]): groups[title] for title in groups if "->" in title
             for a, b in [title.split("->")] if a in names and b in names}
    return nodes, edges


def downstream(edges: dict[tuple[str, str], list], source: str, target: str) -> str:
    """An edge's last red line: upstream × local = downstream."""
    return [text for text, fill in edges[source, target] if fill == GRADIENT][-1]


def test_patterns_example_routes_and_adds_on_the_right_edges():
    # examples/06_gradient_patterns.py: f = 2 (x y + max(z, w)) at x = 3, y = -4, z = 2,
    # w = -1, and h = x (x + y)
    pictures = runpy.run_path(str(EXAMPLES / "06_gradient_patterns.py"))["pictures"]()
    _, edges = svg_by_name(pictures["06_gradient_patterns"].svg())
    assert downstream(edges, "s", "f") == "1.00 × 2.00 = 2.00"
    assert downstream(edges, "p", "s") == "2.00 × 1.00 = 2.00"          # add distributes
    assert downstream(edges, "m", "s") == "2.00 × 1.00 = 2.00"
    assert downstream(edges, "x", "p") == "2.00 × (-4.00) = -8.00"      # mul swaps: x gets y,
    assert downstream(edges, "y", "p") == "2.00 × 3.00 = 6.00"          # y gets x
    assert downstream(edges, "z", "m") == "2.00 × 1.00 = 2.00"          # max routes all to z
    assert downstream(edges, "w", "m") == "2.00 × 0.00 = 0.00"          # and none to w
    nodes, edges = svg_by_name(pictures["06_gradient_patterns_fan_out"].svg())
    assert downstream(edges, "x", "q") == "3.00 × 1.00 = 3.00"          # fan-out adds x's
    assert downstream(edges, "x", "h") == "1.00 × (-1.00) = -1.00"      # two edges, and the
    assert ("∇ 3.00 - 1.00 = 2.00", GRADIENT) in nodes["x"]             # sum is beside x
    assert not [text for text, _ in nodes["y"] if text.startswith("∇")]  # y is read once


def test_inputs_and_outputs_are_distinguishable():
    x = gn.input("x", shape=(2, 3))
    source = render(gn.sum(gn.relu(x), name="total"), feed={"x": np.ones((2, 3))}).source
    assert re.search(r"n0 \[label=<<font point-size=\"14\"><b>x</b>.*fillcolor", source)
    assert "out0 [label=<<font point-size=\"14\"><b>total</b></font>> shape=plaintext]" in source
    assert "[2×3]" in source and "[1.00, 1.00, 1.00]" in source


def test_no_feed_draws_structure_and_formulas():
    x, w = gn.input("x", shape=(4, 3)), gn.input("W", shape=(3, 2))
    source = render(gn.sum(x @ w), grads=[w]).source
    assert "∂f/∂W = xᵀ @ g" in source and "mean" not in source


def test_gradient_view_draws_what_grad_built():
    f, inputs = neuron(primitives=False)
    source = render(f, feed=NEURON, grads=inputs, view="gradient").source
    for name in NEURON:
        assert f"<b>∂f/∂{name}</b>" in source
    assert "dashed" in source and "0.39" in source
    with pytest.raises(gn.GraphnnError, match="needs grads"):
        render(f, view="gradient")
    with pytest.raises(gn.OpError, match="unknown view"):
        render(f, view="sideways")


def test_composites_collapsed_or_expanded():
    p, t = gn.input("p", shape=(3,)), gn.input("t", shape=(3,))
    feed = {"p": np.array([0.2, 0.5, 0.9]), "t": np.array([0.0, 1.0, 1.0])}
    loss = gn.binary_cross_entropy(p, t, name="loss")
    assert "BCE" in render(loss, feed=feed, grads=[p]).source
    expanded = render(loss, feed=feed, grads=[p], expand=True).source
    assert "BCE" not in expanded and ">log<" in expanded and "mean" in expanded


def test_scopes_are_clusters_and_collapse():
    x = gn.input("x", shape=(2, 3))
    with gn.scope("layer1"):
        h = gn.relu(x @ gn.input("W1", shape=(3, 3)))
    with gn.scope("layer2"):
        y = gn.sum(h @ gn.input("W2", shape=(3, 1)))
    source = render(y).source
    assert "subgraph cluster_layer1" in source and "subgraph cluster_layer2" in source
    collapsed = render(y, collapse=["layer1"]).source
    assert "box3d" in collapsed and collapsed.count("box3d") == 1


def test_a_few_hundred_nodes_collapse_into_layers_and_stay_compact():
    x = gn.input("x", shape=(8, 6))
    h, params = x, []
    for k in range(16):
        with gn.scope(f"layer{k}"):
            params += [gn.input(f"W{k}", shape=(6, 6)), gn.input(f"b{k}", shape=(6,))]
            h = gn.tanh(h @ params[-2] + params[-1])
    loss = gn.mean(gn.square(h))
    forward = render(loss, grads=params).source
    assert "box3d" not in forward and "∂" not in forward          # compact: no chain rule
    gradient = render(loss, grads=params, view="gradient")
    assert gradient.source.count("box3d") == 32                   # 16 forward, 16 backward
    assert "∇ layer15" in gradient.source
    everything = render(loss, grads=params, view="gradient", max_nodes=10_000).source
    assert "box3d" not in everything and everything.count("[label=") > 200
    assert gradient.svg().lstrip().startswith("<?xml")


def test_compare_stacks_graphs_in_order():
    x = gn.input("x")
    r = compare([x * 1.0 + 0.0, x * 2.0, x], ["first", "second", "third"], feed={"x": 3.0})
    assert "p0_n0" in r.source and "p2_n0" in r.source
    svg = "{http://www.w3.org/2000/svg}"
    titles = [(float(text.get("y")), text.text) for group in ET.fromstring(r.svg()).iter(
        svg + "g") if group.get("class") == "cluster" for text in group.iter(svg + "text")
        if text.text in ("first", "second", "third")]
    assert [text for _, text in sorted(titles)] == ["first", "second", "third"]


def test_optimized_view_draws_the_graph_and_its_gradients_before_and_after():
    f, inputs = neuron(primitives=False)
    source = render(f, feed=NEURON, grads=inputs, view="optimized").source
    assert "label=\"as built: 12 ops\"" in source and "label=\"optimized: 11 ops\"" in source
    assert source.count("<b>∂f/∂w0</b>") == 2
    after, before = source.split("subgraph cluster_panel1")[1].split("subgraph cluster_panel0")
    assert ">×1<" in before and ">×1<" not in after              # the seed's ×1 is gone
    alone = render(f, view="optimized").source
    assert "∂f" not in alone and "as built: 5 ops" in alone


def test_write_picture_and_save_pictures(tmp_path, monkeypatch):
    x = gn.input("x")
    path = write_picture(gn.exp(x), tmp_path / "a" / "e.dot", feed={"x": 0.0}, grads=True)
    assert path.is_absolute() and path.read_text().startswith("digraph")
    r = render(gn.exp(x))
    assert [p.name for p in save_pictures({"e": r}, [str(tmp_path), "--png"])] == \
        ["e.svg", "e.png"]
    monkeypatch.setenv("GRAPHNN_OUT", str(tmp_path / "env"))
    assert save_pictures({"e": r}, [])[0].parent == tmp_path / "env"
    with pytest.raises(gn.GraphnnError, match="usage"):
        save_pictures({"e": r}, ["a", "b"])


def test_titles_and_legends():
    x = gn.input("x")
    source = render(gn.exp(x), feed={"x": 0.0}, grads=True, title="e to the x").source
    assert "<b>e to the x</b>" in source and "local derivative" in source
    assert "local derivative" not in render(gn.exp(x), feed={"x": 0.0}, grads=True,
                                            legend=False).source
    assert "2.7183" in render(gn.exp(x), feed={"x": 1.0}, digits=4).source


def test_render_takes_a_graph_and_rejects_other_things():
    x = gn.input("x")
    assert render(gn.Graph([x * 2.0], name="double")).source.startswith("digraph double")
    with pytest.raises(gn.OpError, match="render takes"):
        render([1.0])
    with pytest.raises(gn.GradError, match="scalar output"):
        render(gn.input("v", shape=(2,)) * 2.0, feed={"v": np.ones(2)}, grads=True)


DETERMINISM = """
import hashlib, runpy, sys
digest = hashlib.sha256()
for path in sorted(sys.argv[1:]):
    for name, rendering in sorted(runpy.run_path(path)["pictures"]().items()):
        digest.update(name.encode() + rendering.source.encode())
print(digest.hexdigest())
"""


def test_dot_is_byte_identical_in_every_process():
    paths = sorted(str(p) for p in EXAMPLES.glob("[0-9]*.py"))
    digests = set()
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        result = subprocess.run([sys.executable, "-c", DETERMINISM, *paths], env=env,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        digests.add(result.stdout.strip())
    here = hashlib.sha256()
    import runpy
    for path in paths:
        for name, rendering in sorted(runpy.run_path(path)["pictures"]().items()):
            here.update(name.encode() + rendering.source.encode())
    assert digests == {here.hexdigest()}
