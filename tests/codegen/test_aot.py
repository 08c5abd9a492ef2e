"""Exported libraries built from hand-written kernels (codegen.aot): the C entry points agree
with the JIT, check their arguments (each error code, nothing written on error), run batches in
chunks with a partial last one, use a caller's workspace, export exactly their documented
symbols and need nothing from Python, NumPy, SciPy or LLVM, contain no AVX at x86-64-v2, stay
correct under concurrent calls, and report a missing linker. Skipped (saying why) without a C
compiler, nm or objdump."""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from codegen import aot, loops
from codegen.aot import AbiError, Argument, Entry, LinkerNotFound, Symbols
from codegen.aot import link as aot_link
from codegen.aot.library import gemm_heap, library_caches
from codegen.cpu_caches import PORTABLE, CacheSizes
from codegen.jit import compile_kernel
from codegen.llvm.target import Target
from codegen.native.gemm import blocking
from codegen.options import CodegenOptions
from tests.codegen.aot_support import (
    FOREIGN,
    SYSTEM,
    call,
    defined,
    load,
    needs_cc,
    needs_nm,
    needs_objdump,
    sentinel,
    set_threads,
    undefined,
    vector_extension_instructions,
    version,
)
from tests.harness import run_docstring_examples, run_in_threads

BATCH = 4
CODES = aot.CODES


def rows_kernel() -> loops.Kernel:
    """y[i, j] = tanh(x[i, j]) w[j] + exp(x[i, j]), s[i] = sum_j x[i, j] w[j]: rows of x are
    independent, w is shared."""
    x, w = loops.Buffer("x", "f64", (BATCH, 3)), loops.Buffer("w", "f64", (3,))
    y, s = loops.Buffer("y", "f64", (BATCH, 3)), loops.Buffer("s", "f64", (BATCH,))
    return loops.Kernel("rows", [x, w], [y, s], body=[
        loops.loop_nest((BATCH, 3), lambda i, j: loops.store(
            y, (i, j), loops.tanh(x[i, j]) * w[j] + loops.exp(x[i, j]))),
        loops.loop(BATCH, lambda i: loops.store(s, i, loops.reduce_sum(
            3, lambda k: x[i, k] * w[k])))])


def product_kernel() -> loops.Kernel:
    """c = 2 (a @ b) + 1 through a temp (a workspace) and our GEMM."""
    a, b = loops.Buffer("a", "f32", (37, 29)), loops.Buffer("b", "f32", (29, 41))
    t, c = loops.Buffer("t", "f32", (37, 41)), loops.Buffer("c", "f32", (37, 41))
    return loops.Kernel("product", [a, b], [c], [t], body=[
        loops.Gemm(t, a, b, 37, 41, 29),
        loops.loop_nest((37, 41), lambda i, j: loops.store(c, (i, j), t[i, j] * 2.0 + 1.0))])


def parallel_kernel(n: int = 100_003) -> loops.Kernel:
    """A parallel loop (the thread pool): out = sigmoid(x)."""
    x, out = loops.Buffer("x", "f32", (n,)), loops.Buffer("out", "f32", (n,))
    return loops.Kernel("big", [x], [out], body=[loops.loop(n, lambda i: loops.store(
        out, i, 1.0 / (1.0 + loops.exp(-x[i]))), parallel=True)])


def entries() -> list[Entry]:
    rows, product, big = rows_kernel(), product_kernel(), parallel_kernel()
    return [
        Entry("rows", rows, (Argument("x", "f64", (BATCH, 3), "input 0", batched=True),
                             Argument("w", "f64", (3,), "input 1")),
              (Argument("y", "f64", (BATCH, 3), "output 0", batched=True),
               Argument("s", "f64", (BATCH,), "output 1", batched=True)),
              version="a" * 64, batch=BATCH, text="rows of x, w shared"),
        Entry("product", product, (Argument("a", "f32", (37, 29), "input 0"),
                                   Argument("b", "f32", (29, 41), "input 1")),
              (Argument("c", "f32", (37, 41), "output 0"),), version="b" * 64),
        Entry("big", big, (Argument("x", "f32", big.inputs[0].shape, "input 0"),),
              (Argument("out", "f32", big.outputs[0].shape, "output 0"),), version="c" * 64),
    ]


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, aot.Exported]:
    """The entries exported once as an object file (no linker needed) and, with a C compiler,
    as a shared library."""
    folder = tmp_path_factory.mktemp("aot")
    target = Target.host()
    found = {"o": aot.export(entries(), folder / "hand.o", target, header="hand.h",
                             producer="test", environ=dict(os.environ))}
    if aot_link.linker(dict(os.environ)) is not None and "PATH" in os.environ:
        try:
            found["so"] = aot.export(entries(), folder / "hand.so", target, header="hand.h",
                                     producer="test", environ=dict(os.environ))
        except LinkerNotFound:
            pass
    return found


@pytest.fixture(scope="module")
def library(built):
    if "so" not in built:
        pytest.skip("no C compiler (cc) on PATH to link a shared library with")
    return load(built["so"].path)


def rows_reference(x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.tanh(x) * w + np.exp(x), x @ w


def test_the_object_file_holds_exactly_the_entry_points(built):
    obj = built["o"]
    expected = {symbol for e in entries() for symbol in e.symbols}
    assert set(obj.symbols) == expected
    assert not [s for s in obj.needs if FOREIGN.match(s)]
    assert set(obj.needs) <= SYSTEM, set(obj.needs) - SYSTEM
    assert obj.libraries == ("pthread",)        # the pool; no pow, so no libm
    header = obj.header.read_text()
    for entry in entries():
        for symbol in entry.symbols:
            assert f" {symbol}(" in header or f"*{symbol}(" in header


@needs_nm
def test_nm_agrees_and_finds_no_foreign_symbol(built):
    for exported in built.values():
        expected = {symbol for e in entries() for symbol in e.symbols}
        assert defined(exported.path) == expected
        needed = undefined(exported.path)
        assert not [s for s in needed if FOREIGN.match(s)], needed
        assert needed <= SYSTEM, needed - SYSTEM
        dynamic = exported.path.suffix != ".o"
        assert Symbols.read(exported.path.read_bytes(), dynamic=dynamic).defined == expected


@needs_cc
def test_rows_agree_with_the_jit_and_numpy(library):
    rng = np.random.default_rng(0)
    x, w = rng.normal(size=(BATCH, 3)), rng.normal(size=3)
    y, s = sentinel((BATCH, 3), "f8"), sentinel((BATCH,), "f8")
    assert call(library, "rows", x, w, y, s) == CODES["OK"]
    jit_y, jit_s = compile_kernel(rows_kernel())(x, w)
    np.testing.assert_allclose(y, jit_y, rtol=1e-14)
    np.testing.assert_allclose(s, jit_s, rtol=1e-14)
    want_y, want_s = rows_reference(x, w)
    np.testing.assert_allclose(y, want_y, rtol=1e-13)
    np.testing.assert_allclose(s, want_s, rtol=1e-13)
    assert version(library, "rows") == "a" * 64


@needs_cc
@pytest.mark.parametrize("batch", [0, 1, BATCH - 1, BATCH, BATCH + 1, 3 * BATCH + 2])
def test_batch_runs_whole_chunks_and_a_partial_one(library, batch):
    rng = np.random.default_rng(batch)
    x, w = rng.normal(size=(batch, 3)), rng.normal(size=3)
    y, s = sentinel((batch + 1, 3), "f8"), sentinel((batch + 1,), "f8")   # one row to spare
    assert call(library, "rows_batch", batch, x, w, y, s) == CODES["OK"]
    want_y, want_s = rows_reference(x, w)
    np.testing.assert_allclose(y[:batch], want_y, rtol=1e-13)
    np.testing.assert_allclose(s[:batch], want_s, rtol=1e-13)
    assert (y[batch] == -12345.0).all() and s[batch] == -12345.0      # nothing past the end
    ws = np.zeros(Entry.batch_workspace_bytes.fget(entries()[0]) + 64, np.uint8)
    start = -ws.ctypes.data % 64
    y2 = sentinel((batch, 3), "f8")
    s2 = sentinel((batch,), "f8")
    assert call(library, "rows_batch_with_workspace", ws[start:], batch, x, w, y2, s2) == 0
    np.testing.assert_array_equal(y2, y[:batch])


@needs_cc
def test_a_zero_batch_accepts_null_rows(library):
    assert call(library, "rows_batch", 0, None, np.ones(3), None, None) == CODES["OK"]
    assert call(library, "rows_batch", 0, None, None, None, None) == CODES["ERROR_NULL"]


@needs_cc
def test_every_error_code_and_nothing_written(library):
    x, w = np.ones((BATCH, 3)), np.ones(3)
    y, s = sentinel((BATCH, 3), "f8"), sentinel((BATCH,), "f8")
    raw = np.zeros(BATCH * 3 * 8 + 8, np.uint8)
    odd = raw[1:1 + BATCH * 3 * 8].view(np.float64)     # an address that is no multiple of 8
    cases = {
        "ERROR_NULL": ("rows", x, None, y, s),
        "ERROR_MISALIGNED": ("rows", odd.reshape(BATCH, 3), w, y, s),
        "ERROR_OVERLAP": ("rows", x, w, x, s),                  # output y over input x
        "ERROR_BATCH": ("rows_batch", -1, x, w, y, s),
    }
    for code, (name, *arguments) in cases.items():
        assert call(library, name, *arguments) == CODES[code], code
        assert (y == -12345.0).all() and (s == -12345.0).all(), f"{code}: something written"
    both = np.zeros(BATCH * 4)
    assert call(library, "rows", x, w, both[:12].reshape(BATCH, 3), both[10:]) == \
        CODES["ERROR_OVERLAP"]                                  # the two outputs overlap
    huge = 2**62
    assert call(library, "rows_batch", huge, x, w, y, s) == CODES["ERROR_BATCH"]
    assert set_threads(library, "rows", 0) == CODES["ERROR_THREADS"]
    assert set_threads(library, "rows", 1000) == CODES["OK"]    # more count as 64
    assert set_threads(library, "rows", 1) == CODES["OK"]


@needs_cc
def test_workspace_variants(library):
    rng = np.random.default_rng(1)
    a = rng.normal(size=(37, 29)).astype(np.float32)
    b = rng.normal(size=(29, 41)).astype(np.float32)
    c = sentinel((37, 41), "f4")
    assert call(library, "product", a, b, c) == CODES["OK"]
    np.testing.assert_allclose(c, 2 * (a @ b) + 1, rtol=2e-5, atol=2e-5)
    size = entries()[1].workspace_bytes
    assert size >= 37 * 41 * 4
    raw = np.zeros(size + 128, np.uint8)
    ws = raw[-raw.ctypes.data % 64:][:size + 64]
    c2 = sentinel((37, 41), "f4")
    assert call(library, "product_with_workspace", ws, a, b, c2) == CODES["OK"]
    np.testing.assert_array_equal(c2, c)
    assert call(library, "product_with_workspace", ws[1:], a, b, c2) == \
        CODES["ERROR_MISALIGNED"]
    assert call(library, "product_with_workspace", None, a, b, c2) == CODES["ERROR_NULL"]
    assert call(library, "product_with_workspace", a.view(np.uint8).reshape(-1)[
        -a.ctypes.data % 64:], a, b, c2) == CODES["ERROR_OVERLAP"]     # ws over input a


@needs_cc
def test_concurrent_calls_from_threads(library):
    """ctypes releases the GIL: several threads call at once, on the pool and off it."""
    rng = np.random.default_rng(2)
    x = rng.normal(size=100_003).astype(np.float32)
    want = 1 / (1 + np.exp(-x))
    assert set_threads(library, "big", 2) == CODES["OK"]
    failures = []

    def work(k: int) -> None:
        xs, ws = rng.normal(size=(BATCH, 3)) + k, np.full(3, k / 7)
        for _ in range(200):
            out, y, s = np.empty_like(x), np.empty((BATCH, 3)), np.empty(BATCH)
            if call(library, "big", x, out) or call(library, "rows", xs, ws, y, s):
                failures.append("error code")
            if not np.allclose(out, want, rtol=1e-6) or \
                    not np.allclose(y, rows_reference(xs, ws)[0], rtol=1e-13):
                failures.append(f"thread {k}: wrong result")

    threads = run_in_threads(work, count=4, timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert failures == []
    set_threads(library, "big", 1)


@needs_cc
@pytest.mark.skipif(not os.path.isdir("/proc/self/task") or not hasattr(os, "fork"),
                    reason="needs fork and Linux's /proc/self/task (the threads of a process)")
def test_a_forked_child_gets_a_fresh_pool(library):
    """The library registers its pool's reset with pthread_atfork: a child forked after the
    parent's workers started has none of them (fork copies one thread), and starts its own
    for a parallel call instead of counting on the parent's (which would leave it serial)."""
    x = np.random.default_rng(4).normal(size=100_003).astype(np.float32)
    want = np.empty_like(x)
    assert set_threads(library, "big", 2) == 0 and call(library, "big", x, want) == 0
    pid = os.fork()
    if pid == 0:
        out = np.empty_like(x)
        right = call(library, "big", x, out) == 0 and np.array_equal(out, want)
        os._exit(0 if right and len(os.listdir("/proc/self/task")) >= 2 else 1)
    for _ in range(600):                                     # 60 s at most, never a hang
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.1)
    else:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        pytest.fail("the forked child hung in a parallel call")
    set_threads(library, "big", 1)
    assert os.waitstatus_to_exitcode(status) == 0


@needs_cc
@needs_objdump
def test_x86_64_v2_has_no_avx_and_matches(tmp_path):
    target = Target.named("x86-64-v2")
    exported = aot.export(entries(), tmp_path / "portable.so", target, header="portable.h",
                          producer="test", environ=dict(os.environ))
    assert vector_extension_instructions(exported.path) == []
    assert 'define PRODUCT_CPU "x86-64-v2"' in exported.header.read_text()
    if target.unsupported() is not None:
        pytest.skip(f"this CPU cannot run x86-64-v2 code: {target.unsupported()}")
    library = load(exported.path)
    rng = np.random.default_rng(3)
    a = rng.normal(size=(37, 29)).astype(np.float32)
    b = rng.normal(size=(29, 41)).astype(np.float32)
    c = sentinel((37, 41), "f4")
    assert call(library, "product", a, b, c) == 0
    np.testing.assert_allclose(c, 2 * (a @ b) + 1, rtol=2e-5, atol=2e-5)
    x = rng.normal(size=(BATCH, 3))
    y, s = np.empty((BATCH, 3)), np.empty(BATCH)
    assert call(library, "rows", x, np.ones(3), y, s) == 0
    np.testing.assert_allclose(y, rows_reference(x, np.ones(3))[0], rtol=1e-13)


def test_a_library_is_blocked_for_portable_caches_or_the_stated_ones():
    """A library may run on any machine of its target: its GEMM blocks for PORTABLE caches,
    unless the entries' options state smaller ones (the smallest wins), and the packing heap
    the header states follows the same blocking."""
    plain = entries()
    assert library_caches(plain) == PORTABLE
    stated = [replace(e, options=CodegenOptions(l1_data_cache=4 << 10)) for e in plain]
    stated[0] = replace(stated[0], options=CodegenOptions(l1_data_cache=8 << 10,
                                                          l2_cache=64 << 10))
    assert library_caches(stated) == CacheSizes(l1_data=4 << 10, l2=64 << 10)
    target = Target.named("x86-64-v3")
    product = plain[1].kernel          # a (37 x 29) @ (29 x 41) float32 product
    for caches in (PORTABLE, library_caches(stated)):
        block = blocking("f32", target.vector_bits, caches)
        panels = -(-41 // block.nr) * block.nr + -(-37 // block.mr) * block.mr
        assert gemm_heap(product, target, caches) == (panels * block.depth_most * 4, False)


@needs_objdump
def test_the_host_build_does_use_vector_extensions_where_it_has_them(built):
    """The check above can fail: on a CPU with AVX the same code for the host has some."""
    if "avx" not in Target.host().enabled:
        pytest.skip("this CPU has no AVX: its own code has none either")
    assert vector_extension_instructions(built["o"].path)


def test_a_missing_linker_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(aot_link, "ziglang_command", lambda: None)
    with pytest.raises(LinkerNotFound, match=r"no C compiler on PATH .*apt-get install gcc.*"
                                             r"graphnn\[aot\]"):
        aot.export(entries()[:1], tmp_path / "x.so", Target.host(), header="x.h",
                   producer="test", environ={"PATH": ""})
    assert not (tmp_path / "x.so").exists() and not (tmp_path / "x.h").exists()


@pytest.mark.skipif(aot_link.ziglang_command() is None,
                    reason="the ziglang package (graphnn's aot extra) is not installed")
def test_ziglang_links_without_a_system_compiler(tmp_path):
    exported = aot.export(entries()[:1], tmp_path / "zig.so", Target.host(), header="zig.h",
                          producer="test", environ={**os.environ, "PATH": ""})
    assert "ziglang" in exported.link_command
    library = load(exported.path)
    x, w = np.ones((BATCH, 3)), np.arange(3.0)
    y, s = np.empty((BATCH, 3)), np.empty(BATCH)
    assert call(library, "rows", x, w, y, s) == 0
    np.testing.assert_allclose(s, rows_reference(x, w)[1], rtol=1e-14)


@needs_cc
def test_the_header_compiles_as_c_and_cpp(built, tmp_path):
    source = tmp_path / "use.c"
    source.write_text('#include "hand.h"\nint main(void) { double x[ROWS_IN_0_SIZE] = {0}; '
                      "(void)x; return ROWS_BATCH == 4 && GRAPHNN_ERROR_OVERLAP == 3 ? 0 : 1; }\n")
    include = f"-I{built['o'].header.parent}"
    subprocess.run(["cc", "-std=c99", "-Wall", "-Wextra", "-pedantic", "-Werror", include,
                    "-fsyntax-only", str(source)], check=True)
    if subprocess.run(["sh", "-c", "command -v c++"], capture_output=True).returncode == 0:
        subprocess.run(["c++", "-x", "c++", "-Wall", "-Werror", include, "-fsyntax-only",
                        str(source)], check=True)


def test_entries_are_checked():
    rows = rows_kernel()
    x = Argument("x", "f64", (BATCH, 3), "input 0")
    w = Argument("w", "f64", (3,), "input 1")
    y = Argument("y", "f64", (BATCH, 3), "output 0")
    s = Argument("s", "f64", (BATCH,), "output 1")
    with pytest.raises(AbiError, match="C identifier"):
        Entry("int", rows, (x, w), (y, s), version="0")
    with pytest.raises(AbiError, match="repeat"):
        Entry("ok", rows, (x, w), (y, Argument("x", "f64", (BATCH,), "output 1")), version="0")
    with pytest.raises(AbiError, match="do not match"):
        Entry("ok", rows, (x,), (y, s), version="0")
    with pytest.raises(AbiError, match="batch"):
        Entry("ok", rows, (x, w), (y, s), version="0", batch=BATCH)     # no batched output
    with pytest.raises(AbiError, match=r"end in \.o"):
        aot.export([Entry("ok", rows, (x, w), (y, s), version="0")], Path("/tmp/x.dat"),
                   Target.host(), header="x.h", producer="test", environ={})


@pytest.mark.parametrize("name", ["codegen.aot.abi", "codegen.aot.elf"])
def test_docstring_examples(name):
    result = run_docstring_examples(name)
    assert result.attempted > 0 and result.failed == 0
