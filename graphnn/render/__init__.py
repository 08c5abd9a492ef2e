"""Renderings of graphs: teaching drawings with Graphviz (pictures.py: `render`, built from
scene, annotate, symbols, labels, style, dot, layout, geometry, magnitude, display and
drawing); the step-through (animate.py: `animate`, from steps, page and pdf); Jupyter display
(notebook.py); matplotlib plots (plots.py, optimization.py). The canonical text form is the core's
(graphnn/text.py); the command-line drawing commands are graphnn/cli's.

Nothing is imported here: the drawing modules need graphnn.graph and more, so import them from
graphnn.render.pictures (or use gn.render).
"""
