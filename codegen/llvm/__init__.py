"""Loop IR -> LLVM IR, built with llvmlite's IR builder: with ``codegen.jit`` (which optimizes,
compiles and links what this package builds), ``codegen.native.gemm`` and ``codegen.aot``, the
only llvmlite users.

- ``emitter``: one ``emit_<Node>`` method per loop node class (expressions, loops, reductions);
- ``module``: a whole kernel as a module (entry, body, outlined parallel loops, workspace);
- ``mathlib``: exp, log, tanh and the rest as vectorizable polynomials in IR;
- ``gemm``: a Gemm statement as a BLAS call, a call to our GEMM (codegen.native.gemm), or plain
  loops;
- ``target``: the CPU code is generated for (``Target.host()``, ``Target.named("x86-64-v3")``).
"""

from codegen.llvm.emitter import Emitter, LoweringError
from codegen.llvm.module import GEMM_MODES, LoweredKernel, build_module, entry_symbol
from codegen.llvm.target import X86_LEVELS, Target, UnsupportedTarget

__all__ = ["GEMM_MODES", "X86_LEVELS", "Emitter", "LoweredKernel", "LoweringError", "Target",
           "UnsupportedTarget", "build_module", "entry_symbol"]
