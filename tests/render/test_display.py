"""Gradient graphs drawn and printed by the command line without the seed's `× 1` (the raw form
on request), and the demo's printout and step-through page. (print itself: tests/test_text.py.)"""

from __future__ import annotations

import textwrap

import graphnn as gn
from graphnn.cli import main
from graphnn.render.pictures import render


def circuit():
    x, y, z = gn.input("x"), gn.input("y"), gn.input("z")
    return gn.mul(gn.add(x, y, name="q"), z, name="f"), [x, y, z]


def test_the_gradient_view_draws_no_times_one_unless_raw():
    f, inputs = circuit()
    feed = {"x": -2.0, "y": 5.0, "z": -4.0}
    simplified = render(f, feed=feed, grads=inputs, view="gradient").source
    raw = render(f, feed=feed, grads=inputs, view="gradient", raw=True).source
    assert ">×1<" not in simplified and ">×1<" in raw


def test_show_prints_gradients_simplified_or_raw(tmp_path, capsys):
    model = tmp_path / "model.py"
    model.write_text(textwrap.dedent("""
        import graphnn as gn
        x, y = gn.input("x"), gn.input("y")
        outputs = [x * y]
    """))
    assert main(["show", str(model), "--grad"]) == 0
    simplified = capsys.readouterr().out.split("# gradients")[1]
    assert "mul 1.0" not in simplified and "return y, x" in simplified
    assert main(["show", str(model), "--grad", "--raw"]) == 0
    assert "mul 1.0" in capsys.readouterr().out


def test_demo_prints_a_clean_gradient_graph_and_writes_the_step_through(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    gradient = out.split("graph neuron_gradient")[1].split("}")[0]
    assert "mul 1.0" not in gradient
    page = tmp_path / "neuron_steps.html"
    assert f"  {page.resolve()}" in out.split("step by step")[1]
    assert "∂f/∂add₂ = f·(1 - f) = 0.2; upstream 1 × local 0.2 = 0.2" in page.read_text()
