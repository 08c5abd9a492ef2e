"""The perceptron learning rule on AND and OR (and why it cannot learn XOR).

Rosenblatt's rule, one example at a time: predict with a threshold, then move the weights
toward the examples it got wrong,

    prediction = step(w · x + b)
    w <- w + lr (y - prediction) x,    b <- b + lr (y - prediction)

The update is a graph (gn.step is the threshold) compiled once; the loop feeds one example per
call and keeps w and b in two pairs of arrays that alternate (out=), so nothing is allocated.
No gradient is involved: the step function has none, and the rule does not need one.

Run: python examples/training/01_perceptron.py
"""

from __future__ import annotations

import numpy as np

import graphnn as gn
from graphnn import nn

x = gn.input("x", shape=(2,))
y = gn.input("y")
w = gn.input("w", shape=(2,))
b = gn.input("b")
lr = gn.input("lr")
prediction = gn.step(gn.sum(w * x) + b)
error = y - prediction
update = gn.compile([w + lr * error * x, b + lr * error, prediction], [x, y, w, b, lr],
                    name="perceptron_update")
predict = gn.compile(prediction, [x, w, b], name="perceptron")


def train(gate: str, epochs: int = 20, rate: float = 0.1) -> dict:
    """Train on the truth table of `gate` until an epoch makes no mistake (or `epochs` pass)."""
    inputs, labels = nn.datasets.logic_gate(gate, dtype="float64")
    current = [np.zeros(2), np.zeros(())]
    spare = [np.empty(2), np.empty(())]
    guess = np.empty(())
    epoch, mistakes = 0, None
    while mistakes != 0 and epoch < epochs:
        epoch, mistakes = epoch + 1, 0
        for xi, yi in zip(inputs, labels):
            update(xi, float(yi), *current, rate, out=[*spare, guess])
            mistakes += int(guess != yi)
            current, spare = spare, current
    outputs = [int(predict(xi, *current)) for xi in inputs]
    accuracy = float(np.mean(np.array(outputs) == labels))
    return {"gate": gate, "epochs": epoch, "w": current[0].tolist(), "b": float(current[1]),
            "outputs": outputs, "accuracy": accuracy}


def main(epochs: int = 20) -> dict:
    results = {gate: train(gate, epochs) for gate in ("and", "or", "xor")}
    for gate, r in results.items():
        w0, w1 = r["w"]
        print(f"{gate.upper():>3}: w = ({w0:+.2f}, {w1:+.2f}), b = {r['b']:+.2f} after "
              f"{r['epochs']} epochs; outputs {r['outputs']}, accuracy {r['accuracy']:.0%}")
    print("XOR is not linearly separable: no line splits {01, 10} from {00, 11}, so the rule "
          "never stops making mistakes (02_xor.py adds a hidden layer).")
    return results


if __name__ == "__main__":
    main()
