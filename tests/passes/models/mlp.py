"""The MLP 784-256-10 of the optimizer's effect tests: float32, batch 64, ReLU, softmax
cross-entropy against one-hot targets fed as an input, gradients for both layers.

Run: python -m graphnn optimize tests/passes/models/mlp.py
"""

import numpy as np

import graphnn as gn

x = gn.input("x", shape=(64, 784), dtype="float32")
W1 = gn.input("W1", shape=(784, 256), dtype="float32")
b1 = gn.input("b1", shape=(256,), dtype="float32")
W2 = gn.input("W2", shape=(256, 10), dtype="float32")
b2 = gn.input("b2", shape=(10,), dtype="float32")
y = gn.input("y", shape=(64, 10), dtype="float32")
h = gn.relu(x @ W1 + b1, name="h")
logits = gn.add(h @ W2, b2, name="logits")
loss = gn.softmax_cross_entropy(logits, y, name="loss")

rng = np.random.default_rng(0)
outputs = [loss]
wrt = [W1, b1, W2, b2]
feed = {"x": rng.random((64, 784), dtype=np.float32),
        "W1": rng.normal(0, 0.05, (784, 256)).astype(np.float32),
        "b1": np.zeros(256, np.float32),
        "W2": rng.normal(0, 0.1, (256, 10)).astype(np.float32),
        "b2": np.zeros(10, np.float32),
        "y": np.eye(10, dtype=np.float32)[rng.integers(0, 10, 64)]}
