"""Logistic regression: one linear unit and a sigmoid, trained with binary cross-entropy.

p = sigmoid(w · x + b); the loss takes the logit w · x + b directly (BinaryCrossEntropy's
default, computed stably), and its gradient is the lecture's (p - y) x / n. On two Gaussian
blobs a line separates the classes; on two moons it cannot, and the accuracy shows it.

Run: python examples/training/03_logistic_regression.py
"""

from __future__ import annotations

import time

from graphnn import nn


def train(name: str, x, y, epochs: int, progress: bool) -> dict:
    x_train, y_train, x_test, y_test = nn.datasets.train_test_split(x, y, 0.25, seed=0)
    model = nn.Sequential([nn.Dense(1, init="zeros")], input_shape=(2,), seed=0)
    started = time.perf_counter()
    model.fit(x_train, y_train, loss="binary_cross_entropy", optimizer=nn.SGD(lr=0.5),
              epochs=epochs, batch_size=32, progress=progress)
    seconds = time.perf_counter() - started
    _, accuracy = model.evaluate(x_test, y_test, "binary_cross_entropy")
    w = model.values["dense1_w"].ravel()
    b = float(model.values["dense1_b"][0])
    print(f"{name:>6}: p = sigmoid({w[0]:+.2f} x0 {w[1]:+.2f} x1 {b:+.2f}); test accuracy "
          f"{accuracy:.1%} ({seconds:.2f} s)")
    return {"accuracy": accuracy, "seconds": seconds}


def main(epochs: int = 30, progress: bool = False) -> dict:
    results = {
        "blobs": train("blobs", *nn.datasets.blobs(400, centers=2, std=0.7, seed=0), epochs,
                       progress),
        "moons": train("moons", *nn.datasets.two_moons(400, noise=0.1, seed=0), epochs,
                       progress),
    }
    print("Two moons are not linearly separable: a hidden layer is needed to go further.")
    return results


if __name__ == "__main__":
    main()
