"""Renderings of graphs: the canonical text form (text.py)."""

from graphnn.render.text import graph_text

__all__ = ["graph_text"]
