"""The settings of code generation, in one frozen object passed to each step that reads them.

Input: nothing (defaults) or the caller's choices. Output: a `CodegenOptions`, handed to
``codegen.schedule.schedule``, ``codegen.llvm.build_module`` and ``codegen.jit.compile_kernel``.
Its ``repr`` is part of the object cache key (``codegen.jit``), so a field added here is in the
key without anyone listing it. graphnn nests one in its ``CompileOptions`` (codegen never
imports graphnn).

>>> CodegenOptions()  # doctest: +NORMALIZE_WHITESPACE
CodegenOptions(parallel_min_work=524288, stage_size=4000, unroll_below=64,
               l1_data_cache=0, l2_cache=0, fuse_images=True)
>>> CodegenOptions(stage_size=300).stage_size
300
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from codegen.cpu_caches import CacheSizes


@dataclass(frozen=True)
class CodegenOptions:
    """How kernels are scheduled and emitted; every field changes code, never results."""

    # Iterations per thread must amount to at least this much estimated work (codegen.cost
    # ``work``: about 13 us of vectorized code here), so a parallel loop never pays thread
    # wake-ups (a few us) for less work than they cost.
    parallel_min_work: int = 1 << 19
    # Loop IR nodes per stage function (codegen.cost ``statement_size``): twice the largest
    # kernel of the tests and examples (a training step, about 1,400), so their IR stays one
    # function; LLVM's optimizer is superlinear in a function's size (codegen.llvm.stages).
    stage_size: int = 4000
    # Loops of at least this many iterations are not unrolled by LLVM (``llvm.loop.unroll.
    # disable``): the vectorizer already runs them in wide, interleaved steps, and copying the
    # few vector iterations left (8 copies of a 256-wide ReLU row, 4 of a vectorized log) made
    # the MLP step's object code twice the size and its LLVM time a quarter longer, for the
    # same speed and bit-identical results (measured, docs/performance.md). Shorter loops (a
    # 3x3 window, a 10-class softmax row) are still unrolled: the convolutions need that.
    unroll_below: int = 64
    # The L1 data and L2 cache sizes, in bytes, our GEMM's blocking follows (codegen.native.
    # gemm.blocking); 0: this host's, read from sysfs (codegen.cpu_caches). A size set here
    # blocks for another machine: an exported library's (codegen.aot) or a test's.
    l1_data_cache: int = 0
    l2_cache: int = 0
    # Fuse runs of image loops (a convolution's, a pooling's passes over its image planes, a
    # residual add) into one loop over the images, so each image's activations stay in cache
    # from one stage to the next (codegen.fuse_images).
    fuse_images: bool = True

    def __post_init__(self) -> None:
        check_counts(self)

    def cache_sizes(self, default: CacheSizes) -> CacheSizes:
        """The cache sizes to block for: the ones set here, `default`'s for those left 0.

        >>> from codegen.cpu_caches import PORTABLE
        >>> CodegenOptions(l2_cache=1 << 20).cache_sizes(PORTABLE)
        CacheSizes(l1_data=32768, l2=1048576)
        """
        return CacheSizes(l1_data=self.l1_data_cache or default.l1_data,
                          l2=self.l2_cache or default.l2)


def check_counts(options: object) -> None:
    """Every int field of a dataclass is a non-negative int (not a bool); ValueError naming
    the field otherwise.

    >>> CodegenOptions(stage_size=-1)
    Traceback (most recent call last):
    ...
    ValueError: CodegenOptions: stage_size must be a non-negative int, got -1
    """
    for field in dataclasses.fields(options):
        value = getattr(options, field.name)
        if field.type in ("int", int) and (type(value) is not int or value < 0):
            raise ValueError(f"{type(options).__name__}: {field.name} must be a non-negative "
                             f"int, got {value!r}")
