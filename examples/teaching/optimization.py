"""Optimization, drawn: the loss surface of a 2-parameter model with the paths of SGD,
momentum and Adam, and the decision boundaries of the course's classifiers as they train.

- Least squares y ≈ w x + b with x between 2 and 4: w and b trade off against each other,
  so the loss is a long narrow valley. Plain SGD, at a rate that is stable across the
  valley, crawls along its floor; momentum overshoots across the valley at first, then
  builds up speed along it and gets furthest; Adam divides each coordinate's step by its
  recent size, so it moves diagonally at first, whatever the slope.
- The perceptron on AND, the 2-2-1 sigmoid MLP on XOR, and the 10-32-1 network of
  consecutive ones (which strings of 10 bits contain "11"), after a few snapshots of
  training. The consecutive-ones network sees all 1024 strings: its map has the first five
  bits down and the last five across, red where it answers "contains 11".

Writes loss_surface.png and decision_boundaries.png.

Run: python examples/teaching/optimization.py [DIRECTORY]   (default: out/)
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import numpy as np

import graphnn as gn
from graphnn import nn
from graphnn.render.optimization import optimizer_path, plot_decision_boundary, plot_loss_surface
from graphnn.render.plots import pyplot

EXAMPLES = Path(__file__).parents[1]


def least_squares():
    """(loss, parameter, feed): mean squared error of y ≈ w x + b, the parameter p = (w, b)."""
    rng = np.random.default_rng(0)
    x = rng.uniform(2.0, 4.0, size=40)
    y = 1.5 * x - 2.0 + rng.normal(0.0, 0.3, size=40)
    p = gn.input("p", shape=(2,))
    w, b = gn.sum(p * np.array([1.0, 0.0])), gn.sum(p * np.array([0.0, 1.0]))
    loss = gn.mse(w * x + b, y, name="loss")
    return loss, p, {}


OPTIMIZERS = {"SGD": nn.SGD(lr=0.08), "momentum": nn.Momentum(lr=0.02, momentum=0.9),
              "Adam": nn.Adam(lr=0.2)}
START = (-1.0, 2.0)


def paths(steps: int = 150) -> dict[str, np.ndarray]:
    loss, p, feed = least_squares()
    return {name: optimizer_path(loss, p, feed, opt, START, steps)
            for name, opt in OPTIMIZERS.items()}


def _load(stem: str):
    path = EXAMPLES / "training" / f"{stem}.py"
    spec = importlib.util.spec_from_file_location(f"teaching_{stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def perceptron_snapshots(gate: str = "and", epochs: int = 4) -> list[tuple[str, np.ndarray,
                                                                           float]]:
    """(title, w, b) after each epoch of the perceptron rule (01_perceptron.py's update)."""
    rule = _load("01_perceptron")
    x, y = nn.datasets.logic_gate(gate, dtype="float64")
    w, b = np.zeros(2), np.zeros(())
    found = []
    for epoch in range(1, epochs + 1):
        for xi, yi in zip(x, y):
            w, b, _ = (np.array(v) for v in rule.update(xi, float(yi), w, b, 0.1))
        found.append((f"perceptron, {gate.upper()}, epoch {epoch}", w.copy(), float(b)))
    return found


def main(directory: str | os.PathLike = "out", quick: bool = False) -> dict:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    plt = pyplot()
    loss, p, feed = least_squares()
    steps = 50 if quick else 150
    ax = plot_loss_surface(loss, p, feed, OPTIMIZERS, start=START, steps=steps, center=(0.5, 0),
                           radius=(2.2, 4.5), labels=("w", "b"),
                           title="Least squares y ≈ w·x + b: SGD, momentum, Adam")
    ax.figure.tight_layout()
    ax.figure.savefig(directory / "loss_surface.png")
    plt.close(ax.figure)
    written = [directory / "loss_surface.png", boundaries(directory, quick)]
    for path in written:
        print("wrote", path)
    return {"written": written, "paths": paths(steps)}


def boundaries(directory: Path, quick: bool) -> Path:
    """A row of snapshots for each classifier: perceptron, XOR MLP, consecutive ones."""
    plt = pyplot()
    figure, axes = plt.subplots(3, 4, figsize=(12, 9.4), dpi=100)
    x_and, y_and = nn.datasets.logic_gate("and", dtype="float64")
    steps = perceptron_snapshots("and", 8)
    for ax, (title, w, b) in zip(axes[0], [steps[0], steps[2], steps[4], steps[-1]]):
        plot_decision_boundary(lambda g, w=w, b=b: (g @ w + b > 0).astype(float), x_and,
                               y_and, ax=ax, title=f"{title}\nw = {np.round(w, 2)}, b = {b:.2f}")
    x_xor, y_xor = nn.datasets.xor(dtype="float64")
    for ax, (epochs, model) in zip(axes[1], xor_models((0, 50, 150, 400) if quick
                                                       else (0, 100, 300, 1000))):
        plot_decision_boundary(lambda g, m=model: m.predict(g).ravel(), x_xor, y_xor, ax=ax,
                               title=f"XOR, 2-2-1 sigmoid MLP, epoch {epochs}")
    for ax, (epochs, probabilities, accuracy) in zip(axes[2], ones_maps(quick)):
        ax.imshow(probabilities.reshape(32, 32), cmap="RdBu_r", vmin=0.0, vmax=1.0)
        ax.set_title(f"consecutive ones, epoch {epochs}\naccuracy {accuracy:.0%}", fontsize=10)
        ax.set_xlabel("last 5 bits")
        ax.set_ylabel("first 5 bits")
        ax.set_xticks([])
        ax.set_yticks([])
    figure.suptitle("Decision boundaries as the networks train (red: class 1)")
    figure.tight_layout()
    path = directory / "decision_boundaries.png"
    figure.savefig(path)
    plt.close(figure)
    return path


def xor_models(checkpoints):
    """(epochs, a trained copy of the XOR MLP) at each checkpoint."""
    x, y = nn.datasets.xor(dtype="float64")
    found, done = [], 0
    model = nn.Sequential([nn.Dense(2, "sigmoid"), nn.Dense(1, "sigmoid")], input_shape=(2,),
                          seed=0, dtype="float64")
    for epochs in checkpoints:
        if epochs > done:
            model.fit(x, y, loss=nn.BinaryCrossEntropy(from_logits=False),
                      optimizer=nn.SGD(lr=2.0, momentum=0.9), epochs=epochs - done,
                      batch_size=None, shuffle=False, progress=False)
            done = epochs
        copy = nn.Sequential([nn.Dense(2, "sigmoid"), nn.Dense(1, "sigmoid")],
                             input_shape=(2,), seed=0, dtype="float64")
        copy.set_parameters(model.get_parameters())
        found.append((epochs, copy))
    return found


def ones_maps(quick: bool):
    """(epochs, P(contains "11") for all 1024 strings, accuracy) at four points of training."""
    x, y = nn.datasets.consecutive_ones(10, dtype="float32")
    model = nn.Sequential([nn.Dense(32, "relu"), nn.Dense(1)], input_shape=(10,), seed=0)
    found, done = [], 0
    for epochs in ((0, 2, 5, 15) if quick else (0, 3, 10, 40)):
        if epochs > done:
            model.fit(x, y, loss="binary_cross_entropy", optimizer=nn.Adam(lr=0.01),
                      epochs=epochs - done, batch_size=32, progress=False)
            done = epochs
        p = 1.0 / (1.0 + np.exp(-model.predict(x).ravel()))
        found.append((epochs, p, float(np.mean((p > 0.5) == (y > 0.5)))))
    return found


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("GRAPHNN_OUT", "out"))
