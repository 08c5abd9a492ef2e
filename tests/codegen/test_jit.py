"""The compiled-kernel interface: vectorization, checked calls, bound calls, introspection
and deterministic IR text (the disk cache: test_cache.py)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from codegen import loops
from tests.codegen.support import compiled, elementwise

ROOT = Path(__file__).parents[2]


def sigmoid(n: int = 1000, dtype: str = "f32") -> loops.Kernel:
    return elementwise("sigmoid", dtype, n, 1, lambda x: 1.0 / (1.0 + loops.exp(-x)))


def two_outputs() -> loops.Kernel:
    x, y = loops.Buffer("x", "f64", (3, 4)), loops.Buffer("y", "f64", (4,))
    s, p = loops.Buffer("s", "f64", (3, 4)), loops.Buffer("p", "f64", (3, 4))
    body = loops.loop_nest((3, 4), lambda i, j: [loops.store(s, (i, j), x[i, j] + y[j]),
                                                 loops.store(p, (i, j), x[i, j] * y[j])])
    return loops.Kernel("sum_product", [x, y], [s, p], body=[body])


def test_elementwise_kernels_vectorize():
    kernel = compiled(sigmoid(4096))
    # at this CPU's width, whatever it is (test_target.py checks each level's registers)
    assert re.search(r"<\d+ x float>", kernel.optimized_ir), "no float vectors in the IR"
    assert re.search(r"\bv?(mul|add|div)ps\s", kernel.assembly), "no packed arithmetic"
    assert "call float @expf" not in kernel.optimized_ir  # our polynomial, not libm


def test_reduction_sums_vectorize():
    x, out = loops.Buffer("x", "f64", (64, 512)), loops.Buffer("out", "f64", (64,))
    body = loops.loop(64, lambda i: loops.store(out, i, loops.reduce_sum(512, lambda k: x[i, k])))
    kernel = compiled(loops.Kernel("row_sums", [x], [out], body=[body]))
    assert re.search(r"fadd reassoc contract <\d+ x double>", kernel.optimized_ir)


def test_introspection_of_every_stage():
    kernel = compiled(sigmoid())
    assert kernel.loop_ir == str(kernel.kernel)
    assert kernel.loop_ir.startswith("kernel sigmoid(x0: f32[1000]) -> (out: f32[1000]) {")
    assert kernel.llvm_ir.startswith('; ModuleID = "sigmoid"')
    assert 'define i32 @"kernel.sigmoid"(ptr %"args")' in kernel.llvm_ir   # the status
    assert re.search(r"define (noundef )?i32 @kernel\.sigmoid\(ptr", kernel.optimized_ir)
    assert "kernel.sigmoid:" in kernel.assembly


def test_checked_call_allocates_and_accepts_outputs():
    kernel = compiled(two_outputs())
    x, y = np.arange(12.0).reshape(3, 4), np.arange(4.0)
    s, p = kernel(x, y)
    np.testing.assert_array_equal(s, x + y)
    np.testing.assert_array_equal(p, x * y)
    out = (np.empty((3, 4)), np.empty((3, 4)))
    assert kernel(x, y, out=out)[0] is out[0]
    np.testing.assert_array_equal(out[1], x * y)


BAD_CALLS = [
    ("wrong dtype", lambda x, y: (x.astype(np.float32), y), {}, TypeError,
     r"input 'x' expects a C-contiguous f64\[3, 4\] \(float64\) array, got dtype <f4"),
    ("wrong shape", lambda x, y: (x, y[:3]), {}, ValueError,
     r"input 'y' expects a C-contiguous f64\[4\] \(float64\) array, got shape \[3\]"),
    ("not contiguous", lambda x, y: (np.asfortranarray(x), y), {}, ValueError,
     r"input 'x' .* non-contiguous"),
    ("not an array", lambda x, y: (x.tolist(), y), {}, TypeError, r"input 'x' .* got list"),
    ("byte order", lambda x, y: (x.astype(">f8"), y), {}, TypeError, r"got dtype >f8"),
    ("input count", lambda x, y: (x,), {}, TypeError, r"takes 2 inputs \(x, y\), got 1"),
]


@pytest.mark.parametrize("case", BAD_CALLS, ids=[c[0] for c in BAD_CALLS])
def test_checked_call_names_the_buffer_and_expectation(case):
    _, arguments, keywords, error, message = case
    kernel = compiled(two_outputs())
    with pytest.raises(error, match=message):
        kernel(*arguments(np.zeros((3, 4)), np.zeros(4)), **keywords)


def test_outputs_must_be_writable_and_must_not_alias():
    kernel = compiled(two_outputs())
    x, y = np.zeros((3, 4)), np.zeros(4)
    frozen = np.zeros((3, 4))
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="output 's' .* read-only"):
        kernel(x, y, out=(frozen, np.zeros((3, 4))))
    with pytest.raises(ValueError, match="output 's' overlaps input 'x'"):
        kernel(x, y, out=(x, np.zeros((3, 4))))
    shared = np.zeros((3, 4))
    with pytest.raises(ValueError, match="output 'p' overlaps output 's'"):
        kernel(x, y, out=(shared, shared))
    with pytest.raises(TypeError, match="has 2 outputs"):
        kernel(x, y, out=np.zeros((3, 4)))


def test_bound_call_reuses_arrays_in_place():
    kernel = compiled(two_outputs())
    x, y = np.ones((3, 4)), np.arange(4.0)
    bound = kernel.bind(x, y)
    s, _ = bound()
    np.testing.assert_array_equal(s, x + y)
    x[...] = 5.0  # refill the bound input; the next call sees it
    s, p = bound()
    np.testing.assert_array_equal(s, x + y)
    np.testing.assert_array_equal(p, x * y)
    with pytest.raises(TypeError):
        kernel.bind(x.astype(np.float32), y)


def test_ir_text_is_the_same_in_another_process():
    script = ("from tests.codegen.test_jit import two_outputs\n"
              "from codegen.llvm.module import build_module\n"
              "print(str(build_module(two_outputs()).module), end='')\n")
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    text = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, check=True,
                          capture_output=True, text=True).stdout
    assert text == compiled(two_outputs()).llvm_ir


def test_equal_subexpressions_are_emitted_once_per_loop_body():
    x, out = loops.Buffer("x", "f64", (8,)), loops.Buffer("out", "f64", (8,))
    body = loops.loop(8, lambda i: loops.store(
        out, i, loops.exp(x[i] * 2.0) / (1.0 + loops.exp(x[i] * 2.0))))
    kernel = compiled(loops.Kernel("shared", [x], [out], body=[body]))
    body_ir = kernel.llvm_ir.split('@"shared.body"')[1].split("define ")[0]
    assert body_ir.count('call double @"exp.f64"') == 1
    assert body_ir.count("fmul double") == 1  # x[i] * 2.0, once
    assert body_ir.count("load double") == 1
    values = np.linspace(-2, 2, 8)
    np.testing.assert_allclose(kernel(values), np.exp(2 * values) / (1 + np.exp(2 * values)),
                               rtol=1e-14)
