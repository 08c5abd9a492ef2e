"""Activations: sigmoid tanh relu leaky_relu elu step.

Each states its derivative at the points where it is not differentiable. relu'(0) = 0 (the
convention of the usual frameworks and textbooks), unlike the max gate, which splits ties.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from codegen import loops
from graphnn.ir import apply, op_function
from graphnn.opdef import Kink
from graphnn.ops.common import (
    NO_GRADIENT,
    LazyModule,
    elementwise,
    float_attr,
    scalar_instance,
    sympy,
)

functions: Any = LazyModule("graphnn.ops.functions")     # σ as a named SymPy function


def _sigmoid_reference(x):
    # 1 / (1 + e^-x) for x >= 0 and e^x / (1 + e^x) for x < 0: neither overflows
    z = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + z), z / (1.0 + z)).astype(x.dtype)


def _sigmoid_scalar(x):
    # the reference's formula with one division: z = e^-|x| in (0, 1] never overflows, and
    # z / (1 + z) keeps the subnormal values of σ(x) for x < 0 (σ(-90) = 8e-40 in float32),
    # where 1 / (1 + e^-x) gives 1 / inf = 0. NaN: x >= 0 is false and z is NaN.
    z = loops.exp(-loops.fabs(x))
    return loops.select(loops.ge(x, 0), 1.0, z) / (1.0 + z)


SIGMOID = elementwise(
    "sigmoid", ("x",),
    doc="""Logistic sigmoid σ(x) = 1 / (1 + e^-x), computed without overflow: as
    e^x / (1 + e^x) for x < 0, so tiny results keep their digits (σ(-90) = 8.2e-40 in float32,
    a subnormal, and log σ(-90) = -90, not -inf).

    Gradient: σ'(x) = σ(x) (1 - σ(x)), taken from the output.

    >>> gn.evaluate(gn.sigmoid(0.0))
    array(0.5)
    """,
    reference=_sigmoid_reference,
    vjp=lambda g, out, x: (g * (out * (1.0 - out)),),
    to_sympy=lambda x: 1 / (1 + sympy.exp(-x)),
    scalar=_sigmoid_scalar,
    derivative=("out·(1 - out)",),
    symbol="σ", activation="xavier", kinks=(),
    function=lambda x: functions.Sigmoid(x),
)

TANH = elementwise(
    "tanh", ("x",),
    doc="""Hyperbolic tangent. Gradient: 1 - tanh(x)², taken from the output.

    >>> gn.evaluate(gn.tanh(0.0))
    array(0.)
    """,
    reference=np.tanh,
    vjp=lambda g, out, x: (g * (1.0 - out * out),),
    to_sympy=lambda x: sympy.tanh(x),
    scalar=loops.tanh,
    derivative=("1 - out²",),
    symbol="tanh", activation="xavier", kinks=(),
)

STEP = elementwise(
    "step", ("x",),
    doc="""Heaviside step, the perceptron's threshold: 1 if x > 0, else 0 (NaN for NaN).

    Piecewise constant, so its gradient is 0 everywhere (also at 0, by convention): graphnn
    treats it as having no gradient.

    >>> gn.evaluate(gn.step(np.array([-1.0, 0.0, 2.0])))
    array([0., 0., 1.])
    """,
    reference=lambda x: np.heaviside(x, 0.0),
    vjp=None,
    to_sympy=lambda x: sympy.Heaviside(x, 0),
    scalar=lambda x: loops.select(loops.gt(x, 0), 1, loops.select(loops.le(x, 0), 0, x)),
    derivative=("0",),
    symbol="step", kinks=(Kink("x = 0", (0.0,), False, NO_GRADIENT),),
)

RELU = elementwise(
    "relu", ("x",),
    doc="""Rectified linear unit max(x, 0) (NaN for NaN).

    Gradient: 1 if x > 0 else 0; relu'(0) = 0, the convention of the usual frameworks (not
    the max gate's even split).

    >>> gn.evaluate(gn.relu(np.array([-1.0, 0.0, 2.0])))
    array([0., 0., 2.])
    """,
    reference=lambda x: np.maximum(x, 0),
    vjp=lambda g, out, x: (g * apply("step", x),),
    to_sympy=lambda x: sympy.Piecewise((x, x > 0), (0, True)),
    scalar=lambda x: loops.fmax(x, 0),
    derivative=("[x > 0]",),
    symbol="relu", activation="he",
    kinks=(Kink("x = 0", (0.0,), True, "relu'(0) = 0, the convention of the usual frameworks "
                "and textbooks (not the max gate's 1/2); SymPy's derivative of "
                "Piecewise((x, x > 0), (0, True)) is 0 there too"),),
)

LEAKY_RELU = elementwise(
    "leaky_relu", ("x",),
    doc="""Leaky ReLU: x if x > 0 else alpha x.

    Gradient: 1 if x > 0 else alpha; at 0 it is alpha (the left side, as relu'(0) = 0).

    >>> gn.evaluate(gn.leaky_relu(np.array([-10.0, 2.0]), alpha=0.1))
    array([-1.,  2.])
    """,
    reference=lambda x, alpha: np.where(x > 0, x, alpha * x),
    # alpha + (1 - alpha) H(x): 1 for x > 0, alpha for x <= 0, NaN for NaN
    vjp=lambda g, out, x, alpha: (g * (alpha + (1.0 - alpha) * apply("step", x)),),
    to_sympy=lambda x, alpha: sympy.Piecewise((x, x > 0), (alpha * x, True)),
    params=(("alpha", 0.01),),
    canonical=lambda shape, alpha: {"alpha": float_attr("alpha", alpha)},
    scalar=lambda x, alpha: loops.select(loops.gt(x, 0), x, alpha * x),
    derivative=("1 if x > 0 else alpha",),
    symbol="lrelu", activation="he", instances=scalar_instance(1, alpha=0.1),
    kinks=(Kink("x = 0, alpha = 0.1", (0.0,), True, "the left side's slope alpha, as "
                "relu'(0) = 0", attrs={"alpha": 0.1}),),
)


def _elu_vjp(g, out, x, alpha):
    # elu'(x) = 1 for x > 0, alpha e^x = out + alpha for x <= 0. Written as
    # H + (1 - H)(min(out, 0) + alpha) so that x = +inf gives 1, not 0 * inf.
    s = apply("step", x)
    return (g * (s + (1.0 - s) * (apply("minimum", out, 0.0) + alpha)),)


ELU = elementwise(
    "elu", ("x",),
    doc="""Exponential linear unit: x if x > 0 else alpha (e^x - 1), with e^x - 1 computed as
    expm1, so values near 0 keep their digits (elu(-1e-8) = -1e-8, also in float32).

    Gradient: 1 if x > 0 else alpha e^x; at 0 it is alpha (the left side; for the default
    alpha = 1 both sides agree).

    >>> gn.evaluate(gn.elu(np.array([0.0, 2.0])))
    array([0., 2.])
    """,
    reference=lambda x, alpha: np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0))),
    vjp=_elu_vjp,
    to_sympy=lambda x, alpha: sympy.Piecewise((x, x > 0), (alpha * (sympy.exp(x) - 1), True)),
    params=(("alpha", 1.0),),
    canonical=lambda shape, alpha: {"alpha": float_attr("alpha", alpha)},
    # expm1, as the reference: exp(x) - 1 keeps no digits near 0 (elu(-1e-8) would be 0 in f32)
    scalar=lambda x, alpha: loops.select(loops.gt(x, 0), x,
                                         alpha * loops.expm1(loops.fmin(x, 0))),
    derivative=("1 if x > 0 else out + alpha",),
    symbol="elu", activation="he", instances=scalar_instance(1, alpha=0.5),
    kinks=(Kink("x = 0, alpha = 0.5", (0.0,), True, "the left side's slope alpha e^0 = alpha "
                "(with the default alpha = 1 both sides agree)", attrs={"alpha": 0.5}),),
)

sigmoid, tanh, step = (op_function(op) for op in (SIGMOID, TANH, STEP))
relu, leaky_relu, elu = (op_function(op) for op in (RELU, LEAKY_RELU, ELU))
