"""A convolution layer: two 3x3 filters over a 5x5 image, bias, relu, 2x2 max pooling, MSE.

conv2d's gradients are convolutions too (the adjoint in the input, a correlation in the
weights); max pooling routes each window's gradient to its maximum.

Run: python examples/05_conv.py [DIRECTORY] [--png]
"""

import numpy as np

import graphnn as gn
from graphnn.render.pictures import render, save_pictures

image = gn.input("image", shape=(1, 1, 5, 5))
with gn.scope("conv"):
    w = gn.input("w", shape=(2, 1, 3, 3))
    b = gn.input("b", shape=(1, 2, 1, 1))
    features = gn.relu(gn.conv2d(image, w, padding=1) + b, name="features")
pooled = gn.max_pool2d(features, 2, name="pooled")
loss = gn.mse(pooled, np.ones((1, 2, 2, 2)), name="loss")

rng = np.random.default_rng(1)
outputs = [loss]
feed = {"image": rng.normal(size=(1, 1, 5, 5)), "w": rng.normal(size=(2, 1, 3, 3)) * 0.5,
        "b": np.full((1, 2, 1, 1), 0.1)}
wrt = [w, b]


def pictures():
    """The layer with values and gradients summarized in each node."""
    return {"05_conv": render(loss, feed=feed, grads=wrt)}


if __name__ == "__main__":
    values = gn.evaluate([loss, pooled, *gn.grad(loss, wrt)], feed)
    print(f"loss = {float(values[0]):.4f}; pooled {values[1].shape}")
    with np.printoptions(precision=3, suppress=True):
        print(f"dL/dw {values[2].shape}:\n{values[2]}")
        print(f"dL/db = {values[3].ravel()}")
    for path in save_pictures(pictures()):
        print("wrote", path)
