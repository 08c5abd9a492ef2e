"""Ops registered outside graphnn: one whose rules build loop IR compiles; one whose lowering
calls Python on loop IR is a clear error naming the op, not a raw exception from inside
lowering."""

from __future__ import annotations

import math

import numpy as np
import pytest

import graphnn as gn
from graphnn.ir import REGISTRY, OpDef, apply, register
from graphnn.opdef import Symbolic
from graphnn.ops.common import elementwise_shape, scalar_instance


def _user_op(name: str, scalar) -> OpDef:
    return OpDef(name, ("x",), f"{name}, registered by a test", shape=elementwise_shape,
                 reference=np.vectorize(math.erf), vjp=None, to_sympy=lambda x: x,
                 scalar=scalar, elementwise=True, derivative=("?",), symbol=name, kinks=(),
                 symbolic=Symbolic(instances=scalar_instance(1)))


@pytest.fixture
def registered():
    names = []

    def add(op: OpDef) -> OpDef:
        names.append(op.name)
        return register(op)
    yield add
    for name in names:
        REGISTRY.pop(name, None)


def test_a_user_op_that_calls_python_on_loop_ir_is_a_lowering_error(registered):
    # the reproducer: math.erf of a loop expression raised a raw TypeError from gn.compile
    registered(_user_op("python_erf", lambda x: math.erf(x)))
    x = gn.input("x", shape=(3,))
    y = apply("python_erf", x) * 2.0
    np.testing.assert_allclose(gn.evaluate(y, {"x": np.zeros(3)}), 0.0)   # evaluate works
    with pytest.raises(gn.LoweringError, match=r"op 'python_erf' \(registered outside "
                                               r"graphnn\) could not be lowered to loop IR "
                                               r"\(TypeError: "):
        gn.compile(y)


def test_a_user_op_whose_rule_builds_loop_ir_compiles(registered):
    registered(_user_op("user_half", lambda x: x * 0.5))
    x = gn.input("x", shape=(3,))
    f = gn.compile(apply("user_half", x) + 1.0)
    np.testing.assert_array_equal(f(np.array([2.0, 4.0, -6.0])), [2.0, 3.0, -2.0])
