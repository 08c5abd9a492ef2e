"""Logistic regression on one example: a = sigmoid(w·x + b), loss = binary cross-entropy.

Through the sigmoid, the cross-entropy's gradient collapses to dL/dz = a - y, and each weight
receives x (a - y): the picture shows both the loss as one node and expanded into primitives.

Run: python examples/03_logistic_regression.py [DIRECTORY] [--png]
"""

import numpy as np

import graphnn as gn
from graphnn.render.pictures import render, save_pictures

x = gn.input("x", shape=(3,))
w = gn.input("w", shape=(3,))
b = gn.input("b")
y = gn.input("y")
wx = gn.mul(w, x, name="wx")              # named nodes make the drawing's formulas read
s = gn.sum(wx, name="s")                  # like the notes: ∂z/∂s = 1, ∇wx = broadcast(g)
z = gn.add(s, b, name="z")
a = gn.sigmoid(z, name="a")
loss = gn.binary_cross_entropy(a, y, name="loss")

outputs = [loss]
feed = {"x": np.array([0.5, -1.0, 2.0]), "w": np.array([0.1, 0.4, -0.3]), "b": 0.2, "y": 1.0}
wrt = [w, b]


def pictures():
    """The loss as one BCE node, and expanded into the primitives that define it."""
    return {
        "03_logistic_regression": render(loss, feed=feed, grads=wrt),
        "03_logistic_regression_expanded": render(loss, feed=feed, grads=wrt, expand=True),
    }


if __name__ == "__main__":
    loss_value, a_value, dz, dw, db = gn.evaluate([loss, a, *gn.grad(loss, [z, w, b])], feed)
    print(f"a = {float(a_value):.4f}, loss = {float(loss_value):.4f}")
    print(f"dL/dz = a - y = {float(dz):.4f}")
    print(f"dL/dw = x (a - y) = {np.round(dw, 4)}, dL/db = {float(db):.4f}")
    for path in save_pictures(pictures()):
        print("wrote", path)
