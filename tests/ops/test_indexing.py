"""`x[...]` on nodes (graphnn/ops/indexing.py): NumPy's basic indexing, evaluated and compiled,
its gradient a scatter into zeros; and the errors a user gets for an index graphnn refuses,
naming the op, the operand and the user's line, at build time and at call time."""

from __future__ import annotations

import re

import numpy as np
import pytest

import graphnn as gn

HERE = re.escape(__file__)
S = slice

# every kind of basic index NumPy has, on a (3, 4, 5) array
INDICES = [
    (1,), (-1,), (S(1, None), S(None, None, 2), -1), (None, Ellipsis, 0), (Ellipsis, None),
    (S(None, None, -1),), (S(-1, None, -2), S(3, 0, -1)), (S(-100, 100), S(10, 20)),
    (0, None, S(1, 3), None), (Ellipsis,), (), (S(2, -5, -1), Ellipsis, S(None, None, 3)),
    (-3, -4, -5), (None, None),
]


@pytest.mark.parametrize("index", INDICES, ids=[repr(i) for i in INDICES])
def test_basic_indexing_is_numpys_evaluated_and_compiled(index):
    value = np.random.default_rng(0).standard_normal((3, 4, 5))
    x = gn.input("x", shape=(3, 4, 5))
    y = x[index]
    expected = value[index]
    assert y.shape == expected.shape
    np.testing.assert_array_equal(gn.evaluate(y, {"x": value}), expected)
    loss = gn.sum(y * y)
    (dx,) = gn.grad(loss, [x])
    scattered = np.zeros_like(value)
    scattered[index] = 2 * expected               # the gradient: g put where y came from
    f = gn.compile([y, dx], inputs=[x])
    got_y, got_dx = f(value)
    np.testing.assert_array_equal(got_y, expected)
    np.testing.assert_array_equal(got_dx, scattered)


def test_an_int_index_and_an_ellipsis_in_one_index():
    x = gn.input("x", shape=(2, 3, 4))
    assert x[1:, ::2, -1].shape == (1, 2)
    assert x[None, ..., 0].shape == (1, 2, 3)
    assert x[np.int64(1), np.int32(-1)].shape == (4,)


def test_the_gradient_is_a_select_never_a_matrix_product():
    x = gn.input("x", shape=(50, 60))
    (dx,) = gn.grad(gn.sum(x[::3, 5:-5]), [x])
    ops = {n.op for n in gn.Graph(dx).nodes}
    assert "slice_grad" in ops and "matmul" not in ops


def test_iterating_a_node_gives_its_rows():
    x = gn.input("x", shape=(3, 2))
    rows = list(x)
    assert [r.shape for r in rows] == [(2,)] * 3
    value = np.arange(6.0).reshape(3, 2)
    np.testing.assert_array_equal(gn.evaluate(rows[2], {"x": value}), value[2])
    with pytest.raises(gn.ShapeError, match=r"cannot iterate over a scalar node \(input 's' "
                                            r"f64\[\]\)"):
        list(gn.input("s"))


ADVANCED = ("x[...] takes NumPy's basic indexing: ints, slices, None and ...; boolean masks "
            "and lists or arrays of indices (advanced indexing) are not supported")
REFUSED = [
    (5, r"index 5 is out of range for axis 0 of size 3 \(-3..2\)"),
    ((S(None), -5), r"index -5 is out of range for axis 1 of size 4 \(-4..3\)"),
    ((Ellipsis, 4), r"index 4 is out of range for axis 1 of size 4 \(-4..3\)"),
    ((1, 2, 3), r"too many indices: 3 for an array of rank 2"),
    ((Ellipsis, Ellipsis), r"an index can only have a single ellipsis \(...\)"),
    (S(None, None, 0), r"a slice's step cannot be zero"),
    (S(0, 2.5), r"a slice's stop must be an int or None, got 2.5"),
    (1.5, re.escape(ADVANCED) + r".*; got a float \(1.5\)"),
    ([0, 1], re.escape(ADVANCED) + r".*; got a list \(\[0, 1\]\)"),
    (np.array([True, False, True]), re.escape(ADVANCED) + r".*; got a boolean mask"),
    (True, re.escape(ADVANCED) + r".*; got a boolean mask \(True\)"),
    ("a", re.escape(ADVANCED) + r".*; got a str \('a'\)"),
]


@pytest.mark.parametrize("index,message", REFUSED, ids=[repr(r[0]) for r in REFUSED])
def test_an_index_graphnn_refuses_names_the_op_the_operand_and_the_line(index, message):
    x = gn.input("x", shape=(3, 4))
    with pytest.raises(gn.IndexingError, match=rf"^slice\(x \[3,4\]\): {message}.*\n  at "
                                               rf"{HERE}, line \d+: +x\[index\]"):
        x[index]


def test_an_index_error_is_an_index_error_too():
    # code written for NumPy (`except IndexError`) keeps working
    with pytest.raises(IndexError):
        gn.input("x", shape=(2,))[2]


def test_an_index_out_of_range_at_another_batch_size_refuses_the_call():
    x = gn.input("x", shape=(8, 3))
    f = gn.compile(x[5] * 2.0)
    with pytest.raises(gn.InputError, match=r"cannot run at batch size 3 \(declared 8\): "
                                            r"slice\(x \[3,3\]\): index 5 is out of range for "
                                            r"axis 0 of size 3"):
        f(np.ones((3, 3)))
    np.testing.assert_array_equal(f(np.arange(24.0).reshape(8, 3)), [30.0, 32.0, 34.0])


def test_indices_counted_from_the_end_follow_the_batch():
    # x[-1] keeps meaning the last row, and slices of the other axes keep their rows, at any
    # batch size; x[1:] (B - 1 rows) is no batch of examples, and the call says so
    x = gn.input("x", shape=(8, 3))
    f = gn.compile([x[-1], gn.sum(x[:, :0:-1], axis=1)], inputs=[x])
    value = np.arange(12.0).reshape(4, 3)
    last, sums = f(value)
    np.testing.assert_array_equal(last, value[-1])
    np.testing.assert_array_equal(sums, value[:, :0:-1].sum(axis=1))
    g = gn.compile(gn.sum(x[1:]), inputs=[x])
    with pytest.raises(gn.InputError, match=r"cannot run at batch size 4 \(declared 8\): slice "
                                            r"gives axis 0 the size 7 at batch 8"):
        g(value)


@pytest.mark.parametrize("shape,index", [((3, 1), (0, -1)), ((3, 1), (S(None, None, 2), 0)),
                                         ((1, 4), (0, S(None, None, 2))),
                                         ((2, 1, 3), (1, S(None), S(None, None, -2)))])
def test_a_gradient_on_a_size_1_axis_fused_into_its_user(shape, index):
    # the reproducer (a random graph of tests/differential): fused into an elementwise user,
    # slice_grad's size-1 axes are indexed by the number 0, not a loop variable, and its
    # compute rule built `0 == 0` in loop IR, which has no dtype
    x, w = gn.input("x", shape=shape), gn.input("w", shape=shape)
    (dx,) = gn.grad(gn.sum(gn.exp(x[index])), [x])
    value = np.random.default_rng(0).standard_normal(shape)
    weights = np.arange(float(np.prod(shape))).reshape(shape)
    expected = np.zeros(shape)
    expected[index] = np.exp(value[index])
    np.testing.assert_allclose(gn.compile(dx + w, inputs=[x, w])(value, weights),
                               expected + weights, rtol=1e-12)
