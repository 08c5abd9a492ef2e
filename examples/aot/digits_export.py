"""Train a 64-64-10 MLP on scikit-learn's 8x8 digits, then export its forward pass for C twice:
with the trained weights baked into the code (digits_baked.o), and with the weights as inputs
(digits_inputs.so, the weights in digits_weights.bin). Writes the test set for the C program.

    python examples/aot/digits_export.py build
    cc -O2 -I build examples/aot/classify.c build/digits_baked.o build/digits_inputs.so \
        -lpthread -Wl,-rpath,'$ORIGIN' -o build/classify
    ./build/classify build

The test set file, digits_test.bin: the number of examples n and the pixels per example (64)
as two int32, n * 64 float32 pixels (row-major), n int32 labels. digits_weights.bin holds the
inputs W1, b1, W2, b2 of digits_inputs as float32, in that order. Everything is little-endian,
as the machine's. The digits come with scikit-learn (pip install ".[digits]"): nothing is
downloaded.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

import graphnn as gn
from graphnn import nn

BATCH = 50           # rows per call of the kernel; digits_*_batch takes any number of rows


def train(epochs: int) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """The trained parameters and the test set (x, labels)."""
    x, y = nn.datasets.load_digits()
    x_train, y_train, x_test, y_test = nn.datasets.train_test_split(x, y, 0.2, seed=0)
    model = nn.Sequential([nn.Dense(64, "relu"), nn.Dense(10)], input_shape=(64,), seed=0)
    model.fit(x_train, y_train, loss="softmax_cross_entropy",
              optimizer=nn.SGD(lr=0.1, momentum=0.9), epochs=epochs, batch_size=32,
              progress=False)
    return model.get_parameters(), x_test, y_test


def forward(x: gn.Node, w1, b1, w2, b2) -> gn.Node:
    """The logits: relu(x W1 + b1) W2 + b2."""
    return gn.relu(x @ w1 + b1) @ w2 + b2


def export(out: Path, epochs: int = 20) -> dict[str, object]:
    """Train, export both variants and write the data files into `out`; what the C program
    should print is returned (the test checks it against gn.evaluate)."""
    params, x_test, y_test = train(epochs)
    weights = [params[k] for k in ("dense1_w", "dense1_b", "dense2_w", "dense2_b")]
    x = gn.input("x", shape=(BATCH, 64), dtype="float32")
    baked = forward(x, *(gn.constant(w) for w in weights))
    gn.compile(baked, [x], name="digits_baked").export(out / "digits_baked.o")
    inputs = [gn.input(n, shape=w.shape, dtype="float32")
              for n, w in zip(("W1", "b1", "W2", "b2"), weights)]
    passed = forward(x, *inputs)
    gn.compile(passed, [x, *inputs], name="digits_inputs").export(out / "digits_inputs.so")
    with open(out / "digits_test.bin", "wb") as f:
        np.array(x_test.shape, dtype="<i4").tofile(f)
        np.ascontiguousarray(x_test, dtype="<f4").tofile(f)
        np.asarray(y_test, dtype="<i4").tofile(f)
    with open(out / "digits_weights.bin", "wb") as f:
        for w in weights:
            np.ascontiguousarray(w, dtype="<f4").tofile(f)
    x_all = gn.input("x", shape=x_test.shape, dtype="float32")
    logits = gn.evaluate(forward(x_all, *(gn.constant(w) for w in weights)), {"x": x_test})
    accuracy = float(np.mean(np.argmax(logits, axis=1) == y_test))
    return {"logits": logits, "accuracy": accuracy, "count": len(y_test)}


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "build")
    target.mkdir(parents=True, exist_ok=True)
    result = export(target)
    print(f"exported to {target}/: digits_baked.o, digits_inputs.so and their headers; "
          f"gn.evaluate's test accuracy {result['accuracy']:.4f} on {result['count']} digits")
