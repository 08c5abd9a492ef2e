"""Renderings of graphs: the canonical text form (text.py), the op reference (opdoc.py), and
teaching drawings with Graphviz (pictures.py: `render`, built from scene, annotate, symbols,
labels, style, dot, layout, magnitude, display and drawing); the step-through (animate.py:
`animate`, from steps, page and pdf); Jupyter display (notebook.py); matplotlib plots
(plots.py, optimization.py).

Only the text form is imported here: graphnn.graph needs it, and the drawing modules need
graphnn.graph, so importing them here would make a cycle. Import drawings from
graphnn.render.pictures (or use gn.render).
"""

from graphnn.render.text import graph_text

__all__ = ["graph_text"]
