"""Errors of the training library: a model built or used wrongly, a parameter file that does not
fit. Each names the layer or parameter and the shape or dtype expected and found."""

from __future__ import annotations

from graphnn.errors import GraphnnError


class ModelError(GraphnnError, ValueError):
    """A layer cannot take its input, a model is declared wrongly, or data does not fit it."""


class ParameterFileError(GraphnnError, ValueError):
    """A saved parameter file does not match the model it is loaded into."""
