"""A small CNN on the 8x8 digits: conv 3x3 (16 filters) + ReLU, 2x2 max pooling, a 64-unit
dense layer, 10 outputs; Adam; >= 97% test accuracy.

Images are NCHW, (n, 1, 8, 8). The convolution and pooling layers, their gradients and the
Adam update of every parameter run in one compiled call per batch.

Run: python examples/training/05_digits_cnn.py
"""

from __future__ import annotations

import time

from graphnn import nn


def main(epochs: int = 15, progress: bool = True) -> dict:
    x, y = nn.datasets.load_digits(images=True)
    x_train, y_train, x_test, y_test = nn.datasets.train_test_split(x, y, 0.2, seed=0)
    model = nn.Sequential([
        nn.Conv2D(16, 3, padding=1, activation="relu"),
        nn.MaxPool2D(2),
        nn.Flatten(),
        nn.Dense(64, "relu"),
        nn.Dense(10),
    ], input_shape=(1, 8, 8), seed=0)
    print(model.summary())
    started = time.perf_counter()
    history = model.fit(x_train, y_train, loss="softmax_cross_entropy",
                        optimizer=nn.Adam(lr=0.003), epochs=epochs, batch_size=32,
                        progress=progress)
    seconds = time.perf_counter() - started
    loss, accuracy = model.evaluate(x_test, y_test, "softmax_cross_entropy")
    print(f"digits CNN: training accuracy {history.accuracy[-1]:.1%}, test loss {loss:.4f}, "
          f"test accuracy {accuracy:.1%} ({seconds:.1f} s including compilation)")
    return {"accuracy": accuracy, "loss": loss, "seconds": seconds}


if __name__ == "__main__":
    main()
