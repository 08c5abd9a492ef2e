"""An input matrix read as B by several products is packed once per call into a scratch
buffer that every one of them reads (graphnn/lower/gemm.py's pack_stage, Lowering.packed_input):
the layout is exactly codegen.native.gemm.pack_b's, an operand read once is not packed, and the
values equal the reference evaluation in every gemm mode."""

from __future__ import annotations

import numpy as np
import pytest

import graphnn as gn
from codegen import loops
from codegen.jit import compile_kernel
from codegen.native.gemm import pack_b
from codegen.stmts import packed_size
from graphnn.compiler import compile
from graphnn.lower.gemm import pack_stage

MODES = ("auto", "native", "blas", "loops")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("transposed", [False, True])
@pytest.mark.parametrize("k,n", [(300, 70), (64, 32), (5, 1), (7, 10)])
def test_pack_stage_writes_pack_b_layout(dtype, transposed, k, n):
    """Several depth blocks (k = 300 > 256), a ragged last panel (70 = 4 x 16 + 6 float32
    columns), whole panels of padding (10 columns padded to 32: float64 panels are 8 wide)
    and a transposed operand: the loops write what pack_b computes, padding zeros included."""
    name = loops.normalize_dtype(dtype)
    stored = (n, k) if transposed else (k, n)
    b = loops.Buffer("b", name, stored)
    packed = loops.Buffer("p", name, (packed_size(k, n),))
    kernel = loops.Kernel("pack", [b], [packed], body=pack_stage(packed, b, transposed, (k, n)))
    value = np.random.default_rng(1).normal(size=stored).astype(dtype)
    out = np.full(packed_size(k, n), np.nan, dtype)           # every element must be written
    compile_kernel(kernel).bind(value, out=(out,))()
    np.testing.assert_array_equal(out, pack_b(value.T if transposed else value, name))


def _gemms(f) -> list[loops.Gemm]:
    return [s for s in f.base.kernel.kernel.body if isinstance(s, loops.Gemm)]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype,rtol", [("float32", 2e-4), ("float64", 1e-12)])
def test_weight_read_by_several_products_is_packed_once(mode, dtype, rtol):
    """A recurrent weight's pattern: w read transposed by two products (one packing, shared)
    and as it is by one (no packing of its own in the kernel: our GEMM packs it per call)."""
    h, w = gn.input("h", (12, 300), dtype), gn.input("w", (70, 300), dtype)
    first = gn.tanh(h @ gn.transpose(w))                  # B = wᵀ
    second = gn.sin(first @ w)                            # B = w
    outputs = [second @ gn.transpose(w) + first]          # B = wᵀ again
    f = compile(outputs, [h, w], gemm=mode)
    shared = [g.packed_b for g in _gemms(f) if g.trans_b]
    assert len(shared) == 2 and shared[0] is not None and shared[0] == shared[1]
    assert [g.packed_b for g in _gemms(f) if not g.trans_b] == [None]
    rng = np.random.default_rng(0)
    feed = {"h": rng.normal(size=(12, 300)).astype(dtype),
            "w": rng.normal(size=(70, 300)).astype(dtype) / 10}
    for got, want in zip(f(**feed), gn.evaluate(outputs, feed), strict=True):
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol)
