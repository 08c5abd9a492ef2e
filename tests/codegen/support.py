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
