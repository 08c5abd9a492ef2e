"""What users call: declaring, differentiating, evaluating, optimizing, compiling, drawing,
verifying.

This module gathers the entry points; each lives with the stage it belongs to.
"""

from __future__ import annotations

from typing import Any

from graphnn.autodiff import grad
from graphnn.compiler import Function, compile
from graphnn.errors import SymbolicLimitError
from graphnn.evaluate import evaluate
from graphnn.graph import Graph
from graphnn.ir import Node, apply, constant, input, scope
from graphnn.options import CompileOptions
from graphnn.passes import optimize
from graphnn.render import notebook
from graphnn.render.animate import animate
from graphnn.render.pictures import render

notebook.install(Function)      # graphs, nodes and compiled functions display inline in Jupyter

# The SymPy side is imported when first used: SymPy takes about half a second to import, and
# declaring, differentiating, evaluating and compiling graphs never need it.
SYMBOLIC = ("check_gradients", "check_ops", "to_sympy")

__all__ = ["CompileOptions", "Function", "Graph", "Node", "SymbolicLimitError", "animate",
           "apply", "compile", "constant",
           "evaluate", "grad", "input", "optimize", "render", "scope", *SYMBOLIC]


def __getattr__(name: str) -> Any:
    if name in SYMBOLIC:
        from graphnn import symbolic
        value = getattr(symbolic, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(SYMBOLIC))
