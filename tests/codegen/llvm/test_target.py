"""Targets (codegen.llvm.target): named levels, equality and hashing, the refusal of code this
CPU cannot run before any of it runs, one cache entry per target, and the instructions a forced
target may use (a property of the target asked for, never of the machine running the test)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from codegen import loops
from codegen.jit import compile_kernel
from codegen.llvm.target import X86_LEVELS, Target, UnsupportedTarget
from tests.codegen.support import elementwise
from tests.harness import absent_cpu_feature, cpu_levels, run_docstring_examples

VECTOR_REGISTERS = re.compile(r"%([xyz])mm\d+")


def sigmoid(n: int) -> loops.Kernel:
    return elementwise(f"sigmoid{n}", "f32", n, 1, lambda x: 1.0 / (1.0 + loops.exp(-x)))


def test_levels_build_on_each_other():
    v2, v3, v4 = (Target.named(name) for name in X86_LEVELS)
    assert v2.enabled < v3.enabled < v4.enabled
    assert {"avx2", "fma"} <= v3.enabled and "avx512f" not in v3.enabled
    assert (v2.vector_bits, v3.vector_bits, v4.vector_bits) == (128, 256, 512)
    assert v4.cpu == "x86-64-v4" and "+avx512vl" in v4.features.split(",")


def test_targets_are_values():
    assert Target.named("x86-64-v3") == Target.named("x86-64-v3")
    assert len({Target.named("x86-64-v3"), Target.named("x86-64-v3"), Target.host()}) == 2
    assert Target.named("host") == Target.host()
    with pytest.raises(AttributeError):
        Target.host().cpu = "other"                         # frozen


def test_switches_apply_after_the_level():
    narrowed = Target("x86-64-v4", "-avx512f")
    assert "avx512f" not in narrowed.enabled and narrowed.vector_bits == 256


@pytest.mark.parametrize("name", ["x86-64-v9", "avx2", "", None, 3])
def test_an_unknown_name_lists_the_choices(name):
    with pytest.raises(UnsupportedTarget, match="'host', 'x86-64-v2', 'x86-64-v3', 'x86-64-v4'"):
        Target.named(name)


def test_the_host_runs_its_own_code():
    assert Target.host().unsupported() is None


def test_a_target_this_cpu_cannot_run_is_refused_before_compiling(tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHNN_CACHE_DIR", str(tmp_path))
    feature = absent_cpu_feature()
    beyond = Target(Target.host().cpu, f"+{feature}")
    assert feature in beyond.unsupported()
    with pytest.raises(UnsupportedTarget, match=f"cannot run code for .*lacks {feature}"):
        compile_kernel(sigmoid(8), target=beyond)
    assert not list(tmp_path.rglob("*.o")), "something was compiled for it"


def test_a_cpu_name_that_cannot_be_checked_is_refused():
    other = next(cpu for cpu in ("znver3", "skylake") if cpu != Target.host().cpu)
    with pytest.raises(UnsupportedTarget, match=f"cannot tell .* '{other}'"):
        compile_kernel(sigmoid(8), target=Target(other, ""))


def test_each_target_has_its_own_cache_entry(tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHNN_CACHE_DIR", str(tmp_path))
    kernel = sigmoid(40)
    first = compile_kernel(kernel, target=Target.named("x86-64-v2"))
    assert not compile_kernel(kernel).from_cache                     # the host: another entry
    again = compile_kernel(kernel, target=Target.named("x86-64-v2"))
    assert again.from_cache and again.target == first.target == Target.named("x86-64-v2")
    x = np.linspace(-5, 5, 40, dtype=np.float32)
    np.testing.assert_allclose(again(x), 1 / (1 + np.exp(-x.astype(np.float64))), rtol=3e-7)


@pytest.mark.parametrize("cpu", cpu_levels())
def test_a_level_uses_only_its_own_vector_registers(cpu):
    # the forced target's property: an x86-64-v3 kernel has no zmm, even on an AVX-512 CPU
    compiled = compile_kernel(sigmoid(4096), target=Target.named(cpu))
    widest = {128: "x", 256: "y", 512: "z"}[Target.named(cpu).vector_bits]
    used = set(VECTOR_REGISTERS.findall(compiled.assembly))
    assert used <= set("xyz"[: "xyz".index(widest) + 1]), used
    x = np.linspace(-5, 5, 4096, dtype=np.float32)
    exact = 1 / (1 + np.exp(-x.astype(np.float64)))
    np.testing.assert_allclose(compiled(x), exact, rtol=3e-7)     # 2.5 float32 ulp


@pytest.mark.parametrize("module", ["codegen.llvm.target", "codegen.native.runtime"])
def test_docstring_examples(module):
    result = run_docstring_examples(module)
    assert result.failed == 0 and result.attempted > 0
