"""The helpers the IR math functions are written with, one float format at a time.

Input: an ``ir.IRBuilder`` positioned where the code goes and a dtype ("f32", "f64"), or a
vector of either (``codegen.llvm.mathlib.vector_body``). Output: instructions. ``Math`` holds
the builder and the format's constants; ``exp`` is here because the other functions
(``mathlib``, ``special``) build on it. Only integer, float and select instructions are
emitted (and LLVM intrinsics that are single instructions on every x86-64 level), so a loop
calling the result vectorizes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from llvmlite import ir


@dataclass(frozen=True)
class Format:
    float_type: ir.Type
    int_type: ir.IntType
    mantissa_bits: int
    bias: int
    exp_range: tuple[float, float]  # clamp for exp: beyond it the result is 0 or inf anyway
    exp_degree: int
    ln2_split: tuple[float, float]  # high part with few bits (exact products) + remainder
    subnormal_scale: int  # log: scale inputs below the smallest normal by 2**this
    log_terms: int
    # tanh(x) = x + x z P(z), z = x**2, for |x| < 0.35 (least-squares fit on Chebyshev nodes,
    # 5e-10 relative): the t / (t + 2) form rounds to 3 ulp there in f32. Empty: not used.
    tanh_small: tuple[float, ...]


FORMATS = {
    "f32": Format(ir.FloatType(), ir.IntType(32), 23, 127, (-104.0, 89.0), 7,
                   (0.693359375, -2.12194440e-4), 24, 5,
                   (-0.3333332189058981, 0.13332389855318194, -0.053728124689863155,
                    0.01944353731180982)),
    "f64": Format(ir.DoubleType(), ir.IntType(64), 52, 1023, (-746.0, 710.0), 13,
                   (6.93147180369123816490e-01, 1.90821492927058770002e-10), 54, 9, ()),
}


def declare(module: ir.Module, name: str, ret: ir.Type, args: Sequence[ir.Type]) -> ir.Function:
    """The function ``name`` of ``module``, declared on first use (intrinsics, runtime calls)."""
    existing = module.globals.get(name)
    if existing is not None:
        return existing
    return ir.Function(module, ir.FunctionType(ret, list(args)), name=name)


def unary_function(module: ir.Module, symbol: str, dtype: str, attributes: Sequence[str],
                   body: Callable[[ir.IRBuilder, ir.Value], ir.Value]) -> ir.Function:
    """The internal function ``T @<symbol>(T)`` of ``module`` (T the dtype's float type),
    defined once, with `attributes`, returning what `body` builds from its argument."""
    existing = module.globals.get(symbol)
    if existing is not None:
        return existing
    float_type = FORMATS[dtype].float_type
    fn = ir.Function(module, ir.FunctionType(float_type, [float_type]), name=symbol)
    fn.linkage = "internal"
    for attribute in attributes:
        fn.attributes.add(attribute)
    builder = ir.IRBuilder(fn.append_basic_block("entry"))
    builder.ret(body(builder, fn.args[0]))
    return fn


class Math:
    """Builder helpers for one float format, on scalars or on vectors of ``lanes`` values;
    every method emits IR at the builder's position."""

    def __init__(self, builder: ir.IRBuilder, dtype: str, lanes: int | None = None) -> None:
        scalar = FORMATS[dtype]
        self.b = builder
        self.dtype, self.lanes = dtype, lanes
        self.fmt = scalar if lanes is None else replace(
            scalar, float_type=ir.VectorType(scalar.float_type, lanes),
            int_type=ir.VectorType(scalar.int_type, lanes))
        self.t = self.fmt.float_type
        self.suffix = dtype if lanes is None else f"v{lanes}{dtype}"

    def like(self, dtype: str) -> Math:
        """The helpers of another format, on as many lanes."""
        return Math(self.b, dtype, self.lanes)

    def bools(self, value: bool) -> ir.Constant:
        """An i1 constant (a vector of them on vectors)."""
        t = ir.IntType(1) if self.lanes is None else ir.VectorType(ir.IntType(1), self.lanes)
        return ir.Constant(t, int(value))

    def c(self, value: float) -> ir.Constant:
        return ir.Constant(self.t, value)

    def i(self, value: int) -> ir.Constant:
        return ir.Constant(self.fmt.int_type, value)

    def call(self, name: str, *args: ir.Value) -> ir.Value:
        fn = declare(self.b.module, f"llvm.{name}.{self.suffix}", self.t, [self.t] * len(args))
        return self.b.call(fn, list(args))

    def horner(self, x: ir.Value, coefficients: Sequence[float]) -> ir.Value:
        """c[0] + x (c[1] + x (c[2] + ...)), one fused multiply-add per step."""
        acc: ir.Value = self.c(coefficients[-1])
        for coefficient in reversed(coefficients[:-1]):
            acc = self.call("fmuladd", acc, x, self.c(coefficient))
        return acc

    def pow2(self, k: ir.Value) -> ir.Value:
        """2**k for integer k in the normal exponent range, by writing the exponent field."""
        field = self.b.shl(self.b.add(k, self.i(self.fmt.bias)), self.i(self.fmt.mantissa_bits))
        return self.b.bitcast(field, self.t)

    def keep_nan(self, x: ir.Value, y: ir.Value) -> ir.Value:
        return self.b.select(self.b.fcmp_unordered("uno", x, x), x, y)

    def where(self, condition: str, a: ir.Value, b: ir.Value, then: ir.Value,
              otherwise: ir.Value) -> ir.Value:
        """``then if a <condition> b else otherwise`` (an ordered comparison: false on NaN)."""
        return self.b.select(self.b.fcmp_ordered(condition, a, b), then, otherwise)

    def fabs(self, x: ir.Value) -> ir.Value:
        return self.call("fabs", x)

    def copysign(self, magnitude: ir.Value, sign: ir.Value) -> ir.Value:
        return self.call("copysign", magnitude, sign)

    def reduce_ln2(self, x: ir.Value) -> tuple[ir.Value, ir.Value]:
        """k = rint(x / ln2) as an integer and r = x - k ln2, |r| <= ln2/2."""
        high, low = self.fmt.ln2_split
        k = self.call("rint", self.b.fmul(x, self.c(1.0 / math.log(2.0))))
        r = self.call("fmuladd", k, self.c(-high), x)
        r = self.call("fmuladd", k, self.c(-low), r)
        return self.b.fptosi(k, self.fmt.int_type), r

    def expm1_poly(self, r: ir.Value) -> ir.Value:
        """e**r - 1 = r (1 + r/2 + r**2/6 + ...), accurate relative to small r."""
        taylor = [1.0 / math.factorial(n) for n in range(1, self.fmt.exp_degree + 1)]
        return self.b.fmul(r, self.horner(r, taylor))


def exp(m: Math, x: ir.Value) -> ir.Value:
    lo, hi = m.fmt.exp_range
    clamped = m.call("minnum", m.call("maxnum", x, m.c(lo)), m.c(hi))  # NaN -> lo, fixed below
    k, r = m.reduce_ln2(clamped)
    p = m.b.fadd(m.expm1_poly(r), m.c(1.0))
    half = m.b.ashr(k, m.i(1))  # 2**k = 2**half * 2**(k - half): both factors stay normal
    y = m.b.fmul(m.b.fmul(p, m.pow2(half)), m.pow2(m.b.sub(k, half)))
    return m.keep_nan(x, y)
