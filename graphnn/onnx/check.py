"""Checks of imported models: gradients against finite differences, and call timings.

Stage: verification. Input: an `OnnxModel`. Output: a `GradientReport` (one row per input
checked), or a time per call. SymPy does not scale to whole imported networks, so gradients
are checked numerically: along a random direction d, the directional derivative g . d from
gn.grad against (L(x + h d) - L(x - h d)) / 2h, with L a random projection of the outputs.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from graphnn.autodiff import grad
from graphnn.evaluate import evaluate
from graphnn.ir import constant
from graphnn.onnx.model import OnnxModel
from graphnn.ops import add, mul, sum

# relative tolerance of the comparison, and the step's scale, per dtype: central differences
# in float32 carry about sqrt(eps) ~ 3e-4 relative error, amplified by cancellation
TOLERANCE = {"float32": 2e-2, "float64": 1e-6}
STEP = {"float32": 1e-2, "float64": 1e-5}


@dataclass(frozen=True)
class GradientReport:
    """rows: (input, g . d from gn.grad, finite difference, relative error, ok)."""

    rows: list[tuple[str, float, float, float, bool]]

    @property
    def ok(self) -> bool:
        return all(row[-1] for row in self.rows)

    def text(self) -> str:
        lines = [f"{'input':<24} {'gn.grad . d':>14} {'differences':>14} {'rel. error':>10}"]
        for name, ours, theirs, error, ok in self.rows:
            lines.append(f"{name:<24} {ours:>14.6g} {theirs:>14.6g} {error:>10.2e}"
                         f"{'' if ok else '  MISMATCH'}")
        lines.append("gradients agree with finite differences" if self.ok else
                     "gradients DISAGREE with finite differences")
        return "\n".join(lines)


def gradient_check(model: OnnxModel, seed: int = 0, params: bool = False) -> GradientReport:
    """Check gn.grad of a random projection of the outputs with respect to the inputs (and
    the parameter inputs when `params`) against central differences."""
    rng = np.random.default_rng(seed)
    loss = None
    for out in model.outputs:
        weights = constant(rng.standard_normal(out.shape).astype(out.dtype))
        term = sum(mul(out, weights))
        loss = term if loss is None else add(loss, term)
    wrt = [*model.inputs, *(model.param_inputs.values() if params else ())]
    feed = model.feed(**{n.name: rng.standard_normal(n.shape).astype(n.dtype)
                         for n in model.inputs})
    gradients = evaluate(grad(loss, wrt), feed)
    rows = []
    for node, gradient in zip(wrt, gradients):
        direction = rng.standard_normal(node.shape)
        direction /= max(float(np.linalg.norm(direction)), 1e-30)
        step = STEP[node.dtype] * max(1.0, float(np.max(np.abs(feed[node])))) \
            if node.shape else STEP[node.dtype]
        sides = []
        for sign in (1.0, -1.0):
            moved = dict(feed)
            moved[node] = (feed[node] + sign * step * direction).astype(node.dtype)
            sides.append(float(evaluate(loss, moved)))
        theirs = (sides[0] - sides[1]) / (2 * step)
        ours = float(np.sum(gradient.astype(np.float64) * direction))
        error = abs(ours - theirs) / max(abs(ours), abs(theirs), 1e-3)
        rows.append((model.onnx_names.get(node.name, node.name), ours, theirs, error,
                     error <= TOLERANCE[node.dtype]))
    return GradientReport(rows)


def time_calls(call: Callable[[], object], repeat: int) -> float:
    """The median time of `repeat` calls, in seconds, after three warm-up calls."""
    for _ in range(3):
        call()
    times = []
    for _ in range(max(1, repeat)):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)
