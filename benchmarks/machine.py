"""The machine a benchmark runs on, and the kernels graphnn chooses for it: the header of every
result table, and `python -m benchmarks --env`.

Everything is read from this host at run time (the CPU model from /proc/cpuinfo, the caches
from sysfs through codegen.cpu_caches, the instruction set and vector width from LLVM through
codegen.llvm.target, BLAS from threadpoolctl or NumPy's build configuration) and graphnn's
choices from the functions that make them (codegen.native.gemm.blocking for the GEMM tiles, a
compiled elementwise loop's own assembly for its vector registers): nothing here restates a
choice.
"""

from __future__ import annotations

import importlib
import os
import platform
from dataclasses import dataclass
from pathlib import Path

from codegen.cpu_caches import Cache, CacheSizes, caches, sizes_of
from codegen.llvm.target import X86_LEVELS, Target
from codegen.native import gemm
from codegen.native.runtime import available_cores

PEERS = ("numpy", "scipy", "torch", "jax", "onnxruntime", "llvmlite")


def cpu_model() -> str:
    """The CPU's marketing name ("AMD EPYC 9B45"), or the platform's processor string."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def isa_level(target: Target) -> str:
    """The highest x86-64 psABI level whose features the target has ("x86-64-v4" with
    AVX-512), or "below x86-64-v2" (another machine kind: its LLVM CPU name says more)."""
    enabled = target.enabled
    found = [name for name, features in X86_LEVELS.items() if set(features) <= enabled]
    return found[-1] if found else "below x86-64-v2"


def blas() -> list[str]:
    """Each BLAS library loaded in this process: name, version, kernel family, threads."""
    try:
        import threadpoolctl
    except ImportError:
        import numpy as np
        config = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return [f"NumPy's {config.get('name')} {config.get('version')} (threads unknown: "
                "pip install threadpoolctl)"]
    import scipy.linalg.cython_blas  # noqa: F401  (graphnn's BLAS: load it to see it)
    return [f"{_owner(pool['filepath'])}'s {pool['internal_api']} {pool['version']}, "
            f"{pool.get('architecture', '?')} kernels, {pool['num_threads']} threads"
            for pool in threadpoolctl.threadpool_info() if pool["user_api"] == "blas"]


def _owner(library: str) -> str:
    """Which package bundles a library: its folder's name ("scipy.libs" is SciPy's; graphnn's
    gemm="blas" and "auto" call SciPy's)."""
    folder = Path(library).parent.name
    return folder.removesuffix(".libs") if folder.endswith(".libs") else library


def versions() -> dict[str, str]:
    """Python's version and each installed peer's (those not installed are left out)."""
    found = {"python": platform.python_version()}
    for name in PEERS:
        try:
            found[name] = importlib.import_module(name).__version__
        except ImportError:
            continue
    return found


def chosen_cpu() -> str:
    """The CPU graphnn generates code for in this run: BENCH_CPU (`--cpu`), else the host."""
    return os.environ.get("BENCH_CPU") or "host"


def loop_vector_bits() -> int:
    """The widest vector registers graphnn's compiled elementwise loops use here, read from a
    compiled loop's assembly (zmm 512, ymm 256, xmm 128 bits)."""
    import graphnn as gn
    x = gn.input("x", shape=(4096,), dtype="float32")
    assembly = gn.compile(gn.sigmoid(x * 1.5 + 0.25), cpu=chosen_cpu()).assembly
    for register, bits in (("%zmm", 512), ("%ymm", 256), ("%xmm", 128)):
        if register in assembly:
            return bits
    return 0


@dataclass(frozen=True)
class Machine:
    """This machine and graphnn's choices for it (see the module docstring)."""

    model: str
    llvm_cpu: str
    level: str
    vector_bits: int
    caches: tuple[Cache, ...]
    cores: int
    blas: tuple[str, ...]
    versions: tuple[tuple[str, str], ...]
    loop_bits: int

    @property
    def sizes(self) -> CacheSizes:
        """The cache sizes graphnn's GEMM blocks for on this machine (codegen.jit does the
        same from the same sysfs files)."""
        return sizes_of(list(self.caches))

    @classmethod
    def here(cls) -> Machine:
        target = Target.named(chosen_cpu())
        return cls(cpu_model(), target.cpu, isa_level(target), target.vector_bits,
                   tuple(caches()), available_cores(), tuple(blas()),
                   tuple(versions().items()), loop_vector_bits())

    def lines(self) -> list[str]:
        """The header: one "# key: value" line per fact."""
        cache_text = ", ".join(
            f"L{c.level}{c.kind[0].lower() if c.kind != 'Unified' else ''} "
            f"{_size(c.size)}" + (f" (shared by {c.shared_by})" if c.shared_by > 1 else "")
            for c in self.caches)
        tiles = []
        for dtype in ("f32", "f64"):
            b = gemm.blocking(dtype, self.vector_bits, self.sizes)
            tiles.append(f"{dtype} {b.mr}x{b.nr} micro-tile ({b.mr}x{b.nv} vectors of "
                         f"{b.vector}), kc {b.kc}, mc {b.mc}, nc {b.nc}")
        lanes = f"{self.loop_bits // 32} float32 / {self.loop_bits // 64} float64 lanes"
        return [
            f"# cpu: {self.model} (LLVM {self.llvm_cpu}), {self.level}, "
            f"{self.vector_bits}-bit vectors, {self.cores} cores available" +
            ("" if chosen_cpu() == "host" else f" (graphnn's code for {chosen_cpu()}: --cpu)"),
            f"# caches: {cache_text or 'unknown'}",
            *[f"# blas: {line}" for line in self.blas or ("none loaded",)],
            "# versions: " + ", ".join(f"{name} {version}" for name, version in self.versions),
            f"# graphnn gemm: {'; '.join(tiles)}",
            f"# graphnn loops: {self.loop_bits}-bit vectors ({lanes}); parallel loops and "
            f"graphnn's GEMM on up to {self.cores} threads",
            f"# host: {platform.node()}, load average {os.getloadavg()[0]:.2f}",
        ]


def _size(size: int) -> str:
    for suffix, unit in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= unit and size % unit == 0:
            return f"{size // unit} {suffix}"
    return f"{size} B"
