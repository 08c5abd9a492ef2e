"""Consecutive ones: does a 10-bit string contain "11"? An MLP with dropout, Adam and early
stopping, then saved to .npz and loaded into a fresh model of the same architecture.

No single threshold unit detects "two neighbouring 1s anywhere", but one hidden unit per pair
of neighbours (x_i AND x_i+1) and an OR on top does; the network finds its own version. The
1024 strings are split 75/25; 20% of the training part is held out to decide when to stop.

Run: python examples/training/07_consecutive_ones.py
"""

from __future__ import annotations

import os
import tempfile
import time

from graphnn import nn


def build(seed: int = 0) -> nn.Sequential:
    return nn.Sequential([nn.Dense(32, "relu"), nn.Dropout(0.1), nn.Dense(1)],
                         input_shape=(10,), seed=seed)


def main(epochs: int = 200, progress: bool = True) -> dict:
    x, y = nn.datasets.consecutive_ones(10)
    x_train, y_train, x_test, y_test = nn.datasets.train_test_split(x, y, 0.25, seed=0)
    model = build()
    started = time.perf_counter()
    history = model.fit(x_train, y_train, loss="binary_cross_entropy",
                        optimizer=nn.Adam(lr=0.01), epochs=epochs, batch_size=32,
                        validation_split=0.2, patience=15, progress=progress)
    seconds = time.perf_counter() - started
    _, accuracy = model.evaluate(x_test, y_test, "binary_cross_entropy")
    stopped = f"stopped early at epoch {history.stopped_epoch}, best epoch " \
        f"{history.best_epoch}" if history.stopped_epoch else f"ran {len(history.epoch)} epochs"
    print(f"consecutive ones, 10-32-1 MLP: {stopped}; test accuracy {accuracy:.1%} "
          f"({seconds:.1f} s)")
    path = os.path.join(tempfile.mkdtemp(), "consecutive_ones.npz")
    model.save(path)
    restored = build(seed=1)
    restored.load(path)
    _, again = restored.evaluate(x_test, y_test, "binary_cross_entropy")
    print(f"saved to {path} and loaded into a fresh model: test accuracy {again:.1%}")
    return {"accuracy": accuracy, "restored_accuracy": again, "epochs": len(history.epoch),
            "seconds": seconds}


if __name__ == "__main__":
    main()
