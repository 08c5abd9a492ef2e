"""A Vision-Transformer-style model on the 8x8 digits (>= 90%): images as sequences of patches.

As in ViT (Dosovitskiy et al. 2020), the image is cut into non-overlapping patches, here 4
patches of 4x4 pixels read in row order, each flattened to 16 numbers: the image becomes a
sequence of 4 "tokens" (`patch=2` gives 16 tokens of 4 pixels: the same accuracy, slower).
A dense layer applied at every step embeds each patch in 32 dimensions, the sinusoidal
position table tells the patches apart by place (ViT learns its table; either works), two
pre-norm encoder layers (4 heads, feed-forward 64) let every patch attend to every other,
and the mean over the patches feeds a 10-way classifier (ViT uses a class token; the mean is
the common simpler head). Nothing but attention and per-patch dense layers looks at the
image: no convolution. The full run (20 epochs) reaches about 99% test accuracy in about
15 s on 2 cores.

Run: python examples/training/11_digits_vit.py
"""

from __future__ import annotations

import time

import numpy as np

from graphnn import nn


def patches(images: np.ndarray, size: int) -> np.ndarray:
    """(n, h, w) images -> (n, (h / size) * (w / size), size * size) patches, row order.

    >>> patches(np.arange(16.0).reshape(1, 4, 4), 2)[0, 1].tolist()
    [2.0, 3.0, 6.0, 7.0]
    """
    n, h, w = images.shape
    grid = images.reshape(n, h // size, size, w // size, size).transpose(0, 1, 3, 2, 4)
    return np.ascontiguousarray(grid.reshape(n, (h // size) * (w // size), size * size))


def build(tokens: int, features: int, dim: int = 32, seed: int = 0) -> nn.Sequential:
    return nn.Sequential([nn.Dense(dim, per_step=True), nn.PositionalEncoding(),
                          nn.TransformerEncoderLayer(dim, 4, 2 * dim),
                          nn.TransformerEncoderLayer(dim, 4, 2 * dim),
                          nn.LayerNorm(), nn.GlobalAveragePool1D(), nn.Dense(10)],
                         input_shape=(tokens, features), seed=seed)


def main(epochs: int = 20, progress: bool = True, patch: int = 4) -> dict:
    x, y = nn.datasets.load_digits()
    x = patches(x.reshape(-1, 8, 8), patch)
    x_train, y_train, x_test, y_test = nn.datasets.train_test_split(x, y, 0.2, seed=0)
    model = build(*x.shape[1:])
    started = time.perf_counter()
    history = model.fit(x_train, y_train, loss="softmax_cross_entropy",
                        optimizer=nn.Adam(lr=0.003, clip_norm=1.0), epochs=epochs,
                        batch_size=32, progress=progress)
    seconds = time.perf_counter() - started
    loss, accuracy = model.evaluate(x_test, y_test, "softmax_cross_entropy")
    print(f"digits as {x.shape[1]} patches of {patch}x{patch}, 2-layer Transformer encoder: "
          f"test accuracy {accuracy:.1%}, test loss {loss:.4f} ({len(history.epoch)} epochs, "
          f"{seconds:.1f} s)")
    return {"accuracy": accuracy, "loss": loss, "seconds": seconds}


if __name__ == "__main__":
    main()
