"""Compilation: a graph as a native function (function.py), per-batch-size specializations
(rebatch.py), export as a C library (export.py, batchrows.py, command.py)."""

from graphnn.compiler.function import Function, compile

__all__ = ["Function", "compile"]
