"""Helpers shared by the codegen tests: building one-loop kernels and compiling them once."""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

from codegen import loops
from codegen.jit import CompiledKernel, compile_kernel
from codegen.llvm.target import Target

NUMPY = {"f32": np.float32, "f64": np.float64, "i64": np.int64}


def elementwise(name: str, dtype: str, n: int, arity: int,
                body: Callable[..., loops.Expr], out_dtype: str | None = None) -> loops.Kernel:
    """out[i] = body(x0[i], x1[i], ...) over n elements."""
    inputs = [loops.Buffer(f"x{p}", dtype, (n,)) for p in range(arity)]
    out = loops.Buffer("out", out_dtype or dtype, (n,))
    stmt = loops.loop(n, lambda i: loops.store(out, i, body(*(x[i] for x in inputs))))
    return loops.Kernel(name, inputs, [out], body=[stmt])


@functools.cache
def compiled(kernel: loops.Kernel, blas: bool = True, cpu: str = "host") -> CompiledKernel:
    """The kernel compiled (once per session) for `cpu`, "host" or an x86-64 level."""
    return compile_kernel(kernel, blas=blas, target=Target.named(cpu))


@functools.cache
def unary_kernel(op: str, dtype: str, n: int) -> loops.Kernel:
    """out[i] = loops.<op>(x0[i]) over n elements (the math function tests)."""
    return elementwise(f"{op}_{dtype}", dtype, n, 1, getattr(loops, op))


def assert_same_values(got: np.ndarray, expected: np.ndarray) -> None:
    """Equal values (NaN where NaN) with the same signs of zeros; a NaN's sign bit means
    nothing."""
    np.testing.assert_array_equal(got, expected)
    number = ~np.isnan(expected)
    np.testing.assert_array_equal(np.signbit(got[number]), np.signbit(expected[number]))
