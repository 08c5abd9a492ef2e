"""Golden files: loop IR text and unoptimized LLVM IR of representative kernels.

Both are builder output, so LLVM's optimizer cannot change them; a diff here means the loop IR
printer or the emitter changed. Regenerate with ``pytest --update-golden`` (or
``GRAPHNN_UPDATE_GOLDEN=1``) and review the diff.
"""

from __future__ import annotations

import pytest

from codegen import loops
from codegen.llvm.module import build_module


def parallel_sigmoid() -> loops.Kernel:
    x, out = loops.Buffer("x", "f64", (100_000,)), loops.Buffer("out", "f64", (100_000,))
    body = loops.loop(100_000, lambda i: loops.store(out, i, 1.0 / (1.0 + loops.exp(-x[i]))),
                      parallel=True)
    return loops.Kernel("sigmoid", [x], [out], body=[body])


def softmax() -> loops.Kernel:
    x, out = loops.Buffer("x", "f32", (4, 10)), loops.Buffer("out", "f32", (4, 10))
    top, total = loops.Buffer("top", "f32", (4,)), loops.Buffer("total", "f32", (4,))
    return loops.Kernel("softmax", [x], [out], [top, total], [
        loops.loop(4, lambda i: [
            loops.store(top, i, loops.reduce_max(10, lambda k: x[i, k])),
            loops.store(total, i, loops.reduce_sum(10, lambda k: loops.exp(x[i, k] - top[i])))]),
        loops.loop_nest((4, 10), lambda i, j: loops.store(
            out, (i, j), loops.exp(x[i, j] - top[i]) / total[i])),
    ])


def batched_matmul() -> loops.Kernel:
    a, b = loops.Buffer("a", "f32", (2, 3, 4)), loops.Buffer("b", "f32", (2, 4, 5))
    c = loops.Buffer("c", "f32", (2, 3, 5))
    body = loops.loop(2, lambda q: loops.Gemm(c, a, b, 3, 5, 4, trans_b=False, a_offset=q * 12,
                                              b_offset=q * 20, c_offset=q * 15), name="q")
    return loops.Kernel("bmm", [a, b], [c], body=[body])


def pool_gradient() -> loops.Kernel:
    g, mask = loops.Buffer("g", "f64", (2, 2)), loops.Buffer("x", "f64", (3, 3))
    grad = loops.Buffer("grad", "f64", (3, 3))
    return loops.Kernel("pool_grad", [g, mask], [grad], body=[
        loops.loop(9, lambda i: loops.store(grad, (i // 3, i % 3), 0.0)),
        loops.loop_nest((2, 2, 2, 2), lambda i, j, k, l: loops.accumulate(
            grad, (i + k, j + l), loops.select(loops.eq(mask[i + k, j + l], loops.reduce_max(
                4, lambda r: mask[i + r // 2, j + r % 2])), g[i, j], 0.0))),
    ])


KERNELS = {"sigmoid": parallel_sigmoid, "softmax": softmax, "bmm": batched_matmul,
           "pool_grad": pool_gradient}


@pytest.mark.parametrize("name", sorted(KERNELS))
def test_loop_ir_and_llvm_ir_match_golden(name, codegen_golden):
    kernel = KERNELS[name]()
    codegen_golden(f"{name}.loops", str(kernel) + "\n")
    codegen_golden(f"{name}.ll", str(build_module(kernel).module))
    if name == "bmm":
        codegen_golden(f"{name}_loops.ll", str(build_module(kernel, gemm="loops").module))
