"""Helpers for tests of exported libraries (no graphnn imports: codegen's tests use them too):
calling an exported function through ctypes, reading symbols with nm, disassembling with
objdump, and skips that say why when a tool is missing."""

from __future__ import annotations

import ctypes
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

needs_cc = pytest.mark.skipif(shutil.which("cc") is None,
                              reason="no C compiler (cc) on PATH: shared libraries and the C "
                                     "examples cannot be linked here")
needs_nm = pytest.mark.skipif(shutil.which("nm") is None,
                              reason="no nm on PATH (binutils) to read symbol tables with")
needs_objdump = pytest.mark.skipif(shutil.which("objdump") is None,
                                   reason="no objdump on PATH (binutils) to disassemble with")

# What exported code may take from the system: the C library, pthreads (the thread pool), libm
# (pow only), and the symbols a C compiler's own start files mention in a shared library.
SYSTEM = frozenset({"aligned_alloc", "free", "memcpy", "memset", "memmove", "abort", "syscall",
                    "pthread_create", "pthread_detach", "pthread_atfork", "pow", "powf",
                    "__register_atfork", "__cxa_finalize", "__gmon_start__",
                    "_ITM_deregisterTMCloneTable",
                    "_ITM_registerTMCloneTable"})
FOREIGN = re.compile(r"^(_?Py|PyArray|_Py|npy|numpy|scipy|blas_|sgemm|dgemm|cblas|LLVM|llvm)",
                     re.IGNORECASE)
# the symbols a linked shared library defines besides the exported ones (linker-made)
LINKER_MADE = frozenset({"_init", "_fini", "__bss_start", "_edata", "_end"})


def load(path: Path) -> ctypes.CDLL:
    return ctypes.CDLL(str(path))


def call(library: ctypes.CDLL, name: str, *arrays: np.ndarray | int | None) -> int:
    """name(*arguments): arrays by their data pointer, ints (batch) as int64_t, None as NULL.
    ctypes releases the GIL for the call."""
    function = getattr(library, name)
    function.restype = ctypes.c_int
    function.argtypes = [ctypes.c_int64 if isinstance(a, int) else ctypes.c_void_p
                         for a in arrays]
    return function(*(a if isinstance(a, int) else None if a is None else a.ctypes.data
                      for a in arrays))


def set_threads(library: ctypes.CDLL, name: str, count: int) -> int:
    function = getattr(library, f"{name}_set_threads")
    function.restype, function.argtypes = ctypes.c_int, [ctypes.c_int]
    return function(count)


def version(library: ctypes.CDLL, name: str) -> str:
    function = getattr(library, f"{name}_version")
    function.restype, function.argtypes = ctypes.c_char_p, []
    return function().decode()


def nm(path: Path, *options: str) -> set[str]:
    """Symbol names `nm` lists for the file with these options (versions stripped)."""
    done = subprocess.run(["nm", *options, str(path)], capture_output=True, text=True,
                          check=True)
    return {line.split()[-1].split("@")[0] for line in done.stdout.splitlines() if line.strip()}


def defined(path: Path) -> set[str]:
    dynamic = ("-D",) if path.suffix != ".o" else ()
    return nm(path, *dynamic, "-g", "--defined-only") - LINKER_MADE


def undefined(path: Path) -> set[str]:
    dynamic = ("-D",) if path.suffix != ".o" else ()
    return nm(path, *dynamic, "-u")


def vector_extension_instructions(path: Path) -> list[str]:
    """Disassembled instructions that need AVX or AVX-512: VEX or EVEX encoded mnemonics
    (vaddps, vfmadd231ps, vzeroupper, ...) or any use of a ymm, zmm or mask register."""
    done = subprocess.run(["objdump", "-d", "--no-show-raw-insn", str(path)],
                          capture_output=True, text=True, check=True)
    found = []
    for line in done.stdout.splitlines():
        parts = line.split("\t")
        if len(parts) < 2 or not re.match(r"^\s*[0-9a-f]+:$", parts[0]):
            continue
        instruction = parts[1].strip()
        if re.match(r"v[a-z]", instruction) or re.search(r"%[yz]mm|%k[0-7]\b", instruction):
            found.append(instruction)
    return found


def sentinel(shape: tuple[int, ...], dtype: str) -> np.ndarray:
    """An output buffer full of a value no computation here yields (to see what was written)."""
    return np.full(shape, -12345.0, dtype=dtype)
