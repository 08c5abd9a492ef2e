"""What users call: declaring inputs and constants, differentiating, evaluating.

This module gathers the entry points; each lives with the stage it belongs to.
"""

from __future__ import annotations

from graphnn.autodiff import grad
from graphnn.evaluate import evaluate
from graphnn.graph import Graph
from graphnn.ir import Node, apply, constant, input, scope

__all__ = ["Graph", "Node", "apply", "constant", "evaluate", "grad", "input", "scope"]
