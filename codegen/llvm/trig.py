"""sin and cos as LLVM IR: vectorized polynomials after a Cody-Waite reduction, and an exact
(Payne-Hanek) reduction for the rare huge argument, behind a branch.

Input: an ``ir.Module``, "sin" or "cos" and a dtype. Output: ``@<name>.<dtype>.call``, a
``noinline`` function with vector variants (``codegen.llvm.vecmath.with_variants``), which the
emitter calls for every Sin and Cos node: unlike exp or tanh, these need a branch, and the loop
vectorizer cannot vectorize a loop whose body branches, so the branch lives inside the called
function, where a vector variant takes it once per vector.

Both dtypes compute in double and round once, with fdlibm's arrangement (Sun Microsystems 1993,
"permission to use, copy, modify, and distribute this software is freely granted"):

- |x| <= BOUND (1.6e6): k = rint(|x| 2/π) < 2^20 and r = |x| - k π/2 in three Cody-Waite stages
  with π/2 split into 33-bit parts (each k * part is exact without FMA), as the double-double
  y0 + y1 accurate to about 2^-150 absolute;
- larger, inf and NaN: the scalar ``@rem_pio2.huge`` multiplies |x|'s 53-bit mantissa by 192
  bits of 2/π chosen by its exponent (a table of 2/π's bits, computed here from π in integer
  arithmetic) in 64-bit integer arithmetic, keeps the product modulo 4, and multiplies the
  fraction by π/2 in fixed point: exact reduction up to the largest double;
- sin(y0 + y1) and cos(y0 + y1) on [-π/4, π/4] by fdlibm's kernel polynomials (degree 13 and
  14, minimax), the quadrant k mod 4 choosing which and its sign; sin is odd, cos even;
- float32, |x| <= BOUND: musl's cheaper path instead (one reduction stage, y = |x| - k π/2 in
  double, and its float kernels of degree 9 and 8): a float's result needs no double-double.

sin(±inf) = cos(±inf) = NaN, NaN in gives NaN, sin(-0.0) = -0.0, sin of a subnormal is the
input. Accuracy: docs/loop-ir.md, tests/codegen/llvm/test_trig.py.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

from llvmlite import ir

from codegen.llvm.mathcore import Math, declare, unary_function
from codegen.llvm.vecmath import with_variants

D, I1, I64, I128 = ir.DoubleType(), ir.IntType(1), ir.IntType(64), ir.IntType(128)
BOUND = 1.6e6          # k = rint(BOUND 2/π) = 1018592 < 2^20: k * (33-bit part) is exact
WORDS = 24             # 64-bit words of 2/π: bits past 971 + 192 + 63, the largest exponent's


def _pi(bits: int) -> Fraction:
    """π to `bits` bits (Machin: π = 16 atan(1/5) - 4 atan(1/239)), in integers."""
    def atan_inverse(n: int, scale: int) -> int:      # atan(1/n) 2**scale
        total, term, k, sign = 0, (1 << scale) // n, 1, 1
        while term:
            total, term, k, sign = total + sign * (term // k), term // (n * n), k + 2, -sign
        return total
    guard = 32
    scaled = 16 * atan_inverse(5, bits + guard) - 4 * atan_inverse(239, bits + guard)
    return Fraction(scaled >> guard, 1 << bits)


def _rounded(value: Fraction, bits: int) -> float:
    """value rounded to `bits` significant bits (exactly representable in double)."""
    exponent = value.numerator.bit_length() - value.denominator.bit_length()
    scale = Fraction(2) ** (bits - 1 - exponent)
    return float(Fraction(round(value * scale)) / scale)


PI = _pi(1600)
INVPIO2 = float(2 / PI)
# π/2 = P1 + P2 + P3 + P3T, each P 33 bits; PT = what remains after the parts before it
_rest = PI / 2
P1, P2, P3 = (_rounded(_rest, 33), 0.0, 0.0)
_rest -= Fraction(P1)
P1T, P2 = float(_rest), _rounded(_rest, 33)
_rest -= Fraction(P2)
P2T, P3 = float(_rest), _rounded(_rest, 33)
P3T = float(_rest - Fraction(P3))
# 2/π as 64-bit words, most significant first, after one word of zeros (the window of bits
# around a small exponent starts before the binary point)
_TWO_OVER_PI = int((2 / PI) * (1 << (64 * (WORDS - 1))))
TABLE = [0] + [(_TWO_OVER_PI >> (64 * (WORDS - 2 - j))) & (2**64 - 1) for j in range(WORDS - 1)]
PIO2_FIXED = int(PI / 2 * (1 << 126))       # π/2 2**126, for the fixed-point product

# float32 (musl's __rem_pio2f, __sindf, __cosdf): one reduction stage, π/2 = PF1 + PF1T with
# PF1 25 bits (k * PF1 exact for k < 2**28), and polynomials good to 2**-34 or so on [-π/4, π/4]
PF1 = _rounded(PI / 2, 25)
PF1T = float(PI / 2 - Fraction(PF1))
SF = tuple(float.fromhex(h) for h in ("-0x15555554cbac77p-55", "0x111110896efbb2p-59",
                                      "-0x1a00f9e2cae774p-65", "0x16cd878c3b46a7p-71"))
CF = tuple(float.fromhex(h) for h in ("-0x1ffffffd0c5e81p-54", "0x155553e1053a42p-57",
                                      "-0x16c087e80f1e27p-62", "0x199342e0ee5069p-68"))

S = (-1.66666666666666324348e-01, 8.33333333332248946124e-03, -1.98412698298579493134e-04,
     2.75573137070700676789e-06, -2.50507602534068634195e-08, 1.58969099521155010221e-10)
C = (4.16666666666666019037e-02, -1.38888888888741095749e-03, 2.48015872894767294178e-05,
     -2.75573143513906633035e-07, 2.08757232129817482790e-09, -1.13596475577881948265e-11)


# ---------------------------------------------------------------------------------------------
# Double arithmetic shared by both paths (scalars or vectors)


def _medium(d: Math, a: ir.Value) -> tuple[ir.Value, ir.Value, ir.Value]:
    """(k, y0, y1) with |a| - k π/2 = y0 + y1 for 0 <= a <= BOUND: three Cody-Waite stages,
    each carrying the rounding error of the last subtraction (fdlibm's __rem_pio2)."""
    b = d.b
    k = d.call("rint", b.fmul(a, d.c(INVPIO2)))
    r = b.fsub(a, b.fmul(k, d.c(P1)))                 # exact: k P1 is, and a is near it
    w = b.fmul(k, d.c(P1T))
    for part, tail in ((P2, P2T), (P3, P3T)):
        t, w = r, b.fmul(k, d.c(part))
        r = b.fsub(t, w)
        w = b.fsub(b.fmul(k, d.c(tail)), b.fsub(b.fsub(t, r), w))
    y0 = b.fsub(r, w)
    return b.fptosi(k, d.fmt.int_type), y0, b.fsub(b.fsub(r, y0), w)


def _float_kernels(d: Math, a: ir.Value) -> tuple[ir.Value, ir.Value, ir.Value]:
    """(k, sin y, cos y) with y = a - k π/2 in double, for a float a in [0, BOUND]: the float32
    path, whose result is rounded to float (y's error, about 2**-51 k, stays far below that)."""
    b = d.b
    k = d.call("rint", b.fmul(a, d.c(INVPIO2)))
    y = b.fsub(b.fsub(a, b.fmul(k, d.c(PF1))), b.fmul(k, d.c(PF1T)))
    z = b.fmul(y, y)
    w = b.fmul(z, z)
    s = b.fmul(z, y)
    sine = b.fadd(d.call("fmuladd", s, d.horner(z, SF[:2]), y),
                  b.fmul(b.fmul(s, w), d.horner(z, SF[2:])))
    cosine = b.fadd(d.call("fmuladd", w, d.c(CF[1]), d.call("fmuladd", z, d.c(CF[0]), d.c(1.0))),
                    b.fmul(b.fmul(w, z), d.horner(z, CF[2:])))
    return b.fptosi(k, d.fmt.int_type), sine, cosine


def _kernels(d: Math, y0: ir.Value, y1: ir.Value) -> tuple[ir.Value, ir.Value]:
    """(sin, cos) of y0 + y1 on [-π/4, π/4] (fdlibm's __kernel_sin, and musl's __cos)."""
    b = d.b
    z = b.fmul(y0, y0)
    v = b.fmul(z, y0)
    rs = d.horner(z, S[1:])
    sine = b.fsub(y0, b.fsub(b.fsub(b.fmul(z, b.fsub(b.fmul(d.c(0.5), y1), b.fmul(v, rs))), y1),
                             b.fmul(v, d.c(S[0]))))
    rc = b.fmul(z, d.horner(z, C))
    hz = b.fmul(d.c(0.5), z)
    w = b.fsub(d.c(1.0), hz)
    cosine = b.fadd(w, b.fadd(b.fsub(b.fsub(d.c(1.0), w), hz),
                              b.fsub(b.fmul(z, rc), b.fmul(y0, y1))))
    return sine, cosine


def _assemble(d: Math, name: str, n: ir.Value, sine: ir.Value, cosine: ir.Value,
              negative: ir.Value) -> ir.Value:
    """The function of quadrant n (k mod 4) from the kernels; sin's sign follows x's."""
    b = d.b
    shift = n if name == "sin" else b.add(n, d.i(1))      # cos(y + nπ/2) = sin(y + (n+1)π/2)
    odd = b.icmp_unsigned("!=", b.and_(n, d.i(1)), d.i(0))
    value = b.select(odd, cosine, sine) if name == "sin" else b.select(odd, sine, cosine)
    flip = b.icmp_unsigned("!=", b.and_(shift, d.i(2)), d.i(0))
    if name == "sin":
        flip = b.xor(flip, negative)
    return b.select(flip, b.fneg(value), value)


def _widen(m: Math, x: ir.Value) -> tuple[Math, ir.Value]:
    d = m.like("f64")
    return d, (x if m.dtype == "f64" else m.b.fpext(x, d.t))


def _narrow(m: Math, value: ir.Value) -> ir.Value:
    return value if m.dtype == "f64" else m.b.fptrunc(value, m.t)


def _negative(d: Math, wide: ir.Value) -> ir.Value:
    """x's sign bit (set for -0.0 too: sin(-0.0) = -0.0, as the kernel of 0 gives +0.0)."""
    return d.b.icmp_signed("<", d.b.bitcast(wide, d.fmt.int_type), d.i(0))


def _is_huge(m: Math, x: ir.Value) -> ir.Value:
    """|x| > BOUND, inf or NaN: the lanes the exact reduction takes."""
    return m.b.fcmp_unordered(">", m.fabs(x), m.c(BOUND))


def _fast(m: Math, name: str, x: ir.Value) -> ir.Value:
    """sin or cos of x for |x| <= BOUND (huge lanes are computed on 0: their value is unused)."""
    d, wide = _widen(m, x)
    a = d.b.select(_is_huge(d, wide), d.c(0.0), d.fabs(wide))
    if m.dtype == "f32":
        n, sine, cosine = _float_kernels(d, a)
    else:
        n, y0, y1 = _medium(d, a)
        sine, cosine = _kernels(d, y0, y1)
    return _narrow(m, _assemble(d, name, n, sine, cosine, _negative(d, wide)))


# ---------------------------------------------------------------------------------------------
# The exact reduction (scalar, called for huge lanes only)


def _huge_reduction(module: ir.Module) -> ir.Function:
    """``{i64, double, double} @rem_pio2.huge(double a)``: (k mod 4, y0, y1) with
    a - k π/2 = y0 + y1, |y0 + y1| <= π/4, for any a >= 0 (exact for a > 2**20; others give
    some value, which no caller uses)."""
    existing = module.globals.get("rem_pio2.huge")
    if existing is not None:
        return existing
    result = ir.LiteralStructType([I64, D, D])
    fn = ir.Function(module, ir.FunctionType(result, [D]), name="rem_pio2.huge")
    fn.linkage = "internal"
    fn.attributes.add("noinline")
    fn.attributes.add("nounwind")
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    quadrant, fraction = _times_two_over_pi(b, _table(module), fn.args[0])
    negative = b.icmp_signed("<", fraction, ir.Constant(I128, 0))
    magnitude = b.select(negative, b.sub(ir.Constant(I128, 0), fraction), fraction)
    y0, y1 = _to_double_double(b, _times_pio2(b, magnitude))
    y0 = b.select(negative, b.fneg(y0), y0)
    y1 = b.select(negative, b.fneg(y1), y1)
    value = ir.Constant(result, ir.Undefined)
    for position, part in enumerate((quadrant, y0, y1)):
        value = b.insert_value(value, part, position)
    b.ret(value)
    return fn


def _table(module: ir.Module) -> ir.GlobalVariable:
    table = module.globals.get("two_over_pi.words")
    if table is None:
        kind = ir.ArrayType(I64, WORDS)
        table = ir.GlobalVariable(module, kind, "two_over_pi.words")
        table.linkage, table.global_constant = "internal", True
        table.initializer = ir.Constant(kind, [ir.Constant(I64, w) for w in TABLE])
    return table


def _i64(value: int) -> ir.Constant:
    return ir.Constant(I64, value)


def _times_two_over_pi(b: ir.IRBuilder, table: ir.GlobalVariable,
                       a: ir.Value) -> tuple[ir.Value, ir.Value]:
    """a 2/π = k + f, k an integer mod 4 and f in [-1/2, 1/2] as a signed 128-bit fixed-point
    number (f 2**128), from the 53-bit mantissa m and exponent e of a = m 2**e: only a 2/π mod 4
    matters, so only the bits of 2/π of weights 2**(1 - e) down to 2**(-190 - e) are read."""
    bits = b.bitcast(a, I64)
    e = b.sub(b.and_(b.lshr(bits, _i64(52)), _i64(0x7FF)), _i64(1075))
    e = b.select(b.icmp_signed("<", e, _i64(-32)), _i64(-32), e)   # below 2**20: unused lanes
    mantissa = b.or_(b.and_(bits, _i64(2**52 - 1)), _i64(2**52))
    start = b.add(e, _i64(62))                   # where 2/π's bit of weight 2**(1 - e) sits
    word, offset = b.lshr(start, _i64(6)), b.and_(start, _i64(63))
    kind = table.value_type
    words = [b.load(b.gep(table, [_i64(0), b.add(word, _i64(j))], inbounds=True,
                          source_etype=kind), typ=I64) for j in range(4)]
    shift = declare(b.module, "llvm.fshl.i64", I64, [I64, I64, I64])
    h0, h1, h2 = (b.call(shift, [words[j], words[j + 1], offset]) for j in range(3))
    # m (h0 h1 h2) mod 2**192: three words, the top two bits of the first the integer part
    wide = b.zext(mantissa, I128)
    p2, p1 = b.mul(wide, b.zext(h2, I128)), b.mul(wide, b.zext(h1, I128))
    low1, high1 = b.trunc(p1, I64), b.trunc(b.lshr(p1, ir.Constant(I128, 64)), I64)
    high2 = b.trunc(b.lshr(p2, ir.Constant(I128, 64)), I64)
    middle = b.add(high2, low1)
    carry = b.zext(b.icmp_unsigned("<", middle, low1), I64)
    top = b.add(b.add(high1, b.mul(mantissa, h0)), carry)
    low = b.trunc(p2, I64)
    # round to the nearest integer: a fraction of 1/2 or more (bit 61) counts as the next
    # quadrant minus what is left, which the signed reading of the fraction's bits gives
    quadrant = b.and_(b.add(b.lshr(top, _i64(62)), b.and_(b.lshr(top, _i64(61)), _i64(1))),
                      _i64(3))
    upper = b.or_(b.shl(top, _i64(2)), b.lshr(middle, _i64(62)))
    lower = b.or_(b.shl(middle, _i64(2)), b.lshr(low, _i64(62)))
    fraction = b.or_(b.shl(b.zext(upper, I128), ir.Constant(I128, 64)), b.zext(lower, I128))
    return quadrant, fraction


def _times_pio2(b: ir.IRBuilder, u: ir.Value) -> ir.Value:
    """(u PIO2_FIXED) >> 128 for u < 2**128: |f| π/2 2**126 from |f| 2**128."""
    mask = ir.Constant(I128, 2**64 - 1)
    sixty_four = ir.Constant(I128, 64)
    u1, u0 = b.lshr(u, sixty_four), b.and_(u, mask)
    c1, c0 = (ir.Constant(I128, PIO2_FIXED >> 64), ir.Constant(I128, PIO2_FIXED & (2**64 - 1)))
    t00, t01, t10, t11 = b.mul(u0, c0), b.mul(u0, c1), b.mul(u1, c0), b.mul(u1, c1)
    middle = b.add(b.add(b.lshr(t00, sixty_four), b.and_(t01, mask)), b.and_(t10, mask))
    high = b.add(b.add(t11, b.lshr(t01, sixty_four)), b.lshr(t10, sixty_four))
    return b.add(high, b.lshr(middle, sixty_four))


def _pow2(b: ir.IRBuilder, k: ir.Value) -> ir.Value:
    """2**k as a double, for k in the normal range."""
    return b.bitcast(b.shl(b.add(k, _i64(1023)), _i64(52)), D)


def _to_double_double(b: ir.IRBuilder, r: ir.Value) -> tuple[ir.Value, ir.Value]:
    """r 2**-126 (r < 2**127) as hi + lo: its leading 53 bits, exactly, and the next 64."""
    count = b.call(declare(b.module, "llvm.ctlz.i128", I128, [I128, I1]),
                   [r, ir.Constant(I1, 0)])
    count = b.select(b.icmp_unsigned(">", count, ir.Constant(I128, 127)),
                     ir.Constant(I128, 127), count)
    v = b.shl(r, count)
    lead = b.trunc(b.lshr(v, ir.Constant(I128, 75)), I64)
    rest = b.trunc(b.lshr(v, ir.Constant(I128, 11)), I64)
    zeros = b.trunc(count, I64)
    hi = b.fmul(b.uitofp(lead, D), _pow2(b, b.sub(_i64(-51), zeros)))
    lo = b.fmul(b.uitofp(rest, D), _pow2(b, b.sub(_i64(-115), zeros)))
    return hi, lo


def _huge(module: ir.Module, name: str, dtype: str) -> ir.Function:
    """``@<name>.<dtype>.huge``: the scalar function through the exact reduction."""
    def body(b: ir.IRBuilder, x: ir.Value) -> ir.Value:
        m = Math(b, dtype)
        d, wide = _widen(m, x)
        reduced = b.call(_huge_reduction(module), [d.fabs(wide)])
        n, y0, y1 = (b.extract_value(reduced, k) for k in range(3))
        sine, cosine = _kernels(d, y0, y1)
        value = _assemble(d, name, n, sine, cosine, _negative(d, wide))
        undefined = b.fcmp_unordered("uno", b.fsub(wide, wide), d.c(0.0))   # inf or NaN
        return _narrow(m, b.select(undefined, d.c(float("nan")), value))
    return unary_function(module, f"{name}.{dtype}.huge", dtype, ("noinline", "nounwind"), body)


# ---------------------------------------------------------------------------------------------
# The called function and its vector variants


def trig_function(module: ir.Module, name: str, dtype: str) -> ir.Function:
    """``@<name>.<dtype>.call`` (name "sin" or "cos"), with vector variants."""
    huge = _huge(module, name, dtype)

    def scalar(b: ir.IRBuilder, x: ir.Value) -> ir.Value:
        m = Math(b, dtype)
        return _branch(b, _is_huge(m, x), lambda: b.call(huge, [x]), lambda: _fast(m, name, x))

    def vector(b: ir.IRBuilder, x: ir.Value, width: int) -> ir.Value:
        m = Math(b, dtype, width)
        fast = _fast(m, name, x)
        lanes = _is_huge(m, x)
        any_huge = b.icmp_unsigned("!=", b.bitcast(lanes, ir.IntType(width)),
                                   ir.Constant(ir.IntType(width), 0))

        def exact() -> ir.Value:
            value = fast
            for lane in range(width):
                index = ir.Constant(ir.IntType(32), lane)
                value = b.insert_element(value, b.call(huge, [b.extract_element(x, index)]),
                                         index)
            return b.select(lanes, value, fast)
        return _branch(b, any_huge, exact, lambda: fast)

    return with_variants(module, f"{name}.{dtype}", dtype, scalar, vector)


def _branch(b: ir.IRBuilder, condition: ir.Value, then: Callable[[], ir.Value],
            otherwise: Callable[[], ir.Value]) -> ir.Value:
    """then() if condition else otherwise(), each built in its own block; the value at a join."""
    with b.if_else(condition) as (taken, not_taken):
        with taken:
            first, first_block = then(), b.block
        with not_taken:
            second, second_block = otherwise(), b.block
    joined = b.phi(first.type)
    joined.add_incoming(first, first_block)
    joined.add_incoming(second, second_block)
    return joined
