"""int32, int64 and bool graphs end to end: lifting rules, gradients that stop at ints, index
checks at build, evaluate and call time (native entry, Python path, C export), cast's defined
float -> int conversion in native code, and take's gradient as a scatter loop."""

from __future__ import annotations

import numpy as np
import pytest

import graphnn as gn
from codegen import loops
from tests.codegen.aot_support import call, load, needs_cc


def test_numbers_take_the_int_dtype_of_the_node_they_meet():
    x = gn.input("x", shape=(3,), dtype="int64")
    y = x * 2 + 1
    assert y.dtype == "int64"
    np.testing.assert_array_equal(gn.evaluate(y, {"x": np.array([1, -2, 3])}), [3, -3, 7])
    np.testing.assert_array_equal(gn.compile(y)(np.array([1, -2, 3])), [3, -3, 7])
    with pytest.raises(gn.DTypeError, match="is a float, and the other operand is int64"):
        x + 0.5
    with pytest.raises(gn.DTypeError, match="takes float32 or float64 operands"):
        x / 2
    with pytest.raises(gn.DTypeError, match="out of int32's range"):
        gn.input("i", dtype="int32") + 2**40


def test_int_arithmetic_wraps_as_numpy_in_native_code():
    x = gn.input("x", shape=(4,), dtype="int32")
    f = gn.compile([x * 65536, -x, abs(x), gn.maximum(x, 0)])
    values = np.array([-2**31, 40000, -7, 2**31 - 1], dtype=np.int32)
    want = gn.evaluate([x * 65536, -x, abs(x), gn.maximum(x, 0)], {"x": values})
    for got, expected in zip(f(values), want):
        assert got.dtype == np.int32
        np.testing.assert_array_equal(got, expected)


def test_grad_refuses_an_int_target_and_stops_at_int_nodes():
    x = gn.input("x", shape=(3,))
    i = gn.input("i", shape=(3,), dtype="int64")
    with pytest.raises(gn.GradError, match="int64 values carry no gradient"):
        gn.grad(gn.sum(gn.cast(i, "float64") * x), [i])
    # the path through cast(x, int64) contributes zero; the direct path 1 per element
    y = gn.sum(gn.cast(gn.cast(x * 3.0, "int64"), "float64") + x)
    np.testing.assert_array_equal(gn.evaluate(gn.grad(y, x), {"x": np.ones(3)}), np.ones(3))
    with pytest.raises(gn.GradError, match="float output"):
        gn.grad(gn.max(i), [x])


def test_cast_gradient_passes_through_between_float_dtypes():
    # d/dx sum(c * cast(x)) = c, converted back to x's dtype, both ways
    c32 = np.array([0.1, -3.0, 7.25], dtype=np.float32)
    for source, target in (("float64", "float32"), ("float32", "float64")):
        x = gn.input("x", shape=(3,), dtype=source)
        c = gn.constant(c32, dtype=target)
        (dx,) = gn.grad(gn.sum(gn.cast(x, target) * c), [x])
        assert dx.dtype == source
        feed = {"x": np.array([1.0, -2.0, 3.0], dtype=source)}
        np.testing.assert_array_equal(gn.evaluate(dx, feed), c32.astype(source))
        np.testing.assert_array_equal(gn.compile(dx)(feed["x"]), c32.astype(source))


def test_cast_float_to_int_is_defined_and_native_code_agrees():
    x = gn.input("x", shape=(8,))
    values = np.array([np.nan, np.inf, -np.inf, 1e30, -1e30, 2.9, -2.9, 2.0**31])
    for dtype, info in (("int32", np.iinfo(np.int32)), ("int64", np.iinfo(np.int64))):
        y = gn.cast(x, dtype)
        want = [0, info.max, info.min, info.max, info.min, 2, -2,
                info.max if dtype == "int32" else 2**31]
        np.testing.assert_array_equal(gn.evaluate(y, {"x": values}), want)
        np.testing.assert_array_equal(gn.compile(y)(values), want)
    np.testing.assert_array_equal(gn.compile(gn.cast(x, "bool"))(values),
                                  values.astype(bool))


def test_conditions_and_indices_of_the_wrong_dtype_are_build_errors():
    x = gn.input("x", shape=(3,))
    with pytest.raises(gn.DTypeError, match="the condition must be bool, got float64"):
        gn.where(x, x, 0.0)
    with pytest.raises(gn.DTypeError, match="indices must be int32 or int64, got float64"):
        gn.take(x, x)
    with pytest.raises(gn.DTypeError, match="indices must be int32 or int64"):
        gn.take(x, [0.5, 1.0])
    with pytest.raises(gn.DTypeError, match="takes bool operands"):
        gn.logical_and(x > 0, x)


def test_index_and_condition_values_of_the_wrong_dtype_are_input_errors():
    i = gn.input("i", shape=(2,), dtype="int64")
    c = gn.input("c", shape=(2,), dtype="bool")
    y = gn.where(c, gn.take(np.arange(3.0), i), 0.0)
    f = gn.compile(y)
    assert [n.name for n in f.graph.inputs] == ["c", "i"]
    for call_path in (f, f.call_python):
        with pytest.raises(gn.InputError, match="input 'i' expects a int64 array"):
            call_path(np.array([True, False]), np.array([0.0, 1.0]))
        with pytest.raises(gn.InputError, match="input 'c' expects a bool array"):
            call_path(np.array([1.0, 0.0]), np.array([0, 1]))
    with pytest.raises(gn.InputError, match="never converts silently"):
        gn.evaluate(y, {"i": [0.5, 1.0], "c": [True, False]})
    with pytest.raises(gn.InputError, match="never converts silently"):
        gn.evaluate(y, {"i": [0, 1], "c": [1, 0]})


def _embedding():
    table = gn.input("table", shape=(5, 2))
    ids = gn.input("ids", shape=(4,), dtype="int64")
    return table, ids, gn.take(table, ids) * 2.0


BAD = "take.*indices = input 'ids'.*index 7 \\(at \\(2,\\)\\) is out of range for axis 0 of size 5"


def test_an_index_out_of_range_is_an_input_error_at_evaluate_and_on_both_call_paths():
    table, ids, y = _embedding()
    feed = {"table": np.ones((5, 2)), "ids": np.array([0, -5, 7, 1])}
    with pytest.raises(gn.InputError, match=BAD):
        gn.evaluate(y, feed)
    f = gn.compile(y)
    assert f._native is not None
    for call_path in (f, f.call_python):
        with pytest.raises(gn.InputError, match=BAD):
            call_path(feed["table"], feed["ids"])
        with pytest.raises(gn.InputError, match="index -6"):
            call_path(feed["table"], np.array([0, -6, 1, 1]))
    # the function still works afterwards, negative indices as NumPy
    np.testing.assert_array_equal(f(np.arange(10.0).reshape(5, 2), np.array([-1, 0, 4, -5])),
                                  2 * np.arange(10.0).reshape(5, 2)[[4, 0, 4, 0]])


def test_a_computed_index_out_of_range_is_caught_by_the_kernel():
    x = gn.input("x", shape=(3,))
    picked = gn.take(x, gn.argmax(x) + 3)      # argmax + 3 >= 3: always out of range
    f = gn.compile(picked)
    with pytest.raises(gn.InputError, match="out of range for axis 0 of size 3"):
        f(np.array([1.0, 5.0, 2.0]))


def test_take_gradient_is_a_scatter_loop_not_a_product():
    table, ids, y = _embedding()
    grad = gn.grad(gn.sum(y), table)
    f = gn.compile(grad)
    kernel = f.base.plan.kernel
    nodes = [n for s in kernel.body for n in loops.walk(s)]
    assert not any(isinstance(n, loops.Gemm) for n in nodes)
    assert any(isinstance(n, loops.Accumulate) for n in nodes)
    assert any(isinstance(n, loops.Check) for n in nodes)
    # the loop over g runs once per (index, column): no loop of table rows x indices
    extents = [n.extent for n in nodes if isinstance(n, (loops.Loop, loops.Reduce))]
    assert max(extents) <= 5 * 2
    np.testing.assert_array_equal(f(np.zeros((5, 2)), np.array([1, 1, -1, 1])),
                                  [[0, 0], [6, 6], [0, 0], [0, 0], [2, 2]])


@needs_cc
def test_an_index_out_of_range_returns_an_error_code_from_the_c_export(tmp_path):
    table, ids, y = _embedding()
    f = gn.compile(y, name="embed")
    f.export(tmp_path / "embed.so")
    library = load(tmp_path / "embed.so")
    header = (tmp_path / "embed.h").read_text()
    assert "const int64_t *" in header and "GRAPHNN_ERROR_INDEX" in header
    out = np.zeros((4, 2))
    good = np.array([0, -1, 2, 2])
    assert call(library, "embed", np.ones((5, 2)), good, out) == 0
    np.testing.assert_array_equal(out, np.full((4, 2), 2.0))
    assert call(library, "embed", np.ones((5, 2)), np.array([0, 5, 1, 1]), out) == 7


def test_bool_buffers_hold_numpy_bools():
    x = gn.input("x", shape=(4,))
    m = gn.input("m", shape=(4,), dtype="bool")
    f = gn.compile([gn.logical_and(x > 0, m), gn.where(m, x, -x)])
    flags, values = f(np.array([1.0, -1.0, 2.0, np.nan]), np.array([True, True, False, True]))
    assert flags.dtype == np.bool_
    np.testing.assert_array_equal(flags, [True, False, False, False])
    np.testing.assert_array_equal(values, [1.0, -1.0, -2.0, np.nan])


LAYOUT_OPS = {   # every op that moves elements without computing on them, on an int or bool x
    "slice": lambda x: x[1:, ::-1],
    "concat": lambda x: gn.concat([x, x], axis=1),
    "stack": lambda x: gn.stack([x, x]),
    "pad": lambda x: gn.pad(x, ((1, 0), (0, 1))),
    "expand_dims": lambda x: gn.expand_dims(x, 0),
    "squeeze": lambda x: gn.squeeze(x[:1], 0),
    "flip": lambda x: gn.flip(x, 1),
    "tile": lambda x: gn.tile(x, (2, 1)),
    "repeat": lambda x: gn.repeat(x, 2, axis=0),
    "reshape": lambda x: gn.reshape(x, (4, 3)),
    "transpose": lambda x: gn.transpose(x),
}


@pytest.mark.parametrize("dtype", ["int32", "int64", "bool"])
@pytest.mark.parametrize("name", sorted(LAYOUT_OPS))
def test_layout_ops_carry_ints_and_bools(name, dtype):
    # token ids and masks are sliced, joined and padded like floats (an imported model's
    # Unsqueeze of int64 indices, a padding mask built by concat)
    x = gn.input("x", shape=(3, 4), dtype=dtype)
    value = (np.arange(12).reshape(3, 4) % 5).astype(dtype)
    y = LAYOUT_OPS[name](x)
    assert y.dtype == dtype
    want = gn.evaluate(y, {"x": value})
    got = gn.compile(y, inputs=[x])(value)
    assert got.dtype == want.dtype and np.array_equal(got, want)
