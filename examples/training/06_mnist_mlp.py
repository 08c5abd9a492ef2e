"""The lecture's 784-256-10 ReLU MLP with softmax cross-entropy and SGD at learning rate 0.1.

On MNIST when its four IDX files are on disk (train-images-idx3-ubyte, train-labels-idx1-ubyte,
t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, each possibly .gz) in $GRAPHNN_MNIST_DIR or
~/.cache/graphnn/mnist; nothing is downloaded. Without them the same recipe (a 256-unit ReLU
layer, SGD at 0.1, batches of 64) runs on the 8x8 digits, and the script says where to put
the files.

Weights start as the lecture's randn * 0.01 ("normal"), biases at zero.

Run: python examples/training/06_mnist_mlp.py [--epochs N]
"""

from __future__ import annotations

import argparse
import time

from graphnn import nn


def data():
    """(name, x_train, y_train, x_test, y_test): MNIST if present, else the digits."""
    try:
        return ("MNIST", *nn.datasets.load_mnist())
    except FileNotFoundError as missing:
        print(f"{missing}.\nTraining on scikit-learn's 8x8 digits instead.")
        x, y = nn.datasets.load_digits()
        return ("digits", *nn.datasets.train_test_split(x, y, 0.2, seed=0))


def main(epochs: int | None = None, progress: bool = True) -> dict:
    name, x_train, y_train, x_test, y_test = data()
    # an MNIST epoch is 844 steps, a digits epoch 21: the small set needs more epochs
    epochs = epochs or (5 if name == "MNIST" else 40)
    features = x_train.shape[1]
    model = nn.Sequential([nn.Dense(256, "relu", init="normal"), nn.Dense(10, init="normal")],
                          input_shape=(features,), seed=0)
    print(model.summary())
    started = time.perf_counter()
    history = model.fit(x_train, y_train, loss="softmax_cross_entropy",
                        optimizer=nn.SGD(lr=0.1), epochs=epochs, batch_size=64,
                        validation_split=0.1, progress=progress)
    seconds = time.perf_counter() - started
    loss, accuracy = model.evaluate(x_test, y_test, "softmax_cross_entropy")
    print(history)
    print(f"{name} {features}-256-10 MLP, SGD lr 0.1: test loss {loss:.4f}, test accuracy "
          f"{accuracy:.1%} ({seconds:.1f} s for {len(history.epoch)} epochs)")
    return {"dataset": name, "accuracy": accuracy, "loss": loss, "seconds": seconds}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, help="default: 5 on MNIST, 40 on the digits")
    main(parser.parse_args().epochs)
