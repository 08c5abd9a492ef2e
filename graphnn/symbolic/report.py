"""Reports of derivative checks: rows with a verdict and the method that decided, as tables.

Stage: the SymPy bridge's output. A `GradientReport` answers `check_gradients` (one row per
input element, or per input for numeric checks); an `OpsReport` answers `check_ops` (one row
per op input, then the conventions at non-differentiable points). Both print as text tables
and have `.ok`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

AGREE, DIFFER, UNDECIDED = "agree", "differ", "undecided"
MISSING = "missing"             # an op without a SymPy form or a small instance
BY_DESIGN = "differs by design"  # a convention at a kink that graphnn chose on purpose
MAX_NOTES = 12                  # notes printed under a table (all are kept in .notes)


@dataclass(frozen=True)
class Row:
    """One checked derivative: what each side says, the verdict and how it was decided."""

    input: str                 # "w0", "W[0,1]", or for op rules "sigmoid: x"
    reference: str             # SymPy's derivative (or the finite-difference value)
    graphnn: str               # graphnn's gradient, as SymPy text (or its value)
    verdict: str               # "agree", "differ" or "undecided"
    method: str                # "simplify", "rational points", "numeric" or ""
    detail: str = ""
    at_feed: tuple[float, float] | None = None    # (SymPy's, graphnn's) value at the feed
    exprs: tuple[Any, Any] | None = field(default=None, compare=False, repr=False)  # SymPy's


def clip(text: str, width: int) -> str:
    """text on one line, cut to `width` characters with an ellipsis."""
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[:width - 1] + "…"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]],
          widths: Sequence[int | None]) -> str:
    """Aligned text columns; a width of None leaves that column unclipped.

    >>> print(table(["a", "b"], [["1", "long text"]], [None, 6]))
    a  b
    1  long …
    """
    cells = [[clip(c, w) if w else str(c) for c, w in zip(row, widths)] for row in rows]
    sizes = [max([len(h)] + [len(r[k]) for r in cells]) for k, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(s) for h, s in zip(headers, sizes)).rstrip()]
    lines += ["  ".join(c.ljust(s) for c, s in zip(r, sizes)).rstrip() for r in cells]
    return "\n".join(lines)


@dataclass
class GradientReport:
    """The result of check_gradients: `.ok`, `.rows`, notes, and a printable table."""

    title: str
    method: str                          # "symbolic" or "numeric"
    rows: list[Row]
    notes: list[str] = field(default_factory=list)
    width: int = 34                      # formula columns are clipped to this many characters

    @property
    def ok(self) -> bool:
        """True when every derivative was checked and agrees."""
        return bool(self.rows) and all(r.verdict == AGREE for r in self.rows)

    @property
    def failures(self) -> list[Row]:
        return [r for r in self.rows if r.verdict != AGREE]

    def summary(self) -> str:
        counts = {v: sum(r.verdict == v for r in self.rows) for v in (AGREE, DIFFER, UNDECIDED)}
        if self.ok:
            methods = sorted({r.method for r in self.rows})
            return f"OK: all {len(self.rows)} derivatives agree (decided by " \
                f"{', '.join(methods)})"
        parts = [f"{n} {v}" for v, n in counts.items() if n]
        return f"FAILED: {', '.join(parts)} (of {len(self.rows)})"

    def __str__(self) -> str:
        numeric = self.method == "numeric"
        headers = ["input", "finite differences" if numeric else "SymPy's derivative",
                   "graphnn's gradient", "verdict", "decided by"]
        widths: list[int | None] = [None, self.width, self.width, None, None]
        with_values = any(r.at_feed for r in self.rows)
        if with_values:
            headers[3:3] = ["SymPy at feed", "graphnn at feed"]
            widths[3:3] = [None, None]
        body = []
        for r in self.rows:
            cells = [r.input, r.reference, r.graphnn, r.verdict, r.method or "-"]
            if with_values:
                cells[3:3] = [f"{v:+.6g}" for v in r.at_feed] if r.at_feed else ["", ""]
            body.append(cells)
        lines = [self.title, "", table(headers, body, widths), ""]
        lines += [f"  {r.input}: {r.detail}" for r in self.failures if r.detail]
        lines += [f"note: {n}" for n in self.notes[:MAX_NOTES]]
        if len(self.notes) > MAX_NOTES:
            lines.append(f"note: ... and {len(self.notes) - MAX_NOTES} more (report.notes)")
        lines.append(self.summary())
        return "\n".join(line for line in lines if line is not None)

    def __repr__(self) -> str:
        return f"<GradientReport {self.method}: {self.summary()}>"


@dataclass
class OpsReport:
    """The result of check_ops: every op's rule per input, then the conventions at kinks."""

    rules: list[Row]
    conventions: list[Row]
    lemmas: list[Row] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every rule agrees and every convention holds as declared."""
        return bool(self.rules) and not self.failures

    @property
    def failures(self) -> list[Row]:
        rows = self.rules + self.conventions + self.lemmas
        return [r for r in rows if r.verdict not in (AGREE, BY_DESIGN)]

    def __str__(self) -> str:
        rules = table(["op: input", "verdict", "decided by", "detail"],
                      [[r.input, r.verdict, r.method or "-", r.detail] for r in self.rules],
                      [None, None, None, 70])
        kinks = table(["op at its kink", "graphnn", "SymPy", "verdict", "why"],
                      [[r.input, r.graphnn, r.reference, r.verdict, r.detail]
                       for r in self.conventions], [None, 20, 20, None, 50])
        lemmas = [f"{r.input}: {r.verdict} ({r.method}) {r.detail}" for r in self.lemmas]
        details = [f"  {r.input}: {r.detail}" for r in self.failures]
        passed = "OK" if self.ok else f"FAILED: {len(self.failures)} rows"
        return "\n".join(["VJP rules against sympy.diff", "", rules, "",
                          "Conventions at non-differentiable points", "", kinks, "",
                          *lemmas, *details, passed])

    def __repr__(self) -> str:
        return f"<OpsReport {'OK' if self.ok else f'FAILED ({len(self.failures)})'}: " \
            f"{len(self.rules)} rules, {len(self.conventions)} conventions>"
