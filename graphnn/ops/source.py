"""Source ops: graph inputs, constants, and `size` (an element count read off a shape).

`input` and `constant` nodes are made by `gn.input` and `gn.constant` (in ir.py), not by
`apply`; their OpDefs exist so every node has one and the registry lists every op.
"""

from __future__ import annotations

import math

import numpy as np

from codegen import loops
from graphnn.errors import OpError
from graphnn.ir import OpDef, op_function
from graphnn.opdef import Instance, Symbolic
from graphnn.ops.common import register, sympy


def _source_shape(op: str):
    def shape(*_shapes, **_attrs):
        raise OpError(f"{op} nodes are made with gn.{op}(...), not with apply({op!r}, ...)")
    return shape


INPUT = register(OpDef(
    "input", (), doc="A named placeholder, fed at evaluation or call time.",
    shape=_source_shape("input"), vjp=None, public=False, symbol="", kinks=(),
))

CONSTANT = register(OpDef(
    "constant", (), doc="A fixed array (numbers and numpy arrays are lifted to constants).",
    shape=_source_shape("constant"), vjp=None, public=False, symbol="", kinks=(),
))


def _size_reference(x, axis):
    return np.asarray(math.prod(x.shape[a] for a in axis), dtype=x.dtype)


SIZE = register(OpDef(
    "size", ("x",),
    doc="""Number of elements of x along `axis` (all axes when None), as a scalar of x's dtype.

    Gradient rules divide by it (mean over a batch) instead of by a baked-in number, so a graph
    specialized for another batch size stays right. It reads only x's shape: no gradient.

    >>> gn.evaluate(gn.ops.size(np.zeros((4, 3)), axis=0))
    array(4.)
    """,
    shape=lambda shape, axis: (),
    params=(("axis", None),), axes={"axis": "many"}, shape_only=(0,),
    reference=_size_reference,
    vjp=None,
    to_sympy=lambda x, axis: sympy.Integer(math.prod(np.shape(x)[a] for a in axis)),
    compute=lambda out, x, axis: loops.const(math.prod(x.shape[a] for a in axis), x.dtype),
    derivative=("0",),
    public=False, symbol="N", kinks=(),
    symbolic=Symbolic(instances=(Instance(((2, 3),), {"axis": 0}),)),
))

size = op_function(SIZE)
