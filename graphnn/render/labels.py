"""Text for drawings: numbers at a sensible precision, tensors as values or summaries, HTML.

Stage: rendering. Input: NumPy values of nodes. Output: short lines of text (and Graphviz
HTML-like label markup) that fit on a lecture slide.

    >>> format_number(0.7310585786300049)
    '0.73'
    >>> value_lines(np.arange(12.0).reshape(3, 4))
    ['mean 5.50 ± 3.45', 'range [0.00, 11.00]']
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from graphnn.shapes import Shape

# One colour per kind of number, the same in every view: forward values green, gradients
# red (as in the lecture's slides), local derivatives purple, structure grey.
VALUE_COLOR = "#1b7a3a"
GRADIENT_COLOR = "#c0392b"
LOCAL_COLOR = "#6c3483"
MUTED_COLOR = "#616161"

SMALL_TENSOR = 6         # tensors up to this many elements are drawn as their values


MORE_DIGITS = 6      # decimals a product or sum on a drawing may add to read right


def readable_arithmetic(operands: Sequence[float], combine: Callable[[list[float]], float],
                        result: float, number: Callable[[float, int], str],
                        digits: int) -> tuple[list[str], str]:
    """Operands and result as text, at the fewest decimals from `digits` (up to MORE_DIGITS
    more) at which `combine` of the operands as written gives the result as written, so a
    slide never shows 0.20 × (-2.00) = -0.39 (0.2 × -2 is -0.4) but 0.1966 × (-2.00) =
    -0.3932. An operand exact at `digits` (-2.00) keeps them. `number(value, digits)` writes
    one number.

    >>> fixed = lambda v, d: f"{v:.{d}f}"
    >>> readable_arithmetic([0.19661, -2.0], lambda t: t[0] * t[1], -0.39322, fixed, 2)
    (['0.1966', '-2.00'], '-0.3932')
    """
    def operand(value: float, places: int) -> str:
        # a number exact at `digits` (2.00) keeps them; only the others grow
        text = number(value, digits)
        return text if float(text) == value else number(value, places)

    for places in range(digits, digits + MORE_DIGITS + 1):
        texts = [operand(v, places) for v in operands]
        shown = number(result, places)
        if number(combine([float(t) for t in texts]), places) == shown:
            break
    return texts, shown


def format_number(value: float, digits: int = 2) -> str:
    """A number with `digits` decimals, or `digits` significant digits when it is tiny or huge.

    Fixed decimals match the lecture's slides (0.73, -0.20); values that would round to 0.00
    or be wider than a node keep their significant digits in exponent form.

    >>> [format_number(v) for v in (-2.0, 0.19661193, 0.004, 12345.6, 0.0, float("-inf"))]
    ['-2.00', '0.20', '0.004', '1.2e+04', '0.00', '-inf']
    """
    value = float(value)
    if math.isnan(value) or math.isinf(value):
        return repr(value)
    magnitude = abs(value)
    if magnitude == 0.0:
        return f"{0.0:.{digits}f}"                   # no "-0.00"
    if magnitude < 0.5 * 10.0 ** -digits:
        return f"{value:.{digits}g}"                 # 0.004, 1.2e-05
    if magnitude >= 1e4:
        return f"{value:.{digits}g}"
    return f"{value:.{digits}f}"


def literal(value: float) -> str:
    """A constant as written in an op symbol: 1, -1, 0.5, 1e-08.

    >>> literal(1.0), literal(-1.0), literal(0.5)
    ('1', '-1', '0.5')
    """
    value = float(value)
    if value.is_integer() and abs(value) < 1e6:
        return str(int(value))
    return f"{value:.4g}"


def shape_text(shape: Shape) -> str:
    """(4, 3) as [4×3]; a vector (5,) as [5]; a scalar as an empty string."""
    return "[" + "×".join(str(d) for d in shape) + "]" if shape else ""


def _row(values: np.ndarray, digits: int) -> str:
    return "[" + ", ".join(format_number(v, digits) for v in values) + "]"


def value_lines(value: Any, digits: int = 2, small: int = SMALL_TENSOR) -> list[str]:
    """Lines showing a value: a scalar, a small tensor's rows, or a large one's statistics.

    Size-1 axes are dropped first, so a (1, 2, 1, 1) bias is one row.

    >>> value_lines(np.array([[1.0, 2.0], [3.0, 4.0]]))
    ['[1.00, 2.00]', '[3.00, 4.00]']
    >>> value_lines(np.ones((4, 4)))
    ['all 1.00']
    """
    array = np.asarray(value, dtype=np.float64)
    if array.ndim == 0:
        return [format_number(array, digits)]
    if 0 < array.size <= small:
        rows = np.squeeze(array)
        rows = rows.reshape(-1, rows.shape[-1]) if rows.ndim == 2 else rows.reshape(1, -1)
        return [_row(row, digits) for row in rows]
    if array.size and np.all(array == array.flat[0]):
        return [f"all {format_number(array.flat[0], digits)}"]
    return _summary_lines(array, digits)


def _summary_lines(array: np.ndarray, digits: int) -> list[str]:
    """Mean ± standard deviation and range of the finite elements, then NaN/inf counts."""
    finite = array[np.isfinite(array)]
    lines = []
    if finite.size:
        scale = float(np.abs(finite).max())
        # a mean like -1.7e-18 is rounding noise of a sum that is exactly 0 in real numbers
        number = lambda v: format_number(0.0 if abs(v) < 1e-12 * scale else v,  # noqa: E731
                                         digits)
        lines.append(f"mean {number(finite.mean())} ± {number(finite.std())}")
        lines.append(f"range [{number(finite.min())}, {number(finite.max())}]")
    nans, infs = int(np.isnan(array).sum()), int(np.isinf(array).sum())
    if nans or infs or not finite.size:
        counts = [f"{n} {what}" for n, what in ((nans, "nan"), (infs, "inf")) if n]
        lines.append(", ".join(counts) or "empty")
    return lines


def font(text: str, color: str | None = None, size: int | None = None, bold: bool = False,
         italic: bool = False) -> str:
    """Escaped text in Graphviz HTML-like markup with the given colour, size and weight."""
    markup = html.escape(text, quote=False)
    if bold:
        markup = f"<b>{markup}</b>"
    if italic:
        markup = f"<i>{markup}</i>"
    attributes = "".join(f' {key}="{val}"' for key, val in (("color", color),
                                                            ("point-size", size)) if val)
    return f"<font{attributes}>{markup}</font>" if attributes else markup


def html_label(lines: Sequence[str]) -> str:
    """Lines of markup (from `font`) as one HTML-like label, centred, one per row."""
    return "<" + "<br/>".join(lines) + ">"


def wrapped(items: Sequence[str], per_line: int, between: str) -> list[str]:
    """Items joined by `between`, at most `per_line` to a line (lines but the last end with
    the separator's mark, so "a, b," reads on).

    >>> wrapped(["[2]", "[3]", "[4]"], 2, ", ")
    ['[2], [3],', '[4]']
    """
    per_line = max(per_line, 1)
    rows = [between.join(items[k:k + per_line]) for k in range(0, len(items), per_line)]
    mark = between.strip()
    return [row + mark if k < len(rows) - 1 else row for k, row in enumerate(rows)]
