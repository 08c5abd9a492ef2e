"""Export a loss and its gradients together, for gradient descent in C: logistic regression on
200 points of two overlapping clouds (the data baked into the code), parameters w (2 numbers)
and b. One call returns the loss, d loss / d w and d loss / d b.

    python examples/aot/descent_export.py build
    cc -O2 -I build examples/aot/descent.c build/logistic.o -lpthread -o build/descent
    ./build/descent 0.5 200

`descend` below is the same loop in Python on gn.evaluate, the NumPy reference: the test checks
that the C program prints the same numbers.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

import graphnn as gn


def data(n: int = 200, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two Gaussian clouds in the plane, labels 0 and 1."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n).astype(np.float64)
    points = rng.normal(size=(n, 2)) + np.where(labels[:, None] > 0, 1.0, -1.0)
    return points, labels


def loss_and_gradients() -> tuple[list[gn.Node], list[gn.Node]]:
    """[loss, dloss/dw, dloss/db] and the inputs [w, b]."""
    points, labels = data()
    w = gn.input("w", shape=(2,))
    b = gn.input("b")
    probability = gn.sigmoid(gn.constant(points) @ w + b)
    loss = gn.binary_cross_entropy(probability, gn.constant(labels))
    return [loss, *gn.grad(loss, [w, b])], [w, b]


def descend(rate: float, steps: int) -> list[tuple[int, float, np.ndarray, float]]:
    """Gradient descent from w = 0, b = 0 with gn.evaluate: (step, loss, w, b) after every
    step, the loss being the one computed at that step's start."""
    outputs, _ = loss_and_gradients()
    w, b, trace = np.zeros(2), 0.0, []
    for step in range(steps):
        loss, dw, db = gn.evaluate(outputs, {"w": w, "b": b})
        w, b = w - rate * dw, b - rate * float(db)
        trace.append((step, float(loss), w.copy(), b))
    return trace


def export(out: Path) -> Path:
    outputs, inputs = loss_and_gradients()
    return gn.compile(outputs, inputs, name="logistic").export(out / "logistic.o").path


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "build")
    print(f"exported {export(target)} and {target / 'logistic.h'}")
