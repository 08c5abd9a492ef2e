"""Shape helpers: broadcasting and axis normalization, as numpy does them."""

from __future__ import annotations

import numpy as np
import pytest

import graphnn as gn
from graphnn.errors import ShapeError
from graphnn.shapes import broadcast, broadcasts_to, normalize_axes, normalize_axis


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
    with pytest.raises(ShapeError, match="repeats"):
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
    assert normalize_axis((1,), 2) == 1


def test_axes_that_are_not_ints_are_refused_clearly():
    x = gn.input("x", shape=(2, 3))
    with pytest.raises(ShapeError, match="axis must be an int or a tuple of ints, got 1.5"):
        gn.sum(x, axis=1.5)
    with pytest.raises(ShapeError, match=r"got array\(1.5\)"):
        gn.sum(x, axis=np.array(1.5))
    assert normalize_axes(np.array([1, 0]), 2) == (0, 1)
    with pytest.raises(ShapeError, match=r"axis must be one int, got \(0, 1\)"):
        gn.softmax(x, axis=(0, 1))
