"""The lecture neuron f = sigmoid(w0 x0 + w1 x1 + w2), written twice: with the sigmoid op, and
with primitives (*, +, unary -, exp, +1, 1/x) as the lecture's circuit diagram draws it.

Run: python examples/02_neuron.py
"""

import graphnn as gn

w0, x0, w1, x1, w2 = (gn.input(name) for name in ["w0", "x0", "w1", "x1", "w2"])
z = w0 * x0 + w1 * x1 + w2
f = gn.sigmoid(z, name="f")
f_primitives = 1.0 / (1.0 + gn.exp(-z))

outputs = [f]
feed = {"w0": 2.0, "x0": -1.0, "w1": -3.0, "x1": -2.0, "w2": -3.0}
wrt = [w0, x0, w1, x1, w2]

if __name__ == "__main__":
    for title, node in [("sigmoid op", f), ("primitives", f_primitives)]:
        values = gn.evaluate([node, *gn.grad(node, wrt)], feed)
        grads = ", ".join(f"df/d{w.name} = {float(v):.3f}" for w, v in zip(wrt, values[1:]))
        print(f"{title}: f = {float(values[0]):.3f}; {grads}")
    print(gn.Graph(f_primitives))
