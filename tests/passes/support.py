"""Helpers shared by the optimizer tests."""

from __future__ import annotations

import graphnn as gn


def stable(graph: gn.Graph) -> gn.Graph:
    """graph with its inputs in name order: a Graph's default input order follows the inputs'
    creation, which interning (an input kept alive by another test) can change."""
    return gn.Graph(graph.outputs, sorted(graph.inputs, key=lambda n: n.name), graph.name)
