"""Gradient graphs printed and drawn without the seed's `× 1` (the raw form on request), and
the demo's printout and step-through page."""

from __future__ import annotations

import textwrap

import graphnn as gn
from graphnn.cli import main
from graphnn.render.display import display_text, simplify_for_display
from graphnn.render.pictures import render


def circuit():
    x, y, z = gn.input("x"), gn.input("y"), gn.input("z")
    return gn.mul(gn.add(x, y, name="q"), z, name="f"), [x, y, z]


def test_products_by_one_are_left_out_of_the_text():
    f, inputs = circuit()
    graph = gn.Graph(gn.grad(f, inputs), name="df")
    assert "mul 1.0" in str(graph)                     # what gn.grad built is unchanged
    shown = display_text(graph)
    assert "1.0" not in shown and "return z, z, %0" in shown
    assert display_text(graph, raw=True) == str(graph)


def test_simplified_gradients_have_the_same_values():
    x, w = gn.input("x", shape=(3,)), gn.input("w", shape=(3,))
    loss = gn.sum(gn.sigmoid(x * w) / 1.0)
    grads = gn.grad(loss, [w])
    shown, mapping = simplify_for_display(grads)
    feed = {"x": [1.0, -2.0, 0.5], "w": [0.3, 0.1, -1.0]}
    assert all(abs(a - b).max() == 0 for a, b in zip(gn.evaluate(grads, feed),
                                                     gn.evaluate(shown, feed)))
    def by_one(nodes):
        return [n for n in gn.Graph(nodes).nodes if n.op in ("mul", "div") and any(
            i.op == "constant" and i.shape == () and float(i.value) == 1.0 for i in n.inputs)]
    assert by_one(grads) and not by_one(shown)


def test_a_product_by_one_that_broadcasts_is_kept():
    x = gn.input("x")
    ones = gn.constant([1.0, 1.0])
    (shown,), _ = simplify_for_display([x * ones])
    assert shown.shape == (2,) and shown.op == "mul"


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
