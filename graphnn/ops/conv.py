"""2-D convolution (cross-correlation, as in every deep-learning framework) and its gradients.

    y[n, o, i, j] = sum_{c, p, q} xpad[n, G(o) Cg + c, i*sh + p*dh, j*sw + q*dw] * w[o, c, p, q]

x is NCHW, w is OIHW with I = C / groups (out channels, in channels per group, kernel height,
kernel width); output channel o belongs to group G(o) = o // (O / groups) and reads only that
group's Cg = C / groups input channels (groups == C is a depthwise convolution). `padding`
adds zeros, ((top, bottom), (left, right)); `dilation` spaces the kernel's taps. Output size
(H + top + bottom - dh (KH - 1) - 1) // sh + 1. The gradients are ops of their own:
conv2d_grad_input (the adjoint in x, a "transposed convolution") and conv2d_grad_weight (the
adjoint in w). The three are closed under differentiation, so grad-of-grad works:

    d<G, grad_input(g, w)> = (conv2d(G, w) in g, grad_weight(G, g) in w)
    d<G, grad_weight(x, g)> = (grad_input(g, G) in x, conv2d(x, G) in g)

The references use only indexing, padding and tensordot, so the same code builds SymPy forms
from object arrays of expressions.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from codegen import loops
from graphnn.errors import ShapeError
from graphnn.ir import REQUIRED, OpDef, apply, op_function
from graphnn.opdef import Instance, Lowering, Symbolic
from graphnn.ops.common import clamped, register, when, window_load
from graphnn.shapes import Shape, pair

_PARAMS = (("stride", 1), ("padding", 0), ("dilation", 1), ("groups", 1))
Sides = tuple[tuple[int, int], tuple[int, int]]


def padding_sides(value: Any, what: str = "padding") -> Sides:
    """Padding as ((top, bottom), (left, right)), from an int (every side), a pair (height,
    width: both sides of each axis) or a pair of pairs; an axis given as an int pads both of
    its sides."""
    if isinstance(value, (tuple, list)) and len(value) == 2 and \
            any(isinstance(v, (tuple, list)) for v in value):
        return pair(value[0], f"{what} of the height"), pair(value[1], f"{what} of the width")
    ph, pw = pair(value, what)
    return (ph, ph), (pw, pw)


def _conv_canonical(*shapes: Shape, stride: Any, padding: Any, dilation: Any, groups: Any,
                    **sizes: Any) -> dict:
    attrs = {"stride": pair(stride, "stride"), "padding": padding_sides(padding),
             "dilation": pair(dilation, "dilation")}
    if min(attrs["stride"]) < 1 or min(attrs["dilation"]) < 1 or \
            min(min(attrs["padding"])) < 0:
        raise ShapeError(f"stride and dilation must be >= 1 and padding >= 0, got stride "
                         f"{stride}, dilation {dilation}, padding {padding}")
    if isinstance(groups, bool) or not hasattr(groups, "__index__") or groups < 1:
        raise ShapeError(f"groups must be an int >= 1, got {groups!r}")
    attrs["groups"] = int(groups)
    for key, value in sizes.items():
        attrs[key] = pair(value, key)
    return attrs


def out_size(size: int, kernel: int, stride: int, sides: tuple[int, int], dilation: int,
             what: str) -> int:
    """Output positions along one axis: (size + before + after - span) // stride + 1."""
    span = dilation * (kernel - 1) + 1
    padded = size + sides[0] + sides[1]
    if padded < span:
        raise ShapeError(f"kernel {what} {kernel} (spanning {span} with dilation {dilation}) "
                         f"is larger than the padded input {what} {padded}")
    return (padded - span) // stride + 1


def _out_hw(hw, kernel, stride, padding, dilation) -> tuple[int, int]:
    return (out_size(hw[0], kernel[0], stride[0], padding[0], dilation[0], "height"),
            out_size(hw[1], kernel[1], stride[1], padding[1], dilation[1], "width"))


def _need_4d(shape: Shape, what: str) -> None:
    if len(shape) != 4:
        raise ShapeError(f"{what} must be 4-D, got shape {shape}")


def _check_groups(channels: int, w: Shape, groups: int, what: str) -> None:
    """`channels` input channels fit weights w (O, C/groups, KH, KW) in `groups` groups."""
    if w[0] % groups:
        raise ShapeError(f"w has {w[0]} output channels, which {groups} groups do not divide")
    if channels != w[1] * groups:
        expected = f"{w[1]} x {groups} groups = {w[1] * groups}" if groups > 1 else f"{w[1]}"
        raise ShapeError(f"{what} has {channels} channels but w expects {expected} "
                         f"(w is O, C/groups, KH, KW)")


def _conv2d_shape(x: Shape, w: Shape, stride, padding, dilation, groups) -> Shape:
    _need_4d(x, "x (N, C, H, W)")
    _need_4d(w, "w (O, C/groups, KH, KW)")
    _check_groups(x[1], w, groups, "x")
    return (x[0], w[0]) + _out_hw(x[2:], w[2:], stride, padding, dilation)


def _windows(x: np.ndarray, kernel, stride, padding, dilation, out_hw) -> np.ndarray:
    """(N, C, OH, OW, KH, KW) view of the padded input's (dilated) receptive fields."""
    (sh, sw), (dh, dw) = stride, dilation
    xpad = np.pad(x, ((0, 0), (0, 0)) + tuple(padding))
    span = (dh * (kernel[0] - 1) + 1, dw * (kernel[1] - 1) + 1)
    view = sliding_window_view(xpad, span, axis=(2, 3))[:, :, ::sh, ::sw, ::dh, ::dw]
    return view[:, :, :out_hw[0], :out_hw[1]]


def _slices(total: int, groups: int) -> list[slice]:
    """The channels of each group."""
    size = total // groups
    return [slice(k * size, (k + 1) * size) for k in range(groups)]


def _conv2d_reference(x, w, stride, padding, dilation, groups):
    out_hw = _out_hw(x.shape[2:], w.shape[2:], stride, padding, dilation)
    windows = _windows(x, w.shape[2:], stride, padding, dilation, out_hw)
    parts = [np.tensordot(windows[:, cs], w[os], axes=([1, 4, 5], [1, 2, 3]))  # (N, OH, OW, Og)
             for cs, os in zip(_slices(x.shape[1], groups), _slices(w.shape[0], groups))]
    return np.ascontiguousarray(np.transpose(np.concatenate(parts, axis=3), (0, 3, 1, 2)))


def _conv2d_grad_input_shape(g: Shape, w: Shape, input_hw, stride, padding, dilation,
                             groups) -> Shape:
    _need_4d(g, "g (N, O, OH, OW)")
    _need_4d(w, "w (O, C/groups, KH, KW)")
    if g[1] != w[0]:
        raise ShapeError(f"g has {g[1]} channels but w has {w[0]} output channels")
    _check_groups(w[1] * groups, w, groups, "the input")
    if _out_hw(input_hw, w[2:], stride, padding, dilation) != tuple(g[2:]):
        raise ShapeError(f"an input of height and width {input_hw} does not give output "
                         f"{g[2:]} with kernel {w[2:]}, stride {stride}, padding {padding}, "
                         f"dilation {dilation}")
    return (g[0], w[1] * groups) + tuple(input_hw)


def _conv2d_grad_input_reference(g, w, input_hw, stride, padding, dilation, groups):
    (sh, sw), (dh, dw), (oh, ow) = stride, dilation, g.shape[2:]
    (top, bottom), (left, right) = padding
    channels = w.shape[1] * groups
    dxpad = np.zeros((g.shape[0], channels, input_hw[0] + top + bottom,
                      input_hw[1] + left + right), dtype=np.result_type(g, w))
    for cs, os in zip(_slices(channels, groups), _slices(w.shape[0], groups)):
        for p in range(w.shape[2]):
            for q in range(w.shape[3]):
                # output (i, j) sends g w[:, :, p, q] to input (i*sh + p*dh, j*sw + q*dw)
                part = np.tensordot(g[:, os], w[os, :, p, q], axes=([1], [0]))  # (N, OH, OW, Cg)
                dxpad[:, cs, p * dh:p * dh + sh * oh:sh, q * dw:q * dw + sw * ow:sw] += \
                    np.transpose(part, (0, 3, 1, 2))
    return dxpad[:, :, top:top + input_hw[0], left:left + input_hw[1]]


def _conv2d_grad_weight_shape(x: Shape, g: Shape, kernel_hw, stride, padding, dilation,
                              groups) -> Shape:
    _need_4d(x, "x (N, C, H, W)")
    _need_4d(g, "g (N, O, OH, OW)")
    if x[0] != g[0]:
        raise ShapeError(f"x has batch {x[0]} but g has batch {g[0]}")
    if x[1] % groups or g[1] % groups:
        raise ShapeError(f"{groups} groups divide neither x's {x[1]} channels nor g's {g[1]}"
                         if x[1] % groups and g[1] % groups else
                         f"{groups} groups do not divide the {x[1]} channels of x and the "
                         f"{g[1]} of g")
    if _out_hw(x[2:], kernel_hw, stride, padding, dilation) != tuple(g[2:]):
        raise ShapeError(f"x of height and width {x[2:]} does not give output {g[2:]} with "
                         f"kernel {kernel_hw}, stride {stride}, padding {padding}, "
                         f"dilation {dilation}")
    return (g[1], x[1] // groups) + tuple(kernel_hw)


def _conv2d_grad_weight_reference(x, g, kernel_hw, stride, padding, dilation, groups):
    windows = _windows(x, kernel_hw, stride, padding, dilation, g.shape[2:])  # N C OH OW KH KW
    parts = [np.tensordot(g[:, os], windows[:, cs], axes=([0, 2, 3], [0, 2, 3]))
             for cs, os in zip(_slices(x.shape[1], groups), _slices(g.shape[1], groups))]
    return np.concatenate(parts, axis=0)                                   # (O, Cg, KH, KW)


def _sum3(extents, body):
    """sum over a, b, c in the three extents of body(a, b, c)."""
    ea, eb, ec = extents
    return loops.reduce_sum(ea, lambda a: loops.reduce_sum(
        eb, lambda b: loops.reduce_sum(ec, lambda c: body(a, b, c))))


def _scaled(index, factor: int):
    return index if factor == 1 else index * factor


def _tap(out: int, tap, stride: int, dilation: int, before: int):
    """The padded-input position out*stride + tap*dilation - before, in unpadded coordinates."""
    return _scaled(out, stride) + _scaled(tap, dilation) - before


def _group_base(channel, per_group: int, base_per_group: int, groups: int):
    """The first channel, among those of size base_per_group per group, of channel's group."""
    return 0 if groups == 1 else (channel // per_group) * base_per_group


def _conv2d_compute(out, x, w, stride, padding, dilation, groups):
    # y[n, o, i, j] = sum_{c, p, q} x[n, base(o) + c, i*sh + p*dh - top, j*sw + q*dw - left]
    #                               w[o, c, p, q]
    n, o, i, j = out
    base = _group_base(o, w.shape[0] // groups, w.shape[1], groups)
    guard = padding != ((0, 0), (0, 0))
    return _sum3(w.shape[1:], lambda c, p, q: window_load(
        x, (n, base + c), _tap(i, p, stride[0], dilation[0], padding[0][0]),
        _tap(j, q, stride[1], dilation[1], padding[1][0]), guard=guard) * w[o, c, p, q])


def _conv2d_grad_input_compute(out, g, w, input_hw, stride, padding, dilation, groups):
    # dx[n, c, h, v] = sum over (o, p, q) of g[n, o, i, j] w[o, c mod Cg, p, q] for the outputs
    # o of c's group with i*sh + p*dh - top = h and j*sw + q*dw - left = v (a gather, so no
    # write conflicts). The product is masked, not the load: a weight whose window misses
    # (h, v) contributes nothing there, as in the reference, even when it is inf or NaN.
    n, c, h, v = out
    per_group = w.shape[0] // groups
    base = _group_base(c, w.shape[1], per_group, groups)
    channel = c if groups == 1 else c % w.shape[1]

    def term(o, p, q):
        i, i_ok = clamped(h + padding[0][0] - _scaled(p, dilation[0]), g.shape[-2], stride[0])
        j, j_ok = clamped(v + padding[1][0] - _scaled(q, dilation[1]), g.shape[-1], stride[1])
        return when(i_ok + j_ok, g[n, base + o, i, j] * w[base + o, channel, p, q])
    return _sum3((per_group,) + w.shape[2:], term)


def _conv2d_grad_weight_compute(out, x, g, kernel_hw, stride, padding, dilation, groups):
    # dw[o, c, p, q] = sum_{n, i, j} g[n, o, i, j] x[n, base(o) + c, i*sh + p*dh - top, ...]
    o, c, p, q = out
    base = _group_base(o, g.shape[1] // groups, x.shape[1] // groups, groups)
    guard = padding != ((0, 0), (0, 0))
    return _sum3((g.shape[0],) + g.shape[2:], lambda n, i, j: g[n, o, i, j] * window_load(
        x, (n, base + c), _tap(i, p, stride[0], dilation[0], padding[0][0]),
        _tap(j, q, stride[1], dilation[1], padding[1][0]), guard=guard))


def _conv2d_vjp(g, out, x, w, **attrs):
    return (apply("conv2d_grad_input", g, w, input_hw=x.shape[2:], **attrs),
            apply("conv2d_grad_weight", x, g, kernel_hw=w.shape[2:], **attrs))


def _grad_input_vjp(G, out, g, w, input_hw, **attrs):
    return (apply("conv2d", G, w, **attrs),
            apply("conv2d_grad_weight", G, g, kernel_hw=w.shape[2:], **attrs))


def _grad_weight_vjp(G, out, x, g, kernel_hw, **attrs):
    return (apply("conv2d_grad_input", g, G, input_hw=x.shape[2:], **attrs),
            apply("conv2d", x, G, **attrs))


_GEOMETRY = {"stride": 2, "padding": ((1, 0), (0, 1)), "dilation": (1, 2), "groups": 2}

CONV2D = register(OpDef(
    "conv2d", ("x", "w"),
    doc="""2-D convolution (cross-correlation) of NCHW input x with OIHW weights w.

    Output (N, O, (H + top + bottom - dh (KH - 1) - 1) // sh + 1, likewise for the width).
    `stride` and `dilation` are ints or (height, width) pairs; `padding` (zeros) is an int, a
    (height, width) pair or ((top, bottom), (left, right)); `groups` splits the channels into
    groups convolved separately (w is (O, C/groups, KH, KW); groups = C is depthwise).
    Smooth in x and w.

    >>> gn.conv2d(gn.input("x", shape=(1, 3, 8, 8)), np.ones((4, 3, 3, 3)), padding=1).shape
    (1, 4, 8, 8)
    >>> gn.conv2d(gn.input("x", shape=(1, 4, 8, 8)), np.ones((4, 1, 3, 3)), dilation=2,
    ...           groups=4, padding=((2, 2), (0, 4))).shape
    (1, 4, 8, 8)
    """,
    shape=_conv2d_shape, params=_PARAMS, canonical=_conv_canonical,
    reference=_conv2d_reference,
    vjp=_conv2d_vjp,
    to_sympy=_conv2d_reference,
    compute=_conv2d_compute,
    derivative=("conv2d_grad_input(g, w)", "conv2d_grad_weight(x, g)"),
    symbol="conv", kinks=(), lowering=Lowering(gemm="conv2d"),
    symbolic=Symbolic(instances=(Instance(((1, 1, 3, 3), (1, 1, 2, 2))),
                                 Instance(((1, 1, 3, 3), (1, 1, 2, 2)), {"stride": 2,
                                                                         "padding": 1}),
                                 Instance(((1, 2, 3, 4), (2, 1, 2, 2)), _GEOMETRY)),
                      terms=lambda node: math.prod(node.inputs[1].shape[1:])),   # Cg KH KW
))

CONV2D_GRAD_INPUT = register(OpDef(
    "conv2d_grad_input", ("g", "w"),
    doc="""Gradient of conv2d with respect to its input: the adjoint (transposed convolution)
    of conv2d(., w), mapping an output-shaped g to an input of height and width `input_hw`.

    >>> gn.ops.conv2d_grad_input(np.ones((1, 1, 2, 2)), np.ones((1, 1, 2, 2)),
    ...                          input_hw=(3, 3)).shape
    (1, 1, 3, 3)
    """,
    shape=_conv2d_grad_input_shape, params=(("input_hw", REQUIRED),) + _PARAMS,
    canonical=_conv_canonical,
    reference=_conv2d_grad_input_reference,
    vjp=_grad_input_vjp,
    to_sympy=_conv2d_grad_input_reference,
    compute=_conv2d_grad_input_compute,
    derivative=("conv2d(G, w)", "conv2d_grad_weight(G, g)"),
    public=False, symbol="conv∂x", kinks=(), lowering=Lowering(gemm="conv2d_grad_input"),
    symbolic=Symbolic(instances=(Instance(((1, 1, 2, 2), (1, 1, 2, 2)), {"input_hw": (3, 3)}),
                                 Instance(((1, 2, 2, 2), (2, 1, 2, 2)),
                                          {"input_hw": (3, 4), **_GEOMETRY})),
                      terms=lambda node: node.inputs[1].shape[0] // node.attrs["groups"] *
                      math.prod(node.inputs[1].shape[2:])),                       # Og KH KW
))

CONV2D_GRAD_WEIGHT = register(OpDef(
    "conv2d_grad_weight", ("x", "g"),
    doc="""Gradient of conv2d with respect to its weights: correlates the input x with the
    output-shaped g, giving (O, C/groups) + `kernel_hw`.

    >>> gn.ops.conv2d_grad_weight(np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2)),
    ...                           kernel_hw=(2, 2)).shape
    (1, 1, 2, 2)
    """,
    shape=_conv2d_grad_weight_shape, params=(("kernel_hw", REQUIRED),) + _PARAMS,
    canonical=_conv_canonical,
    reference=_conv2d_grad_weight_reference,
    vjp=_grad_weight_vjp,
    to_sympy=_conv2d_grad_weight_reference,
    compute=_conv2d_grad_weight_compute,
    derivative=("conv2d_grad_input(g, G)", "conv2d(x, G)"),
    public=False, symbol="conv∂w", kinks=(), lowering=Lowering(gemm="conv2d_grad_weight"),
    symbolic=Symbolic(instances=(Instance(((1, 1, 3, 3), (1, 1, 2, 2)), {"kernel_hw": (2, 2)}),
                                 Instance(((1, 2, 3, 4), (1, 2, 2, 2)),
                                          {"kernel_hw": (2, 2), **_GEOMETRY})),
                      terms=lambda node: math.prod(node.inputs[1].shape) //
                      node.inputs[1].shape[1]),                                   # N OH OW
))

conv2d = op_function(CONV2D)
conv2d_grad_input = op_function(CONV2D_GRAD_INPUT)
conv2d_grad_weight = op_function(CONV2D_GRAD_WEIGHT)
