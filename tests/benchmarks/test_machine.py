"""The machine header of every benchmark table (`python -m benchmarks --env`): read from the
host, graphnn's choices from the functions that make them. No assertion names a vector width,
a cache size or a core count of this machine: they are compared with their sources."""

from __future__ import annotations

import pytest

from benchmarks import __main__ as runner
from benchmarks import machine
from codegen.cpu_caches import PORTABLE, host_sizes
from codegen.llvm.target import X86_LEVELS, Target
from codegen.native import gemm
from codegen.native.runtime import available_cores


@pytest.mark.parametrize("level", list(X86_LEVELS))
def test_the_isa_level_of_a_forced_target_is_that_level(level):
    assert machine.isa_level(Target.named(level)) == level


def test_the_host_level_is_one_its_features_allow():
    level = machine.isa_level(Target.host())
    assert level in X86_LEVELS or level == "below x86-64-v2"
    if level in X86_LEVELS:
        assert set(X86_LEVELS[level]) <= Target.host().enabled


def test_the_header_states_graphnns_choices_for_the_vector_width():
    for bits in (256, 512):
        fake = machine.Machine("Some CPU", "x", "x86-64-v3", bits, (), 3, ("blas",),
                               (("numpy", "9"),), bits)
        text = "\n".join(fake.lines())
        tile = gemm.blocking("f32", bits, fake.sizes)
        assert f"f32 {tile.mr}x{tile.nr} micro-tile" in text and f"kc {tile.kc}" in text
        assert f"mc {tile.mc}" in text
        assert f"{bits}-bit vectors ({bits // 32} float32 / {bits // 64} float64 lanes)" in text
        assert "Some CPU" in text and "3 cores" in text and "numpy 9" in text
        assert all(line.startswith("# ") for line in fake.lines())


def test_a_machine_of_unknown_caches_blocks_for_portable_ones():
    fake = machine.Machine("Some CPU", "x", "x86-64-v3", 256, (), 3, (), (), 256)
    assert fake.sizes == PORTABLE


def test_the_host_machine_matches_its_sources():
    here = machine.Machine.here()
    assert here.sizes == host_sizes()       # what codegen.jit blocks our GEMM for
    target = Target.host()
    assert (here.llvm_cpu, here.vector_bits, here.cores) == (
        target.cpu, target.vector_bits, available_cores())
    assert here.loop_bits in (128, 256, 512) and here.loop_bits <= target.vector_bits
    assert dict(here.versions)["numpy"]


def test_env_prints_the_header_and_stops(capsys):
    assert runner.main(["--env"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("# cpu: ") and any(line.startswith("# graphnn gemm: ")
                                                  for line in lines)
    assert not any(line.startswith("workload") for line in lines)


def test_cpu_option_generates_code_for_that_level(capsys, monkeypatch):
    """`--cpu x86-64-v3`: the header reports the forced target's vector width and tiles and
    the loops' vectors in its code, and names the option (the CPU model line stays the
    host's). x86-64-v3 runs on every machine CI lands on (AVX2 and AVX-512)."""
    monkeypatch.delenv("BENCH_CPU", raising=False)
    assert runner.main(["--env", "--cpu", "x86-64-v3"]) == 0
    monkeypatch.delenv("BENCH_CPU")            # main set it for the workloads of the run
    text = capsys.readouterr().out
    forced = Target.named("x86-64-v3")
    tile = gemm.blocking("f32", forced.vector_bits, host_sizes())
    assert f"{forced.vector_bits}-bit vectors, " in text and "--cpu" in text
    assert f"f32 {tile.mr}x{tile.nr} micro-tile" in text
    assert f"# graphnn loops: {forced.vector_bits}-bit vectors" in text
