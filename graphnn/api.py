"""What users call: declaring, differentiating, evaluating, optimizing, compiling, drawing,
verifying.

This module gathers the entry points; each lives with the stage it belongs to.
"""

from __future__ import annotations

from graphnn.autodiff import grad
from graphnn.compiler import Function, compile
from graphnn.evaluate import evaluate
from graphnn.graph import Graph
from graphnn.ir import Node, apply, constant, input, scope
from graphnn.passes import optimize
from graphnn.render.pictures import render
from graphnn.symbolic import SymbolicLimitError, check_gradients, check_ops, to_sympy

__all__ = ["Function", "Graph", "Node", "SymbolicLimitError", "apply", "check_gradients",
           "check_ops", "compile", "constant", "evaluate", "grad", "input", "optimize", "render",
           "scope", "to_sympy"]
