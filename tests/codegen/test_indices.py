"""codegen.indices: `//` and `%` of affine offsets resolved over loop ranges, and only where
Python's floor division makes the rewrite exact."""

from __future__ import annotations

import numpy as np
import pytest

from codegen import loops
from codegen.indices import simplify_indices
from tests.codegen.support import compiled


def _gather(shape_in, shape_out, index) -> loops.Kernel:
    x, out = loops.Buffer("x", "f64", shape_in), loops.Buffer("out", "f64", shape_out)
    return loops.Kernel("gather", [x], [out], body=[loops.loop_nest(
        shape_out, lambda *ix: loops.store(out, ix, x[index(*ix)]))])


def _body(kernel: loops.Kernel) -> str:
    return "\n".join(str(s) for s in kernel.body)


def test_a_reshape_split_becomes_plain_indices():
    # (2, 3, 4) read from its (2, 12) source through the row-major offset
    kernel = _gather((2, 12), (2, 3, 4), lambda i, j, k: (
        ((i * 3 + j) * 4 + k) // 12, ((i * 3 + j) * 4 + k) % 12))
    simple = simplify_indices(kernel)
    assert "x[i, j * 4 + k]" in _body(simple) and "//" not in _body(simple)
    x = np.arange(24.0).reshape(2, 12)
    np.testing.assert_array_equal(compiled(simple)(x), x.reshape(2, 3, 4))


def test_a_merge_keeps_the_division_it_cannot_decide():
    # (2, 8) read from a (2, 2, 4) source: j // 4 and j % 4 stay, the rest goes
    kernel = _gather((2, 2, 4), (2, 8), lambda i, k: (
        (i * 8 + k) // 4 // 2, (i * 8 + k) // 4 % 2, (i * 8 + k) % 4))
    simple = simplify_indices(kernel)
    assert "x[i, j // 4, j % 4]" in _body(simple)
    x = np.arange(16.0).reshape(2, 2, 4)
    np.testing.assert_array_equal(compiled(simple)(x), x.reshape(2, 8))


@pytest.mark.parametrize("offset", [
    lambda i, k: (i * 4 + k + 1) // 4,       # the low part reaches the divisor: a carry
    lambda i, k: (i * 4 + k - 1) // 4,       # ... or goes below zero
    lambda i, k: (i * 3 + k) // 4,           # no multiple of the divisor to take out
])
def test_divisions_the_ranges_do_not_decide_stay_exact(offset):
    x_buffer, out = loops.Buffer("x", "f64", (3,)), loops.Buffer("out", "f64", (2, 4))
    kernel = loops.Kernel("carry", [x_buffer], [out], body=[loops.loop_nest(
        (2, 4), lambda i, k: loops.store(out, (i, k), loops.cast(offset(i, k), "f64")))])
    simple = simplify_indices(kernel)
    expected = np.array([[float(offset(i, k)) for k in range(4)] for i in range(2)])
    np.testing.assert_array_equal(compiled(simple)(np.zeros(3)), expected)
    np.testing.assert_array_equal(compiled(kernel)(np.zeros(3)), expected)


def test_a_reduction_variable_has_its_range_and_nothing_else_changes():
    x, out = loops.Buffer("x", "f64", (4, 6)), loops.Buffer("out", "f64", (4,))
    kernel = loops.Kernel("rows", [x], [out], body=[loops.loop(4, lambda i: loops.store(
        out, i, loops.reduce_sum(6, lambda r: x[(i * 6 + r) // 6, (i * 6 + r) % 6])),
        name="i")])
    simple = simplify_indices(kernel)
    assert "x[i, r0]" in _body(simple)
    values = np.arange(24.0).reshape(4, 6)
    np.testing.assert_array_equal(compiled(simple)(values), values.sum(axis=1))
    plain = _gather((4, 6), (4, 6), lambda i, j: (i, j))
    assert simplify_indices(plain) is plain
