"""Zero-size and extreme shapes: each works as in NumPy, compiled and evaluated alike, or is
refused when the graph is built, with an error naming the op and the shapes."""

from __future__ import annotations

import numpy as np
import pytest

import graphnn as gn
from graphnn.compiler import compile

GEMM_MODES = ("auto", "blas", "native", "loops")


@pytest.mark.parametrize("gemm", GEMM_MODES)
@pytest.mark.parametrize("a_shape,b_shape", [((3, 0), (0, 2)), ((0,), (0,)), ((3, 2), (2, 0)),
                                             ((0, 3), (3, 2)), ((2, 3, 0), (0, 4)),
                                             ((0,), (0, 5)), ((2, 0, 3), (3, 4))])
def test_matmul_with_a_zero_length_dimension(a_shape, b_shape, gemm):
    # these failed to compile ("lda=0 is smaller than the row length 0"); evaluate gave zeros
    a, b = gn.input("a", shape=a_shape), gn.input("b", shape=b_shape)
    y = a @ b
    outputs = [y, *gn.grad(gn.sum(y * 2.0), [a, b])]
    feed = {"a": np.ones(a_shape), "b": np.ones(b_shape)}
    want = gn.evaluate(outputs, feed)
    got = compile(outputs, [a, b], gemm=gemm)(feed["a"], feed["b"])
    assert want[0].shape == np.matmul(feed["a"], feed["b"]).shape
    for g, w in zip(got, want):
        assert g.shape == w.shape and np.array_equal(g, w)
    assert not np.any(got[0])                 # a sum over k = 0 is 0


@pytest.mark.parametrize("build", [
    lambda x: gn.softmax(x), lambda x: gn.log_softmax(x, axis=1),
    lambda x: gn.softmax(gn.transpose(x), axis=0)])
def test_softmax_over_an_empty_axis_is_refused_when_built(build):
    x = gn.input("x", shape=(3, 0))
    with pytest.raises(gn.ShapeError, match=r"softmax\(x \[(3,0|0,3)\]\): axis [01] is empty "
                                            r"\(length 0\): there is nothing to normalize over"):
        build(x)


def test_softmax_cross_entropy_without_classes_is_refused_when_built():
    z = gn.input("z", shape=(3, 0))
    with pytest.raises(gn.ShapeError, match=r"softmax_cross_entropy\(logits \[3,0\], onehot "
                                            r"\[3,0\]\): logits need at least one class"):
        gn.softmax_cross_entropy(z, z)


def test_empty_arrays_along_other_axes_work_as_in_numpy():
    x = gn.input("x", shape=(3, 0))
    z = gn.input("z", shape=(0, 4))
    loss = gn.softmax_cross_entropy(z, z)          # an empty batch: 0 / 0, NaN as numpy's mean
    outputs = [gn.softmax(x, axis=0), gn.log_softmax(x, axis=0), loss, gn.grad(loss, z),
               gn.mean(x, axis=1), gn.sum(x, axis=1)]
    feed = {"x": np.ones((3, 0)), "z": np.ones((0, 4))}
    with pytest.warns(RuntimeWarning, match="Mean of empty slice"):   # numpy's, in evaluate
        want = gn.evaluate(outputs, feed)
    got = compile(outputs, [x, z])(feed["x"], feed["z"])
    for g, w in zip(got, want):
        assert g.shape == w.shape
        np.testing.assert_array_equal(g, w)
    assert np.isnan(got[2]) and np.isnan(got[4]).all() and not got[5].any()


@pytest.mark.parametrize("shape,dtype,count", [((1 << 64,), "float64", r"2\*\*64"),
                                               ((1 << 62,), "float32", r"2\*\*62"),
                                               ((1 << 40, 1 << 40), "float64", r"2\*\*80")])
def test_an_input_too_large_for_any_array_is_refused(shape, dtype, count):
    # (1 << 64,) was accepted and failed later inside NumPy
    with pytest.raises(gn.ShapeError, match=rf"shape of input 'h' .* has {count} elements of "
                                            r"\d bytes: more than an array can hold"):
        gn.input("h", shape=shape, dtype=dtype)


def test_a_result_too_large_for_any_array_is_refused():
    a = gn.input("a", shape=(1 << 32, 1), dtype="float32")
    b = gn.input("b", shape=(1, 1 << 32), dtype="float32")
    with pytest.raises(gn.ShapeError, match=r"add\(x \[4294967296,1\], y \[1,4294967296\]\): the "
                                            r"result's shape .* has 2\*\*64 elements"):
        a + b
    assert gn.input("c", shape=(1 << 59,), dtype="float32").shape == (1 << 59,)   # 2**61 bytes


def test_a_matmul_beyond_blas_sizes_compiles_to_loops():
    # the reproducer: a dimension of 2**31 raised codegen's TypeError ("m must be an int in
    # [0, 2**31)": BLAS takes 32-bit sizes); such a product is lowered to loops over 64-bit
    # indices instead (compiled here, not run: the input alone would be 8 GiB)
    x = gn.input("x", shape=(2**31, 1), dtype="float32")
    w = gn.input("w", shape=(1, 1), dtype="float32")
    f = compile(x @ w)
    assert "gemm" not in f.loop_ir
    assert "gemm" in compile(gn.input("y", shape=(4, 1), dtype="float32") @ w).loop_ir
