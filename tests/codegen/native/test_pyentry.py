"""The native CPython entry, on a kernel built by hand: validated calls run natively, anything
else reaches the fallback with the very arguments given; the IR text is deterministic and is
compiled once per distinct call signature."""

from __future__ import annotations

import numpy as np
import pytest

from codegen import loops
from codegen.jit import compile_kernel
from codegen.native import pycall, pyentry

pytestmark = pytest.mark.skipif(not pycall.supported(), reason="object layouts differ here")


def scale_shift() -> loops.Kernel:
    """out[i] = x[i] * s + c[i], and total = sum(x): a 0-d f32 input, a constant, 2 outputs."""
    x, s = loops.Buffer("x", "f32", (5,)), loops.Buffer("s", "f32", ())
    c = loops.Buffer("c", "f32", (5,))
    out, total = loops.Buffer("out", "f32", (5,)), loops.Buffer("total", "f32", ())
    body = [loops.loop(5, lambda i: loops.store(out, i, x[i] * s[()] + c[i])),
            loops.store(total, (), loops.reduce_sum(5, lambda k: x[k]))]
    return loops.Kernel("scale_shift", [x, s, c], [out, total], body=body)


SPEC = pyentry.EntrySpec(
    "scale_shift", (pyentry.Argument("f32", (5,)), pyentry.Argument("f32", ())), 1,
    (pyentry.Argument("f32", (5,)), pyentry.Argument("f32", ())), single=False,
    release_gil=False)


@pytest.fixture(scope="module")
def entry():
    fallen: list[tuple] = []

    def fallback(*args, **kwargs):
        fallen.append((args, kwargs))
        return "fallback"
    constant = np.arange(5, dtype=np.float32)
    native = pycall.native_entry(compile_kernel(scale_shift()), SPEC, [constant], fallback)
    return native.function, fallen


def test_valid_calls_run_natively(entry):
    function, fallen = entry
    x = np.array([1, 2, 3, 4, 5], np.float32)
    before = len(fallen)
    out, total = function(x, 2.0)
    assert out.tolist() == [2.0, 5.0, 8.0, 11.0, 14.0] and float(total) == 15.0
    assert out.dtype == np.float32 and total.shape == ()
    given = [np.empty(5, np.float32), np.empty((), np.float32)]
    result = function(x, np.array(3.0, np.float32), out=given)
    assert result[0] is given[0] and given[0].tolist() == [3.0, 7.0, 11.0, 15.0, 19.0]
    assert len(fallen) == before


@pytest.mark.parametrize("args,kwargs", [
    ((np.ones(4, np.float32), 2.0), {}),                        # another shape
    ((np.ones(5, np.float64), 2.0), {}),                        # another dtype
    ((np.ones(10, np.float32)[::2], 2.0), {}),                  # not contiguous
    ((np.ones(5, np.float32), 2), {}),                          # an int for the scalar
    ((np.ones(5, np.float32),), {}),                            # too few arguments
    ((np.ones(5, np.float32), 2.0), {"s": 1.0}),                # another keyword
    ((np.ones(5, np.float32), 2.0), {"out": [np.empty(5, np.float32)]}),     # too few outs
])
def test_anything_else_reaches_the_fallback(entry, args, kwargs):
    function, fallen = entry
    assert function(*args, **kwargs) == "fallback"
    got_args, got_kwargs = fallen[-1]
    assert len(got_args) == len(args) and all(a is b for a, b in zip(got_args, args))
    assert got_kwargs.keys() == kwargs.keys()


def test_overlapping_out_reaches_the_fallback(entry):
    function, fallen = entry
    x = np.ones(5, np.float32)
    scalar = np.array(1.0, np.float32)
    assert function(x, scalar, out=[x, np.empty((), np.float32)]) == "fallback"
    assert function(x, scalar, out=[np.empty(5, np.float32), scalar]) == "fallback"
    buffer = np.empty(6, np.float32)
    assert function(x, 1.0, out=[buffer[:5], buffer[5:].reshape(())]) != "fallback"


def test_entry_text_is_deterministic_and_names_no_address():
    text = pyentry.entry_ir(SPEC)
    assert text == pyentry.entry_ir(SPEC)
    assert "0x" not in text and str(id(np.ndarray)) not in text
    assert 'define ptr @"entry.scale_shift"' in text


# -- the result pool -----------------------------------------------------------------------------

def pooled_entry():
    """An entry of its own: a test that spoils the pool's arrays spoils no other test's."""
    return pycall.native_entry(compile_kernel(scale_shift()), SPEC,
                               [np.arange(5, dtype=np.float32)], lambda *a, **k: "fallback")

def test_a_result_is_reused_only_once_its_caller_let_go():
    function = pooled_entry().function
    x = np.array([1, 2, 3, 4, 5], np.float32)
    first, second, third = function(x, 1.0), function(x, 2.0), function(x, 3.0)
    arrays = [a for result in (first, second, third) for a in result]
    assert len({id(a) for a in arrays}) == 6           # three held results: no array shared
    assert first[0].tolist() == [1.0, 3.0, 5.0, 7.0, 9.0]       # unchanged by later calls
    assert second[0].tolist() == [2.0, 5.0, 8.0, 11.0, 14.0]
    released = [id(a) for a in first]
    del first, arrays
    fourth = function(x, 4.0)
    assert [id(a) for a in fourth] == released          # the released arrays, refilled
    assert fourth[0].tolist() == [4.0, 9.0, 14.0, 19.0, 24.0] and float(fourth[1]) == 15.0


@pytest.mark.parametrize("change", [
    lambda a: setattr(a, "shape", (5, 1)),
    lambda a: a.setflags(write=False),
    lambda a: setattr(a, "dtype", np.int32),
], ids=["reshaped", "read-only", "retyped"])
def test_a_released_result_its_holder_changed_is_not_reused(change):
    function = pooled_entry().function
    x = np.ones(5, np.float32)
    results = [function(x, 1.0) for _ in range(pyentry.POOL_SIZE)]   # the whole pool
    for result in results:
        change(result[0])
    ids = {id(result[0]) for result in results}      # alive in the pool: ids stay theirs
    del results
    fresh = function(x, 2.0)[0]
    assert id(fresh) not in ids
    assert fresh.shape == (5,) and fresh.dtype == np.float32 and fresh.flags.writeable
    assert fresh.tolist() == [2.0, 3.0, 4.0, 5.0, 6.0]


def test_a_result_a_weak_reference_watches_is_not_reused():
    import weakref

    function = pooled_entry().function
    x = np.ones(5, np.float32)
    results = [function(x, 1.0) for _ in range(pyentry.POOL_SIZE)]
    watched = [weakref.ref(result[0]) for result in results]
    del results
    fresh = function(x, 2.0)[0]
    assert all(fresh is not w() for w in watched)
    assert all(w() is not None and w().tolist() == [1.0, 2.0, 3.0, 4.0, 5.0] for w in watched)


def test_only_small_outputs_are_pooled():
    big = pyentry.Argument("f32", (pyentry.POOL_BYTES // 4 + 1,))
    small = pyentry.Argument("f64", (pyentry.POOL_BYTES // 8,))
    spec = pyentry.EntrySpec("pool", (small,), 0, (big, small, small), single=False,
                             release_gil=False)
    assert spec.pooled == (1, 2)
