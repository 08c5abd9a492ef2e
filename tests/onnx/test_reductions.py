"""ReduceProd of run-time values (a tree of products), Hardmax, ThresholdedRelu and
LpNormalization imported and checked against onnxruntime beyond the backend cases: odd and
empty reduced sizes, ties, infinities, lanes of zeros, and the product's gradient."""

from __future__ import annotations

import numpy as np
import onnxruntime
import pytest

import graphnn as gn
from graphnn.onnx import OnnxError
from tests.onnx.models import FLOAT, model


def run_both(proto, x):
    session = onnxruntime.InferenceSession(proto.SerializeToString(),
                                           providers=["CPUExecutionProvider"])
    (want,) = session.run(None, {"x": x})
    m = gn.onnx.load(proto)
    (got,) = m.compile()(x)
    (evaluated,) = gn.evaluate(m.outputs, {m.inputs[0]: x}, allow_extra=True)  # (x unused: 0-size)
    return want, got, evaluated


def single(op, shape, out_shape, opset=18, inputs=("x",), initializers=(), **attributes):
    return model([(op, list(inputs), ["y"], attributes)], [("x", FLOAT, list(shape))],
                 [("y", FLOAT, list(out_shape))], initializers, opset=opset)


@pytest.mark.parametrize("shape,axes,keepdims,out", [
    ((3, 7, 2), [1], 1, (3, 1, 2)),         # odd size: a remainder carried each halving
    ((2, 5, 3), [0, 2], 0, (5,)),
    ((4, 6), None, 0, ()),
    ((3, 0, 2), [1], 0, (3, 2)),            # the empty product is 1
])
def test_reduce_prod_of_run_time_values(shape, axes, keepdims, out):
    x = np.random.default_rng(0).uniform(-1.5, 1.5, shape).astype(np.float32)
    extra = ([("axes", np.array(axes, np.int64))] if axes is not None else [])
    proto = single("ReduceProd", shape, out, inputs=("x", "axes") if extra else ("x",),
                   initializers=extra, keepdims=keepdims)
    want, got, evaluated = run_both(proto, x)
    np.testing.assert_allclose(got, want, rtol=1e-5)
    np.testing.assert_allclose(evaluated, want, rtol=1e-5)


def test_reduce_prod_gradient_is_the_product_of_the_others():
    m = gn.onnx.load(single("ReduceProd", (2, 5), (2,), inputs=("x", "axes"),
                            initializers=[("axes", np.array([1], np.int64))], keepdims=0))
    xs = m.inputs[0]
    (g,) = gn.grad(gn.sum(m.outputs[0]), [xs])
    value = np.random.default_rng(1).uniform(0.5, 2.0, (2, 5)).astype(np.float32)
    (got,) = gn.evaluate([g], {xs: value})
    want = np.prod(value, axis=1, keepdims=True) / value
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_hardmax_takes_the_first_of_tied_maxima():
    x = np.array([[1, 3, 3, 0], [2, 2, 2, 2], [-np.inf, -1, 5, 5]], np.float32)
    for axis, opset in ((1, 18), (0, 18), (1, 11)):
        want, got, evaluated = run_both(single("Hardmax", x.shape, x.shape, opset=opset,
                                               axis=axis), x)
        np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(evaluated, want)


def test_thresholded_relu_at_infinities_and_the_threshold():
    x = np.array([[-np.inf, 0.5, 1.0, 1.5, np.inf]], np.float32)
    want, got, _ = run_both(single("ThresholdedRelu", x.shape, x.shape, alpha=1.0), x)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(got, [[0, 0, 0, 1.5, np.inf]])


@pytest.mark.parametrize("p", [1, 2])
def test_lp_normalization_keeps_lanes_of_zeros(p):
    x = np.array([[3, -4, 0], [0, 0, 0]], np.float32)
    want, got, _ = run_both(single("LpNormalization", x.shape, x.shape, axis=1, p=p), x)
    np.testing.assert_allclose(got, want, rtol=1e-6)
    np.testing.assert_array_equal(got[1], 0)


def test_lp_normalization_other_p_is_refused():
    with pytest.raises(OnnxError, match="p=3"):
        gn.onnx.load(single("LpNormalization", (2, 3), (2, 3), axis=1, p=3))
