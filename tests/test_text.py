"""The text form: numbering, literals, attributes, names, determinism; print leaves out the
products by 1 that gn.grad's seed makes, and the raw form keeps them."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

import graphnn as gn
from graphnn.text import without_unit_factors


def test_constants_inline_and_numbered():
    x = gn.input("x", shape=(2,), dtype="float32")
    y = x * 0.1 + np.array([1.0, 2.0], dtype=np.float32)
    text = str(gn.Graph(y))
    assert "mul x, 0.1" in text                      # float32 literal, shortest form
    assert "constant [1.0, 2.0]" in text


def test_large_constants_are_hashed():
    y = gn.input("x", shape=(100,)) + np.arange(100.0)
    assert "constant <sha256:" in str(gn.Graph(y))


def test_attributes_differing_from_defaults_are_listed():
    x = gn.input("x", shape=(2, 3))
    text = str(gn.Graph([gn.sum(x, axis=1, keepdims=True), gn.leaky_relu(x),
                         gn.leaky_relu(x, alpha=0.2)]))
    assert "sum x {axis=(1,), keepdims=True}" in text
    assert "leaky_relu x  " in text and "leaky_relu x {alpha=0.2}" in text


def test_names_are_shown_as_comments():
    x = gn.input("x")
    assert "# h" in str(gn.Graph(gn.relu(x, name="h")))


def test_special_values():
    x = gn.input("x")
    text = str(gn.Graph([x + np.inf, x * np.nan, x - 1e-30]))
    assert "add x, inf" in text and "mul x, nan" in text and "sub x, 1e-30" in text


SCRIPT = """
import numpy as np, graphnn as gn
x = gn.input("x", shape=(4, 3)); w = gn.input("w", shape=(3, 2))
loss = gn.softmax_cross_entropy(x @ w + np.ones(2), np.eye(2)[[0, 1, 1, 0]])
g = gn.Graph([loss, *gn.grad(loss, [x, w])])
print(g, g.text(raw=True))
"""


def test_same_text_in_every_process():
    runs = {subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                           env={"PYTHONHASHSEED": seed, "PATH": ""}).stdout
            for seed in ("0", "1", "random")}
    assert len(runs) == 1 and "softmax_cross_entropy" in runs.pop()


def test_a_gradient_prints_without_the_seeds_products_by_one():
    # issue 18's reproducer: print(gn.Graph(gn.grad(f, [x, y, z]))) for f = (x + y) z
    x, y, z = gn.input("x"), gn.input("y"), gn.input("z")
    graph = gn.Graph(gn.grad((x + y) * z, [x, y, z]), [x, y, z], name="df")
    assert str(graph) == graph.text() == (
        "graph df(x: f64[], y: f64[], z: f64[]) {\n"
        "  %0 = add x, y  : f64[]\n"
        "  return z, z, %0\n"
        "}")
    assert graph.text(raw=True) == (
        "graph df(x: f64[], y: f64[], z: f64[]) {\n"
        "  %0 = mul 1.0, z   : f64[]\n"
        "  %1 = add x, y     : f64[]\n"
        "  %2 = mul 1.0, %1  : f64[]\n"
        "  return %0, %0, %2\n"
        "}")
    assert graph.outputs[0].op == "mul"               # what gn.grad built is unchanged


def test_the_neuron_gradient_prints_clean():
    names = ["w0", "x0", "w1", "x1", "w2"]
    w0, x0, w1, x1, w2 = inputs = [gn.input(n) for n in names]
    f = gn.sigmoid(w0 * x0 + w1 * x1 + w2)
    text = str(gn.Graph(gn.grad(f, inputs)))
    assert "mul 1.0" not in text and ", 1.0 " not in text and "sub 1.0, %4" in text
    assert "mul 1.0" in gn.Graph(gn.grad(f, inputs)).text(raw=True)


def test_left_out_products_keep_the_values():
    x, w = gn.input("x", shape=(3,)), gn.input("w", shape=(3,))
    loss = gn.sum(gn.sigmoid(x * w) / 1.0)
    grads = gn.grad(loss, [w])
    shown, _ = without_unit_factors(grads)
    feed = {"x": [1.0, -2.0, 0.5], "w": [0.3, 0.1, -1.0]}
    assert all(abs(a - b).max() == 0 for a, b in zip(gn.evaluate(grads, feed),
                                                     gn.evaluate(shown, feed)))

    def by_one(nodes):
        return [n for n in gn.Graph(nodes).nodes if n.op in ("mul", "div") and any(
            i.op == "constant" and i.shape == () and float(i.value) == 1.0 for i in n.inputs)]
    assert by_one(grads) and not by_one(shown)


def test_a_product_by_an_array_of_ones_is_kept():
    x = gn.input("x")
    (shown,), _ = without_unit_factors([x * gn.constant([1.0, 1.0])])
    assert shown.shape == (2,) and shown.op == "mul"
    assert "mul x, %0" in str(gn.Graph(x * np.ones(2)))
