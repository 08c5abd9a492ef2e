"""Exported entries -> one object file or shared library, and its C header.

Input: ``abi.Entry`` records, a ``Target`` (any x86-64 level, runnable here or not), a path.
Output: the files, and an ``Exported`` record of what was written.

One LLVM module holds everything the functions run: each entry's kernel (built with our own
GEMM, ``gemm="native"``, never BLAS), the GEMM variants its kernels call (generated for the
target's vector width), the direct convolutions' micro-kernel (likewise), the thread pool
(codegen.native.runtime) when anything runs in parallel, and
the C entry points (codegen.aot.wrapper). Linked into one module, every symbol but the entry
points becomes internal, so the optimizer sees the whole program and the object file exports
exactly the documented names; two exported libraries never clash. The object code then needs
only the C library, pthreads (the pool) and, for a graph that raises to a computed power, libm's
``pow``, which the build reads off the object's symbol table.
"""

from __future__ import annotations

import functools
import math
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import llvmlite.binding as llvm

from codegen import jit, loops
from codegen.aot.abi import AbiError, Entry
from codegen.aot.elf import Symbols
from codegen.aot.header import Build, header_text
from codegen.aot.link import link_shared, shared_suffix
from codegen.aot.wrapper import GEMM_ALLOC, wrapper_ir
from codegen.cpu_caches import PORTABLE, CacheSizes
from codegen.llvm.module import build_module, entry_symbol
from codegen.llvm.target import X86_LEVELS, Target
from codegen.native import dconv as native_dconv
from codegen.native import dconv_lanes as native_dconv_lanes
from codegen.native import gemm as native_gemm
from codegen.native.runtime import runtime_ir

LLVM_LOCK = jit._LOCK         # noqa: SLF001 - the one lock around llvmlite's JIT and passes
LIBM = frozenset({"pow", "powf", "fma", "fmaf", "exp", "expf", "log", "logf", "rint", "rintf",
                  "floor", "floorf"})


@dataclass(frozen=True)
class Exported:
    """What an export wrote."""

    path: Path                    # the object file or shared library
    header: Path
    symbols: tuple[str, ...]      # the symbols it defines, all of them
    needs: tuple[str, ...]        # the symbols it takes from the C library, pthreads, libm
    libraries: tuple[str, ...]    # the system libraries to link with
    link_command: tuple[str, ...] = ()


def export(entries: Sequence[Entry], path: Path, target: Target, *, header: str,
           producer: str, environ: Mapping[str, str]) -> Exported:
    """Write `entries` to `path` (".o", or the platform's shared-library suffix) and the header
    `header` (a file name) beside it; `environ` is where a linker is looked for."""
    path = Path(path)
    kind = path.suffix
    if kind not in (".o", shared_suffix()):
        raise AbiError(f"the export path must end in .o (an object file) or "
                       f"{shared_suffix()} (a shared library), got {str(path)!r}")
    _check_names(entries)
    data = object_code(entries, target)
    symbols = Symbols.read(data)
    libraries = _libraries(symbols)
    caches = library_caches(entries)
    build = Build(path.name, producer, target.cpu, _runs_on(target), libraries,
                  {e.name: gemm_heap(e.kernel, target, caches) for e in entries})
    text = header_text(list(entries), build, _guard(header))
    command: list[str] = []
    with tempfile.TemporaryDirectory(prefix=".graphnn-export-", dir=path.parent) as scratch:
        staged = Path(scratch) / path.name
        if kind == ".o":
            staged.write_bytes(data)
        else:
            obj = Path(scratch) / "code.o"
            obj.write_bytes(data)
            command = link_shared(obj, staged, list(libraries), environ)
        (Path(scratch) / header).write_text(text)
        os.replace(staged, path)
        os.replace(Path(scratch) / header, path.parent / header)
    return Exported(path, path.parent / header, tuple(sorted(symbols.defined)),
                    tuple(sorted(symbols.undefined)), libraries, tuple(command))


def object_code(entries: Sequence[Entry], target: Target) -> bytes:
    """The object file holding every entry, for `target`."""
    kernels = {e.name: _renamed(e.kernel, e.name) for e in entries}
    texts = [str(build_module(kernels[e.name], gemm="native", options=e.options).module)
             for e in entries]
    products = sorted({(g.c.dtype, g.trans_a, g.trans_b) for k in kernels.values()
                       for g in _gemms(k)})
    texts += [native_gemm.gemm_ir(dtype, target.vector_bits,
                                  [(a, b) for d, a, b in products if d == dtype],
                                  allocator=GEMM_ALLOC, caches=library_caches(entries))
              for dtype in sorted({d for d, _, _ in products})]
    convs = [n for k in kernels.values() for n in _nodes(k) if isinstance(n, loops.DirectConv)]
    texts += [native_dconv.dconv_ir(dtype, target.vector_bits)
              for dtype in sorted({n.out.dtype for n in convs if n.lanes == "positions"})]
    texts += [native_dconv_lanes.dconv_lanes_ir(dtype, target.vector_bits, None, pooled)
              for dtype, pooled in sorted({(n.out.dtype, n.lanes == "pool2x2") for n in convs
                                           if n.lanes != "positions"})]
    pool = bool(products) or any(isinstance(n, loops.Loop) and n.parallel
                                 for k in kernels.values() for n in _nodes(k))
    if pool:
        texts.append(runtime_ir())
    texts.append(wrapper_ir(entries, {n: entry_symbol(k) for n, k in kernels.items()}, pool,
                            bool(products)))
    api = {symbol for e in entries for symbol in e.symbols}
    with LLVM_LOCK:          # LLVM's global context: one thread at a time, as in codegen.jit
        module = _linked(texts)
        for value in [*module.functions, *module.global_variables]:
            if not value.is_declaration and value.name not in api and \
                    not value.name.startswith("llvm."):
                value.linkage = llvm.Linkage.internal
        optimized = jit.optimize(str(module), target)
        return _machine(target).emit_object(optimized)


def library_caches(entries: Sequence[Entry]) -> CacheSizes:
    """The caches a library's GEMM is blocked for: it may run on any machine of its target, so
    `PORTABLE` sizes, or the smallest an entry's options state (``l1_data_cache``,
    ``l2_cache``) for a known machine."""
    sizes = [e.options.cache_sizes(PORTABLE) for e in entries] or [PORTABLE]
    return CacheSizes(l1_data=min(s.l1_data for s in sizes), l2=min(s.l2 for s in sizes))


def gemm_heap(kernel: loops.Kernel, target: Target, caches: CacheSizes) -> tuple[int, bool]:
    """The bytes our GEMM allocates (packed panels of A and B) for the kernel's largest matrix
    product at the target's blocking, and whether a product runs inside a parallel loop."""
    nested = {id(n) for s in kernel.body if isinstance(s, loops.Loop) and s.parallel
              for n in loops.walk(s)}
    most, inside = 0, False
    for g in _gemms(kernel):
        if g.m <= 0 or g.n <= 0 or (g.m * g.n == 0 and g.beta == 1.0):
            continue
        block = native_gemm.blocking(g.c.dtype, target.vector_bits, caches)
        size = 4 if g.c.dtype == "f32" else 8
        panels = math.ceil(g.n / block.nr) * block.nr + math.ceil(g.m / block.mr) * block.mr
        most = max(most, panels * block.depth_most * size)
        inside = inside or id(g) in nested
    return most, inside


def _libraries(symbols: Symbols) -> tuple[str, ...]:
    """The system libraries beyond libc the object needs: pthreads for the thread pool, libm
    for pow."""
    threads = any(name.startswith("pthread_") for name in symbols.undefined)
    return ("pthread",) * threads + ("m",) * bool(symbols.undefined & LIBM)


def _renamed(kernel: loops.Kernel, name: str) -> loops.Kernel:
    """The kernel under the entry's name: kernels of several entries never share symbols."""
    return kernel if kernel.name == name else replace(kernel, name=name)


def _nodes(kernel: loops.Kernel) -> list[loops.Node]:
    return [n for stmt in kernel.body for n in loops.walk(stmt)]


def _gemms(kernel: loops.Kernel) -> list[loops.Gemm]:
    return [n for n in _nodes(kernel) if isinstance(n, loops.Gemm)]


def _linked(texts: list[str]) -> llvm.ModuleRef:
    jit.target_machine(Target.host())            # initializes LLVM's native target
    module = llvm.parse_assembly(texts[0])
    for text in texts[1:]:
        module.link_in(llvm.parse_assembly(text))
    return module


@functools.cache
def _machine(target: Target) -> llvm.TargetMachine:
    """Object code for a library: position independent, the default (small) code model."""
    triple = llvm.Target.from_triple(llvm.get_process_triple())
    return triple.create_target_machine(cpu=target.cpu, features=target.features, opt=3,
                                        reloc="pic", codemodel="default")


def _runs_on(target: Target) -> str:
    if target.cpu in X86_LEVELS:
        extra = sorted(set(X86_LEVELS[target.cpu]) - set(X86_LEVELS["x86-64-v2"]))
        return (f"runs on every x86-64 CPU of level {target.cpu[-2:]} or above"
                + (f" ({', '.join(extra)})" if extra else " (SSE4.2, POPCNT; no AVX)"))
    return ("this machine's CPU with every feature it has; it may not run on another CPU "
            "(export with cpu=\"x86-64-v2\", \"-v3\" or \"-v4\" for a portable library)")


def _guard(header: str) -> str:
    stem = "".join(c if c.isalnum() else "_" for c in header.upper())
    return f"GRAPHNN_{stem}"


def _check_names(entries: Sequence[Entry]) -> None:
    """Entry names (and the upper-case macro prefixes) distinct within one library."""
    seen: dict[str, str] = {}
    for entry in entries:
        macro = entry.name.upper()
        if macro in seen:
            raise AbiError(f"two exported functions, {seen[macro]!r} and {entry.name!r}, "
                           f"would share the macro prefix {macro}_")
        seen[macro] = entry.name
