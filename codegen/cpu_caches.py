"""The data caches of a CPU, as our GEMM's blocking needs them (codegen.native.gemm.blocking).

Input: this host's sysfs (``/sys/devices/system/cpu/cpu0/cache``), sysconf where sysfs has
none, or sizes the caller states. Output: `Cache` entries as the host reports them (level,
kind, size, how many CPUs share one: the benchmark header prints them) and `CacheSizes`, the
L1 data and L2 sizes the blocking is derived from.

Code compiled in this process for this process (codegen.jit) uses `host_sizes()`. Code that may
run elsewhere (codegen.aot's libraries) uses `PORTABLE`, sizes no x86-64 CPU of the last decade
falls below (32 KiB L1d, 256 KiB L2: Intel's Skylake clients). A size this module cannot read
is taken as `PORTABLE`'s, so an unreadable sysfs can only make the blocking more conservative.

>>> sizes = CacheSizes(l1_data=48 << 10, l2=1 << 20)
>>> sizes.l1_data // 1024, sizes.l2 // 1024
(48, 1024)
>>> PORTABLE
CacheSizes(l1_data=32768, l2=262144)
"""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass
from pathlib import Path

SYSFS = Path("/sys/devices/system/cpu/cpu0/cache")
_SIZE_SUFFIX = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


@dataclass(frozen=True)
class Cache:
    """One cache of cpu0 as the host reports it."""

    level: int
    kind: str          # "Data", "Instruction" or "Unified"
    size: int          # bytes
    shared_by: int     # CPUs sharing one instance (0: unknown)


@dataclass(frozen=True)
class CacheSizes:
    """The cache sizes, in bytes, that our GEMM's blocking follows: the L1 data cache
    (which holds the micro-kernel's B panel) and the L2 (which holds a work item's A block)."""

    l1_data: int
    l2: int

    def __post_init__(self) -> None:
        for name in ("l1_data", "l2"):
            value = getattr(self, name)
            if type(value) is not int or value <= 0:
                raise ValueError(f"CacheSizes: {name} must be a positive int of bytes, "
                                 f"got {value!r}")


PORTABLE = CacheSizes(l1_data=32 << 10, l2=256 << 10)


def caches(root: Path = SYSFS) -> list[Cache]:
    """cpu0's caches from sysfs (level, kind, size, how many CPUs share one), L1 first; from
    sysconf where sysfs has none."""
    found = []
    for index in sorted(root.glob("index[0-9]*")):
        try:
            level, kind, size, shared = (
                (index / name).read_text().strip()
                for name in ("level", "type", "size", "shared_cpu_list"))
        except OSError:
            continue
        found.append(Cache(int(level), kind, _bytes(size), _count(shared)))
    return found or _sysconf_caches()


def sizes_of(found: list[Cache]) -> CacheSizes:
    """The L1 data and L2 sizes among `found`, `PORTABLE`'s where one is missing. The size of one
    instance, not a share: sibling hyperthreads and the cores of a cluster share them, but
    graphnn's pool runs one thread per CPU it may use, and a work item's block is reread within
    microseconds, before a sibling's traffic evicts much of it."""
    l1 = [c.size for c in found if c.level == 1 and c.kind in ("Data", "Unified") and c.size]
    l2 = [c.size for c in found if c.level == 2 and c.kind in ("Data", "Unified") and c.size]
    return CacheSizes(l1_data=min(l1) if l1 else PORTABLE.l1_data,
                      l2=min(l2) if l2 else PORTABLE.l2)


@functools.cache
def host_sizes() -> CacheSizes:
    """This host's L1 data and L2 sizes (read once per process)."""
    return sizes_of(caches())


def _bytes(text: str) -> int:
    match = re.fullmatch(r"(\d+)([KMG]?)", text)
    return int(match[1]) * _SIZE_SUFFIX.get(match[2], 1) if match else 0


def _count(cpu_list: str) -> int:
    """How many CPUs a sysfs list names ("0-3,8" is 5)."""
    total = 0
    for part in filter(None, cpu_list.split(",")):
        low, _, high = part.partition("-")
        total += int(high or low) - int(low) + 1
    return total


def _sysconf_caches() -> list[Cache]:
    names = [(1, "Data", "SC_LEVEL1_DCACHE_SIZE"), (2, "Unified", "SC_LEVEL2_CACHE_SIZE"),
             (3, "Unified", "SC_LEVEL3_CACHE_SIZE")]
    found = []
    for level, kind, name in names:
        try:
            size = os.sysconf(name)
        except (ValueError, OSError):
            continue
        if size > 0:
            found.append(Cache(level, kind, size, 0))
    return found
