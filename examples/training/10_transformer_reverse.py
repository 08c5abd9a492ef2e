"""A small Transformer encoder (2 layers) reverses digit strings: >= 95% per-token accuracy.

Each example is 8 random digits; the target at position t is the digit at position 7 - t
(`nn.datasets.reversed_digits`). No recurrence: the tokens are embedded, the sinusoidal
position table is added (attention alone does not know the order), two pre-norm encoder
layers (4 heads of dimension 8, feed-forward 64) let each position attend to its mirror
position, and a dense layer applied at every step gives its 10 logits. The loss is the
per-step softmax cross-entropy, and the accuracy counts tokens. The full run (5 epochs of
3000 strings) reaches 100% per-token test accuracy in about 30 s on 2 cores.

Run: python examples/training/10_transformer_reverse.py
"""

from __future__ import annotations

import time

from graphnn import nn


def build(length: int = 8, dim: int = 32, seed: int = 0) -> nn.Sequential:
    return nn.Sequential([nn.Embedding(10, dim), nn.PositionalEncoding(),
                          nn.TransformerEncoderLayer(dim, 4, 2 * dim),
                          nn.TransformerEncoderLayer(dim, 4, 2 * dim),
                          nn.Dense(10, per_step=True)],
                         input_shape=(length,), input_dtype="int64", seed=seed)


def main(epochs: int = 5, train: int = 3000, length: int = 8, progress: bool = True) -> dict:
    x_train, y_train = nn.datasets.reversed_digits(train, length, seed=0)
    x_test, y_test = nn.datasets.reversed_digits(1000, length, seed=1)
    model = build(length)
    started = time.perf_counter()
    history = model.fit(x_train, y_train, loss="softmax_cross_entropy",
                        optimizer=nn.Adam(lr=0.005, clip_norm=1.0), epochs=epochs,
                        batch_size=64, progress=progress)
    seconds = time.perf_counter() - started
    loss, accuracy = model.evaluate(x_test, y_test, "softmax_cross_entropy")
    curve = ", ".join(f"{a:.0%}" for a in history.accuracy)
    print(f"reversing {length} digits, 2-layer Transformer encoder: per-token test accuracy "
          f"{accuracy:.1%}, test loss {loss:.4f} (training accuracy per epoch {curve}; "
          f"{seconds:.1f} s)")
    return {"accuracy": accuracy, "loss": loss, "seconds": seconds, "model": model}


if __name__ == "__main__":
    main()
