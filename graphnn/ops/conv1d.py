"""1-D convolution of NCL input with OIL weights: a composite, conv2d over a height of one.

    y[n, o, i] = sum_{c, p} xpad[n, G(o) Cg + c, i*stride + p*dilation] * w[o, c, p]

Drawn and printed as conv1d (what the user wrote); defined by its expansion, reshape ->
conv2d with a unit height -> reshape, so it lowers through conv2d's kernels (im2col + Gemm,
reading the reshaped operands in place, or the direct loops) and differentiates through
conv2d's gradient ops.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from graphnn.errors import ShapeError
from graphnn.ir import OpDef, apply, op_function
from graphnn.opdef import Instance, Labels, Symbolic
from graphnn.ops.common import register
from graphnn.ops.conv import CONV2D, out_size
from graphnn.shapes import Shape, pair


def _int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not hasattr(value, "__index__") or value < 1:
        raise ShapeError(f"{what} must be an int >= 1, got {value!r}")
    return int(value)


def _canonical(x: Shape, w: Shape, stride: Any, padding: Any, dilation: Any, groups: Any) -> dict:
    sides = pair(padding, "padding (an int or (left, right))")
    if min(sides) < 0:
        raise ShapeError(f"padding must be >= 0, got {padding}")
    return {"stride": _int(stride, "stride"), "padding": sides,
            "dilation": _int(dilation, "dilation"), "groups": _int(groups, "groups")}


def _as_2d(stride, padding, dilation, groups) -> dict:
    """conv2d's attributes for the same convolution over a height of one."""
    return {"stride": (1, stride), "padding": ((0, 0), padding), "dilation": (1, dilation),
            "groups": groups}


def _shape(x: Shape, w: Shape, stride, padding, dilation, groups) -> Shape:
    if len(x) != 3 or len(w) != 3:
        raise ShapeError(f"x must be 3-D (N, C, L) and w 3-D (O, C/groups, K), got shapes "
                         f"{x} and {w}")
    if w[0] % groups or x[1] != w[1] * groups:
        raise ShapeError(f"x has {x[1]} channels and w {w[0]} output channels, but w expects "
                         f"{w[1]} input channels in each of {groups} group(s)")
    return (x[0], w[0], out_size(x[2], w[2], stride, padding, dilation, "length"))


def _reference(x, w, stride, padding, dilation, groups):
    y = CONV2D.reference(x[:, :, None, :], w[:, :, None, :],
                         **_as_2d(stride, padding, dilation, groups))
    return y[:, :, 0, :]


def _expand(x, w, stride, padding, dilation, groups):
    flat_x = apply("reshape", x, shape=x.shape[:2] + (1, x.shape[2]))
    flat_w = apply("reshape", w, shape=w.shape[:2] + (1, w.shape[2]))
    y = apply("conv2d", flat_x, flat_w, **_as_2d(stride, padding, dilation, groups))
    return apply("reshape", y, shape=y.shape[:2] + (y.shape[3],))


CONV1D = register(OpDef(
    "conv1d", ("x", "w"),
    doc="""1-D convolution (cross-correlation) of NCL input x with OIL weights w.

    Output (N, O, (L + left + right - dilation (K - 1) - 1) // stride + 1); `padding` (zeros)
    is an int or (left, right); `groups` as conv2d's (w is (O, C/groups, K)). A composite:
    conv2d over a height of one. Smooth in x and w.

    >>> gn.conv1d(gn.input("x", shape=(2, 3, 10)), np.ones((4, 3, 3)), stride=2,
    ...           padding=(2, 0), dilation=2).shape
    (2, 4, 4)
    """,
    shape=_shape,
    params=(("stride", 1), ("padding", 0), ("dilation", 1), ("groups", 1)),
    canonical=_canonical,
    reference=_reference,
    expand=_expand,
    vjp=None,
    to_sympy=lambda x, w, **attrs: _reference(np.asarray(x, dtype=object),
                                              np.asarray(w, dtype=object), **attrs),
    derivative=("the transposed conv1d of g with w", "the correlation of x with g"),
    symbol="conv1d", labels=Labels(in_words=True), kinks=(),
    symbolic=Symbolic(instances=(
        Instance(((1, 1, 4), (1, 1, 2))),
        Instance(((1, 2, 5), (2, 1, 2)), {"stride": 2, "padding": (1, 0), "dilation": 2,
                                          "groups": 2}))),
))

conv1d = op_function(CONV1D)
