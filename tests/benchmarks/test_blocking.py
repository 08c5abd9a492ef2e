"""benchmarks/blocking.py: each product it times is our GEMM blocked for the stated caches and
checked against NumPy first; its table names the blocking each size gives. No timing is
asserted."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks import blocking as sweep
from codegen.cpu_caches import PORTABLE, CacheSizes
from codegen.llvm.target import Target
from codegen.native.gemm import blocking


@pytest.mark.parametrize("caches", [PORTABLE, CacheSizes(4 << 10, 32 << 10)])
def test_the_checked_product_is_the_product(caches):
    compiled, a, b = sweep.checked(37, 300, 70, caches, threads=2)
    np.testing.assert_allclose(compiled(a, b), a.astype(float) @ b, rtol=1e-4, atol=1e-3)


def test_a_wrong_product_fails_the_check(monkeypatch):
    wrong = sweep.product(5, 6, 7, PORTABLE, 1)
    monkeypatch.setattr(sweep, "product", lambda *args: lambda a, b: wrong(a, b) + 1)
    with pytest.raises(AssertionError):
        sweep.checked(5, 6, 7, PORTABLE, 1)


def test_the_table_names_each_blocking():
    small = CacheSizes(4 << 10, 32 << 10)
    lines = sweep.rows([PORTABLE, small], threads=1, budget=0.01, shapes=((8, 16, 8),))
    assert lines[0] == "caches | blocking | 8x16x8"
    for line, caches in zip(lines[1:], (PORTABLE, small)):
        block = blocking("f32", Target.host().vector_bits, caches)
        assert line.startswith(f"L1d {caches.l1_data >> 10} KiB, L2 {caches.l2 >> 10} KiB | "
                               f"kc {block.kc}, mc {block.mc} | ")
        assert float(line.rsplit("|", 1)[1]) > 0
