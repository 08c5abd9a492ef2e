"""Compile options: every setting of optimizing, lowering and code generation in one object.

Stage: all of compilation. Input: nothing (the defaults) or the caller's choices. Output: a
frozen, hashable `CompileOptions` that `gn.compile(..., options=...)` hands explicitly to each
stage: the optimizer (`graphnn.passes.optimize`), lowering (`graphnn.lower.lower`), scheduling
and code generation (its `codegen` part, a `codegen.options.CodegenOptions`: codegen never
imports graphnn), and the call path; the compiled `Function` keeps it. Its repr is part of the
plan cache key (graphnn.compiler.plans) and its codegen part's repr part of the object cache
key (codegen.jit), so a field added here is in both keys without anyone listing it.

No setting changes a result: each trades compile time, memory or threads against speed. The
one read from the environment, `check_passes` (GRAPHNN_CHECK_PASSES), is read when an options
object is made, not when graphnn is imported.

>>> import graphnn as gn
>>> options = CompileOptions(conv_min_depth=0)       # every convolution through im2col + Gemm
>>> options.conv_min_depth, options.fold_limit
(0, 256)
>>> x = gn.input("x", shape=(3,))
>>> f = gn.compile(gn.tanh(x), options=options)
>>> f.options == options
True
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from codegen.options import CodegenOptions, check_counts
from graphnn.errors import OpError


def checks_from_environment(environ: Mapping[str, str]) -> bool:
    """Whether GRAPHNN_CHECK_PASSES asks for checks: set, and neither empty nor 0.

    >>> checks_from_environment({}), checks_from_environment({"GRAPHNN_CHECK_PASSES": "1"})
    (False, True)
    """
    return environ.get("GRAPHNN_CHECK_PASSES", "") not in ("", "0")


def _checks_requested() -> bool:
    return checks_from_environment(os.environ)


@dataclass(frozen=True)
class CompileOptions:
    """The settings of every compilation stage (see the module docstring); each field's comment
    says why its default is what it is."""

    # -- the optimizer (graphnn.passes) --
    # elements a folded array may have (unless a constant input is bigger): folding must not
    # turn a small graph into a large constant
    fold_limit: int = 256
    # rounds of a rule table before it is declared cycling: a chain of rewrites along a deep
    # graph converges in a few rounds (graphnn.passes.rewrite)
    max_rounds: int = 64
    # verify the graph's invariants after every pass (on in tests; plans are then not cached)
    check_passes: bool = field(default_factory=_checks_requested)

    # -- lowering (graphnn.lower) --
    # below this many multiply-adds per output, a convolution's direct loops beat im2col + Gemm
    conv_min_depth: int = 16
    # direct loops over a zero-padded copy of each image (graphnn/lower/conv_direct.py) for
    # the convolutions they run faster than im2col + Gemm or the compute rule's checked loads:
    # shallow padded ones, and deep ones at stride 1 or a stride dividing the image
    conv_direct: bool = True
    # bytes of scratch under which a convolution's images run in parallel, a slot per core
    conv_parallel_scratch: int = 64 << 20
    # loops over at least this many elements use every core
    parallel_elements: int = 1 << 15
    # the cost (lowering units, codegen.cost.inline_cost) of an indexing op computed in its
    # user's loop
    fused_compute_cost: int = 8
    # caps on the work fused into one loop body, in the same units: above the graphs people
    # write by hand (the largest inlined expression and fused loop of the tests and examples
    # cost 76 and 72), so only long chains are cut; LLVM's optimizer is superlinear in size
    max_inline_cost: int = 96            # one node's inlined expression tree
    max_group_cost: int = 256            # all the members of one loop

    # -- calling (graphnn.compiler.function) --
    # native calls of kernels touching more elements release the GIL: releasing it costs a
    # save and a restore and guards the shared workspace (codegen/native/pyentry.py), worth it only
    # when the kernel runs long enough for other threads to use the time
    release_gil_elements: int = 1 << 14

    # -- code generation (codegen, which cannot import this module) --
    codegen: CodegenOptions = field(default_factory=CodegenOptions)

    def __post_init__(self) -> None:
        try:
            check_counts(self)
        except ValueError as error:
            raise OpError(str(error)) from None
        if not isinstance(self.check_passes, bool):
            raise OpError(f"CompileOptions: check_passes must be True or False, got "
                          f"{self.check_passes!r}")
        if not isinstance(self.codegen, CodegenOptions):
            raise OpError(f"CompileOptions: codegen must be a codegen.options.CodegenOptions, "
                          f"got {type(self.codegen).__name__}")


__all__ = ["CodegenOptions", "CompileOptions", "checks_from_environment"]
