"""Optimization, drawn with matplotlib: a 2-parameter loss surface with the paths optimizers
take across it, and a classifier's decision boundary.

Stage: rendering. Input: a scalar loss of one parameter node of shape (2,), input values,
optimizers (graphnn.nn's SGD, Momentum, Adam, or anything with their `slots`,
`hyperparameters(step)` and `update(p, g, slots, h)`); or a predict function and data.
Output: numbers (the surface on a grid, the path of each optimizer) and matplotlib Axes.

The paths are computed with the same update graphs training uses, evaluated with the NumPy
reference, so what is drawn is what `model.fit` would do on this loss.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from graphnn.autodiff import grad
from graphnn.errors import GraphnnError
from graphnn.evaluate import bind_feed, run
from graphnn.graph import reached_inputs
from graphnn.ir import Node, input, toposort
from graphnn.render.plots import Feed, pyplot


def _check_parameter(loss: Node, parameter: Node) -> None:
    if loss.shape != ():
        raise GraphnnError(f"the loss surface is drawn for a scalar loss, got {loss.describe()}")
    if parameter.op != "input" or parameter.shape != (2,):
        raise GraphnnError(f"the loss surface is drawn over one input of shape (2,), the two "
                           f"parameters; got {parameter.describe()}")


class _Evaluator:
    """Outputs of a graph evaluated again and again with the NumPy reference (ordered once)."""

    def __init__(self, outputs: Sequence[Node], feed: Feed) -> None:
        self.outputs = list(outputs)
        self.order = toposort(self.outputs)
        self.inputs = reached_inputs(self.order)
        self.feed = dict(feed)

    def __call__(self, **values: Any) -> list[np.ndarray]:
        bound = run(self.order, bind_feed(self.inputs, {**self.feed, **values}))
        return [bound[o] for o in self.outputs]


def loss_surface(loss: Node, parameter: Node, feed: Feed, *, center: Sequence[float] = (0, 0),
                 radius: float | Sequence[float] = 2.0, resolution: int = 60
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(P0, P1, L): the loss at every point of a grid of the two parameters, around `center`.

    >>> import graphnn as gn
    >>> p = gn.input("p", shape=(2,))
    >>> P0, P1, L = loss_surface(gn.sum(p * p), p, {}, resolution=3, radius=1.0)
    >>> L.tolist()
    [[2.0, 1.0, 2.0], [1.0, 0.0, 1.0], [2.0, 1.0, 2.0]]
    """
    _check_parameter(loss, parameter)
    r0, r1 = np.broadcast_to(np.asarray(radius, dtype=np.float64), (2,))
    p0 = np.linspace(center[0] - r0, center[0] + r0, resolution)
    p1 = np.linspace(center[1] - r1, center[1] + r1, resolution)
    P0, P1 = np.meshgrid(p0, p1)
    at = _Evaluator([loss], feed)
    L = np.array([[float(at(**{parameter.name: np.array([a, b])})[0]) for a, b in zip(r, s)]
                  for r, s in zip(P0, P1)])
    return P0, P1, L


def optimizer_path(loss: Node, parameter: Node, feed: Feed, optimizer: Any,
                   start: Sequence[float], steps: int = 100) -> np.ndarray:
    """The parameter after each step of `optimizer` from `start`: (steps + 1, 2).

    >>> import graphnn as gn
    >>> from graphnn import nn
    >>> p = gn.input("p", shape=(2,))
    >>> optimizer_path(gn.sum(p * p), p, {}, nn.SGD(lr=0.25), (1.0, -2.0), 2).tolist()
    [[1.0, -2.0], [0.5, -1.0], [0.25, -0.5]]
    """
    _check_parameter(loss, parameter)
    (g,) = grad(loss, [parameter])
    slots = {name: input(f"{parameter.name}_{name}", (2,), parameter.dtype)
             for name in optimizer.slots}
    names = list(optimizer.hyperparameters(1))
    scalars = {name: input(f"{parameter.name}_{name}", (), parameter.dtype) for name in names}
    new, new_slots = optimizer.update(parameter, g, slots, scalars)
    step = _Evaluator([new, *(new_slots[name] for name in optimizer.slots)], feed)
    point = np.asarray(start, dtype=np.float64)
    state = {slots[name].name: np.zeros(2) for name in optimizer.slots}
    path = [point]
    for k in range(1, steps + 1):
        h = {scalars[n].name: v for n, v in optimizer.hyperparameters(k).items()}
        point, *kept = step(**{parameter.name: point}, **state, **h)
        state = {slots[name].name: value for name, value in zip(optimizer.slots, kept)}
        path.append(np.asarray(point, dtype=np.float64))
    return np.array(path)


def plot_loss_surface(loss: Node, parameter: Node, feed: Feed,
                      optimizers: Mapping[str, Any] | None = None, *,
                      start: Sequence[float] = (0.0, 0.0), steps: int = 100,
                      center: Sequence[float] | None = None,
                      radius: float | Sequence[float] = 2.0, resolution: int = 60,
                      labels: Sequence[str] = ("w", "b"), ax: Any = None,
                      title: str | None = None) -> Any:
    """Contours of the loss over its two parameters, and each optimizer's path from `start`
    (`optimizers` maps a name to an optimizer). Returns the matplotlib Axes."""
    plt = pyplot()
    paths = {name: optimizer_path(loss, parameter, feed, opt, start, steps)
             for name, opt in (optimizers or {}).items()}
    if center is None:
        ends = [path[-1] for path in paths.values()] or [np.asarray(start)]
        center = (np.asarray(start) + np.mean(ends, axis=0)) / 2
    P0, P1, L = loss_surface(loss, parameter, feed, center=center, radius=radius,
                             resolution=resolution)
    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 5), dpi=120)
    levels = np.quantile(L, np.linspace(0.0, 1.0, 25) ** 2)
    ax.contourf(P0, P1, L, levels=np.unique(levels), cmap="Blues_r", alpha=0.85)
    ax.contour(P0, P1, L, levels=np.unique(levels), colors="white", linewidths=0.5)
    at = _Evaluator([loss], feed)
    for (name, path), color in zip(paths.items(), ("#c0392b", "#1b7a3a", "#6c3483", "#ef6c00")):
        final = float(at(**{parameter.name: path[-1]})[0])
        ax.plot(path[:, 0], path[:, 1], "-o", color=color, markersize=2.5, linewidth=1.5,
                label=f"{name}: loss {final:.3g} after {len(path) - 1} steps")
    ax.plot(*start, "k*", markersize=12, label="start")
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])
    ax.legend(loc="upper right", fontsize=8)
    if title:
        ax.set_title(title)
    return ax


def plot_decision_boundary(predict: Callable[[np.ndarray], np.ndarray], x: np.ndarray,
                           y: np.ndarray, *, ax: Any = None, title: str | None = None,
                           resolution: int = 150, margin: float = 0.5) -> Any:
    """A 2-D classifier's regions: `predict` (points (n, 2) -> probabilities or scores of
    class 1, thresholded at 0.5) over a grid around the data, the boundary, and the data
    coloured by class. Returns the matplotlib Axes."""
    plt = pyplot()
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != 2:
        raise GraphnnError(f"a decision boundary is drawn for 2-D inputs; x has shape {x.shape}")
    lo, hi = x.min(axis=0) - margin, x.max(axis=0) + margin
    A, B = np.meshgrid(np.linspace(lo[0], hi[0], resolution),
                       np.linspace(lo[1], hi[1], resolution))
    grid = np.column_stack([A.ravel(), B.ravel()])
    Z = np.asarray(predict(grid), dtype=np.float64).reshape(A.shape)
    if ax is None:
        _, ax = plt.subplots(figsize=(4, 4), dpi=120)
    ax.contourf(A, B, Z, levels=np.linspace(min(Z.min(), 0.0), max(Z.max(), 1.0), 21),
                cmap="RdBu_r", alpha=0.6)
    if Z.min() < 0.5 < Z.max():
        ax.contour(A, B, Z, levels=[0.5], colors="black", linewidths=1.5)
    labels = np.asarray(y).ravel() > 0.5
    ax.scatter(x[~labels, 0], x[~labels, 1], c="#1f4e9c", edgecolors="white", s=40, label="0")
    ax.scatter(x[labels, 0], x[labels, 1], c="#b2182b", edgecolors="white", marker="s", s=40,
               label="1")
    if title:
        ax.set_title(title, fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])
    return ax
