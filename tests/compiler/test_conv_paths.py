"""conv2d and its gradients through every lowering (im2col + Gemm, the direct loops of the
ops' compute rules, and the direct loops over a zero-padded copy of each image), forced in
turn, against the NumPy reference."""

from __future__ import annotations

import re

import numpy as np
import pytest

import graphnn as gn
from graphnn.compiler import compile
from graphnn.options import CompileOptions

CONFIGS = [((2, 3, 7, 6), (4, 3, 3, 3), {"padding": 1}),
           ((1, 2, 8, 8), (3, 2, 3, 2), {"stride": 2, "padding": 1}),
           ((2, 1, 5, 5), (2, 1, 2, 2), {}),
           ((1, 4, 9, 7), (2, 4, 3, 3), {"stride": 3, "padding": 2}),
           ((2, 2, 9, 8), (3, 2, 3, 2), {"dilation": 2}),
           ((2, 4, 6, 6), (6, 2, 3, 3), {"groups": 2, "padding": 1}),
           ((3, 3, 7, 7), (6, 1, 3, 3), {"groups": 3, "stride": 2, "padding": (1, 0)}),
           ((1, 2, 6, 7), (3, 2, 2, 3), {"padding": ((0, 2), (3, 1)), "stride": (1, 2)}),
           ((2, 4, 9, 8), (4, 2, 3, 2), {"stride": 2, "dilation": (2, 3), "groups": 2,
                                         "padding": ((2, 1), (0, 3))}),
           ((2, 4, 5, 6), (6, 2, 1, 1), {"groups": 2}),
           ((1, 3, 4, 4), (2, 3, 1, 1), {"dilation": 2})]
# pointwise: 1x1 at stride 1 unpadded, whose Gemm reads the image itself (no columns)
IDS = ["pad1", "stride2", "valid", "stride3", "dilation2", "groups2", "depthwise",
       "asymmetric", "every-attribute", "pointwise-groups2", "pointwise"]


# rows of 8 or more outputs at stride 1: the padded direct path takes conv2d and
# conv2d_grad_input (graphnn/lower/conv_direct.py) as DirectConv statements, our micro-kernel;
# strided with even images, conv2d reads the copy split into phases (rows of 16 outputs and
# 19 as DirectConvs, and 5, too short for a tile, as loops blocked two output channels at a
# time along the flattened phases); shallow ones (fewer than 16 terms per output) as loops
WIDE = [((2, 4, 5, 17), (6, 4, 3, 3), {"padding": 1}),
        ((1, 4, 4, 18), (4, 2, 3, 3), {"groups": 2, "padding": ((0, 2), (2, 1))}),
        ((1, 2, 6, 20), (2, 2, 2, 3), {"dilation": (1, 2)}),
        ((2, 4, 5, 16), (4, 1, 3, 3), {"groups": 4, "padding": 1}),
        ((1, 2, 3, 16), (3, 2, 1, 5), {"padding": (1, 2)}),
        ((2, 3, 8, 32), (4, 3, 3, 3), {"stride": 2, "padding": 1}),
        ((1, 2, 12, 36), (4, 2, 3, 3), {"stride": 2, "dilation": 2, "padding": ((2, 1), (2, 3))}),
        ((2, 3, 8, 10), (4, 3, 3, 3), {"stride": 2, "padding": 1})]
# how many of each direct form (tiled: a DirectConv statement; blocked: a loop over blocks of
# output channels, "ob"; shallow: a loop over output channels, "o") the padded path runs,
# forward and input gradient
WIDE_FORMS = [(2, 0, 0), (2, 0, 0), (0, 0, 1), (0, 0, 2), (0, 0, 1), (1, 0, 0), (1, 0, 0),
              (0, 1, 0)]
WIDE_IDS = ["pad1", "groups2-asymmetric", "dilation-unpadded", "depthwise", "wide-padding",
            "strided-phases", "strided-dilated-phases", "strided-flat-phases"]


def _paths(path: str) -> CompileOptions:
    if path == "im2col":
        return CompileOptions(conv_min_depth=0, conv_direct=False)
    if path == "direct":
        return CompileOptions(conv_min_depth=10**9, conv_direct=False)
    return CompileOptions(conv_direct=True)


@pytest.mark.parametrize("path", ["im2col", "direct"])
@pytest.mark.parametrize("x_shape,w_shape,attrs", CONFIGS, ids=IDS)
def test_conv_and_gradients(path, x_shape, w_shape, attrs):
    _check(path, x_shape, w_shape, attrs)


@pytest.mark.parametrize("path", ["im2col", "direct", "padded"])
@pytest.mark.parametrize("x_shape,w_shape,attrs,forms", [
    (*config, forms) for config, forms in zip(WIDE, WIDE_FORMS)], ids=WIDE_IDS)
def test_wide_conv_and_gradients(path, x_shape, w_shape, attrs, forms):
    loop_ir = _check(path, x_shape, w_shape, attrs)
    if path == "padded":
        assert (loop_ir.count("direct conv "), loop_ir.count("for ob in"),
                loop_ir.count("for o in")) == forms


def _check(path, x_shape, w_shape, attrs) -> str:
    options = _paths(path)
    x = gn.input("x", shape=x_shape)
    w = gn.input("w", shape=w_shape)
    y = gn.conv2d(x, w, **attrs)
    g = gn.input("g", shape=y.shape)
    outputs = [y, *gn.grad(gn.sum(y * g), [x, w])]
    rng = np.random.default_rng(sum(x_shape))
    feed = {"x": rng.normal(size=x_shape), "w": rng.normal(size=w_shape),
            "g": rng.normal(size=y.shape)}
    compiled = compile(outputs, [x, w, g], options=options)
    uses_gemm = "gemm" in compiled.loop_ir
    if path != "padded":
        assert uses_gemm == (path == "im2col")
    for got, want in zip(compiled(**feed), gn.evaluate(outputs, feed)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    return compiled.loop_ir


@pytest.mark.parametrize("path", ["im2col", "direct"])
@pytest.mark.parametrize("attrs", [{}, {"stride": 2, "padding": (2, 1), "dilation": 2},
                                   {"groups": 3, "padding": 1}], ids=["plain", "strided",
                                                                      "depthwise"])
def test_conv1d_reads_its_reshaped_operands_in_place(path, attrs):
    # conv1d is reshape -> conv2d -> reshape: the Gemm path reads x, w and (in the gradients)
    # g through the reshapes, the direct loops index them; both agree with the reference
    options = _paths(path)
    x = gn.input("x", shape=(2, 3, 11))
    w = gn.input("w", shape=(6, 3 // attrs.get("groups", 1), 3))
    y = gn.conv1d(x, w, **attrs)
    g = gn.input("g", shape=y.shape)
    outputs = [y, *gn.grad(gn.sum(y * g), [x, w])]
    rng = np.random.default_rng(7)
    feed = {"x": rng.normal(size=x.shape), "w": rng.normal(size=w.shape),
            "g": rng.normal(size=y.shape)}
    compiled = compile(outputs, [x, w, g], options=options)
    assert ("gemm" in compiled.loop_ir) == (path == "im2col")
    for got, want in zip(compiled(**feed), gn.evaluate(outputs, feed)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("size", [6, 7], ids=["tiled", "untiled"])
def test_max_pool_gradient_with_ties(size):
    # windows that tile the input exactly take the unchecked form of pool.covering; a row and
    # column left over take the checked one. Ties (the repeated values) split the gradient.
    x = gn.input("x", shape=(2, 3, size, size))
    y = gn.max_pool2d(x)
    g = gn.input("g", shape=y.shape)
    outputs = [y, gn.grad(gn.sum(y * g), [x])[0]]
    rng = np.random.default_rng(size)
    feed = {"x": rng.integers(0, 3, size=x.shape).astype(float), "g": rng.normal(size=y.shape)}
    for got, want in zip(compile(outputs, [x, g])(**feed), gn.evaluate(outputs, feed)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_input_gradient_to_one_channel_takes_the_padded_loops():
    # conv2d_grad_input back to one input channel from 8 output channels sums 8 terms of 9
    # taps: too shallow for im2col + Gemm, and not in blocks of two channels; the padded
    # direct loops take it (the compute rule's bounds-checked loads, select(...), were 7x
    # slower in the conv benchmark's small case)
    x = gn.input("x", shape=(2, 1, 9, 14))
    w = gn.input("w", shape=(8, 1, 3, 3))
    g = gn.input("g", shape=(2, 8, 9, 14))
    (dx,) = gn.grad(gn.sum(gn.conv2d(x, w, padding=1) * g), [x])
    compiled = compile(dx, [x, w, g])
    assert "select(" not in compiled.loop_ir
    rng = np.random.default_rng(5)
    feed = {n.name: rng.normal(size=n.shape) for n in (x, w, g)}
    np.testing.assert_allclose(compiled(**feed), gn.evaluate(dx, feed), rtol=1e-12, atol=1e-12)


def test_direct_convs_in_stages_and_shared_functions():
    """A chain of equal convolutions in a kernel cut into small stages: the repeated
    DirectConv statements run as one shared function on other buffers, with the values and
    gradients of the reference."""
    from codegen.options import CodegenOptions

    rng = np.random.default_rng(0)
    x = gn.input("x", shape=(2, 8, 10, 12))
    ws = [gn.input(f"w{k}", shape=(8, 8, 3, 3)) for k in range(4)]
    h = x
    for w in ws:
        h = gn.tanh(gn.conv2d(h, w, padding=1))
    loss = gn.sum(h * h)
    outputs = [loss, *gn.grad(loss, ws)]
    feed = {"x": rng.normal(size=x.shape),
            **{w.name: rng.normal(size=w.shape) * 0.2 for w in ws}}
    f = compile(outputs, [x, *ws],
                options=CompileOptions(codegen=CodegenOptions(stage_size=50)))
    assert f.loop_ir.count("direct conv ") == 7       # 4 forward, 3 input gradients
    assert "f.shared" in f.llvm_ir and "f.stage" in f.llvm_ir
    for got, want in zip(f(**feed), gn.evaluate(outputs, feed)):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)


# rows that are not whole vectors (7 or 14 outputs) over 32 or more terms per output: the
# padded path's DirectConv holds output channels in its lanes (lanes="channels", the weights
# gathered transposed, codegen.native.dconv_lanes), forward and input gradient: rows shorter
# than a vector too, grouped, in stride phases, dilated and asymmetrically padded
CHANNELS = [((2, 16, 7, 7), (24, 16, 3, 3), {"padding": 1}),
            ((1, 8, 14, 14), (16, 4, 3, 3), {"groups": 2, "padding": 1}),
            ((2, 8, 14, 14), (16, 8, 3, 3), {"stride": 2, "padding": 1}),
            ((1, 12, 6, 9), (16, 12, 2, 3), {"dilation": (2, 1), "padding": ((1, 0), (2, 2))})]


@pytest.mark.parametrize("x_shape,w_shape,attrs", CHANNELS,
                         ids=["7x7", "groups2", "strided-phases", "dilated-asymmetric"])
def test_rows_of_partial_vectors_hold_channels_in_the_lanes(x_shape, w_shape, attrs):
    loop_ir = _check("padded", x_shape, w_shape, attrs)
    transposed = [line for line in loop_ir.splitlines()
                  if "direct conv " in line and "k*" in line]
    assert transposed, "no DirectConv with transposed weights"


# a deep layer (16 channels in) and a shallow one (an MNIST CNN's first: one channel in, nine
# terms per output, which alone would keep positions in the lanes)
POOLED = [((3, 16, 14, 14), (24, 16, 3, 3)), ((2, 1, 28, 28), (16, 1, 3, 3))]


@pytest.mark.parametrize("x_shape,w_shape", POOLED, ids=["deep", "shallow"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_convolution_read_only_by_a_2x2_max_pooling_pools_in_its_kernel(dtype, x_shape,
                                                                           w_shape):
    # an imported CNN's layer: conv, bias, ReLU, 2x2 max pooling. The bias and ReLU move past
    # the pooling (graphnn.passes.simplify), and the convolution, with output channels in
    # the lanes, stores each window's maximum (lower.conv.pooled): no buffer of its
    # full-size output, no pooling passes. A NaN input reaches the windows reading it.
    x = gn.input("x", shape=x_shape, dtype=dtype)
    w = gn.input("w", shape=w_shape, dtype=dtype)
    (n, _, h, wd), o = x_shape, w_shape[0]
    b = np.linspace(-1.0, 1.0, o).reshape(o, 1, 1).astype(dtype)
    y = gn.max_pool2d(gn.relu(gn.conv2d(x, w, padding=1) + b))
    rng = np.random.default_rng(3)
    feed = {"x": rng.normal(size=x.shape).astype(dtype),
            "w": rng.normal(size=w.shape).astype(dtype)}
    feed["x"][1, 0, 6, 7] = np.nan
    compiled = compile([y], [x, w])
    assert "each 2x2 window's maximum" in compiled.loop_ir
    assert not re.search(rf"temp t\d+: f(32|64)\[{n},{o},{h},{wd}\]", compiled.loop_ir)
    tolerance = 1e-4 if dtype == "float32" else 1e-12
    (got,), want = compiled(**feed), gn.evaluate(y, feed)
    assert np.isnan(want[1]).any()
    np.testing.assert_allclose(got, want, rtol=tolerance, atol=tolerance, equal_nan=True)


def test_a_convolution_read_elsewhere_too_keeps_its_output():
    # the same layer whose convolution also feeds a sum: it is stored, and pooled apart
    x = gn.input("x", shape=(2, 16, 14, 14))
    w = gn.input("w", shape=(16, 16, 3, 3))
    c = gn.conv2d(x, w, padding=1)
    outputs = [gn.max_pool2d(c), gn.sum(c)]
    rng = np.random.default_rng(4)
    feed = {"x": rng.normal(size=x.shape), "w": rng.normal(size=w.shape)}
    compiled = compile(outputs, [x, w])
    assert "each 2x2 window's maximum" not in compiled.loop_ir
    for got, want in zip(compiled(**feed), gn.evaluate(outputs, feed)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_an_elementwise_chain_read_by_a_direct_convolution_is_computed_in_its_copy():
    # a residual add, bias and ReLU read only by the next convolution get no buffer: each
    # image is copied into the convolution's zero-padded scratch once, and the copy computes
    # them (lower.conv.copies_input); values and gradients as the reference's
    x, r = gn.input("x", shape=(2, 16, 14, 14)), gn.input("r", shape=(2, 16, 14, 14))
    w = gn.input("w", shape=(24, 16, 3, 3))
    b = np.linspace(-1.0, 1.0, 16).reshape(16, 1, 1)
    y = gn.conv2d(gn.relu(x + r + b), w, padding=1)
    rng = np.random.default_rng(5)
    feed = {name: rng.normal(size=shape) for name, shape in
            (("x", x.shape), ("r", r.shape), ("w", w.shape))}
    compiled = compile([y], [x, r, w])
    assert not re.search(r"temp t\d+", compiled.loop_ir), compiled.loop_ir
    assert re.search(r"s\d+\[[^]]*\] = max\(in0_x\[", compiled.loop_ir)
    (got,), want = compiled(**feed), gn.evaluate(y, feed)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    loss = gn.sum(y * y)
    outputs = [loss, *gn.grad(loss, [x, r, w])]
    for got, want in zip(compile(outputs, [x, r, w])(**feed), gn.evaluate(outputs, feed)):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)


def test_a_convolution_read_by_a_gemm_keeps_its_input_chain_in_memory():
    # a 1x1 convolution is one Gemm per image, which reads its input from memory: the chain
    # before it is stored
    x = gn.input("x", shape=(2, 64, 8, 8))
    w = gn.input("w", shape=(32, 64, 1, 1))
    y = gn.conv2d(gn.relu(x - 0.5), w)
    rng = np.random.default_rng(6)
    feed = {"x": rng.normal(size=x.shape), "w": rng.normal(size=w.shape)}
    compiled = compile([y], [x, w])
    assert re.search(r"temp t\d+", compiled.loop_ir)
    (got,), want = compiled(**feed), gn.evaluate(y, feed)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
