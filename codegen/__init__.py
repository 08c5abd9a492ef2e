"""codegen: a small loop IR and its compilation to native code through llvmlite.

``codegen.loops`` builds kernels, ``codegen.schedule`` reorders them without changing results and
``codegen.jit.compile_kernel`` turns them into callables on NumPy arrays. This package never
imports graphnn.
"""

from codegen import loops
from codegen.loops import Buffer, Kernel, KernelError

__all__ = ["Buffer", "Kernel", "KernelError", "loops"]
