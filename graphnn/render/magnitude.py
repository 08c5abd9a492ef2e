"""Gradient magnitudes drawn on edges: width and colour by |gradient| on a log scale.

Stage: rendering. Input: the gradient flowing along each drawn edge (annotate's `flow`).
Output: Graphviz edge attributes and a legend. A vanishing gradient shows as edges fading
from thick dark red near the loss to thin pale ones near the input; the scale is logarithmic
because such gradients shrink by a factor per layer, and a linear scale would show every edge
but the last few as nothing.

    >>> scale = Scale.of({"a": 1e-6, "b": 1e-3, "c": 1.0})
    >>> [round(scale.position(m), 2) for m in (1e-6, 1e-3, 1.0)]
    [0.0, 0.5, 1.0]
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping
from dataclasses import dataclass

import numpy as np

from graphnn.render.labels import format_number

# pale to dark, the colours of ColorBrewer's OrRd scheme
PALETTE = ("#fdd49e", "#fc8d59", "#d7301f", "#7f0000")
ZERO_COLOR = "#bdbdbd"
THIN, THICK = 0.6, 6.0


def magnitude(value: object) -> float:
    """|g| of a gradient: its absolute value, or a tensor's Euclidean norm."""
    return float(np.linalg.norm(np.asarray(value, dtype=np.float64).ravel()))


def _mix(t: float) -> str:
    """The colour at position t in [0, 1] along PALETTE."""
    spot = t * (len(PALETTE) - 1)
    k = min(int(spot), len(PALETTE) - 2)
    a, b = (np.array([int(c[i:i + 2], 16) for i in (1, 3, 5)]) for c in PALETTE[k:k + 2])
    rgb = np.rint(a + (b - a) * (spot - k)).astype(int)
    return "#" + "".join(f"{v:02x}" for v in rgb)


@dataclass(frozen=True)
class Scale:
    """log10 of the smallest and largest non-zero magnitude drawn."""

    low: float
    high: float

    @classmethod
    def of(cls, magnitudes: Mapping[Hashable, float]) -> Scale:
        logs = [math.log10(m) for m in magnitudes.values() if m > 0 and math.isfinite(m)]
        return cls(min(logs, default=0.0), max(logs, default=0.0))

    def position(self, m: float) -> float:
        if self.high == self.low:
            return 1.0
        return min(1.0, max(0.0, (math.log10(m) - self.low) / (self.high - self.low)))

    def edge(self, m: float) -> dict[str, str]:
        """Width and colour of an edge carrying a gradient of magnitude m (0: thin, grey)."""
        if not m > 0 or not math.isfinite(m):
            return {"color": ZERO_COLOR, "penwidth": str(THIN), "style": "dashed"}
        t = self.position(m)
        return {"color": _mix(t), "penwidth": f"{THIN + (THICK - THIN) * t:.2f}"}

    def legend(self, of: str, size: int) -> str:
        """HTML-like table rows: the scale from its smallest to its largest magnitude."""
        steps = 5
        cells = "".join(f'<td bgcolor="{_mix(k / (steps - 1))}" width="28" height="'
                        f'{3 + 3 * k}"></td>' for k in range(steps))
        low, high = (format_number(10.0 ** v, 2) for v in (self.low, self.high))
        return (f'<tr><td align="right"><font point-size="{size}">|∂{of}/∂·| on edges, '
                f'log scale: {low}</font></td>{cells}<td align="left"><font point-size='
                f'"{size}">{high}</font></td></tr>')
