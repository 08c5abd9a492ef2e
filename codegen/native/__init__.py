"""The native layer: LLVM IR written by hand against the CPython and NumPy ABIs, and the thread
pool native code runs on. README.md beside this file is its owner's guide (the ABI facts, their
probes, the portable path, debugging).

- ``abi``: the one table of struct offsets and ABI facts, each with its start-up probe;
- ``pyentry``: a compiled function's CPython entry point, as IR text (METH_FASTCALL);
- ``pycall``: makes that entry a builtin function object (ctypes), when every probe passes;
- ``runtime``: ``graphnn_parallel_for``, a futex-based pool of threads, as IR text;
- ``gemm``: graphnn's packed GEMM micro-kernel, built with llvmlite's IR builder.

Nothing is imported here: ``pycall`` links its entries through codegen.jit, which itself uses
``runtime``, ``gemm`` and ``abi``; import the modules.
"""
