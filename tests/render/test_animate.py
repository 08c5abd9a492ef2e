"""gn.animate: the frames of backpropagation step by step (golden sequences for the lecture's
circuit and neuron), saving as a page, a PDF and numbered frames, and the command line."""

from __future__ import annotations

import re
import runpy
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

import graphnn as gn
from graphnn.render import pdf
from graphnn.render.drawing import backend

EXAMPLES = Path(__file__).parents[2] / "examples"
needs_graphviz = pytest.mark.skipif(backend() is None, reason="no Graphviz to draw frames "
                                    "(pip install pygraphviz, or apt-get install graphviz)")


def example(stem: str) -> dict:
    return runpy.run_path(str(EXAMPLES / f"{stem}.py"))


def circuit() -> gn.animate:
    module = example("01_scalar_expression")
    return gn.animate(module["f"], feed=module["feed"], grads=module["wrt"])


@pytest.mark.parametrize("stem,node", [("01_scalar_expression", "f"), ("02_neuron", "f"),
                                       ("02_neuron", "f_primitives")])
def test_frame_sequences_match_their_golden_files(stem, node, golden):
    module = example(stem)
    animation = gn.animate(module[node], feed=module["feed"], grads=module["wrt"])
    golden(f"animate/{stem}_{node}.frames", animation.text() + "\n")


def test_forward_then_backward_one_step_per_frame():
    frames = circuit().frames
    assert [f.phase for f in frames] == ["inputs", "forward", "forward", "seed", "backward",
                                         "backward", "backward", "backward"]
    assert frames[1].words == "q = x + y = -2 + 5 = 3"
    assert frames[2].words == "f = q × z = 3 × (-4) = -12"
    assert frames[4].words == "∂f/∂q = z = -4; upstream 1 × local -4 = -4"     # the issue's
    assert frames[6].words == "∂q/∂x = 1; upstream -4 × local 1 = -4 = ∂f/∂x"
    # each frame shows everything the one before did, and more
    for before, after in zip(frames, frames[1:]):
        assert before.shown < after.shown


def test_fan_out_sums_accumulate_one_use_per_frame():
    x, y = gn.input("x"), gn.input("y")
    q = gn.add(x, y, name="q")
    h = gn.mul(x, q, name="h")
    frames = gn.animate(h, feed={"x": 3.0, "y": -4.0}).frames
    uses = [f.words for f in frames if f.node == "x" and f.phase == "backward"]
    assert uses == [
        "∂h/∂x = q = -1; upstream 1 × local -1 = -1; x is used 2 times: ∂h/∂x so far = -1",
        "∂q/∂x = 1; upstream 3 × local 1 = 3; x is used 2 times: ∂h/∂x in all = (-1) + 3 = 2"]
    sums = [f for f in frames if ("grad", x) in f.shown]
    assert sums[0].words == uses[1]          # x's sum appears with its last use


NUMBER = r"\(?(-?[\d.]+(?:e[-+]?\d+)?)\)?"
TERM = r"\(?-?[\d.]+(?:e[-+]?\d+)?\)?"


def decimals(text: str) -> int:
    return len(text.split(".")[1]) if "." in text and "e" not in text else 0


def reads_right(words: str) -> list[str]:
    """The products and sums in a step's words whose result is not what their numbers, as
    written, give at the result's decimals (or the factors', when they have more)."""
    wrong = []
    for a, b, c in re.findall(rf"upstream {NUMBER} × local {NUMBER} = {NUMBER}", words):
        places = max(decimals(a), decimals(b), decimals(c))
        if round(float(a) * float(b), places) != round(float(c), places):
            wrong.append(f"{a} × {b} = {c}")
    for terms, total in re.findall(rf"= ((?:{TERM} \+ )+{TERM}) = {NUMBER}$", words):
        numbers = [t.strip("()") for t in terms.split(" + ")]
        places = max(decimals(t) for t in [*numbers, total])
        if round(sum(float(t) for t in numbers), places) != round(float(total), places):
            wrong.append(f"{terms} = {total}")
    return wrong


@pytest.mark.parametrize("stem,node", [("02_neuron", "f"), ("02_neuron", "f_primitives"),
                                       ("03_logistic_regression", "loss"),
                                       ("06_gradient_patterns", "f")])
def test_the_arithmetic_in_the_words_reads_right(stem, node):
    module = example(stem)
    frames = gn.animate(module[node], feed=module["feed"], grads=module["wrt"]).frames
    steps = [f.words for f in frames if "upstream" in f.words]
    assert steps and [w for w in steps if reads_right(w)] == []
    assert reads_right("upstream 0.2 × local -2 = -0.39") == ["0.2 × -2 = -0.39"]


def test_the_neuron_reads_its_exact_products():
    module = example("02_neuron")
    words = [f.words for f in gn.animate(module["f"], feed=module["feed"],
                                         grads=module["wrt"]).frames]
    # 0.1966 is df/dz: 0.2 × -2 would be -0.4, not the -0.39 the drawing shows for df/dw1
    assert "∂mul₂/∂w1 = x1 = -2; upstream 0.1966 × local -2 = -0.3932 = ∂f/∂w1" in words
    assert "∂f/∂z = f·(1 - f) = 0.2; upstream 1 × local 0.2 = 0.2" in words


def test_fan_out_sums_read_right_with_more_digits():
    x = gn.input("x")
    f = gn.add(gn.mul(x, 0.114, name="a"), gn.mul(x, 0.1141, name="b"), name="f")
    frames = gn.animate(f, feed={"x": 1.0}).frames
    (last,) = [w.words for w in frames if "in all" in w.words]
    assert not reads_right(last) and last.endswith("= 0.114 + 0.114 = 0.228")   # not 0.11 +
    assert reads_right("∂f/∂x in all = 0.11 + 0.11 = 0.23") == ["0.11 + 0.11 = 0.23"]


def test_neg_and_square_read_as_formulas():
    x = gn.input("x")
    n = gn.neg(x, name="n")
    frames = gn.animate(gn.square(n, name="s"), feed={"x": 3.0}).frames
    assert frames[1].words == "n = -(x) = -(3) = -3"
    assert frames[2].words == "s = (n)² = (-3)² = 9"
    folded = gn.animate(gn.mul(x, -2.0, name="m"), feed={"x": 3.0}).frames
    assert folded[1].words == "m = x × (-2) = 3 × (-2) = -6"


def test_tensor_steps_show_shapes_and_gradient_formulas():
    mlp = example("04_mlp")
    frames = gn.animate(mlp["loss"], feed=mlp["feed"], grads=mlp["wrt"]).frames
    words = [f.words for f in frames]
    assert "h = relu(add): [4×5] mean 0.17 ± 0.37" in words
    assert any(w.startswith("∂loss/∂W1 = xᵀ @ g with g = ∂loss/∂matmul₁") for w in words)


def test_compiled_functions_and_graphs_animate_their_graph():
    x = gn.input("x")
    y = gn.sigmoid(x, name="y")
    function = gn.compile([y, *gn.grad(y, [x])])
    from_function = gn.animate(function, feed={"x": 0.0}, grads=[x]).text()
    assert from_function == gn.animate(y, feed={"x": 0.0}, grads=[x]).text()
    assert "∂y/∂x = y·(1 - y) = 0.25" in from_function


def test_bad_requests_are_clear_errors():
    x = gn.input("x", shape=(3,))
    with pytest.raises(gn.GraphnnError, match="needs feed"):
        gn.animate(gn.sum(x))
    with pytest.raises(gn.OpError, match="must be a scalar"):
        gn.animate(gn.exp(x), feed={"x": np.zeros(3)})
    forward_only = gn.animate(gn.exp(x), feed={"x": np.zeros(3)}, grads=None)
    assert [f.phase for f in forward_only.frames] == ["inputs", "forward"]
    with pytest.raises(gn.GraphnnError, match="cannot tell how to save"):
        forward_only.save("frames.gif")


@needs_graphviz
def test_frames_share_one_layout():
    animation = circuit()
    shapes = []
    for k in (0, 5, len(animation.frames) - 1):
        root = ET.fromstring(animation.rendering(k).svg())
        nodes = [g for g in root.iter("{http://www.w3.org/2000/svg}g") if g.get("class") == "node"]
        shapes.append([(e.tag, e.get("points") or e.get("cx"), e.get("x"), e.get("y"))
                       for g in nodes for e in g.iter()
                       if e.tag.endswith(("polygon", "ellipse", "text"))])
    assert shapes[0] == shapes[1] == shapes[2]


@needs_graphviz
def test_page_is_self_contained(tmp_path):
    text = circuit().save(tmp_path / "f.html").read_text()
    assert text.startswith("<!DOCTYPE html>") and text.count("<svg") == 1
    for external in ("<script src", "<link", "@import", "url(", "@font-face", "<img"):
        assert external not in text
    outside = {u for u in re.findall(r"https?://[^\s\"'<>)]+", text)
               if not u.startswith(("http://www.w3.org/",))}
    assert not outside
    assert 'id="prev"' in text and 'id="next"' in text and 'id="play"' in text
    assert "∂f/∂q = z = -4; upstream 1 × local -4 = -4" in text


@needs_graphviz
def test_pdf_has_a_page_per_frame(tmp_path):
    animation = circuit()
    data = animation.save(tmp_path / "f.pdf").read_bytes()
    objects = pdf._objects(data)                 # its cross-reference table reads back
    pages = [b for b in objects.values() if re.search(rb"/Type\s*/Page\b(?!s)", b)]
    assert len(pages) == len(animation.frames)
    (tree,) = [b for n, b in objects.items() if b"/Kids" in b and b"/Count 8" in b]
    assert tree.count(b" 0 R") == len(animation.frames)


@needs_graphviz
@pytest.mark.parametrize("stem,node", [("01_scalar_expression", "f"),
                                       ("02_neuron", "f_primitives")])
def test_pdf_pages_are_slides_with_the_words_and_the_frame_number(tmp_path, stem, node):
    pypdf = pytest.importorskip("pypdf", reason="pypdf (in the test extra) reads the PDF back")
    module = example(stem)
    animation = gn.animate(module[node], feed=module["feed"], grads=module["wrt"])
    reader = pypdf.PdfReader(animation.save(tmp_path / "frames.pdf"))
    count = len(animation.frames)
    assert len(reader.pages) == count
    sizes = {(float(p.mediabox.width), float(p.mediabox.height)) for p in reader.pages}
    (width, height), = sizes                                  # one page size for every frame
    assert abs(width / height - 16 / 9) < 0.005

    def squeezed(text: str) -> str:                           # the words, wrapped or not
        return re.sub(r"\s+", "", text)

    for k, (page, frame) in enumerate(zip(reader.pages, animation.frames)):
        text = page.extract_text()
        assert f"{k + 1} / {count}" in text
        assert squeezed(frame.words) in squeezed(text), (k, frame.words)


@needs_graphviz
@pytest.mark.parametrize("kind", ["svg", "png"])
def test_frames_saved_as_numbered_pictures(tmp_path, kind):
    animation = circuit()
    directory = animation.save(tmp_path / "frames", format=kind)
    names = sorted(p.name for p in directory.iterdir())
    assert names == [f"frame_{k}.{kind}" for k in range(1, 9)]
    if kind == "svg":
        first = (directory / "frame_1.svg").read_text()
        assert 'fill="transparent">&#45;12.00' in first        # laid out, not yet shown


@needs_graphviz
def test_command_line_writes_the_page(tmp_path):
    out = tmp_path / "neuron.html"
    result = subprocess.run([sys.executable, "-m", "graphnn", "animate",
                             str(EXAMPLES / "02_neuron.py"), "--out", str(out), "--set",
                             "w2=-2"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert f"wrote {out}" in result.stdout
    assert "z = add + w2 = 4 + (-2) = 2" in out.read_text()
