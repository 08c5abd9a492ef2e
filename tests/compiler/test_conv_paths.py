"""conv2d and its gradients through both lowerings (im2col + Gemm, and the direct loops of the
ops' compute rules), forced in turn, against the NumPy reference."""

from __future__ import annotations

import numpy as np
import pytest

import graphnn as gn
from graphnn.compiler import compile
from graphnn.options import CompileOptions

CONFIGS = [((2, 3, 7, 6), (4, 3, 3, 3), 1, 1), ((1, 2, 8, 8), (3, 2, 3, 2), 2, 1),
           ((2, 1, 5, 5), (2, 1, 2, 2), 1, 0), ((1, 4, 9, 7), (2, 4, 3, 3), 3, 2)]


@pytest.mark.parametrize("path", ["im2col", "direct"])
@pytest.mark.parametrize("x_shape,w_shape,stride,padding", CONFIGS)
def test_conv_and_gradients(path, x_shape, w_shape, stride, padding):
    options = CompileOptions(conv_min_depth=0 if path == "im2col" else 10**9)
    x = gn.input("x", shape=x_shape)
    w = gn.input("w", shape=w_shape)
    y = gn.conv2d(x, w, stride=stride, padding=padding)
    g = gn.input("g", shape=y.shape)
    outputs = [y, *gn.grad(gn.sum(y * g), [x, w])]
    rng = np.random.default_rng(sum(x_shape))
    feed = {"x": rng.normal(size=x_shape), "w": rng.normal(size=w_shape),
            "g": rng.normal(size=y.shape)}
    compiled = compile(outputs, [x, w, g], options=options)
    uses_gemm = "gemm" in compiled.loop_ir
    assert uses_gemm == (path == "im2col")
    for got, want in zip(compiled(**feed), gn.evaluate(outputs, feed)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
