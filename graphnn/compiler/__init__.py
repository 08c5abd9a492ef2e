"""Compilation: a graph as a native function (function.py), per-batch-size specializations
(rebatch.py)."""

from graphnn.compiler.function import Function, compile

__all__ = ["Function", "compile"]
