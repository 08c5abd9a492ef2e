"""XOR with a 2-2-1 sigmoid MLP, trained by batch gradient descent to 100% accuracy.

The lecture's network: two sigmoid hidden units and one sigmoid output, binary cross-entropy
on the output probability, every step on all four examples (batch gradient descent: fit's
batch_size=None) with momentum. The hidden layer bends the input space so that a line, the
output unit, separates what no single perceptron can (see 01_perceptron.py).

Run: python examples/training/02_xor.py
"""

from __future__ import annotations

import time

from graphnn import nn


def main(epochs: int = 500, progress: bool = True) -> dict:
    x, y = nn.datasets.xor()
    model = nn.Sequential([nn.Dense(2, "sigmoid"), nn.Dense(1, "sigmoid")], input_shape=(2,),
                          seed=0)
    started = time.perf_counter()
    history = model.fit(x, y, loss=nn.BinaryCrossEntropy(from_logits=False),
                        optimizer=nn.SGD(lr=2.0, momentum=0.9), epochs=epochs,
                        batch_size=None, shuffle=False, progress=progress)
    seconds = time.perf_counter() - started
    p = model.predict(x).ravel()
    accuracy = float(((p > 0.5) == (y > 0.5)).mean())
    for xi, yi, pi in zip(x, y, p):
        print(f"  x = {xi.astype(int).tolist()}  y = {yi}  p = {pi:.3f}")
    print(f"XOR, 2-2-1 sigmoid MLP: loss {history.loss[-1]:.4f}, accuracy {accuracy:.0%} after "
          f"{len(history.epoch)} epochs ({seconds:.2f} s)")
    return {"accuracy": accuracy, "loss": history.loss[-1], "seconds": seconds}


if __name__ == "__main__":
    main()
