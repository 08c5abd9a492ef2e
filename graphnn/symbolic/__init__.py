"""The SymPy bridge: graphs as SymPy expressions, op rules proven, gradients verified.

to_sympy(node)                      a node's SymPy expression (or array of element expressions)
check_ops()                         every op's derivative rule against sympy.diff, conventions
check_labels()                      every op's drawn derivative label against sympy.diff
check_gradients(y, wrt, feed=None)  a graph's gradients against SymPy, or finite differences
derivative_formula(y, wrt)          SymPy's derivative as short plain text and LaTeX

The `verify FILE` command is graphnn/cli/verify.py.
"""

from graphnn.symbolic.compare import Decision, decide, rational_points
from graphnn.symbolic.conventions import check_conventions, conventions, conventions_table
from graphnn.symbolic.formulas import Formula, derivative_formula
from graphnn.symbolic.functions import Sigmoid
from graphnn.symbolic.gradients import check_gradients
from graphnn.symbolic.labels import check_label, check_labels
from graphnn.symbolic.report import GradientReport, OpsReport, Row
from graphnn.symbolic.rules import Instance, check_ops, check_rule, instances
from graphnn.symbolic.translate import SymbolicLimitError, element_symbols, to_sympy, translate

__all__ = [
    "Decision", "Formula", "GradientReport", "Instance", "OpsReport", "Row", "Sigmoid",
    "SymbolicLimitError", "check_conventions", "check_gradients", "check_label", "check_labels",
    "check_ops", "check_rule", "conventions", "conventions_table", "decide",
    "derivative_formula", "element_symbols", "instances", "rational_points", "to_sympy",
    "translate",
]
