"""conv2d and its gradients through both lowerings (im2col + Gemm, and the direct loops of the
ops' compute rules), forced in turn, against the NumPy reference."""

from __future__ import annotations

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
                                         "padding": ((2, 1), (0, 3))})]
IDS = ["pad1", "stride2", "valid", "stride3", "dilation2", "groups2", "depthwise",
       "asymmetric", "every-attribute"]


@pytest.mark.parametrize("path", ["im2col", "direct"])
@pytest.mark.parametrize("x_shape,w_shape,attrs", CONFIGS, ids=IDS)
def test_conv_and_gradients(path, x_shape, w_shape, attrs):
    options = CompileOptions(conv_min_depth=0 if path == "im2col" else 10**9)
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
    assert uses_gemm == (path == "im2col")
    for got, want in zip(compiled(**feed), gn.evaluate(outputs, feed)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
