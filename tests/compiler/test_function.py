"""Calling a compiled function: arguments, validation errors, outputs, out=, batch sizes,
threads, introspection."""

from __future__ import annotations

import re

import numpy as np
import pytest

import graphnn as gn
from graphnn.compiler import compile
from tests.harness import run_in_threads


@pytest.fixture(scope="module")
def mlp():
    x = gn.input("x", shape=(8, 5), dtype="float32")
    w = gn.input("w", shape=(5, 3), dtype="float32")
    b = gn.input("b", shape=(3,), dtype="float32")
    t = gn.input("t", shape=(8, 3), dtype="float32")
    loss = gn.softmax_cross_entropy(gn.relu(x @ w + b), t)
    outputs = [loss, *gn.grad(loss, [w, b])]
    return outputs, compile(outputs)


def _feed(batch, rng):
    return {"x": rng.normal(size=(batch, 5)).astype(np.float32),
            "w": rng.normal(size=(5, 3)).astype(np.float32),
            "b": rng.normal(size=3).astype(np.float32),
            "t": np.eye(3, dtype=np.float32)[rng.integers(0, 3, batch)]}


def _close(got, want):
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=2e-5, atol=2e-6)


def test_positional_and_keyword_calls_agree(mlp):
    outputs, f = mlp
    feed = _feed(8, np.random.default_rng(0))
    by_name = f(**feed)
    by_position = f(feed["x"], feed["w"], feed["b"], feed["t"])
    mixed = f(feed["x"], feed["w"], t=feed["t"], b=feed["b"])
    _close(by_name, gn.evaluate(outputs, feed))
    for other in (by_position, mixed):
        assert all(np.array_equal(a, c) for a, c in zip(by_name, other))


def test_single_output_is_one_array_and_numbers_are_accepted():
    x, y = gn.input("x"), gn.input("y")
    f = compile(x * y + 1.0)
    assert isinstance(f(2.0, 3), np.ndarray) and f(2.0, 3) == 7.0
    assert f(x=np.float64(2.0), y=np.array(3.0)) == 7.0


@pytest.mark.parametrize("call,message", [
    (lambda f, d: f(d["x"], d["w"], d["b"]), r"missing input 't': a float32 array of shape "
                                              r"\(8, 3\)"),
    (lambda f, d: f(**d, z=1.0), r"has no input 'z' \(inputs: x, w, b, t\)"),
    (lambda f, d: f(d["x"], **d), "given twice"),
    (lambda f, d: f(*d.values(), d["t"]), "takes 4 inputs"),
    (lambda f, d: f(**{**d, "x": d["x"].astype(np.float64)}),
     r"input 'x' expects a float32 array of shape \(8, 5\), got a float64 array.*astype"),
    (lambda f, d: f(**{**d, "w": d["w"][:4]}),
     r"^input 'w' expects a float32 array of shape \(5, 3\), got shape \(4, 3\); the graph "
     r"cannot run at batch size 4 \(declared 5\): matmul\(a \[8,5\], b \[B,3\]\) holds only"),
    (lambda f, d: f(**{**d, "x": d["x"][:4], "t": d["t"][:5]}),
     r"^input 'x' expects a float32 array of shape \(8, 5\), got shape \(4, 5\); the batch "
     r"changes from 8 to 4 here but input 't' changes from 8 to 5"),
    (lambda f, d: f(**{**d, "b": "three"}), r"input 'b' expects .*got a str"),
    (lambda f, d: f(**{**d, "b": None}), "got a NoneType"),
])
def test_bad_arguments_raise_before_native_code_runs(mlp, call, message):
    _, f = mlp
    with pytest.raises(gn.InputError, match=message):
        call(f, _feed(8, np.random.default_rng(1)))


def test_non_contiguous_arrays_are_copied(mlp):
    outputs, f = mlp
    feed = _feed(8, np.random.default_rng(2))
    x_fortran = np.asfortranarray(feed["x"])
    w_strided = np.repeat(feed["w"], 2, axis=1)[:, ::2]
    assert not w_strided.flags.c_contiguous
    _close(f(**{**feed, "x": x_fortran, "w": w_strided}), gn.evaluate(outputs, feed))


def test_results_belong_to_the_caller():
    x = gn.input("x", shape=(3,))
    f = compile([x * 2.0, x, x * 2.0, gn.constant(np.ones(3))])
    value = np.array([1.0, 2.0, 3.0])
    doubled, same, doubled_again, ones = f(value)
    assert same is not value and np.array_equal(same, value)
    assert doubled is not doubled_again and np.array_equal(doubled, doubled_again)
    ones[0] = 5.0
    assert f(value)[3][0] == 1.0


def test_out_arrays_are_filled_and_returned():
    x = gn.input("x", shape=(4,))
    f = compile([gn.exp(x), x, gn.sum(x)])
    out = [np.empty(4), np.empty(4), np.empty(())]
    value = np.arange(4.0)
    results = f(value, out=out)
    assert all(r is o for r, o in zip(results, out))
    np.testing.assert_allclose(out[0], np.exp(value))
    assert np.array_equal(out[1], value) and out[2] == 6.0


@pytest.mark.parametrize("bad,message", [
    ([np.empty(4)], "out= needs 3 arrays"),
    ([np.empty(4, np.float32), np.empty(4), np.empty(())],
     r"out\[0\] \(the exp output\) must be a writable"),
    ([np.empty(5), np.empty(4), np.empty(())], r"out\[0\].*shape \(4,\), got a float64 array "
                                                r"of shape \(5,\)"),
    ([np.empty(8)[::2], np.empty(4), np.empty(())], "non-contiguous"),
])
def test_bad_out_arrays(bad, message):
    x = gn.input("x", shape=(4,))
    f = compile([gn.exp(x), x, gn.sum(x)])
    with pytest.raises(gn.InputError, match=message):
        f(np.zeros(4), out=bad)


def _misaligned(shape):
    """A C-contiguous float64 array whose data starts one byte past an aligned address."""
    raw = np.zeros(int(np.prod(shape)) * 8 + 1, np.uint8)
    array = raw[1:].view(np.float64).reshape(shape)
    assert array.flags.c_contiguous and not array.flags.aligned
    return array


def test_an_out_array_may_be_an_input_updated_in_place():
    x, y = gn.input("x", shape=(4,)), gn.input("y", shape=(4,))
    f = compile([gn.exp(x) + y, x * y])
    xs, ys = np.arange(4.0), np.full(4, 2.0)
    want = [np.exp(xs) + ys, xs * ys]
    second = np.empty(4)
    results = f(xs, ys, out=[xs, second])   # out[1] reads x, which out[0] overwrites
    assert results[0] is xs and results[1] is second
    np.testing.assert_allclose(xs, want[0], rtol=1e-15)
    np.testing.assert_allclose(second, want[1], rtol=1e-15)


def test_overlapping_or_misaligned_out_arrays_are_refused_by_name():
    x = gn.input("x", shape=(4,))
    f = compile([gn.exp(x), x * 2.0])
    both = np.empty(4)
    with pytest.raises(gn.InputError, match=r"out\[1\] \(the mul output\) overlaps out\[0\] "
                                            r"\(the exp output\)"):
        f(np.zeros(4), out=[both, both])
    with pytest.raises(gn.InputError, match=r"out\[0\] .*aligned.*got a misaligned float64"):
        f(np.zeros(4), out=[_misaligned((4,)), np.empty(4)])


def test_misaligned_inputs_are_copied():
    x = gn.input("x", shape=(3, 2))
    f = compile(gn.exp(x) * x)
    value = _misaligned((3, 2))
    value[...] = np.arange(6.0).reshape(3, 2)
    np.testing.assert_allclose(f(value), np.exp(value) * value, rtol=1e-15)
    np.testing.assert_allclose(f(x=value), np.exp(value) * value, rtol=1e-15)


def test_other_batch_sizes_specialize(mlp):
    outputs, f = mlp
    rng = np.random.default_rng(3)
    for batch in (8, 3, 17, 3):
        feed = _feed(batch, rng)
        x = gn.input("x", shape=(batch, 5), dtype="float32")
        t = gn.input("t", shape=(batch, 3), dtype="float32")
        w = gn.input("w", shape=(5, 3), dtype="float32")
        b = gn.input("b", shape=(3,), dtype="float32")
        loss = gn.softmax_cross_entropy(gn.relu(x @ w + b), t)    # the graph built at batch
        _close(f(**feed), gn.evaluate([loss, *gn.grad(loss, [w, b])], feed))
    assert len(f._specializations) == 3


def test_batch_reshapes_are_rescaled():
    x = gn.input("images", shape=(4, 16))
    w = gn.input("kernel", shape=(2, 1, 3, 3))
    y = gn.sum(gn.conv2d(gn.reshape(x, (4, 1, 4, 4)), w, padding=1) ** 2.0)
    f = compile([y, gn.grad(y, w)])
    rng = np.random.default_rng(4)
    images, kernel = rng.normal(size=(6, 16)), rng.normal(size=(2, 1, 3, 3))
    xb = gn.input("images", shape=(6, 16))
    yb = gn.sum(gn.conv2d(gn.reshape(xb, (6, 1, 4, 4)), w, padding=1) ** 2.0)
    want = gn.evaluate([yb, gn.grad(yb, w)], {"images": images, "kernel": kernel})
    for g, v in zip(f(images, kernel), want):
        np.testing.assert_allclose(g, v, rtol=1e-12)


def test_a_batch_that_cannot_fit_is_a_clear_error():
    x = gn.input("x", shape=(4, 3))
    f = compile(gn.sum(x * np.ones((4, 3))))        # a constant with the batch baked in
    with pytest.raises(gn.InputError, match=r"^input 'x' expects a float64 array of shape "
                                            r"\(4, 3\), got shape \(5, 3\); the graph cannot run "
                                            r"at batch size 5 \(declared 4\): mul\(x \[B,3\], y "
                                            r"\[4,3\]\) holds only at B = 4"):
        f(np.ones((5, 3)))


def test_two_threads_calling_one_function():
    x = gn.input("x", shape=(200_000,), dtype="float32")
    f = compile([gn.sum(gn.tanh(x)), gn.grad(gn.sum(gn.tanh(x)), x)])
    rng = np.random.default_rng(5)
    values = [rng.normal(size=200_000).astype(np.float32) for _ in range(2)]
    expected = [f(v) for v in values]
    failures = []

    def work(k):
        for _ in range(20):
            got = f(values[k])
            if not all(np.array_equal(a, b) for a, b in zip(got, expected[k])):
                failures.append(k)
    run_in_threads(work)
    assert not failures


def test_thread_counts_give_the_same_result():
    x = gn.input("x", shape=(300_000,))
    y = gn.sigmoid(x) * gn.maximum(x, 0.0)
    value = np.random.default_rng(6).normal(size=300_000)
    one = compile(y, threads=1)(value)
    assert np.array_equal(one, compile(y)(value))
    assert np.array_equal(one, compile(y)(value, threads=2))


def test_every_gemm_mode_agrees():
    a = gn.input("a", shape=(2, 7, 5))
    b = gn.input("b", shape=(5, 4))
    y = gn.sum(gn.tanh(a @ b))
    outputs = [y, *gn.grad(y, [a, b])]
    rng = np.random.default_rng(7)
    feed = {"a": rng.normal(size=(2, 7, 5)), "b": rng.normal(size=(5, 4))}
    want = gn.evaluate(outputs, feed)
    for gemm in ("auto", "blas", "native", "loops"):
        for g, v in zip(compile(outputs, gemm=gemm)(**feed), want):
            np.testing.assert_allclose(g, v, rtol=1e-12, atol=1e-13)


def test_introspection_shows_every_stage():
    x = gn.input("x", shape=(1000,), dtype="float32")
    f = compile(gn.sigmoid(x))
    assert "for i in 0..1000" in f.loop_ir and "exp(" in f.loop_ir
    # vectorized at whatever width this CPU has (AVX2: 8 floats, AVX-512: 16)
    assert "define" in f.llvm_ir and re.search(r"<\d+ x float>", f.optimized_llvm_ir)
    assert "kernel.f:" in f.assembly
    assert "x" in repr(f)


def test_a_corrupted_cache_entry_is_rebuilt(tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHNN_CACHE_DIR", str(tmp_path))
    x = gn.input("x", shape=(5,))
    y = gn.tanh(x) * 3.0 + 0.125          # a kernel no other test compiles
    value = np.linspace(-2, 2, 5)
    expected = np.tanh(value) * 3.0 + 0.125
    np.testing.assert_allclose(compile(y)(value), expected, rtol=1e-14)
    entries = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert entries, "the compiled kernel was not cached"
    for entry in entries:
        data = entry.read_bytes()
        entry.write_bytes(data[: len(data) // 2] + b"\x00garbage")
    np.testing.assert_allclose(compile(y)(value), expected, rtol=1e-14)
    for entry in [p for p in tmp_path.rglob("*") if p.is_file()]:
        entry.write_bytes(b"")                 # truncated to nothing
    np.testing.assert_allclose(compile(y)(value), expected, rtol=1e-14)


def test_unknown_gemm_mode_is_an_error():
    with pytest.raises(gn.OpError, match="gemm must be one of auto, blas, native, loops"):
        compile(gn.input("x") * 2.0, gemm="fast")


def test_rebatching_leaves_reshapes_of_unbatched_inputs_alone():
    # the bias is reshaped to (16, 1, 1): 16 is a multiple of the batch 8, which must not matter
    x = gn.input("x", shape=(8, 16, 4, 4))
    b = gn.input("b", shape=(16,))
    y = gn.sum(gn.tanh(x + gn.reshape(b, (16, 1, 1))))
    outputs = [y, gn.grad(y, b)]
    f = compile(outputs, [x, b])
    rng = np.random.default_rng(8)
    xv, bv = rng.normal(size=(5, 16, 4, 4)), rng.normal(size=16)
    x5 = gn.input("x", shape=(5, 16, 4, 4))
    y5 = gn.sum(gn.tanh(x5 + gn.reshape(b, (16, 1, 1))))
    for got, want in zip(f(xv, bv), gn.evaluate([y5, gn.grad(y5, b)], {"x": xv, "b": bv})):
        np.testing.assert_allclose(got, want, rtol=1e-12)
