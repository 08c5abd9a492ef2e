"""Compilation: a graph as a native function (function.py), per-batch-size specializations
(rebatch.py)."""

from graphnn.compiler.function import Function, NativeFunction, compile

__all__ = ["Function", "NativeFunction", "compile"]
