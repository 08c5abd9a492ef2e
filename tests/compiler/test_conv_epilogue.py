"""A conv2d's elementwise users (the bias add and ReLU after an imported Conv) computed in
the convolution's own loops (graphnn/lower/conv.py `epilogues`), on every lowering path, and
the direct loops along the flattened padded image (rows that are not whole vectors)."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

import graphnn as gn
from graphnn.compiler import compile
from graphnn.options import CompileOptions

PATHS = {"im2col": CompileOptions(conv_min_depth=0, conv_direct=False),
         "rule": CompileOptions(conv_min_depth=10**9, conv_direct=False),
         "padded": CompileOptions()}
# (x, w, attrs): deep and shallow convolutions, rows of 16 (whole vectors) and of 14 and 7
# (the flat form), stride 2, groups
SHAPES = [((2, 4, 6, 16), (6, 4, 3, 3), {"padding": 1}),
          ((2, 4, 7, 14), (4, 4, 3, 3), {"padding": 1}),
          ((2, 1, 9, 7), (4, 1, 3, 3), {"padding": 1}),
          ((2, 2, 8, 9), (4, 2, 3, 2), {"dilation": (2, 1), "padding": ((1, 0), (2, 1))}),
          ((1, 4, 9, 9), (4, 2, 3, 3), {"stride": 2, "groups": 2, "padding": 1}),
          ((2, 4, 6, 14), (4, 1, 3, 3), {"groups": 4, "padding": 1})]
IDS = ["rows", "flat-deep", "flat-shallow", "flat-dilated", "strided-groups", "depthwise"]


def _network(x_shape, w_shape, attrs, dtype="float64"):
    x = gn.input("x", shape=x_shape, dtype=dtype)
    w = gn.input("w", shape=w_shape, dtype=dtype)
    b = gn.input("b", shape=(w_shape[0], 1, 1), dtype=dtype)
    return x, w, b, gn.relu(gn.conv2d(x, w, **attrs) + b)


def _feed(x, w, b):
    rng = np.random.default_rng(3)
    return {node.name: rng.normal(size=node.shape).astype(node.dtype) for node in (x, w, b)}


@pytest.mark.parametrize("path", list(PATHS))
@pytest.mark.parametrize("x_shape,w_shape,attrs", SHAPES, ids=IDS)
def test_bias_and_relu_are_computed_by_the_convolution(path, x_shape, w_shape, attrs):
    x, w, b, y = _network(x_shape, w_shape, attrs)
    compiled = compile(y, [x, w, b], options=PATHS[path])
    loop_ir = compiled.loop_ir
    # no temp holds the convolution's output for a pass adding the bias afterwards: the
    # kernel's only buffer of the output's shape is the output itself
    shape = ",".join(map(str, y.shape))
    assert not re.search(rf"temp \w+: f64\[{shape}\]", loop_ir)
    assert "max(" in loop_ir
    stride = attrs.get("stride", 1)
    if path == "padded" and stride == 1:
        # deep: a DirectConv (rows of 8 or more); shallow: rows of 16 loops, else the flat form
        deep = math.prod(w_shape[1:]) >= 16
        assert ("direct conv " in loop_ir) == deep
        assert ("for f in" in loop_ir) == (not deep and y.shape[3] % 16 != 0)
    feed = _feed(x, w, b)
    np.testing.assert_allclose(compiled(**feed), gn.evaluate(y, feed), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("x_shape,w_shape,attrs", SHAPES[:3], ids=IDS[:3])
def test_float32_through_the_epilogue(x_shape, w_shape, attrs):
    x, w, b, y = _network(x_shape, w_shape, attrs, dtype="float32")
    feed = _feed(x, w, b)
    np.testing.assert_allclose(compile(y, [x, w, b])(**feed), gn.evaluate(y, feed),
                               rtol=2e-5, atol=2e-5)


def test_an_operand_varying_along_rows_keeps_its_own_pass():
    # a residual add reads an image of the output's shape: not an epilogue (it would be read
    # at the flat sums' dropped positions); the convolution gets its own buffer (one image
    # per slot: the add runs in the convolution's image loop, codegen.fuse_images)
    x, w, b, _ = _network((2, 4, 6, 14), (4, 4, 3, 3), {"padding": 1})
    y = gn.relu(gn.conv2d(x, w, padding=1) + x)
    compiled = compile(y, [x, w])
    conv_output = re.search(r"direct conv [^:]*: (\w+)\[", compiled.loop_ir).group(1)
    assert conv_output != "out0"
    assert re.search(rf"temp {conv_output}: f64\[", compiled.loop_ir)
    feed = _feed(x, w, b)
    del feed["b"]
    np.testing.assert_allclose(compiled(**feed), gn.evaluate(y, feed), rtol=1e-12, atol=1e-12)


def test_a_convolution_read_twice_is_not_fused():
    x, w, b, _ = _network((1, 2, 5, 14), (4, 2, 3, 3), {"padding": 1})
    c = gn.conv2d(x, w, padding=1)
    outputs = [gn.relu(c + b), gn.sum(c)]
    compiled = compile(outputs, [x, w, b])
    feed = _feed(x, w, b)
    for got, want in zip(compiled(**feed), gn.evaluate(outputs, feed)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
