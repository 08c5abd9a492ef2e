"""Numerical gradient check: graphnn's gradient against central differences, in float64.

Stage: verification at any size. Input: a scalar node, nodes to differentiate by, a feed.
Output: one report row per node of `wrt`, from a sample of its elements.

The graph is evaluated with every op's NumPy reference in float64, whatever dtype it was
declared with, so the differences are not drowned by float32 rounding. Each sampled element is
moved by ±h with h = cbrt(machine epsilon) * max(1, |x|), which balances the truncation error
(about h²) of the central difference against its rounding error (about eps / h).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from graphnn.errors import InputError
from graphnn.graph import reached_inputs
from graphnn.ir import Node, toposort
from graphnn.symbolic.report import AGREE, DIFFER, Row

STEP = float(np.finfo(np.float64).eps) ** (1 / 3)
RTOL = 1e-5             # relative agreement required of each sampled element
ATOL = 1e-7             # ... plus this much times max(1, |y|) (the differences' rounding)


def run64(order: Sequence[Node], given: Mapping[Node, np.ndarray]) -> dict[Node, np.ndarray]:
    """Values of the nodes in `order`, in float64; nodes in `given` take the given values."""
    values: dict[Node, np.ndarray] = {}
    with np.errstate(all="ignore"):
        for node in order:
            if node in given:
                values[node] = given[node]
            elif node.op == "constant":
                values[node] = np.asarray(node.value, dtype=np.float64)
            else:
                args = [values[i] for i in node.inputs]
                values[node] = np.asarray(node.opdef.reference(*args, **node.attrs),
                                          dtype=np.float64)
    return values


def complete_feed(inputs: Sequence[Node], feed: Mapping[str | Node, Any] | None,
                  rng: np.random.Generator) -> tuple[dict[Node, np.ndarray], list[str]]:
    """float64 values for every input: the feed's (checked), else drawn from N(0, 1).

    Feed keys are input names or input nodes; keys naming no input here are ignored (a model
    file's feed may serve several outputs)."""
    given = {key.name if isinstance(key, Node) else key: value
             for key, value in (feed or {}).items()}
    values, drawn = {}, []
    for node in inputs:
        if node.name in given:
            values[node] = np.asarray(given[node.name], dtype=np.float64)
            if values[node].shape != node.shape:
                raise InputError(f"input {node.name!r} has shape {node.shape}, but the feed "
                                 f"gives shape {values[node].shape}")
        else:
            values[node] = rng.normal(size=node.shape)
            drawn.append(node.name)
    return values, drawn


def sample_indices(gradient: np.ndarray, count: int,
                   rng: np.random.Generator) -> list[tuple[int, ...]]:
    """Every element of a small tensor; else the largest gradient and random others."""
    everything = list(np.ndindex(gradient.shape))
    if len(everything) <= count:
        return everything
    largest = np.unravel_index(int(np.argmax(np.abs(gradient))), gradient.shape)
    chosen = rng.choice(len(everything), size=count, replace=False)
    picked = [tuple(int(i) for i in largest)]
    picked += [everything[k] for k in chosen if everything[k] != picked[0]]
    return picked[:count]


def _label(node: Node, index: tuple[int, ...]) -> str:
    name = node.name or node.op
    return f"{name}[{','.join(map(str, index))}]" if index else name


def _difference(y: Node, w: Node, base: dict[Node, np.ndarray],
                index: tuple[int, ...]) -> float:
    """(y(w + h e) - y(w - h e)) / 2h for the unit vector e at index."""
    order = toposort([y], [w])
    h = STEP * max(1.0, abs(float(base[w][index])))
    results = []
    for sign in (1.0, -1.0):
        moved = base[w].copy()
        moved[index] += sign * h
        given = {n: v for n, v in base.items() if n.op == "input"} | {w: moved}
        results.append(float(run64(order, given)[y]))
    return (results[0] - results[1]) / (2 * h)


def _check_node(y: Node, w: Node, analytic: np.ndarray, base: dict[Node, np.ndarray],
                picked: list[tuple[int, ...]], scale: float) -> Row:
    """The row of one node of wrt: its worst sampled element against central differences."""
    worst = (-1.0, picked[0], 0.0, 0.0, 0.0)        # (error / allowed, index, ...)
    for index in picked:
        numeric = _difference(y, w, base, index)
        ours = float(analytic[index])
        error = abs(ours - numeric)
        error = math.inf if math.isnan(error) else error
        allowed = RTOL * max(abs(ours), abs(numeric)) + ATOL * scale
        if error / allowed > worst[0]:
            worst = (error / allowed, index, numeric, error, allowed)
    ratio, index, numeric, error, allowed = worst
    detail = f"{len(picked)} of {analytic.size:,} elements; worst {_label(w, index)}: " \
        f"|graphnn - differences| = {error:.2g} (allowed {allowed:.2g})"
    return Row(_label(w, ()), f"{numeric:+.8g} at {_label(w, index)}",
               f"{float(analytic[index]):+.8g}", AGREE if ratio <= 1.0 else DIFFER, "numeric",
               detail)


def numeric_rows(y: Node, wrt: Sequence[Node], grads: Sequence[Node],
                 feed: Mapping[str | Node, Any] | None, samples: int = 12,
                 seed: int = 0) -> tuple[list[Row], list[str]]:
    """One row per node of wrt: its worst sampled element against central differences."""
    rng = np.random.default_rng(seed)
    order = toposort([y, *grads])
    inputs = reached_inputs(order)
    given, drawn = complete_feed(inputs, feed, rng)
    base = run64(order, given)
    scale = max(1.0, abs(float(base[y])))      # rounding in y(x ± h) grows with |y|
    rows = [_check_node(y, w, base[g], base, sample_indices(base[g], samples, rng), scale)
            for w, g in zip(wrt, grads)]
    notes = [f"inputs not in the feed were drawn from N(0, 1): {', '.join(drawn)}"] \
        if drawn else []
    return rows, notes
