"""The first example of the course notes: f = (x + y) z at x = -2, y = 5, z = -4.

Add distributes the upstream gradient to both of its inputs; mul swaps its inputs.

Run: python examples/01_scalar_expression.py [DIRECTORY] [--png]
     (or: python -m graphnn show <this file> --grad)
"""

import graphnn as gn
from graphnn.render.pictures import render, save_pictures

x, y, z = gn.input("x"), gn.input("y"), gn.input("z")
q = gn.add(x, y, name="q")
f = gn.mul(q, z, name="f")

outputs = [f]
feed = {"x": -2.0, "y": 5.0, "z": -4.0}
wrt = [x, y, z]


def pictures():
    """The lecture's circuit with values, gradients and the chain rule on every edge."""
    return {"01_scalar_expression": render(f, feed=feed, grads=wrt)}


if __name__ == "__main__":
    print(gn.Graph(f))
    grads = gn.grad(f, wrt)
    values = gn.evaluate([f, *grads], feed)
    print("f =", float(values[0]))                           # -12
    for node, value in zip(wrt, values[1:]):
        print(f"df/d{node.name} = {float(value)}")            # -4, -4, 3
    for path in save_pictures(pictures()):
        print("wrote", path)
