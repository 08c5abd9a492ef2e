"""Shape helpers: broadcasting and axis normalization, as numpy does them."""

from __future__ import annotations

import numpy as np
import pytest

import graphnn as gn
from graphnn.errors import ShapeError
from graphnn.shapes import (
    broadcast,
    broadcasts_to,
    normalize_axes,
    normalize_axis,
    normalize_permutation,
)


@pytest.mark.parametrize("shapes", [((3, 1), (4,)), ((), (2, 3)), ((2, 1, 4), (3, 1)),
                                    ((1,), (1,)), ((5, 1, 1), (1, 6, 1), (1, 1, 7))])
def test_broadcast_matches_numpy(shapes):
    assert broadcast(*shapes) == np.broadcast_shapes(*shapes)


def test_broadcast_error_names_the_dimension():
    with pytest.raises(ShapeError, match=r"dimension -1 has sizes \[3, 4\]"):
        broadcast((2, 3), (4,))


def test_broadcasts_to():
    assert broadcasts_to((3, 1), (2, 3, 5)) and not broadcasts_to((3,), (3, 2))


def test_normalize_axes():
    assert normalize_axes(None, 3) == (0, 1, 2)
    assert normalize_axes((-1, 0), 3) == (0, 2)
    assert normalize_axes((), 3) == ()
    assert normalize_axes(np.int64(1), 3) == normalize_axes([np.int64(1)], 3) == (1,)
    with pytest.raises(ShapeError, match=r"axis \(0, -3\) repeats axis 0 \(rank 3\)"):
        normalize_axes((0, -3), 3)


def test_numpy_integers_are_axes():
    # the reproducer: axis=np.int64(1) raised "'numpy.int64' object is not iterable"
    x = gn.input("x", shape=(2, 3))
    value = np.arange(6.0).reshape(2, 3)
    for op in (gn.sum, gn.mean, gn.max, gn.min, gn.softmax, gn.log_softmax):
        node = op(x, axis=np.int64(1))
        assert node is op(x, axis=1)
        np.testing.assert_array_equal(gn.evaluate(node, {"x": value}),
                                      gn.evaluate(op(x, axis=1), {"x": value}))
    assert normalize_axes([np.int32(0), np.int64(-1)], 3) == (0, 2)


def test_no_axes_reduces_over_nothing_as_numpy_does():
    # the reproducer: axis=() raised IndexError from shapes.py (softmax)
    x = gn.input("x", shape=(2, 3))
    value = np.arange(6.0).reshape(2, 3)
    for op, reference in ((gn.sum, np.sum), (gn.mean, np.mean), (gn.max, np.max),
                          (gn.min, np.min)):
        np.testing.assert_array_equal(gn.evaluate(op(x, axis=()), {"x": value}),
                                      reference(value, axis=()))
    for op in (gn.softmax, gn.log_softmax):
        with pytest.raises(ShapeError, match=r"softmax\(x \[2,3\]\): axis must be one int, "
                                             r"got \(\)\n  at .*test_shapes.py"):
            op(x, axis=())


def test_axes_that_are_not_ints_are_refused_clearly():
    x = gn.input("x", shape=(2, 3))
    with pytest.raises(ShapeError, match="axis must be an int or a tuple of ints, got 1.5"):
        gn.sum(x, axis=1.5)
    with pytest.raises(ShapeError, match=r"got array\(1.5\)"):
        gn.sum(x, axis=np.array(1.5))
    assert normalize_axes(np.array([1, 0]), 2) == (0, 1)
    with pytest.raises(ShapeError, match=r"axis must be one int, got \(0, 1\)"):
        gn.softmax(x, axis=(0, 1))


@pytest.mark.parametrize("axis,message", [
    (2, r"^axis 2 is out of range for an array of rank 2 \(axes are -2..1\)$"),
    (-3, r"^axis -3 is out of range for an array of rank 2"),
    ((0, 5), r"^axis 5 in axis \(0, 5\) is out of range for an array of rank 2"),
    ((np.int64(1), 1), r"^axis \(1, 1\) repeats axis 1 \(rank 2\)$"),
    (1.0, "must be an int or a tuple of ints, got 1.0"),
    (True, "must be an int or a tuple of ints, got True"),
])
def test_axes_out_of_range_or_repeated_are_errors_never_modulo(axis, message):
    with pytest.raises(ShapeError, match=message):
        normalize_axes(axis, 2)


def test_one_axis_is_one_int():
    assert normalize_axis(np.int64(-1), 3) == 2
    for bad in ((), (0,), None, 0.0):
        with pytest.raises(ShapeError, match="axis must be one int"):
            normalize_axis(bad, 3)


def test_a_permutation_names_every_axis_once():
    assert normalize_permutation(None, 3) == (2, 1, 0)
    assert normalize_permutation((-1, 0, 1), 3) == (2, 0, 1)
    assert normalize_permutation((), 0) == ()
    for bad, message in [((0, 5), "axis 5 in axes \\(0, 5\\) is out of range .* rank 2"),
                         ((3, 2), "axis 3 in axes \\(3, 2\\) is out of range"),
                         ((1, 0, 2), "axis 2 in axes \\(1, 0, 2\\) is out of range"),
                         ((1, -1), "axes \\(1, -1\\) repeats axis 1"),
                         ((0,), "axes \\(0,\\) name 1 axes; a permutation of all 2")]:
        with pytest.raises(ShapeError, match=message):
            normalize_permutation(bad, 2)
