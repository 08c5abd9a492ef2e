"""Edge values for the per-op tests (tests/ops/cases.py): zeros, large and tiny magnitudes,
ties, overflow, inf and NaN, each with the reason its gradient is not compared with central
differences there, if it is not.

The gradient is checked at every edge whose operands are finite, unless the edge names a
reason: a kink or jump where the op's stated convention differs from a central difference
(relu'(0) = 0 where a difference gives 1/2), a pole, a value that overflows, a domain where the
op is NaN, or rounding that hides every change (an operand absorbed by a much larger one, a
saturated value); tests/ops/differences.py fails an edge that needs a reason and has none.
Where a convention agrees with central differences (abs'(0) = 0, a maximum tie split 1/2 each,
a max over two tied elements) the edge is checked like any other; tests/autodiff/
test_conventions.py checks every stated convention directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

Array = np.ndarray
LARGE = 1e150       # products of two stay finite (1e300)
TINY = 1e-150       # products of two stay normal floats (1e-300)
NOT_FINITE = "an operand is inf or NaN: there is no finite neighbourhood to difference in"
# Arguments where e^x leaves the normal range. The compiled tests run every edge in float32 and
# float64: e^x is subnormal for x in (-103.3, -87.3) in float32 and in (-745.1, -708.4) in
# float64, and 0 below. An op built on exp keeps those digits, as its reference does (sigmoid(-90)
# is 8.2e-40 in float32, and log of it -90, not -inf).
EXP_UNDERFLOW = (-87.5, -90.0, -100.0, -103.5, -709.0, -720.0, -740.0, -745.0)


class Edge(tuple):
    """Operand values to check an op at (a number fills its operand's shape, an array is used
    as it is) and `skip`: why the gradient is not checked there, for every operand (a string)
    or for some ({operand name: reason}). A plain tuple is an edge without a reason."""

    skip: str | dict[str, str] | None

    def __new__(cls, *values: Any, skip: str | dict[str, str] | None = None) -> Edge:
        edge = super().__new__(cls, values)
        edge.skip = skip
        return edge


def gradient_skips(edge: tuple, arrays: Sequence[Array], names: Sequence[str]) -> dict[str, str]:
    """Operand name -> why its gradient is not checked at this edge; absent names are checked."""
    if not all(np.all(np.isfinite(a)) for a in arrays):
        return dict.fromkeys(names, NOT_FINITE)
    skip = getattr(edge, "skip", None)
    if skip is None:
        return {}
    if isinstance(skip, str):
        return dict.fromkeys(names, skip)
    assert set(skip) <= set(names), f"skip names {set(skip) - set(names)}, not operands"
    return dict(skip)


def pattern(shape: tuple[int, ...], magnitude: float, seed: int = 0) -> Array:
    """magnitude times distinct values of either sign with |v| in [1, 2): no zeros, no ties."""
    rng = np.random.default_rng(seed)
    size = int(np.prod(shape))
    values = (1.0 + rng.permutation(size) / size) * rng.choice([-1.0, 1.0], size)
    return magnitude * values.reshape(shape)


def magnitudes(shapes: Sequence[tuple[int, ...]], ties: str | None = None,
               absorbed: dict[str, str] | None = None) -> list[Edge]:
    """Every operand large, every operand tiny, the first large and the others tiny (skipped
    for `absorbed` operands, where the large one swallows them), and all zero (skipped for
    `ties`, where equal elements tie)."""
    def each(*scales, skip=None):
        return Edge(*(pattern(s, m, k) for k, (s, m) in enumerate(zip(shapes, scales))),
                    skip=skip)
    edges = [each(*[LARGE] * len(shapes)), each(*[TINY] * len(shapes))]
    if len(shapes) > 1:
        edges.append(each(LARGE, *[TINY] * (len(shapes) - 1), skip=absorbed))
    return edges + [Edge(*(np.zeros(s) for s in shapes), skip=ties)]


def underflow(op: str, subnormal_below: float = -708.4) -> list[Edge]:
    """Single-operand edges at EXP_UNDERFLOW; where the float64 result is subnormal (x below
    `subnormal_below`) the gradient is not differenced: too few digits are left."""
    reason = (f"{op}(x) is subnormal in float64 below x = {subnormal_below}: too few digits "
              "are left to difference")
    return [Edge(x, skip=reason if x < subnormal_below else None) for x in EXP_UNDERFLOW]


def pair_ties(shape: tuple[int, ...], magnitude: float = 1.0) -> Array:
    """Values tied in pairs along the last axis (…, a, a, b, b, …), distinct otherwise: at a
    tie of two, splitting the gradient 1/2 each is what a central difference gives."""
    half = pattern(shape[:-1] + (shape[-1] // 2,), magnitude)
    return np.repeat(half, 2, axis=-1)
