"""`graphnn demo`: the lecture neuron f = sigmoid(w0 x0 + w1 x1 + w2), end to end.

Stage: command line. Input: the directory for the pictures. Output: printed text (the graph,
its gradient graph, values from the NumPy reference and from native code, the loop IR, where
the pictures went, the SymPy report) and the pictures and step-through page it names.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

from graphnn.autodiff import grad
from graphnn.compiler import compile as compile_graph
from graphnn.errors import OpError
from graphnn.evaluate import evaluate
from graphnn.graph import Graph
from graphnn.ir import Node, apply
from graphnn.ir import input as declare
from graphnn.ops import sigmoid
from graphnn.render.animate import animate
from graphnn.render.drawing import RenderError, backend
from graphnn.render.pictures import Feed, write_picture
from graphnn.symbolic import check_gradients

NEURON_FEED = {"w0": 2.0, "x0": -1.0, "w1": -3.0, "x1": -2.0, "w2": -3.0}


def lecture_neuron():
    """f = sigmoid(w0 x0 + w1 x1 + w2) over five scalar inputs, and the inputs in order."""
    w0, x0, w1, x1, w2 = (declare(name) for name in NEURON_FEED)
    return sigmoid(w0 * x0 + w1 * x1 + w2, name="f"), [w0, x0, w1, x1, w2]


def demo(out=None, pictures: str = "out") -> int:
    out = out or sys.stdout
    f, inputs = lecture_neuron()
    grads = grad(f, inputs)
    say = lambda *parts: print(*parts, file=out)  # noqa: E731
    say("graphnn demo: the lecture neuron  f = sigmoid(w0*x0 + w1*x1 + w2)\n")
    say(f"{Graph(f, name='neuron')}\n")
    say("Its gradient, built by reverse mode as a graph of its own:\n")
    say(f"{Graph(grads, name='neuron_gradient')}\n")
    feed_text = ", ".join(f"{k} = {v:g}" for k, v in NEURON_FEED.items())
    say(f"Evaluated with the NumPy reference at {feed_text}:\n")
    values = evaluate([f, *grads], NEURON_FEED)
    say(f"  {'f':<6} = {float(values[0]):+.4f}")
    for node, value in zip(inputs, values[1:]):
        say(f"  {'df/d' + node.name:<6} = {float(value):+.4f}")
    say("\nCompiled to native code through LLVM and called with the same values:\n")
    function = compile_graph([f, *grads], inputs, name="neuron")
    compiled = function(**NEURON_FEED)
    worst = max(abs(float(a) - float(b)) for a, b in zip(compiled, values))
    say("  " + ", ".join(f"{float(v):+.4f}" for v in compiled))
    say(f"  largest difference from the NumPy reference: {worst:.1e}")
    say("\nIts loop IR (one fused loop body, no intermediate arrays):\n")
    say(function.loop_ir)
    drawn = write_neuron_pictures(f, inputs, NEURON_FEED, Path(pictures))
    say("\nDrawn with values (green), gradients (red) and the chain rule on every edge:")
    for path in drawn:
        say(f"  {path}")
    say("\nBackpropagation step by step, a page to open in a browser (arrow keys step):")
    say(f"  {write_neuron_steps(f, inputs, NEURON_FEED, Path(pictures))}")
    say("\nVerified with SymPy: sympy.diff of f against graphnn's gradient graph in SymPy:\n")
    report = check_gradients(f, inputs, feed=NEURON_FEED)
    say(report)
    return 0 if report.ok else 1


def write_neuron_pictures(f: Node, inputs: Sequence[Node], feed: Feed,
                          directory: str | os.PathLike) -> list[Path]:
    """The lecture neuron f = sigmoid(z) drawn twice into `directory`: neuron.svg with the σ
    gate, neuron_primitives.svg as the circuit 1 / (1 + exp(-z)); the absolute paths.

    Without Graphviz to draw SVG, the DOT sources are written instead (neuron.dot, ...).

    >>> import graphnn as gn, tempfile
    >>> w, x = gn.input("w"), gn.input("x")
    >>> paths = write_neuron_pictures(gn.sigmoid(w * x), [w, x], {"w": 2.0, "x": -1.0},
    ...                               tempfile.mkdtemp())
    >>> [p.name for p in paths]
    ['neuron.svg', 'neuron_primitives.svg']
    """
    if f.op != "sigmoid":
        raise OpError(f"the neuron's picture needs f = sigmoid(z), got {f.describe()}")
    z = f.inputs[0]
    circuit = 1.0 / (1.0 + apply("exp", -z))
    suffix = ".svg" if backend() else ".dot"
    return [write_picture(node, Path(directory) / (stem + suffix), feed=feed, grads=inputs)
            for stem, node in (("neuron", f), ("neuron_primitives", circuit))]


def write_neuron_steps(f: Node, inputs: Sequence[Node], feed: Feed,
                       directory: str | os.PathLike) -> Path | str:
    """The step-through page of the lecture neuron, neuron_steps.html in `directory`: its
    absolute path, or without Graphviz to draw it, the reason (the demo prints either)."""
    try:
        return animate(f, feed=feed, grads=list(inputs)).save(
            Path(directory) / "neuron_steps.html").resolve()
    except RenderError as error:
        return f"(not written: {error})"
