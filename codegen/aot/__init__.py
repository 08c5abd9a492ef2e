"""Ahead-of-time export: kernels as an object file or shared library with a C header, callable
with no Python, NumPy or LLVM at run time.

- ``abi``: what an exported function is (``Entry``, ``Argument``), its symbols and return codes;
- ``wrapper``: the C entry points in LLVM IR (checks, workspace, batch chunks, threads);
- ``header``: the C header;
- ``library``: one module of kernels, GEMM, thread pool and entry points -> .o / .so;
- ``link``: the C compiler driver that links a shared library; ``elf``: symbol tables.
"""

from codegen.aot.abi import CODES, ERRORS, AbiError, Argument, Entry, c_identifier
from codegen.aot.elf import Symbols
from codegen.aot.library import Exported, export, object_code
from codegen.aot.link import LinkError, LinkerNotFound, linker, shared_suffix

__all__ = ["CODES", "ERRORS", "AbiError", "Argument", "Entry", "Exported", "LinkError",
           "LinkerNotFound", "Symbols", "c_identifier", "export", "linker", "object_code",
           "shared_suffix"]
