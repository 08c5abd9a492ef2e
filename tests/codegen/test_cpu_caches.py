"""The CPU's caches as codegen reads them (codegen.cpu_caches): sysfs, sysconf where sysfs has
none, and the L1 data and L2 sizes our GEMM's blocking follows. Written sysfs trees stand in for
other machines; no assertion names a size of this one."""

from __future__ import annotations

import pytest

from codegen.cpu_caches import PORTABLE, Cache, CacheSizes, caches, host_sizes, sizes_of
from codegen.options import CodegenOptions


def _sysfs(root, entries):
    for index, (level, kind, size, shared) in enumerate(entries):
        folder = root / f"index{index}"
        folder.mkdir()
        for name, value in (("level", level), ("type", kind), ("size", size),
                            ("shared_cpu_list", shared)):
            (folder / name).write_text(value + "\n")
    return root


def test_caches_are_read_from_sysfs(tmp_path):
    root = _sysfs(tmp_path, [("1", "Data", "48K", "0"), ("1", "Instruction", "32K", "0"),
                             ("2", "Unified", "1024K", "0"), ("3", "Unified", "32768K", "0-3,8")])
    found = caches(root)
    assert found[0] == Cache(1, "Data", 48 << 10, 1)
    assert found[3] == Cache(3, "Unified", 32 << 20, 5)
    assert sizes_of(found) == CacheSizes(l1_data=48 << 10, l2=1 << 20)


def test_without_sysfs_the_caches_come_from_sysconf(tmp_path):
    assert all(c.size > 0 and c.level in (1, 2, 3) for c in caches(tmp_path))


def test_the_instruction_cache_is_not_the_data_cache():
    found = [Cache(1, "Instruction", 64 << 10, 1), Cache(1, "Data", 32 << 10, 1),
             Cache(2, "Unified", 512 << 10, 2)]
    assert sizes_of(found) == CacheSizes(l1_data=32 << 10, l2=512 << 10)


def test_a_size_not_found_is_the_portable_one(tmp_path):
    assert sizes_of([]) == PORTABLE
    only_l1 = _sysfs(tmp_path, [("1", "Data", "64K", "0"), ("2", "Unified", "garbage", "0")])
    assert sizes_of(caches(only_l1)) == CacheSizes(l1_data=64 << 10, l2=PORTABLE.l2)


def test_the_host_sizes_are_the_sysfs_ones():
    sizes = host_sizes()
    assert sizes == sizes_of(caches())
    assert sizes.l1_data > 0 and sizes.l2 > 0


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "32K"])
def test_sizes_must_be_positive_ints(bad):
    with pytest.raises(ValueError, match="l2 must be a positive int of bytes"):
        CacheSizes(l1_data=32 << 10, l2=bad)


def test_options_state_sizes_and_leave_the_rest_to_the_default():
    assert CodegenOptions().cache_sizes(PORTABLE) == PORTABLE
    assert CodegenOptions(l1_data_cache=1 << 16).cache_sizes(PORTABLE) == CacheSizes(
        l1_data=1 << 16, l2=PORTABLE.l2)
    with pytest.raises(ValueError, match="l2_cache must be a non-negative int"):
        CodegenOptions(l2_cache=-1)
