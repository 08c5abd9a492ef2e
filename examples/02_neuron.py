"""The lecture neuron f = sigmoid(w0 x0 + w1 x1 + w2), written twice: with the sigmoid op, and
with primitives (*, +, *-1, exp, +1, 1/x) as the lecture's circuit diagram draws it.

At w0 = 2, x0 = -1, w1 = -3, x1 = -2, w2 = -3: f = 0.73 and the gradients are -0.20, 0.39,
-0.39, -0.59, 0.20. The sigmoid gate's local derivative is σ(1 - σ) = 0.20.

Run: python examples/02_neuron.py [DIRECTORY] [--png]
"""

import graphnn as gn
from graphnn.render.pictures import render, save_pictures

w0, x0, w1, x1, w2 = (gn.input(name) for name in ["w0", "x0", "w1", "x1", "w2"])
z = gn.add(w0 * x0 + w1 * x1, w2, name="z")
f = gn.sigmoid(z, name="f")
f_primitives = 1.0 / (1.0 + gn.exp(-z))

outputs = [f]
feed = {"w0": 2.0, "x0": -1.0, "w1": -3.0, "x1": -2.0, "w2": -3.0}
wrt = [w0, x0, w1, x1, w2]


def pictures():
    """The neuron as one σ gate, as the lecture's circuit of primitives, its gradient graph,
    and that graph before and after optimization."""
    return {
        "02_neuron": render(f, feed=feed, grads=wrt),
        "02_neuron_primitives": render(f_primitives, feed=feed, grads=wrt),
        "02_neuron_gradient": render(f, feed=feed, grads=wrt, view="gradient"),
        "02_neuron_optimized": render(f, feed=feed, grads=wrt, view="optimized"),
    }


if __name__ == "__main__":
    for title, node in [("sigmoid op", f), ("primitives", f_primitives)]:
        values = gn.evaluate([node, *gn.grad(node, wrt)], feed)
        grads = ", ".join(f"df/d{w.name} = {float(v):.3f}" for w, v in zip(wrt, values[1:]))
        print(f"{title}: f = {float(values[0]):.3f}; {grads}")
    print(gn.Graph(f_primitives))
    for path in save_pictures(pictures()):
        print("wrote", path)
