"""Vanishing gradients, made visible: a 10-layer sigmoid MLP against the same network with
ReLU, on a batch of the 8x8 digits, at initialization.

Backpropagation multiplies, layer by layer, the upstream gradient by each layer's local
derivative. Sigmoid's derivative is at most 1/4, so the gradient reaching the first layers of
a deep sigmoid network is a product of many factors below 1/4 (with weights of Glorot's
scale): it shrinks by about a factor of four or more per layer. ReLU's derivative is 1 where
the unit is active, and with He's initialization the gradient keeps its size through the
layers. Writes:

    vanishing_gradients.png           the gradient norm of each layer's parameters, log scale
    vanishing_gradients_sigmoid.svg   the sigmoid network, each edge as wide and dark as the
                                      gradient flowing along it (gn.render(..., grad_scale=True))

Run: python examples/teaching/vanishing_gradients.py [DIRECTORY]   (default: out/)
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

import graphnn as gn
from graphnn import nn
from graphnn.render.pictures import render
from graphnn.render.plots import gradient_norms, plot_gradient_norms, pyplot

LAYERS = 10
WIDTH = 32
BATCH = 128


def network(activation: str, batch: int = BATCH, seed: int = 0):
    """A LAYERS-deep MLP 64 -> 32 -> ... -> 10 with softmax cross-entropy: (loss, params by
    layer, feed). Weights: Glorot normal for sigmoid, He normal for ReLU."""
    x_data, labels = nn.datasets.load_digits(dtype="float64")
    rng = np.random.default_rng(seed)
    x = gn.input("x", shape=(batch, 64))
    feed = {"x": x_data[:batch]}
    params: dict[str, list[gn.Node]] = {}
    h, fan_in = x, 64
    act = {"sigmoid": gn.sigmoid, "relu": gn.relu}[activation]
    for k in range(1, LAYERS + 1):
        fan_out = 10 if k == LAYERS else WIDTH
        with gn.scope(f"layer{k}"):
            W = gn.input(f"W{k}", shape=(fan_in, fan_out))
            b = gn.input(f"b{k}", shape=(fan_out,))
            h = h @ W + b
            h = h if k == LAYERS else act(h)
        scale = np.sqrt(2.0 / fan_in) if activation == "relu" else np.sqrt(2.0 / (fan_in + fan_out))
        feed[f"W{k}"] = rng.normal(0.0, scale, size=(fan_in, fan_out))
        feed[f"b{k}"] = np.zeros(fan_out)
        params[f"layer{k}"] = [W, b]
        fan_in = fan_out
    onehot = np.eye(10)[labels[:batch]]
    loss = gn.softmax_cross_entropy(h, onehot, name="loss")
    return loss, params, feed


def norms() -> dict[str, dict[str, float]]:
    """The gradient norm of each layer's parameters, for the sigmoid and the ReLU network."""
    result = {}
    for activation in ("sigmoid", "relu"):
        loss, params, feed = network(activation)
        result[activation] = gradient_norms(loss, params, feed)
    return result


def main(directory: str | os.PathLike = "out") -> dict:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    found = norms()
    for activation, by_layer in found.items():
        ratio = by_layer[f"layer{LAYERS}"] / by_layer["layer1"]
        print(f"{activation:>7}: gradient norm layer 1 {by_layer['layer1']:.2e}, layer "
              f"{LAYERS} {by_layer[f'layer{LAYERS}']:.2e} (last/first {ratio:.3g})")
    plt = pyplot()
    ax = plot_gradient_norms({f"{LAYERS} layers, {a}": n for a, n in found.items()},
                             title="Vanishing gradients: ‖∂loss/∂(W, b)‖ per layer, digits")
    ax.figure.tight_layout()
    ax.figure.savefig(directory / "vanishing_gradients.png")
    plt.close(ax.figure)
    loss, params, feed = network("sigmoid")
    wrt = [p for group in params.values() for p in group]
    drawing = render(loss, feed=feed, grads=wrt, collapse=True, grad_scale=True, layout="slide",
                     title="10-layer sigmoid MLP: edge width and colour = |gradient|")
    written = [directory / "vanishing_gradients.png",
               drawing.save(directory / "vanishing_gradients_sigmoid.svg")]
    for path in written:
        print("wrote", path)
    return {"norms": found, "written": written}


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("GRAPHNN_OUT", "out"))
