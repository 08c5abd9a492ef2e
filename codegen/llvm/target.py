"""Code generation targets: the CPU that native code is generated for, as an explicit value.

Input: "host" (this CPU) or an x86-64 microarchitecture level. Output: a `Target`, a frozen,
hashable pair of an LLVM CPU name and an LLVM feature string. codegen.jit generates code for
the target it is given (target machine, GEMM tile sizes, cache keys), so a kernel can be built
for AVX2 on an AVX-512 machine, and refuses to load code this CPU cannot run.

The levels are the x86-64 psABI's, which LLVM also knows as CPU names:

| level       | adds                                                          | vectors |
|-------------|---------------------------------------------------------------|---------|
| x86-64-v2   | SSE3, SSSE3, SSE4.1, SSE4.2, POPCNT, CMPXCHG16B, LAHF/SAHF     | 128 bit |
| x86-64-v3   | AVX, AVX2, FMA, BMI1, BMI2, F16C, LZCNT, MOVBE, XSAVE          | 256 bit |
| x86-64-v4   | AVX-512 F, BW, CD, DQ, VL                                      | 512 bit |

>>> v3 = Target.named("x86-64-v3")
>>> v3.cpu, v3.vector_bits, "+fma" in v3.features.split(",")
('x86-64-v3', 256, True)
>>> Target.named("host") == Target.host()
True
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import llvmlite.binding as llvm

_BASELINE = ("cmov", "cx8", "fxsr", "mmx", "sse", "sse2")         # every x86-64 CPU
_V2 = _BASELINE + ("crc32", "cx16", "popcnt", "sahf", "sse3", "sse4.1", "sse4.2", "ssse3")
_V3 = _V2 + ("avx", "avx2", "bmi", "bmi2", "f16c", "fma", "lzcnt", "movbe", "xsave")
_V4 = _V3 + ("avx512bw", "avx512cd", "avx512dq", "avx512f", "avx512vl")
X86_LEVELS: dict[str, tuple[str, ...]] = {"x86-64-v2": _V2, "x86-64-v3": _V3, "x86-64-v4": _V4}


class UnsupportedTarget(ValueError):
    """A target this CPU cannot run, or a name that is no target."""


@dataclass(frozen=True)
class Target:
    """What native code is generated for: ``cpu``, an LLVM CPU name ("znver3", "x86-64-v3"),
    and ``features``, LLVM's comma-separated feature switches ("+avx2,+fma,-prefer-256-bit").
    Both are part of every cache key. Make one with ``Target.host()`` or ``Target.named()``."""

    cpu: str
    features: str = ""

    @classmethod
    def host(cls) -> Target:
        """This CPU, with every feature it has."""
        return _host()

    @classmethod
    def named(cls, name: str) -> Target:
        """"host", or one of the x86-64 levels ``X86_LEVELS``, for any CPU that has them."""
        if isinstance(name, str) and name == "host":
            return _host()
        if not isinstance(name, str) or name not in X86_LEVELS:
            choices = ", ".join(repr(n) for n in ["host", *X86_LEVELS])
            raise UnsupportedTarget(f"cpu must be one of {choices} or a Target, got {name!r}")
        return cls(name, _tuned(",".join(f"+{f}" for f in X86_LEVELS[name])))

    @property
    def enabled(self) -> frozenset[str]:
        """The features code for this target may use: the level's, then the switches."""
        found = set(X86_LEVELS.get(self.cpu, ()))
        for switch in filter(None, self.features.split(",")):
            (found.add if switch[0] == "+" else found.discard)(switch[1:])
        return frozenset(found)

    @property
    def vector_bits(self) -> int:
        """The widest vector registers the target offers (what our GEMM is generated for)."""
        enabled = self.enabled
        return 512 if "avx512f" in enabled else 256 if "avx" in enabled else 128

    def unsupported(self) -> str | None:
        """Why this CPU cannot run code built for the target, or None when it can."""
        host, present = _host(), _host_features()
        if self.cpu not in X86_LEVELS and self.cpu != host.cpu:
            return (f"cannot tell whether this CPU ({host.cpu}) runs code for the CPU "
                    f"{self.cpu!r}: use 'host' or one of {', '.join(X86_LEVELS)}")
        # names LLVM does not report for this CPU are tuning switches, not instructions
        missing = sorted(f for f in self.enabled if f in present and not present[f])
        if missing:
            return (f"this CPU ({host.cpu}) cannot run code for {self.cpu}: it lacks "
                    f"{', '.join(missing)}")
        return None

    def check_runs_here(self) -> None:
        """Raise ``UnsupportedTarget`` unless this CPU can run code built for the target."""
        reason = self.unsupported()
        if reason is not None:
            raise UnsupportedTarget(reason)


def _tuned(features: str) -> str:
    if "+avx512f" in features.split(","):
        # LLVM tunes many AVX-512 CPUs to prefer 256-bit vectors; full-width zmm code measured
        # 1.4x faster on polynomial-heavy loops (sigmoid on 100k f32) on this project's machines.
        features += ",-prefer-256-bit"
    return features


@functools.cache
def _host() -> Target:
    llvm.initialize_native_target()
    return Target(llvm.get_host_cpu_name(), _tuned(llvm.get_host_cpu_features().flatten()))


@functools.cache
def _host_features() -> dict[str, bool]:
    """Every instruction-set feature LLVM knows for this CPU: whether it has it."""
    return dict(llvm.get_host_cpu_features())
