"""softmax and log_softmax along an axis: composites with numerically stable expansions.

Both subtract the maximum along the axis before exponentiating (the result is unchanged, since
softmax(x) = softmax(x - c), and exp cannot overflow). Their gradients are given directly,
which is both shorter and more accurate than differentiating the expansion:

    softmax:      dx = p (g - sum(g p))           with p the output
    log_softmax:  dx = g - e^out sum(g)
"""

from __future__ import annotations

import numpy as np

from graphnn.errors import ShapeError
from graphnn.ir import OpDef, apply, op_function
from graphnn.opdef import Instance, Symbolic
from graphnn.ops.common import register, sympy
from graphnn.shapes import Shape

_exp = np.vectorize(lambda v: sympy.exp(v), otypes=[object])
_log = np.vectorize(lambda v: sympy.log(v), otypes=[object])


def _same_shape(shape: Shape, axis: int) -> Shape:
    # an empty axis has no maximum to subtract and no element to normalize: refused, as SciPy's
    # softmax refuses it, rather than failing later inside the expansion's max
    if shape[axis] == 0:
        raise ShapeError(f"axis {axis} is empty (length 0): there is nothing to normalize over")
    return shape


def _shifted(x, axis: int):
    """x minus its maximum along axis (numpy reference)."""
    return x - np.max(x, axis=axis, keepdims=True)


def _softmax_reference(x, axis):
    e = np.exp(_shifted(x, axis))
    return e / np.sum(e, axis=axis, keepdims=True)


def log_softmax_reference(x, axis):
    """The stable numpy log-softmax (also used by softmax_cross_entropy)."""
    s = _shifted(x, axis)
    return s - np.log(np.sum(np.exp(s), axis=axis, keepdims=True))


def _shifted_node(x, axis: int):
    return x - apply("max", x, axis=axis, keepdims=True)


def _softmax_expand(x, axis):
    e = apply("exp", _shifted_node(x, axis))
    return e / apply("sum", e, axis=axis, keepdims=True)


def _log_softmax_expand(x, axis):
    s = _shifted_node(x, axis)
    return s - apply("log", apply("sum", apply("exp", s), axis=axis, keepdims=True))


def _softmax_sympy(x, axis):
    e = _exp(x)
    return e / np.sum(e, axis=axis, keepdims=True)


def log_softmax_sympy(x, axis):
    """Log-softmax of an object array of SymPy expressions."""
    return x - _log(np.sum(_exp(x), axis=axis, keepdims=True))


SOFTMAX = register(OpDef(
    "softmax", ("x",),
    doc="""Softmax along `axis`: e^x / sum(e^x), computed as e^(x - max) / sum(e^(x - max)).

    Smooth everywhere. Gradient: p (g - sum(g p)) along the axis, with p the output. An empty
    axis is an error (as in SciPy): it has no maximum to subtract.

    >>> gn.evaluate(gn.softmax(np.array([0.0, np.log(3.0)])))
    array([0.25, 0.75])
    """,
    shape=_same_shape, params=(("axis", -1),), axes={"axis": "one"},
    reference=_softmax_reference,
    expand=_softmax_expand,
    vjp=lambda g, out, x, axis: (out * (g - apply("sum", g * out, axis=axis, keepdims=True)),),
    to_sympy=_softmax_sympy,
    derivative=("out·(g - sum(g·out))",),
    symbol="softmax", activation="xavier", kinks=(),
    symbolic=Symbolic(instances=(Instance(((3,),)),)),
))

LOG_SOFTMAX = register(OpDef(
    "log_softmax", ("x",),
    doc="""log(softmax(x)) along `axis`, computed stably as (x - max) - log(sum(e^(x - max))).

    Smooth everywhere. Gradient: g - softmax(x) sum(g) along the axis. An empty axis is an
    error (as in SciPy): it has no maximum to subtract.

    >>> gn.evaluate(gn.log_softmax(np.array([0.0, 0.0])))
    array([-0.69314718, -0.69314718])
    """,
    shape=_same_shape, params=(("axis", -1),), axes={"axis": "one"},
    reference=log_softmax_reference,
    expand=_log_softmax_expand,
    vjp=lambda g, out, x, axis: (
        g - apply("exp", out) * apply("sum", g, axis=axis, keepdims=True),),
    to_sympy=log_softmax_sympy,
    derivative=("g - softmax(x)·sum(g)",),
    symbol="logsoftmax", kinks=(),
    symbolic=Symbolic(instances=(Instance(((2, 2),), {"axis": 0}),)),
))

softmax, log_softmax = op_function(SOFTMAX), op_function(LOG_SOFTMAX)
