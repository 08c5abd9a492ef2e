"""Recurrent nets, drawn: the unrolled RNN, and its gradient vanishing back through time.

- The unrolled graph of a 4-step RNN (2 inputs, 3 units) and its dense head: one cluster per
  time step inside the layer's cluster, the same weights feeding every step, and the hidden
  state h_t the edge from one step's cluster into the next.
- ‖∂L/∂h_t‖ for every time step t of a tanh RNN and of an LSTM on the same data, the memory
  task of examples/training/09_remember_first.py (recall the first of 40 symbols), at
  initialization (`nn.step_gradient_norms`). Back through time the RNN's gradient shrinks by
  a roughly constant factor per step: what reaches step 0, where the symbol to remember is,
  is orders of magnitude smaller than at the last step. The LSTM's cell path scales it by the
  forget gates only: with PyTorch's initialization (forget bias 0, f ~ 1/2) it still fades,
  with the forget bias at 3 (f ~ 0.95, what 09_remember_first.py uses) it stays within a
  small factor over all 40 steps, and that LSTM learns the task while the RNN does not.

Writes rnn_unrolled.svg and rnn_gradients.png.

Run: python examples/teaching/rnn_gradients.py [DIRECTORY]   (default: out/)
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

import graphnn as gn
from graphnn import nn
from graphnn.render.pictures import render
from graphnn.render.plots import plot_gradient_norms, pyplot

STEPS, BATCH = 40, 256


def unrolled(steps: int = 4) -> gn.Node:
    """The output of a small RNN model over `steps` steps, for drawing."""
    model = nn.Sequential([nn.RNN(3), nn.Dense(2)], input_shape=(steps, 2), seed=0)
    return model.build(1, training=False).output


def models(features: int) -> dict[str, nn.Sequential]:
    """The three networks compared, freshly initialized (seed 0)."""
    shape = (STEPS, features)
    found = {"tanh RNN(32)": nn.Sequential([nn.RNN(32), nn.Dense(8)], input_shape=shape),
             "LSTM(32), forget bias 0": nn.Sequential([nn.LSTM(32), nn.Dense(8)],
                                                      input_shape=shape),
             "LSTM(32), forget bias 3": nn.Sequential([nn.LSTM(32), nn.Dense(8)],
                                                      input_shape=shape)}
    found["LSTM(32), forget bias 3"].values["lstm1_b_ih"][32:64] = 3.0
    return found


def norms() -> dict[str, dict[str, float]]:
    """‖∂L/∂h_t‖ per time step of each network, on one batch of the memory task."""
    x, y = nn.datasets.remember_first(BATCH, STEPS, seed=0)
    return {name: nn.step_gradient_norms(model, x, y)
            for name, model in models(x.shape[2]).items()}


def main(directory: str | os.PathLike = "out") -> dict:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    drawing = render(unrolled(), title="RNN unrolled over 4 time steps: h_t runs from one "
                     "step's cluster to the next")
    found = norms()
    for name, by_step in found.items():
        values = np.array(list(by_step.values()))
        print(f"{name:>24}: ‖∂L/∂h_t‖ at t = {STEPS - 1}: {values[-1]:.2e}, at t = 0: "
              f"{values[0]:.2e} (first/last {values[0] / values[-1]:.2g})")
    plt = pyplot()
    ax = plot_gradient_norms(found, axis="time step",
                             title=f"‖∂L/∂h_t‖ back through {STEPS} steps, at initialization")
    ax.set_xticks(range(0, STEPS, 5), [str(t) for t in range(0, STEPS, 5)], rotation=0)
    ax.figure.tight_layout()
    ax.figure.savefig(directory / "rnn_gradients.png")
    plt.close(ax.figure)
    written = [drawing.save(directory / "rnn_unrolled.svg"), directory / "rnn_gradients.png"]
    for path in written:
        print("wrote", path)
    return {"norms": found, "written": written, "source": drawing.source}


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("GRAPHNN_OUT", "out"))
