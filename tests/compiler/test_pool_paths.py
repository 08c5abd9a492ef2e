"""Max and average pooling whose windows tile the input, lowered as contiguous passes along
image planes (graphnn/lower/pool.py), forward and gradient, against the NumPy reference: ties
split, NaN propagates, an elementwise producer (bias + ReLU) is read inside the first pass."""

from __future__ import annotations

import re

import numpy as np
import pytest

import graphnn as gn
from graphnn.lower.pool import tiles

# (input shape, kernel): square and rectangular windows, a window one row high, rows shorter
# and longer than a vector
TILED = [((2, 3, 8, 6), 2), ((2, 2, 6, 9), 3), ((1, 2, 4, 6), (2, 3)), ((3, 2, 4, 4), (1, 2)),
         ((2, 2, 4, 40), 2)]      # (rows of 20 outputs: longer than a 16-lane vector)
TILED_IDS = ["2x2", "3x3", "2x3", "1x2", "wide-rows"]


def _step(shape, kernel, dtype, producer=lambda x: x, pool=gn.max_pool2d):
    x = gn.input("x", shape=shape, dtype=dtype)
    y = pool(producer(x), kernel=kernel)
    g = gn.input("g", shape=y.shape, dtype=dtype)
    return [y, gn.grad(gn.sum(y * g), [x])[0]], x, g


def _feed(shape, pooled, dtype, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.integers(-2, 3, size=shape).astype(dtype)     # many ties in every window
    x[0, 0, 0, 0] = np.nan                                 # a window holding NaN
    return {"x": x, "g": rng.normal(size=pooled).astype(dtype)}


def _check(outputs, inputs, feed, rtol):
    compiled = gn.compile(outputs, inputs)
    want = gn.evaluate(outputs, feed)
    for got, expected in zip(compiled(**feed), want):
        np.testing.assert_allclose(got, expected, rtol=rtol, atol=rtol, equal_nan=True)
    return compiled.loop_ir


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape,kernel", TILED, ids=TILED_IDS)
def test_tiled_max_pool_and_gradient(shape, kernel, dtype):
    outputs, x, g = _step(shape, kernel, dtype)
    assert tiles(outputs[0])
    loop_ir = _check(outputs, [x, g], _feed(shape, g.shape, dtype), 1e-6)
    # the passes, not the compute rule's loop over outputs reducing each window
    assert "max(r1 in" not in loop_ir and "== out0[" not in loop_ir


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape,kernel", TILED, ids=TILED_IDS)
def test_tiled_avg_pool_and_gradient(shape, kernel, dtype):
    outputs, x, g = _step(shape, kernel, dtype, gn.relu, gn.avg_pool2d)
    assert tiles(outputs[0])
    loop_ir = _check(outputs, [x, g], _feed(shape, g.shape, dtype, seed=2), 1e-6)
    assert "sum(r1 in" not in loop_ir      # not the compute rule's loop over outputs


def test_nan_window_gives_nan_and_its_gradient_matches_the_reference():
    outputs, x, g = _step((1, 1, 4, 4), 2, "float32")
    feed = {"x": np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4),
            "g": np.ones((1, 1, 2, 2), np.float32)}
    feed["x"][0, 0, 3, 2] = np.nan
    y, dx = gn.compile(outputs, [x, g])(**feed)
    assert np.isnan(y[0, 0, 1, 1]) and not np.isnan(y[0, 0, :1]).any()
    np.testing.assert_array_equal(y[0, 0, 0], [5.0, 7.0])
    np.testing.assert_allclose(dx, gn.evaluate(outputs[1], feed), equal_nan=True)


def test_bias_and_relu_follow_the_pooling():
    # inference, as an imported CNN: conv, bias, ReLU, pooling. The pooling commutes with
    # both (graphnn.passes.simplify, `_pool_first`): its passes read x itself, and the bias
    # and ReLU apply to the pooled values, a quarter of them
    shape = (2, 4, 6, 8)
    b = np.linspace(-1.0, 1.0, 4).reshape(4, 1, 1).astype(np.float32)
    x = gn.input("x", shape=shape, dtype="float32")
    y = gn.max_pool2d(gn.relu(x + b))
    loop_ir = _check([y], [x], {"x": _feed(shape, y.shape, "float32", seed=3)["x"]}, 1e-6)
    # no buffer holds relu(x + b) (no temp of the input's shape): the first pass reads x
    assert not re.search(r"temp t\d+: f32\[2,4,6,8\]", loop_ir)
    assert re.search(r"max\(r\d+ in 0\.\.2: in0_x\.flat\[", loop_ir)
    assert re.search(r"out0\.flat\[[^]]*\] = max\(t\d+\.flat\[[^]]*\] \+ c0\[", loop_ir)


def test_gradient_alone_with_an_inlined_upstream_gradient():
    x = gn.input("x", shape=(2, 3, 4, 6))
    y = gn.max_pool2d(x)
    g = gn.input("g", shape=y.shape)
    dx = gn.ops.max_pool2d_grad(x, y, g * 2.0 + 1.0)
    _check([dx], [x, g], _feed(x.shape, g.shape, "float64", seed=5), 1e-12)


@pytest.mark.parametrize("shape,attrs", [((2, 2, 7, 7), {}), ((1, 2, 8, 8), {"stride": 1}),
                                         ((1, 2, 8, 8), {"kernel": 3, "stride": 2,
                                                         "padding": 1}),
                                         ((1, 1, 2, 56), {})],
                         ids=["untiled", "overlapping", "padded", "long-rows"])
def test_other_windows_keep_the_compute_rule(shape, attrs):
    x = gn.input("x", shape=shape)
    g = gn.input("g", shape=gn.max_pool2d(x, **attrs).shape)
    for pool in (gn.max_pool2d, gn.avg_pool2d):
        y = pool(x, **attrs)
        assert not tiles(y)
        _check([y, gn.grad(gn.sum(y * g), [x])[0]], [x, g], _feed(shape, g.shape, "float64"),
               1e-12)


@pytest.mark.parametrize("keepdims", [False, True])
def test_global_average_pool_is_one_reduction_over_each_image(keepdims):
    x = gn.input("x", shape=(2, 3, 4, 5), dtype="float32")
    y = gn.global_avg_pool2d(x, keepdims=keepdims)
    outputs = [y, gn.grad(gn.sum(y * y), [x])[0]]
    feed = {"x": np.random.default_rng(4).normal(size=x.shape).astype(np.float32)}
    loop_ir = _check(outputs, [x], feed, 1e-6)
    # one sum along the image's 20 contiguous elements, not a nest of two reductions
    assert "sum(r0 in 0..20:" in loop_ir and "sum(r1" not in loop_ir
