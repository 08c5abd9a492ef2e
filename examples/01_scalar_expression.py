"""The first example of the course notes: f = (x + y) z at x = -2, y = 5, z = -4.

Run: python examples/01_scalar_expression.py   (or: python -m graphnn show <this file> --grad)
"""

import graphnn as gn

x, y, z = gn.input("x"), gn.input("y"), gn.input("z")
q = gn.add(x, y, name="q")
f = gn.mul(q, z, name="f")

outputs = [f]
feed = {"x": -2.0, "y": 5.0, "z": -4.0}
wrt = [x, y, z]

if __name__ == "__main__":
    print(gn.Graph(f))
    grads = gn.grad(f, wrt)
    values = gn.evaluate([f, *grads], feed)
    print("f =", float(values[0]))                           # -12
    for node, value in zip(wrt, values[1:]):
        print(f"df/d{node.name} = {float(value)}")            # -4, -4, 3
