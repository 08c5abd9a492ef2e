"""Arithmetic ops: add sub mul div neg pow square sqrt abs exp log (and sign, for abs').

All elementwise with numpy broadcasting; gradients of broadcast operands are summed back to
the operand's shape by the autodiff walker, never here.
"""

from __future__ import annotations

import numpy as np

from codegen import loops
from graphnn.ir import Node, OpDef, apply, op_function
from graphnn.opdef import POSITIVE, REAL, Kink, Labels, Symbolic
from graphnn.ops.common import (
    NO_GRADIENT,
    elementwise,
    elementwise_shape,
    register,
    scalar_instance,
    sympy,
)

INFIX = Labels(infix=True)      # drawn x + y in step-through text

ADD = elementwise(
    "add", ("x", "y"),
    doc="""Elementwise sum x + y, with numpy broadcasting.

    Gradient: the upstream gradient flows unchanged to both inputs ("add distributes").

    >>> gn.evaluate(gn.add(np.array([1.0, 2.0]), 3.0))
    array([4., 5.])
    """,
    reference=np.add,
    vjp=lambda g, out, x, y: (g, g),
    to_sympy=lambda x, y: x + y,
    scalar=lambda x, y: x + y,
    derivative=("1", "1"),
    symbol="+", commutative=True, labels=INFIX, kinks=(), accepts="number",
)

SUB = register(OpDef(
    "sub", ("x", "y"),
    doc="""Elementwise difference x - y, with numpy broadcasting.

    A composite: it is x + (-y), and its gradient (g, -g) comes from that expansion; the node
    keeps the name `sub` so drawings and text show what was written.

    >>> gn.evaluate(gn.sub(5.0, 2.0))
    array(3.)
    """,
    shape=elementwise_shape, reference=np.subtract,
    expand=lambda x, y: x + apply("neg", y),
    scalar=lambda x, y: x - y,
    derivative=("1", "-1"),
    vjp=None, to_sympy=lambda x, y: x - y, elementwise=True, symbol="−", labels=INFIX,
    accepts="number",
    symbolic=Symbolic(instances=scalar_instance(2)), kinks=(),
))

MUL = elementwise(
    "mul", ("x", "y"),
    doc="""Elementwise product x * y, with numpy broadcasting.

    Gradient: each input receives the upstream gradient times the other input ("mul swaps").

    >>> gn.evaluate(gn.mul(np.array([1.0, 2.0]), 3.0))
    array([3., 6.])
    """,
    reference=np.multiply,
    vjp=lambda g, out, x, y: (g * y, g * x),
    to_sympy=lambda x, y: x * y,
    scalar=lambda x, y: x * y,
    derivative=("y", "x"),
    symbol="×", commutative=True, labels=INFIX, kinks=(), accepts="number",
)

DIV = elementwise(
    "div", ("x", "y"),
    doc="""Elementwise quotient x / y (IEEE: x / 0 is ±inf, 0 / 0 is NaN).

    Gradient: d/dx = 1 / y, d/dy = -x / y² = -out / y (reusing the output).

    >>> gn.evaluate(gn.div(1.0, 4.0))
    array(0.25)
    """,
    reference=np.divide,
    vjp=lambda g, out, x, y: (g / y, -(g * out) / y),
    to_sympy=lambda x, y: x / y,
    scalar=lambda x, y: x / y,
    derivative=("1/y", "-x/y²"),
    symbol="÷", labels=INFIX, kinks=(),
)

NEG = elementwise(
    "neg", ("x",),
    doc="""Elementwise negation -x. Gradient: -g.

    >>> gn.evaluate(-gn.constant(2.0))
    array(-2.)
    """,
    reference=np.negative,
    vjp=lambda g, out, x: (-g,),
    to_sympy=lambda x: -x,
    scalar=lambda x: -x,
    derivative=("-1",),
    symbol="×-1", labels=Labels(written="-(x)"), kinks=(), accepts="number",
)

def _one_at_zero(x: Node) -> Node:
    """x, with 1 where x == 0: x + (1 - sign|x|) adds an exact 0.0 wherever x != 0, so every
    other value (NaN included) is kept bit for bit; used as log's argument, log 0 = -inf
    becomes log 1 = 0."""
    return x + (1.0 - apply("sign", apply("abs", x)))


POW = elementwise(
    "pow", ("x", "y"),
    doc="""Elementwise power x ** y with numpy's semantics (a negative base with a non-integer
    exponent is NaN; 0 ** 0 is 1).

    Gradient: d/dx = y x^(y-1); d/dy = out log(x), built only when y depends on a variable
    being differentiated (so x ** 2 with x < 0 has a finite gradient). At x = 0, d/dy takes
    log 0 as 0: the gradient is 0 where y > 0 (0 ** y is flat in y there; PyTorch and JAX
    agree), not 0 · log 0 = NaN; where y < 0 it is inf · 0 = NaN.

    >>> gn.evaluate(gn.pow(2.0, 10.0))
    array(1024.)
    """,
    reference=np.power,
    vjp=lambda g, out, x, y: (g * y * x ** (y - 1.0), g * out * apply("log", _one_at_zero(x))),
    to_sympy=lambda x, y: x ** y,
    scalar=loops.power,
    derivative=("y·x^(y-1)", "out·log(x)"),
    symbol="^", domains=(POSITIVE, REAL), kinks=(),
)

SQUARE = elementwise(
    "square", ("x",),
    doc="""Elementwise square x * x. Gradient: 2 x.

    >>> gn.evaluate(gn.square(-3.0))
    array(9.)
    """,
    reference=np.square,
    vjp=lambda g, out, x: (g * (2.0 * x),),
    to_sympy=lambda x: x ** 2,
    scalar=lambda x: x * x,
    derivative=("2x",),
    symbol="x²", labels=Labels(written="(x)²"), kinks=(),
)

SQRT = elementwise(
    "sqrt", ("x",),
    doc="""Elementwise square root (NaN for x < 0).

    Gradient: 1 / (2 sqrt(x)) = 1 / (2 out), which is inf at x = 0.

    >>> gn.evaluate(gn.sqrt(9.0))
    array(3.)
    """,
    reference=np.sqrt,
    vjp=lambda g, out, x: (g / (2.0 * out),),
    to_sympy=lambda x: sympy.sqrt(x),
    scalar=loops.sqrt,
    derivative=("1/(2·out)",),
    symbol="√", domains=(POSITIVE,),
    kinks=(Kink("x = 0", (0.0,), True, "the derivative is unbounded: +inf in graphnn, "
                "complex infinity in SymPy"),),
)

SIGN = elementwise(
    "sign", ("x",),
    doc="""Elementwise sign: -1, 0 or 1 (NaN for NaN). Piecewise constant: no gradient.

    >>> gn.evaluate(gn.ops.sign(np.array([-2.0, 0.0, 3.0])))
    array([-1.,  0.,  1.])
    """,
    reference=np.sign,
    vjp=None,
    to_sympy=lambda x: sympy.sign(x),
    scalar=lambda x: loops.select(loops.gt(x, 0), 1, loops.select(loops.lt(x, 0), -1, x)),
    derivative=("0",),
    symbol="sign", public=False, kinks=(Kink("x = 0", (0.0,), False, NO_GRADIENT),),
)

ABS = elementwise(
    "abs", ("x",),
    doc="""Elementwise absolute value |x|.

    Gradient: sign(x); at x = 0 it is 0 (the subgradient the usual frameworks and SymPy's
    sign(0) = 0 choose).

    >>> gn.evaluate(gn.abs(-2.5))
    array(2.5)
    """,
    reference=np.abs,
    vjp=lambda g, out, x: (g * apply("sign", x),),
    to_sympy=lambda x: sympy.Abs(x),
    scalar=loops.fabs,
    derivative=("sign(x)",),
    symbol="|x|", labels=Labels(written="|x|"), accepts="number",
    kinks=(Kink("x = 0", (0.0,), True, "sign(0) = 0, the smallest subgradient; "
                "SymPy's derivative of Abs(x) is sign(x) too"),),
)

EXP = elementwise(
    "exp", ("x",),
    doc="""Elementwise exponential e^x (inf on overflow, 0 on underflow).

    Gradient: e^x, which is the output itself.

    >>> gn.evaluate(gn.exp(0.0))
    array(1.)
    """,
    reference=np.exp,
    vjp=lambda g, out, x: (g * out,),
    to_sympy=lambda x: sympy.exp(x),
    scalar=loops.exp,
    derivative=("out",),
    symbol="exp", kinks=(),
)

LOG = elementwise(
    "log", ("x",),
    doc="""Elementwise natural logarithm (log 0 = -inf, NaN for x < 0). Gradient: 1 / x.

    >>> gn.evaluate(gn.log(1.0))
    array(0.)
    """,
    reference=np.log,
    vjp=lambda g, out, x: (g / x,),
    to_sympy=lambda x: sympy.log(x),
    scalar=loops.log,
    derivative=("1/x",),
    symbol="log", domains=(POSITIVE,), kinks=(),
)

add, sub, mul, div, neg = (op_function(op) for op in (ADD, SUB, MUL, DIV, NEG))
pow, square, sqrt, sign = (op_function(op) for op in (POW, SQUARE, SQRT, SIGN))  # noqa: A001
abs, exp, log = (op_function(op) for op in (ABS, EXP, LOG))  # noqa: A001
