"""Plots for teaching with matplotlib: gradient norms per layer (or per time step).

Stage: rendering. Input: a scalar loss node, named groups of nodes (a layer's parameters, or
the hidden state at each time step of a recurrent net), input values. Output: norms, and
matplotlib Axes showing them on a log scale, one line per network compared.

matplotlib is optional (`pip install ".[plots]"`); it is imported when a plot is drawn,
and its absence is reported with the extra to install.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import Any

import numpy as np

from graphnn.autodiff import grad
from graphnn.errors import GraphnnError
from graphnn.evaluate import evaluate
from graphnn.graph import Graph
from graphnn.ir import Node

Feed = Mapping[str | Node, Any]
INSTALL = 'pip install ".[plots]"'


def pyplot() -> ModuleType:
    """matplotlib.pyplot with a file-only backend when no display is set, or an ImportError
    that says which extra to install."""
    try:
        import matplotlib
    except ImportError:
        raise ImportError(f"graphnn's plots need matplotlib, which is not installed: "
                          f"{INSTALL} (or pip install matplotlib)") from None
    import os
    if not os.environ.get("DISPLAY") and not os.environ.get("MPLBACKEND"):
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def gradient_norms(loss: Node, groups: Mapping[str, Sequence[Node] | Node], feed: Feed
                   ) -> dict[str, float]:
    """The Euclidean norm of ∂loss/∂(each group's nodes taken together), by group name.

    A group is a layer's parameters (its weights and bias), or for a recurrent net the hidden
    state of one time step: any nodes the loss depends on, inputs or not.

    >>> import graphnn as gn
    >>> x, w = gn.input("x"), gn.input("w")
    >>> gradient_norms(gn.square(w * x), {"w": w, "x": x}, {"x": 3.0, "w": 1.0})
    {'w': 18.0, 'x': 6.0}
    """
    if loss.shape != ():
        raise GraphnnError(f"gradient norms are taken of a scalar loss, got {loss.describe()}")
    names = list(groups)
    members = [[g] if isinstance(g, Node) else list(g) for g in groups.values()]
    flat = [node for group in members for node in group]
    # the feed is the loss's: the gradients may read fewer of its inputs
    values = evaluate(Graph(grad(loss, flat), Graph(loss).inputs), feed) if flat else []
    norms, k = {}, 0
    for name, group in zip(names, members):
        parts = values[k:k + len(group)]
        k += len(group)
        norms[name] = float(np.sqrt(sum(float(np.sum(np.square(p))) for p in parts)))
    return norms


def plot_gradient_norms(series: Mapping[str, Mapping[str, float]], *, axis: str = "layer",
                        ax: Any = None, title: str | None = None) -> Any:
    """One line per network: the gradient norm at each layer (or time step), log scale.

    `series` maps a network's name to its norms by position, in order from the input (as
    gradient_norms returns them); `axis` names the positions ("layer", "time step").
    Returns the matplotlib Axes.
    """
    plt = pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4), dpi=120)
    markers = "osD^v"
    for k, (name, norms) in enumerate(series.items()):
        positions = list(norms)
        ax.plot(range(len(positions)), [max(v, 1e-30) for v in norms.values()],
                marker=markers[k % len(markers)], label=name)
        ax.set_xticks(range(len(positions)), positions, rotation=45 if len(positions) > 8
                      else 0)
    ax.set_yscale("log")
    ax.set_xlabel(f"{axis} (input → output)")
    ax.set_ylabel("gradient norm ‖∂loss/∂·‖ (log scale)")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend()
    if title:
        ax.set_title(title)
    return ax
