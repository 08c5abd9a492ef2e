"""The optimizer's report: per pass, the node counts before and after and the rules that fired.

Stage: optimization. Input: what `optimize` records. Output: a printable table, and the text
form of the graph before and after (with a unified diff), for reading what the passes did; and
`same_bits`, the optimizer's promise (an optimized graph evaluates to the same bits) as a test.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PassRecord:
    """One pass of one run: its name, len(graph.nodes) before and after, and the rules that
    fired as (rule, times) pairs in the order they first fired."""

    name: str
    nodes_before: int
    nodes_after: int
    fired: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class Report:
    """What `optimize(graph, report=True)` returns beside the graph; `str(report)` is the table.

    >>> record = PassRecord("simplify", 7, 5, (("x * 1 -> x", 2),))
    >>> print(Report((record,), "before", "after"))
    pass      nodes before  nodes after  rules fired
    simplify             7            5  x * 1 -> x (2)
    total                7            5
    """

    passes: tuple[PassRecord, ...]
    before: str           # text form of the graph given to optimize
    after: str            # text form of the optimized graph

    @property
    def nodes_before(self) -> int:
        return self.passes[0].nodes_before if self.passes else 0

    @property
    def nodes_after(self) -> int:
        return self.passes[-1].nodes_after if self.passes else 0

    def table(self) -> str:
        """The per-pass table (one line per rule that fired)."""
        width = max([len("pass"), len("total")] + [len(p.name) for p in self.passes])
        lines = [f"{'pass':<{width}}  nodes before  nodes after  rules fired"]
        for record in self.passes:
            rules = [f"{rule} ({times})" for rule, times in record.fired] or [""]
            lines.append(f"{record.name:<{width}}  {record.nodes_before:>12}  "
                         f"{record.nodes_after:>11}  {rules[0]}".rstrip())
            lines += [f"{'':<{width}}  {'':>12}  {'':>11}  {rule}" for rule in rules[1:]]
        lines.append(f"{'total':<{width}}  {self.nodes_before:>12}  {self.nodes_after:>11}")
        return "\n".join(lines)

    def diff(self) -> str:
        """A unified diff of the text forms, before -> after."""
        return "\n".join(difflib.unified_diff(self.before.splitlines(), self.after.splitlines(),
                                              "before", "after", lineterm=""))

    def __str__(self) -> str:
        return self.table()


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal to the last bit, any NaN equal to any NaN (its sign and payload are not values).

    >>> same_bits(np.array([0.0, np.nan]), np.array([0.0, -np.nan]))
    True
    >>> same_bits(np.array(0.0), np.array(-0.0))
    False
    """
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    nan_a, nan_b = np.isnan(a), np.isnan(b)
    bits = f"u{a.itemsize}"
    return bool(np.array_equal(nan_a, nan_b) and
                np.array_equal(a[~nan_a].view(bits), b[~nan_b].view(bits)))
