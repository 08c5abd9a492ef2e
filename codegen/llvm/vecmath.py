"""Math functions called, not inlined, for long kernels: compiled once per module, still
vectorized.

Input: an ``ir.Module``, a function name (exp, log, tanh) and a dtype. Output: a ``noinline``
scalar function ``@<name>.<dtype>.call`` that LLVM's loop vectorizer may replace by one of its
vector variants ``@<name>.<dtype>.v<N>`` (declared with the ``vector-function-abi-variant``
attribute of LLVM's vector function ABI), so a loop calling it still runs N lanes at a time.

Why: ``codegen.llvm.mathlib`` emits each function as an ``alwaysinline`` polynomial, which is
the fastest code, but LLVM then optimizes and vectorizes the polynomial once per call: about
2 ms of compile time per call of tanh (measured, llvmlite 0.50), so a kernel with a thousand
calls takes seconds. Called instead, the polynomial is compiled once per module and width, and
each call site costs a call instruction: about 15 times less compile time per call for a few
percent more run time (a call and its register traffic per vector).

Each variant is the same polynomial on vector types (``mathlib.vector_body``): every lane
computes exactly what the scalar function computes, so results do not depend on which variant
(or the scalar function, in a loop's remainder) runs.
"""

from __future__ import annotations

from collections.abc import Callable

from llvmlite import ir

from codegen.llvm.mathcore import FORMATS
from codegen.llvm.mathlib import math_function, vector_body

# Vector widths offered to the vectorizer: every width an x86 vector register holds for f32 or
# f64 (SSE to AVX-512); it picks the one its cost model prefers for the host CPU.
WIDTHS = (2, 4, 8, 16)


class _Attributes(ir.FunctionAttributes):
    """llvmlite's function attributes plus LLVM's string attributes ("key"="value")."""

    def add(self, name: str) -> None:
        if name.startswith('"'):
            set.add(self, name)
        else:
            super().add(name)


def called_math_function(module: ir.Module, name: str, dtype: str) -> ir.Function:
    """``@<name>.<dtype>.call``: the math function as a call with vector variants (the module
    needs ``keep_variants`` once complete)."""
    def scalar(builder: ir.IRBuilder, x: ir.Value) -> ir.Value:
        return builder.call(math_function(module, name, dtype), [x])

    def vector(builder: ir.IRBuilder, x: ir.Value, width: int) -> ir.Value:
        return vector_body(builder, name, dtype, x, width)

    return with_variants(module, f"{name}.{dtype}", dtype, scalar, vector)


Body = Callable[[ir.IRBuilder, ir.Value], ir.Value]
VectorBody = Callable[[ir.IRBuilder, ir.Value, int], ir.Value]


def with_variants(module: ir.Module, name: str, dtype: str, scalar: Body,
                  vector: VectorBody) -> ir.Function:
    """``@<name>.call``, a ``noinline`` scalar function whose body `scalar` builds, with the
    vector variants ``@<name>.v<width>`` that `vector` builds (each lane must compute what the
    scalar function computes), defined once per module."""
    symbol = f"{name}.call"
    existing = module.globals.get(symbol)
    if existing is not None:
        return existing
    float_type = FORMATS[dtype].float_type
    variants = [_variant(module, name, float_type, width, vector) for width in WIDTHS]
    fn = ir.Function(module, ir.FunctionType(float_type, [float_type]), name=symbol)
    fn.linkage = "internal"
    fn.attributes = _Attributes(["noinline", "nounwind"])
    mangled = ",".join(f"_ZGV_LLVM_N{w}v_{symbol}({v.name})" for w, v in zip(WIDTHS, variants))
    fn.attributes.add(f'"vector-function-abi-variant"="{mangled}"')
    builder = ir.IRBuilder(fn.append_basic_block("entry"))
    builder.ret(scalar(builder, fn.args[0]))
    return fn


def _variant(module: ir.Module, name: str, float_type: ir.Type, width: int,
             vector: VectorBody) -> ir.Function:
    """``<width x T> @<name>.v<width>(<width x T>)``: the function on vectors."""
    vector_type = ir.VectorType(float_type, width)
    fn = ir.Function(module, ir.FunctionType(vector_type, [vector_type]),
                     name=f"{name}.v{width}")
    fn.linkage = "internal"
    fn.attributes.add("noinline")
    fn.attributes.add("nounwind")
    fn.vector_variant = True      # for keep_variants
    builder = ir.IRBuilder(fn.append_basic_block("entry"))
    builder.ret(vector(builder, fn.args[0], width))
    return fn


def keep_variants(module: ir.Module) -> None:
    """List the module's vector variants in ``@llvm.compiler.used`` (call once, when the module
    is complete): nothing calls a variant before the vectorizer runs, and an unused internal
    function would be deleted before that."""
    variants = [f for f in module.functions if getattr(f, "vector_variant", False)]
    if variants:
        used = ir.GlobalVariable(module, ir.ArrayType(ir.PointerType(), len(variants)),
                                 "llvm.compiler.used")
        used.linkage = "appending"
        used.section = "llvm.metadata"
        used.initializer = ir.Constant(used.value_type, variants)
