"""squeeze, expand_dims, flip, tile and repeat (graphnn/ops/rearrange.py): NumPy's defaults,
compiled views fused with their users, and the errors naming the op, the operand and the
user's line."""

from __future__ import annotations

import re

import numpy as np
import pytest

import graphnn as gn

HERE = re.escape(__file__)


def test_defaults_are_numpys():
    x = gn.input("x", shape=(1, 3, 1))
    value = np.arange(3.0).reshape(1, 3, 1)
    cases = [(gn.squeeze(x), np.squeeze(value)), (gn.flip(x), np.flip(value)),
             (gn.repeat(x, 2), np.repeat(value, 2)), (gn.tile(x, 2), np.tile(value, 2))]
    for node, expected in cases:
        np.testing.assert_array_equal(gn.evaluate(node, {"x": value}), expected)
    assert gn.squeeze(x).attrs["axis"] == (0, 2)   # the node names its axes


def test_a_chain_of_views_compiles_to_numpys_values_and_gradients():
    rng = np.random.default_rng(0)
    x = gn.input("x", shape=(2, 3))
    value = rng.standard_normal((2, 3))
    y = gn.repeat(gn.tile(gn.flip(gn.expand_dims(x, 0), axis=2), (1, 2, 1)), 3, axis=-1)
    expected = np.repeat(np.tile(np.flip(value[None], axis=2), (1, 2, 1)), 3, axis=-1)
    weights = rng.standard_normal(expected.shape)
    (dx,) = gn.grad(gn.sum(gn.exp(y) * weights), [x])
    got_y, got_dx = gn.compile([y, dx], inputs=[x])(value)
    np.testing.assert_array_equal(got_y, expected)
    # each element of x appears 2 x 3 times: its gradient sums those copies' weights
    copies = (np.exp(expected) * weights).reshape(1, 2, 2, 3, 3).sum(axis=(0, 1, 4))
    np.testing.assert_allclose(got_dx, np.flip(copies, axis=1), rtol=1e-12)


REFUSED = [
    (lambda x: gn.squeeze(x, axis=0),
     r"squeeze\(x \[3,4\]\): squeeze of axis 0, whose size is 3, not 1"),
    (lambda x: gn.expand_dims(x, axis=3),
     r"expand_dims\(x \[3,4\]\): axis 3 is out of range for an array of rank 3 \(axes are "
     r"-3..2\)"),
    (lambda x: gn.flip(x, axis=(0, 0)), r"flip\(x \[3,4\]\): axis \(0, 0\) repeats axis 0"),
    (lambda x: gn.flip(x, axis=2), r"flip\(x \[3,4\]\): axis 2 is out of range"),
    (lambda x: gn.tile(x, -1),
     r"tile\(x \[3,4\]\): each of tile's reps must be a non-negative int, got -1"),
    (lambda x: gn.tile(x, "ab"),
     r"tile\(x \[3,4\]\): tile's reps must be an int or a tuple of ints, got 'ab'"),
    (lambda x: gn.repeat(x, -2, axis=0),
     r"repeat\(x \[3,4\]\): repeats must be a non-negative int, got -2"),
    (lambda x: gn.repeat(x, 2.0, axis=0),
     r"repeat\(x \[3,4\]\): repeats must be a non-negative int, got 2.0"),
    (lambda x: gn.repeat(x, 2, axis=-3), r"repeat\(x \[3,4\]\): axis -3 is out of range"),
]


@pytest.mark.parametrize("build,message", REFUSED, ids=[str(k) for k in range(len(REFUSED))])
def test_errors_name_the_op_the_operand_and_the_line(build, message):
    x = gn.input("x", shape=(3, 4))
    # the line named is the user's: here, the lambda's in REFUSED
    with pytest.raises(gn.ShapeError, match=rf"^{message}.*\n  at {HERE}, line \d+: +"
                                            rf"\(lambda x: gn\."):
        build(x)
