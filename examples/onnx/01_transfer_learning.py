"""Transfer learning through ONNX: import a trained CNN, freeze its body, train a new head.

1. A small CNN is trained on the digits 0-4 with graphnn.nn and exported to ONNX (standing in
   for a network trained elsewhere: PyTorch, Keras; nothing is downloaded).
2. `gn.onnx.load(path, outputs=["dense1"])` imports it cut after its hidden dense layer (each
   layer's output is named after the layer in graphnn's exports): the frozen body.
3. The body, compiled once, turns every image into 64 features.
4. A new head, one nn.Dense layer, learns the digits 5-9 from those features: classes the
   body never saw.

Run: python examples/onnx/01_transfer_learning.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

import graphnn as gn
from graphnn import nn


def pretrained_cnn(x: np.ndarray, y: np.ndarray, path: Path, epochs: int) -> Path:
    """Train a CNN on (x, y) and write it as ONNX: the network we will import."""
    model = nn.Sequential([
        nn.Conv2D(16, 3, padding=1, activation="relu"),
        nn.MaxPool2D(2),
        nn.Flatten(),
        nn.Dense(64, "relu"),
        nn.Dense(5),
    ], input_shape=(1, 8, 8), seed=0)
    model.fit(x, y, loss="softmax_cross_entropy", optimizer=nn.Adam(lr=0.003), epochs=epochs,
              batch_size=32, progress=False)
    return model.save_onnx(path)


def main(epochs: int = 10, head_epochs: int = 30, workdir: str | None = None) -> dict:
    x, y = nn.datasets.load_digits(images=True)
    old = y < 5
    path = Path(workdir or tempfile.mkdtemp()) / "digits_cnn.onnx"
    pretrained_cnn(x[old], y[old], path, epochs)

    # the frozen body: the imported network cut after dense1, its weights constants
    body = gn.onnx.load(path, outputs=["dense1"], batch=len(x))
    print(body)
    [features] = body.compile()(x)          # one array per output

    # the new head, trained on the digits the body never saw
    new_x, new_y = features[~old], y[~old] - 5
    x_train, y_train, x_test, y_test = nn.datasets.train_test_split(new_x, new_y, 0.3, seed=0)
    head = nn.Sequential([nn.Dense(5)], input_shape=(features.shape[1],), seed=0)
    head.fit(x_train, y_train, loss="softmax_cross_entropy", optimizer=nn.Adam(lr=0.01),
             epochs=head_epochs, batch_size=32, progress=False)
    loss, accuracy = head.evaluate(x_test, y_test, "softmax_cross_entropy")
    print(f"new head on the frozen ONNX body: digits 5-9 test accuracy {accuracy:.1%} "
          f"(loss {loss:.3f})")
    return {"accuracy": accuracy, "loss": loss, "features": features.shape}


if __name__ == "__main__":
    main()
