"""A two-layer MLP on a batch of four examples: relu(x W1 + b1) W2 + b2, softmax cross-entropy.

Each layer is built under `gn.scope`, so drawings group it in a cluster (or collapse it into
one box). Matmul's gradients are g W^T and x^T g; the bias gradients sum g over the batch.

Run: python examples/04_mlp.py [DIRECTORY] [--png]
"""

import numpy as np

import graphnn as gn
from graphnn.render.pictures import render, save_pictures

x = gn.input("x", shape=(4, 3))
with gn.scope("layer1"):
    W1 = gn.input("W1", shape=(3, 5))
    b1 = gn.input("b1", shape=(5,))
    h = gn.relu(x @ W1 + b1, name="h")
with gn.scope("layer2"):
    W2 = gn.input("W2", shape=(5, 2))
    b2 = gn.input("b2", shape=(2,))
    logits = gn.add(h @ W2, b2, name="logits")
targets = np.eye(2)[[0, 1, 1, 0]]
loss = gn.softmax_cross_entropy(logits, targets, name="loss")

rng = np.random.default_rng(0)
outputs = [loss]
feed = {"x": rng.normal(size=(4, 3)), "W1": rng.normal(size=(3, 5)) * 0.5, "b1": np.zeros(5),
        "W2": rng.normal(size=(5, 2)) * 0.5, "b2": np.zeros(2)}
wrt = [W1, b1, W2, b2]


def pictures():
    """The network with its layers as clusters, the same with layers collapsed, its gradient."""
    return {
        "04_mlp": render(loss, feed=feed, grads=wrt),
        "04_mlp_collapsed": render(loss, feed=feed, grads=wrt, collapse=True),
        "04_mlp_gradient": render(loss, feed=feed, grads=wrt, view="gradient"),
    }


if __name__ == "__main__":
    values = gn.evaluate([loss, *gn.grad(loss, wrt)], feed)
    print(f"loss = {float(values[0]):.4f}")
    with np.printoptions(precision=3, suppress=True):
        for node, value in zip(wrt, values[1:]):
            print(f"dL/d{node.name} {value.shape}:\n{value}")
    for path in save_pictures(pictures()):
        print("wrote", path)
