"""2-D convolution (cross-correlation, as in every deep-learning framework) and its gradients.

    y[n, o, i, j] = sum_{c, p, q} xpad[n, c, i*sh + p, j*sw + q] * w[o, c, p, q]

x is NCHW, w is OIHW (out channels, in channels, kernel height, kernel width); `padding` adds
zeros on every side; output size (H + 2P - F) // stride + 1. The gradients are ops of their own:
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

_PARAMS = (("stride", 1), ("padding", 0))


def _conv_canonical(*shapes: Shape, stride: Any, padding: Any, **sizes: Any) -> dict:
    attrs = {"stride": pair(stride, "stride"), "padding": pair(padding, "padding")}
    if min(attrs["stride"]) < 1 or min(attrs["padding"]) < 0:
        raise ShapeError(f"stride must be >= 1 and padding >= 0, got {stride} and {padding}")
    for key, value in sizes.items():
        attrs[key] = pair(value, key)
    return attrs


def _out_size(size: int, kernel: int, stride: int, padding: int, what: str) -> int:
    span = size + 2 * padding - kernel
    if span < 0:
        raise ShapeError(f"kernel {what} {kernel} is larger than the padded input {what} "
                         f"{size + 2 * padding}")
    return span // stride + 1


def _out_hw(hw, kernel, stride, padding) -> tuple[int, int]:
    return (_out_size(hw[0], kernel[0], stride[0], padding[0], "height"),
            _out_size(hw[1], kernel[1], stride[1], padding[1], "width"))


def _need_4d(shape: Shape, what: str) -> None:
    if len(shape) != 4:
        raise ShapeError(f"{what} must be 4-D, got shape {shape}")


def _conv2d_shape(x: Shape, w: Shape, stride, padding) -> Shape:
    _need_4d(x, "x (N, C, H, W)")
    _need_4d(w, "w (O, C, KH, KW)")
    if x[1] != w[1]:
        raise ShapeError(f"x has {x[1]} channels but w expects {w[1]} (w is O, C, KH, KW)")
    return (x[0], w[0]) + _out_hw(x[2:], w[2:], stride, padding)


def _windows(x: np.ndarray, kernel, stride, padding, out_hw) -> np.ndarray:
    """(N, C, OH, OW, KH, KW) view of the padded input's receptive fields."""
    (ph, pw), (sh, sw) = padding, stride
    xpad = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    view = sliding_window_view(xpad, tuple(kernel), axis=(2, 3))
    return view[:, :, ::sh, ::sw][:, :, :out_hw[0], :out_hw[1]]


def _conv2d_reference(x, w, stride, padding):
    out_hw = _out_hw(x.shape[2:], w.shape[2:], stride, padding)
    windows = _windows(x, w.shape[2:], stride, padding, out_hw)
    out = np.tensordot(windows, w, axes=([1, 4, 5], [1, 2, 3]))     # (N, OH, OW, O)
    return np.ascontiguousarray(np.transpose(out, (0, 3, 1, 2)))


def _conv2d_grad_input_shape(g: Shape, w: Shape, input_hw, stride, padding) -> Shape:
    _need_4d(g, "g (N, O, OH, OW)")
    _need_4d(w, "w (O, C, KH, KW)")
    if g[1] != w[0]:
        raise ShapeError(f"g has {g[1]} channels but w has {w[0]} output channels")
    if _out_hw(input_hw, w[2:], stride, padding) != tuple(g[2:]):
        raise ShapeError(f"an input of height and width {input_hw} does not give output "
                         f"{g[2:]} with kernel {w[2:]}, stride {stride}, padding {padding}")
    return (g[0], w[1]) + tuple(input_hw)


def _conv2d_grad_input_reference(g, w, input_hw, stride, padding):
    (ph, pw), (sh, sw), (oh, ow) = padding, stride, g.shape[2:]
    dxpad = np.zeros((g.shape[0], w.shape[1], input_hw[0] + 2 * ph, input_hw[1] + 2 * pw),
                     dtype=np.result_type(g, w))
    for p in range(w.shape[2]):
        for q in range(w.shape[3]):
            # every output position (i, j) sends g * w[:, :, p, q] to input (i*sh + p, j*sw + q)
            part = np.tensordot(g, w[:, :, p, q], axes=([1], [0]))   # (N, OH, OW, C)
            dxpad[:, :, p:p + sh * oh:sh, q:q + sw * ow:sw] += np.transpose(part, (0, 3, 1, 2))
    return dxpad[:, :, ph:ph + input_hw[0], pw:pw + input_hw[1]]


def _conv2d_grad_weight_shape(x: Shape, g: Shape, kernel_hw, stride, padding) -> Shape:
    _need_4d(x, "x (N, C, H, W)")
    _need_4d(g, "g (N, O, OH, OW)")
    if x[0] != g[0]:
        raise ShapeError(f"x has batch {x[0]} but g has batch {g[0]}")
    if _out_hw(x[2:], kernel_hw, stride, padding) != tuple(g[2:]):
        raise ShapeError(f"x of height and width {x[2:]} does not give output {g[2:]} with "
                         f"kernel {kernel_hw}, stride {stride}, padding {padding}")
    return (g[1], x[1]) + tuple(kernel_hw)


def _conv2d_grad_weight_reference(x, g, kernel_hw, stride, padding):
    windows = _windows(x, kernel_hw, stride, padding, g.shape[2:])     # (N, C, OH, OW, KH, KW)
    return np.tensordot(g, windows, axes=([0, 2, 3], [0, 2, 3]))        # (O, C, KH, KW)


def _sum3(extents, body):
    """sum over a, b, c in the three extents of body(a, b, c)."""
    ea, eb, ec = extents
    return loops.reduce_sum(ea, lambda a: loops.reduce_sum(
        eb, lambda b: loops.reduce_sum(ec, lambda c: body(a, b, c))))


def _conv2d_compute(out, x, w, stride, padding):
    # y[n, o, i, j] = sum_{c, p, q} xpad[n, c, i*sh + p - ph, j*sw + q - pw] w[o, c, p, q]
    n, o, i, j = out
    (sh, sw), guard = stride, padding != (0, 0)
    return _sum3(w.shape[1:], lambda c, p, q: window_load(
        x, (n, c), i * sh + p - padding[0], j * sw + q - padding[1], guard=guard) * w[o, c, p, q])


def _conv2d_grad_input_compute(out, g, w, input_hw, stride, padding):
    # dx[n, c, h, v] = sum over (o, p, q) of g[n, o, i, j] w[o, c, p, q] for the output
    # positions with i*sh + p - ph = h and j*sw + q - pw = v (a gather, so no write conflicts).
    # The product is masked, not the load: a weight whose window misses (h, v) contributes
    # nothing there, as in the reference, even when it is inf or NaN (0 · inf would be NaN).
    n, c, h, v = out

    def term(o, p, q):
        i, i_ok = clamped(h + padding[0] - p, g.shape[-2], stride[0])
        j, j_ok = clamped(v + padding[1] - q, g.shape[-1], stride[1])
        return when(i_ok + j_ok, g[n, o, i, j] * w[o, c, p, q])
    return _sum3((w.shape[0],) + w.shape[2:], term)


def _conv2d_grad_weight_compute(out, x, g, kernel_hw, stride, padding):
    # dw[o, c, p, q] = sum_{n, i, j} g[n, o, i, j] xpad[n, c, i*sh + p - ph, j*sw + q - pw]
    o, c, p, q = out
    (sh, sw), guard = stride, padding != (0, 0)
    return _sum3((g.shape[0],) + g.shape[2:], lambda n, i, j: g[n, o, i, j] * window_load(
        x, (n, c), i * sh + p - padding[0], j * sw + q - padding[1], guard=guard))


CONV2D = register(OpDef(
    "conv2d", ("x", "w"),
    doc="""2-D convolution (cross-correlation) of NCHW input x with OIHW weights w.

    Output (N, O, (H + 2P - KH) // stride + 1, (W + 2P - KW) // stride + 1); `stride` and
    `padding` are ints or (height, width) pairs; padding adds zeros. Smooth in x and w.

    >>> gn.conv2d(gn.input("x", shape=(1, 3, 8, 8)), np.ones((4, 3, 3, 3)), padding=1).shape
    (1, 4, 8, 8)
    """,
    shape=_conv2d_shape, params=_PARAMS, canonical=_conv_canonical,
    reference=_conv2d_reference,
    vjp=lambda g, out, x, w, stride, padding: (
        apply("conv2d_grad_input", g, w, input_hw=x.shape[2:], stride=stride, padding=padding),
        apply("conv2d_grad_weight", x, g, kernel_hw=w.shape[2:], stride=stride,
              padding=padding)),
    to_sympy=_conv2d_reference,
    compute=_conv2d_compute,
    derivative=("conv2d_grad_input(g, w)", "conv2d_grad_weight(x, g)"),
    symbol="conv", kinks=(), lowering=Lowering(gemm="conv2d"),
    symbolic=Symbolic(instances=(Instance(((1, 1, 3, 3), (1, 1, 2, 2))),
                                 Instance(((1, 1, 3, 3), (1, 1, 2, 2)), {"stride": 2,
                                                                         "padding": 1})),
                      terms=lambda node: math.prod(node.inputs[1].shape[1:])),   # C KH KW
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
    vjp=lambda G, out, g, w, input_hw, stride, padding: (
        apply("conv2d", G, w, stride=stride, padding=padding),
        apply("conv2d_grad_weight", G, g, kernel_hw=w.shape[2:], stride=stride,
              padding=padding)),
    to_sympy=_conv2d_grad_input_reference,
    compute=_conv2d_grad_input_compute,
    derivative=("conv2d(G, w)", "conv2d_grad_weight(G, g)"),
    public=False, symbol="conv∂x", kinks=(), lowering=Lowering(gemm="conv2d_grad_input"),
    symbolic=Symbolic(instances=(Instance(((1, 1, 2, 2), (1, 1, 2, 2)), {"input_hw": (3, 3)}),),
                      terms=lambda node: node.inputs[1].shape[0] * math.prod(
                          node.inputs[1].shape[2:])),                             # O KH KW
))

CONV2D_GRAD_WEIGHT = register(OpDef(
    "conv2d_grad_weight", ("x", "g"),
    doc="""Gradient of conv2d with respect to its weights: correlates the input x with the
    output-shaped g, giving (O, C) + `kernel_hw`.

    >>> gn.ops.conv2d_grad_weight(np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2)),
    ...                           kernel_hw=(2, 2)).shape
    (1, 1, 2, 2)
    """,
    shape=_conv2d_grad_weight_shape, params=(("kernel_hw", REQUIRED),) + _PARAMS,
    canonical=_conv_canonical,
    reference=_conv2d_grad_weight_reference,
    vjp=lambda G, out, x, g, kernel_hw, stride, padding: (
        apply("conv2d_grad_input", g, G, input_hw=x.shape[2:], stride=stride, padding=padding),
        apply("conv2d", x, G, stride=stride, padding=padding)),
    to_sympy=_conv2d_grad_weight_reference,
    compute=_conv2d_grad_weight_compute,
    derivative=("conv2d_grad_input(g, G)", "conv2d(x, G)"),
    public=False, symbol="conv∂w", kinks=(), lowering=Lowering(gemm="conv2d_grad_weight"),
    symbolic=Symbolic(instances=(Instance(((1, 1, 3, 3), (1, 1, 2, 2)), {"kernel_hw": (2, 2)}),),
                      terms=lambda node: math.prod(node.inputs[1].shape) //
                      node.inputs[1].shape[1]),                                   # N OH OW
))

conv2d = op_function(CONV2D)
conv2d_grad_input = op_function(CONV2D_GRAD_INPUT)
conv2d_grad_weight = op_function(CONV2D_GRAD_WEIGHT)
