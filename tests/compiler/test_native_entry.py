"""The native entry point: calls with the declared shapes run validation and allocation in
native code; every other call falls back to the Python path with identical results or errors.
Reference counts and memory stay balanced."""

from __future__ import annotations

import dataclasses
import gc
import sys
import weakref

import numpy as np
import pytest

import graphnn as gn
from codegen.native import abi, pycall, pyentry
from graphnn.compiler import compile
from tests.harness import run_in_threads

pytestmark = pytest.mark.skipif(not pycall.supported(), reason="object layouts differ here")


@pytest.fixture(scope="module")
def neuron():
    inputs = [gn.input(n) for n in ["w0", "x0", "w1", "x1", "w2"]]
    w0, x0, w1, x1, w2 = inputs
    f = gn.sigmoid(w0 * x0 + w1 * x1 + w2)
    outputs = [f, *gn.grad(f, inputs)]
    return outputs, compile(outputs, inputs)


VALUES = (2.0, -1.0, -3.0, -2.0, -3.0)


def test_declared_calls_use_the_native_entry(neuron):
    outputs, f = neuron
    assert f._native is not None
    direct = f._native.function(*VALUES)
    want = gn.evaluate(outputs, dict(zip(["w0", "x0", "w1", "x1", "w2"], VALUES)))
    assert [float(v) for v in direct] == [float(v) for v in want]
    assert all(isinstance(v, np.ndarray) and v.shape == () and v.flags.owndata for v in direct)


def test_the_entry_is_the_call_of_a_small_wrapper_around_the_function(neuron):
    # the native builtin is the wrapper class's __call__ (called without self, no Python in
    # between); the Function itself keeps its own class, and no subclass of it is made
    outputs, f = neuron
    subclasses = gn.Function.__subclasses__()
    again = compile(outputs, list(f.graph.inputs))
    assert gn.Function.__subclasses__() == subclasses
    assert type(again.function) is gn.Function and isinstance(again, gn.Function)
    assert type(again).__call__ is again._native.function
    assert type(again) is not type(f)              # one class per entry: the builtin is its own
    assert again.graph is again.function.graph and repr(again) == repr(again.function)
    assert [float(v) for v in again(*VALUES)] == [float(v) for v in f(*VALUES)]


class Tagged(np.ndarray):
    """A subclass: the native entry only accepts exact ndarrays."""


@pytest.mark.parametrize("call", [
    lambda f: f(*VALUES[:4], w2=VALUES[4]),                            # a keyword
    lambda f: f(np.array(2.0), *VALUES[1:]),                          # 0-d arrays
    lambda f: f(2, -1, -3, -2, -3),                                   # ints
    lambda f: f(np.float64(2.0), *VALUES[1:]),                        # a numpy scalar
    lambda f: f(np.array(2.0).view(Tagged), *VALUES[1:]),             # a subclass
    lambda f: f(*VALUES, out=[np.empty(()) for _ in range(6)]),       # out=
])
def test_other_calls_give_the_same_results(neuron, call):
    _, f = neuron
    want = f(*VALUES)
    assert [float(v) for v in call(f)] == [float(v) for v in want]


@pytest.mark.parametrize("args,message", [
    ((2.0, -1.0, -3.0, -2.0), "missing input 'w2'"),
    ((*VALUES, 1.0), "takes 5 inputs"),
    (("2", *VALUES[1:]), "input 'w0' expects"),
    ((np.array(2.0, np.float32), *VALUES[1:]), "got a float32 array"),
])
def test_errors_come_from_the_python_path(neuron, args, message):
    _, f = neuron
    with pytest.raises(gn.InputError, match=message):
        f(*args)


def test_arrays_are_checked_natively_and_odd_ones_fall_back():
    x = gn.input("x", shape=(3, 4), dtype="float32")
    y = gn.input("y", shape=(4,), dtype="float32")
    f = compile([gn.tanh(x) * y, gn.sum(x * y)])
    assert f._native is not None
    rng = np.random.default_rng(0)
    xv = rng.normal(size=(3, 4)).astype(np.float32)
    yv = rng.normal(size=4).astype(np.float32)
    want = [np.tanh(xv) * yv, np.sum(xv * yv)]
    variants = [(xv, yv), (np.asfortranarray(xv), yv), (xv, np.repeat(yv, 2)[::2]),
                (rng.normal(size=(5, 4)).astype(np.float32), yv)]
    for args in variants[:3]:
        for g, w in zip(f(*args), want):
            np.testing.assert_allclose(g, w, rtol=2e-6)
    other_batch = f(*variants[3])                       # another batch size: Python path
    assert other_batch[0].shape == (5, 4)
    with pytest.raises(gn.InputError, match="float32"):
        f(xv.astype(np.float64), yv)


def test_reference_counts_stay_balanced(neuron):
    _, f = neuron
    descr = np.dtype(np.float64)
    held = [f(*VALUES), f(*VALUES)]   # the pool's arrays are taken: every call allocates
    gc.collect()                      # garbage of earlier tests may hold the dtype too
    before = sys.getrefcount(descr)
    for _ in range(2000):             # an imbalance would show as a change of 2000 or more
        f(*VALUES)
    gc.collect()
    assert abs(sys.getrefcount(descr) - before) < 10
    result = f(*VALUES)
    probes = [weakref.ref(r) for r in result]
    assert sys.getrefcount(result[0]) == 3            # the list, the local name, the argument
    del result
    gc.collect()
    assert all(p() is None for p in probes)
    # the pooled results: the pool's reference and the caller's, and only the pool's once the
    # caller lets go, however often they were handed out
    del held
    for _ in range(2000):
        f(*VALUES)
    result = f(*VALUES)
    assert sys.getrefcount(result[0]) == 4            # ... and the pool
    pooled = result[0]
    del result
    assert sys.getrefcount(pooled) == 3               # the pool, the local name, the argument


def test_a_large_result_reuses_the_pages_of_one_its_caller_dropped():
    # 8 MiB: a fresh array would be mmap'd and its pages faulted in (zeroed) on every call
    x = gn.input("x", shape=(1 << 20,))
    f = compile(x * 2.0)
    first = f(np.ones(1 << 20))
    address = first.ctypes.data
    held = f(np.full(1 << 20, 3.0))                   # `first` is held: another array
    assert held.ctypes.data != address and np.all(first == 2.0) and np.all(held == 6.0)
    del first
    again = f(np.full(1 << 20, 5.0))
    assert again.ctypes.data == address and np.all(again == 10.0) and np.all(held == 6.0)


def test_a_large_result_is_freed_when_dropped():
    size = pyentry.POOL_BYTES // 8 + 1               # just above the pool's limit
    x = gn.input("x", shape=(size,))
    f = compile(x * 2.0)
    result = f(np.ones(size))
    probe = weakref.ref(result)
    assert sys.getrefcount(result) == 2
    del result
    assert probe() is None


def test_large_kernels_release_the_gil_and_share_safely():
    x = gn.input("x", shape=(300_000,), dtype="float32")
    f = compile(gn.sigmoid(x) * 2.0)
    assert f._native is not None
    values = [np.random.default_rng(k).normal(size=300_000).astype(np.float32) for k in (0, 1)]
    expected = [f(v) for v in values]
    failures = []

    def work(k):
        for _ in range(40):
            if not np.array_equal(f(values[k]), expected[k]):
                failures.append(k)
    run_in_threads(work)
    assert not failures


def test_pooled_results_of_threads_that_release_the_gil_stay_their_own():
    # a large input and small (pooled) outputs: each thread holds results while the other's
    # calls run without the GIL, and none may be handed an array another thread holds
    x = gn.input("x", shape=(100_000,))
    f = compile([gn.sum(x), gn.max(x)])
    values = [np.random.default_rng(k).normal(size=100_000) for k in range(4)]
    expected = [[float(v) for v in f(value)] for value in values]
    failures = []

    def work(k):
        held = []
        for step in range(200):
            held = [f(values[2 * k + step % 2])] + held[:2]
            for age, result in enumerate(held):
                if [float(v) for v in result] != expected[2 * k + (step - age) % 2]:
                    failures.append((k, step, age))
    run_in_threads(work)
    assert not failures


def test_no_native_entry_when_outputs_are_not_all_computed():
    x = gn.input("x", shape=(2,))
    assert compile([x * 2.0, x])._native is None
    assert compile([x * 2.0, x * 2.0])._native is None
    assert compile([x * 2.0, x * 3.0])._native is not None


@pytest.fixture(scope="module")
def pair():
    x, y = gn.input("x", shape=(4,)), gn.input("y", shape=(4,))
    return compile([x * y, x + y])


def test_out_arrays_take_the_native_path(pair):
    xv, yv = np.arange(4.0), np.ones(4)
    out = [np.empty(4), np.empty(4)]
    for given in (out, tuple(out)):
        result = pair(xv, yv, out=given)
        assert result[0] is out[0] and result[1] is out[1]
        assert out[0].tolist() == [0.0, 1.0, 2.0, 3.0] and out[1].tolist() == [1.0, 2.0, 3.0, 4.0]


@pytest.mark.parametrize("make,error", [
    (lambda xv: (lambda b: [b, b])(np.empty(4)), "overlaps out\\[0\\]"),  # one array twice
    (lambda xv: [np.empty(8)[:4], np.empty(4)[::-1]], "C-contiguous"),    # a reversed view
    (lambda xv: [np.empty(4, np.float32), np.empty(4)], "out\\[0\\]"),
    (lambda xv: [np.empty(4)], "out= needs 2 arrays"),
])
def test_bad_out_arrays_fall_back_to_the_python_error(pair, make, error):
    xv = np.arange(4.0)
    with pytest.raises((ValueError, gn.InputError), match=error):
        pair(xv, np.ones(4), out=make(xv))


def test_an_out_array_that_is_an_input_is_updated_in_place(pair):
    xv, yv = np.arange(4.0), np.full(4, 2.0)
    second = np.empty(4)
    result = pair(xv, yv, out=[xv, second])    # the native check sees the overlap: Python path
    assert result[0] is xv
    assert xv.tolist() == [0.0, 2.0, 4.0, 6.0] and second.tolist() == [2.0, 3.0, 4.0, 5.0]


def test_read_only_out_is_refused(pair):
    out = [np.empty(4), np.empty(4)]
    out[1].setflags(write=False)
    with pytest.raises(gn.InputError, match="writable"):
        pair(np.arange(4.0), np.ones(4), out=out)


def test_out_references_stay_balanced(pair):
    out = [np.empty(4), np.empty(4)]
    xv, yv = np.arange(4.0), np.ones(4)
    pair(xv, yv, out=out)
    before = [sys.getrefcount(a) for a in out]
    for _ in range(1000):
        pair(xv, yv, out=out)
    assert [sys.getrefcount(a) for a in out] == before


def test_a_failing_abi_probe_takes_the_portable_path(neuron):
    # as on a CPython or NumPy whose layout differs: the probe of one fact fails, no native
    # entry is made, and every call takes the Python path with the same results
    outputs, native = neuron
    wrong = tuple(dataclasses.replace(f, value=f.value + 8) if f.name == "ARRAY_FLAGS" else f
                  for f in abi.FACTS)
    saved = abi.FACTS
    abi.supported.cache_clear()
    try:
        abi.FACTS = wrong
        portable = compile(outputs, native.graph.inputs)
    finally:
        abi.FACTS = saved
        abi.supported.cache_clear()
    assert portable._native is None and native._native is not None
    assert type(portable).__call__ is gn.Function.__call__
    for call in (lambda f: f(*VALUES), lambda f: f(*VALUES[:4], w2=VALUES[4]),
                 lambda f: f.call(list(VALUES))):
        assert [float(v) for v in call(portable)] == [float(v) for v in call(native)]
