"""The 8x8 digits as sequences: RNN vs LSTM vs GRU, each >= 90% test accuracy.

Each image is read row by row: 8 time steps of 8 pixels. The recurrent layer (32 units) is
unrolled over the 8 steps; its last hidden state feeds a dense layer of 10 logits. Each
training step (forward through the unrolled net, softmax cross-entropy, backpropagation
through time, gradient clipping by global norm and the Adam update) is one compiled call.
The digits are bundled with scikit-learn, so nothing is downloaded. With 15 epochs the three
reach about 95% (RNN) and 98% (LSTM, GRU) in a few seconds each on 2 cores.

Run: python examples/training/08_digits_sequences.py
"""

from __future__ import annotations

import time

from graphnn import nn

LAYERS = {"RNN": nn.RNN, "LSTM": nn.LSTM, "GRU": nn.GRU}


def main(epochs: int = 15, progress: bool = True, units: int = 32) -> dict:
    x, y = nn.datasets.load_digits()
    x = x.reshape(-1, 8, 8)                         # (examples, time = rows, pixels)
    x_train, y_train, x_test, y_test = nn.datasets.train_test_split(x, y, 0.2, seed=0)
    results = {}
    for name, layer in LAYERS.items():
        model = nn.Sequential([layer(units), nn.Dense(10)], input_shape=(8, 8), seed=0)
        started = time.perf_counter()
        history = model.fit(x_train, y_train, loss="softmax_cross_entropy",
                            optimizer=nn.Adam(lr=0.01, clip_norm=1.0), epochs=epochs,
                            batch_size=32, progress=progress)
        seconds = time.perf_counter() - started
        loss, accuracy = model.evaluate(x_test, y_test, "softmax_cross_entropy")
        print(f"digits as sequences, {name}({units}): test loss {loss:.4f}, test accuracy "
              f"{accuracy:.1%} ({len(history.epoch)} epochs, {seconds:.1f} s including "
              "compilation)")
        results[name] = {"accuracy": accuracy, "loss": loss, "seconds": seconds}
    return results


if __name__ == "__main__":
    main()
