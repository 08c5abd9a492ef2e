"""concat (variadic), stack, split and pad (graphnn/ops/joining.py): how users call them, what
they compute compiled with many parts, and the errors naming the op, the operands and the
user's line."""

from __future__ import annotations

import re

import numpy as np
import pytest

import graphnn as gn

HERE = re.escape(__file__)


def test_concat_of_many_parts_compiled_with_gradients():
    rng = np.random.default_rng(0)
    sizes = [1, 3, 0, 2, 5, 1]
    xs = [gn.input(f"x{k}", shape=(2, n)) for k, n in enumerate(sizes)]
    values = [rng.standard_normal((2, n)) for n in sizes]
    y = gn.concat(xs, axis=-1)
    weights = rng.standard_normal((2, sum(sizes)))
    loss = gn.sum(y * weights)
    f = gn.compile([y, *gn.grad(loss, xs)], inputs=xs)
    got = f(*values)
    np.testing.assert_array_equal(got[0], np.concatenate(values, axis=-1))
    for g, expected in zip(got[1:], np.split(weights, np.cumsum(sizes)[:-1], axis=1)):
        np.testing.assert_array_equal(g, expected)


def test_concat_takes_arrays_and_tuples_as_one_node():
    x = gn.input("x", shape=(2,))
    y = gn.concat((x, np.ones(1), x), 0)
    assert y.shape == (5,) and len(y.inputs) == 3
    np.testing.assert_array_equal(gn.evaluate(y, {"x": np.array([2.0, 3.0])}),
                                  [2.0, 3.0, 1.0, 2.0, 3.0])
    assert "concat x, %0, x  : f64[5]" in str(gn.Graph(y))


def test_split_by_count_and_by_sizes_and_its_gradient():
    x = gn.input("x", shape=(6, 2))
    a, b, c = gn.split(x, 3)
    p, q = gn.split(x, [4, 2], axis=0)
    value = np.arange(12.0).reshape(6, 2)
    got = gn.evaluate([a, b, c, p, q], {"x": value})
    for part, expected in zip(got, [*np.split(value, 3), value[:4], value[4:]]):
        np.testing.assert_array_equal(part, expected)
    (dx,) = gn.grad(gn.sum(b) + 2.0 * gn.sum(q), [x])
    np.testing.assert_array_equal(gn.evaluate(dx, {"x": value}),
                                  np.repeat([[0.0], [0.0], [1.0], [1.0], [2.0], [2.0]], 2, 1))


def test_stack_and_pad_compiled_match_numpy():
    rng = np.random.default_rng(1)
    a, b = gn.input("a", shape=(2, 3)), gn.input("b", shape=(2, 3))
    av, bv = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    stacked = gn.stack([a, b, a], axis=1)
    padded = gn.pad(a, ((2, 0), (1, 3)), value=-np.inf)
    f = gn.compile([stacked, padded], inputs=[a, b])
    got_stacked, got_padded = f(av, bv)
    np.testing.assert_array_equal(got_stacked, np.stack([av, bv, av], axis=1))
    np.testing.assert_array_equal(got_padded, np.pad(av, ((2, 0), (1, 3)),
                                                     constant_values=-np.inf))


def _x():
    return gn.input("x", shape=(3, 4))


REFUSED = [
    (lambda x: gn.concat([x, gn.input("y", shape=(2, 4))], axis=1), gn.ShapeError,
     r"concat\(xs0 \[3,4\], xs1 \[2,4\]\): xs1 has shape \(2, 4\), which does not fit xs0's "
     r"\(3, 4\): the inputs agree on every axis but the axis joined \(1\)"),
    (lambda x: gn.concat([x, gn.input("z", shape=(3, 4), dtype="float32")]), gn.DTypeError,
     r"concat: operands have different dtypes \(xs0 = input 'x' f64\[3,4\], xs1 = input 'z' "
     r"f32\[3,4\]\)"),
    (lambda x: gn.concat([], axis=1), gn.OpError,
     r"concat takes a list of one or more nodes \(xs\), got an empty list"),
    (lambda x: gn.concat(x, axis=1), gn.OpError,
     r"concat takes a list of one or more nodes \(xs\), got a Node"),
    (lambda x: gn.concat([x, x], axis=2), gn.ShapeError,
     r"concat\(xs0 \[3,4\], xs1 \[3,4\]\): axis 2 is out of range for an array of rank 2 "
     r"\(axes are -2..1\)"),
    (lambda x: gn.stack([x, gn.input("y", shape=(3, 5))]), gn.ShapeError,
     r"stack\(xs0 \[3,4\], xs1 \[3,5\]\): xs1 has shape \(3, 5\), not xs0's \(3, 4\)"),
    (lambda x: gn.stack([x, x], axis=-4), gn.ShapeError,
     r"stack\(xs0 \[3,4\], xs1 \[3,4\]\): axis -4 is out of range for an array of rank 3"),
    (lambda x: gn.split(x, 3, axis=1), gn.ShapeError,
     r"split\(input 'x' f64\[3,4\]\): split of axis 1 \(size 4\) into 3 equal parts: the size "
     r"is not a multiple of it"),
    (lambda x: gn.split(x, [1, 1]), gn.ShapeError,
     r"split\(input 'x' f64\[3,4\]\): split sizes \[1, 1\] do not add up to axis 0's size 3"),
    (lambda x: gn.split(x, 2, axis=2), gn.ShapeError,
     r"split\(input 'x' f64\[3,4\]\): axis 2 is out of range for an array of rank 2"),
    (lambda x: gn.split(x, "a"), gn.OpError,
     r"split\(input 'x' f64\[3,4\]\): split takes a number of equal parts or a list of "
     r"sizes, got 'a'"),
    (lambda x: gn.pad(x, -1), gn.ShapeError,
     r"pad\(x \[3,4\]\): pad widths cannot be negative, got -1"),
    (lambda x: gn.pad(x, ((1, 2), (1, 2), (1, 1))), gn.ShapeError,
     r"pad\(x \[3,4\]\): pad widths must be an int, \(before, after\), or one \(before, "
     r"after\) pair per axis of x \(rank 2\), got \(\(1, 2\), \(1, 2\), \(1, 1\)\)"),
    (lambda x: gn.pad(x, 1.5), gn.ShapeError, r"pad\(x \[3,4\]\): pad widths must be an int"),
]


@pytest.mark.parametrize("build,error,message", REFUSED, ids=[str(k) for k in range(len(REFUSED))])
def test_errors_name_the_op_the_operands_and_the_line(build, error, message):
    x = _x()
    # the line named is the user's: here, the lambda's in REFUSED
    with pytest.raises(error, match=rf"^{message}.*\n  at {HERE}, line \d+: +\(lambda x: gn\."):
        build(x)
