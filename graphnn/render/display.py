"""Gradient graphs drawn as a reader wants them: without the seed gradient's `× 1`.

Stage: rendering. Input: the scopes (clusters) of a gradient graph's nodes and how
graphnn.text.without_unit_factors rebuilt them. Output: the scopes of the nodes drawn. The
rebuilding itself is the text form's (print(graph) shows the same graph); the drawing's raw
form stays available (`raw=True`).
"""

from __future__ import annotations

from collections.abc import Mapping

from graphnn.ir import Node


def carry_scopes(scopes: Mapping[Node, tuple[str, ...]], mapping: Mapping[Node, Node]
                 ) -> dict[Node, tuple[str, ...]]:
    """Scopes of original nodes moved to the nodes shown for them (rebuilt nodes are made
    outside the user's gn.scope).

    >>> import graphnn as gn
    >>> from graphnn.text import without_unit_factors
    >>> x = gn.input("x")
    >>> with gn.scope("layer"):
    ...     y = gn.exp(x * 1.0) * 2.0
    >>> (shown,), mapping = without_unit_factors([y])
    >>> carry_scopes({}, mapping)[shown]
    ('layer',)
    """
    moved = dict(scopes)
    for old, new in mapping.items():
        if new is not old and old in scopes:
            moved.setdefault(new, scopes[old])
        elif new is not old:
            moved.setdefault(new, old.scope)
    return moved
