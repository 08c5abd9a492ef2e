"""OpDef and register (graphnn/opdef.py): every facet an op needs is declared with it, register
refuses what is missing or contradictory, and nothing about an op depends on when it was
registered (no snapshot of the registry anywhere)."""

from __future__ import annotations

import gc
import importlib
import pkgutil
import weakref

import numpy as np
import pytest

import graphnn as gn
import graphnn.ops
from graphnn import ir, opdef
from graphnn.compiler import plans
from graphnn.lower import lower
from graphnn.opdef import (
    GEMM_FORMS,
    REGISTRY,
    Instance,
    Kink,
    Lowering,
    OpDef,
    Rebatch,
    Symbolic,
    register,
)
from graphnn.ops import common
from graphnn.options import CompileOptions
from graphnn.passes.cse import merge_common
from graphnn.passes.rewrite import AnyConst, P, Var, exactly_commutative


def _cube(**changes) -> OpDef:
    """A complete elementwise op (x³), with `changes` to its facets."""
    fields = dict(shape=common.elementwise_shape, reference=lambda x: x ** 3,
                  vjp=lambda g, out, x: (g * 3.0 * x * x,), to_sympy=lambda x: x ** 3,
                  scalar=lambda x: x * x * x, elementwise=True, derivative=("3x²",),
                  symbol="x³", kinks=(),
                  symbolic=Symbolic(instances=common.scalar_instance(1)))
    return OpDef("test_cube", ("x",), "x cubed.", **{**fields, **changes})


@pytest.fixture
def registered():
    """Registers OpDefs for one test and removes them afterwards."""
    names = []

    def add(op: OpDef, builtin: bool = False) -> OpDef:
        names.append(op.name)
        return (common.register if builtin else register)(op)
    yield add
    for name in names:
        REGISTRY.pop(name, None)


def test_a_complete_op_registers(registered):
    op = registered(_cube())
    x = gn.input("x", shape=(3,))
    assert gn.evaluate(ir.apply("test_cube", x), {"x": [1.0, 2.0, -1.0]}).tolist() == \
        [1.0, 8.0, -1.0]
    assert not op.builtin and op.domain(0) == (-3.0, 3.0)


MISSING = [
    ({"kinks": opdef._MISSING}, "declares no kinks .* kinks=\\(\\) when"),
    ({"vjp": opdef._MISSING}, "declares no vjp"),
    ({"symbolic": Symbolic()}, "declares no symbolic=Symbolic\\(instances=...\\)"),
    ({"derivative": ()}, "one derivative text per input"),
    ({"to_sympy": None}, "declares no SymPy form"),
]
CONTRADICTIONS = [
    ({"lowering": Lowering(reads_once=True)}, "reads_once needs a compute rule"),
    ({"scalar": None, "compute": lambda out, x: x[out], "lowering": Lowering(gemm="matmul2")},
     "gemm must be one of"),
    ({"params": (("axis", -1),)}, "axis attributes \\['axis'\\] but declares axes \\{\\}"),
    ({"params": (("axis", -1),), "axes": {"axis": "several"}}, "axis kind not in"),
    ({"axes": {"axis": "one"}}, "declares axes \\{'axis': 'one'\\}"),
    ({"params": (("shape", ir.REQUIRED),)}, "a shape attribute but no rebatch"),
    ({"rebatch": Rebatch("shape", lambda *a: ())}, "rebatch names the attribute 'shape'"),
    ({"commutative": True}, "commutative but does not take two inputs"),
    ({"shape_only": (1,)}, "shape_only positions \\(1,\\) beyond its 1 inputs"),
    ({"domains": ((0.0, 1.0), (0.0, 1.0))}, "one domain per input"),
    ({"activation": "glorot"}, "is an activation: it needs"),
    ({"activation": "he", "params": (("alpha", ir.REQUIRED),)}, "is an activation: it needs"),
    ({"symbolic": Symbolic(instances=(Instance(((2,), ())),))}, "an instance that does not fit"),
    ({"kinks": (Kink("x = 0", (0.0, 1.0), True, "why"),)}, "a kink that does not fit"),
    ({"kinks": (Kink("x = 0", (0.0,), True, "why", attrs={"alpha": 1.0}),)},
     "a kink that does not fit"),
]


@pytest.mark.parametrize("changes,message", MISSING + CONTRADICTIONS,
                         ids=[m.split(" ")[0] + str(k) for k, (_, m) in
                              enumerate(MISSING + CONTRADICTIONS)])
def test_register_refuses_a_missing_or_contradictory_facet(changes, message):
    with pytest.raises(gn.OpError, match=f"^op 'test_cube' .*{message}"):
        register(_cube(**changes))
    assert "test_cube" not in REGISTRY


def test_every_gemm_form_lowers_to_matrix_products():
    # an op naming a form in Lowering.gemm is lowered by graphnn/lower's code for that form
    forms = {op.lowering.gemm: name for name, op in REGISTRY.items() if op.lowering.gemm}
    assert set(forms) == set(GEMM_FORMS)
    # sizes where the products pay (lower/conv.py worth_it: 16 terms per output or more),
    # without the direct loops that take deep convolutions by default (lower/conv_direct.py)
    x, w = gn.input("x", shape=(2, 8, 6, 6)), gn.input("w", shape=(16, 8, 3, 3))
    g = gn.input("g", shape=(2, 16, 4, 4))
    a, b = gn.input("a", shape=(16, 16)), gn.input("b", shape=(16, 16))
    operands = {"matmul": (a, b), "conv2d": (x, w), "conv2d_grad_input": (g, w),
                "conv2d_grad_weight": (x, g)}
    attrs = {"conv2d_grad_input": {"input_hw": (6, 6)}, "conv2d_grad_weight": {"kernel_hw": (3, 3)}}
    for form, name in forms.items():
        node = ir.apply(name, *operands[form], **attrs.get(form, {}))
        kernel = lower(gn.Graph(node), options=CompileOptions(conv_direct=False)).kernel
        assert "gemm " in str(kernel), form


def test_graphnns_own_ops_are_builtin():
    # every op module registers through ops.common.register, which marks the op builtin
    modules = [importlib.import_module(f"graphnn.ops.{m.name}")
               for m in pkgutil.iter_modules(graphnn.ops.__path__)]
    defined = [v for m in modules for v in vars(m).values() if isinstance(v, OpDef)]
    assert {op.name for op in defined} == {name for name, op in REGISTRY.items() if op.builtin}
    assert all(op.builtin and REGISTRY[op.name] is op for op in defined)


def test_an_op_registered_later_is_treated_like_a_builtin_one(registered):
    # the passes, the plan cache and the renderer were imported long before: nothing of
    # theirs was computed from the registry at import time
    mean2 = registered(OpDef(
        "test_mean2", ("x", "y"), "The mean of x and y.", shape=common.elementwise_shape,
        reference=lambda x, y: (x + y) * 0.5, vjp=lambda g, out, x, y: (g * 0.5, g * 0.5),
        to_sympy=lambda x, y: (x + y) / 2, scalar=lambda x, y: (x + y) * 0.5,
        elementwise=True, commutative=True, derivative=("1/2", "1/2"), symbol="mean2",
        kinks=(),
        symbolic=Symbolic(instances=common.scalar_instance(2))), builtin=True)
    assert exactly_commutative(mean2)
    x, y = gn.input("x", shape=(2,)), gn.input("y", shape=(2,))
    xy, yx = ir.apply("test_mean2", x, y), ir.apply("test_mean2", y, x)
    assert len(set(merge_common(gn.Graph([xy, yx])).outputs)) == 1
    assert P.test_mean2(AnyConst("c"), Var("v")).match(ir.apply("test_mean2", x, 2.0), {})
    assert plans.cacheable(gn.Graph(xy), CompileOptions(check_passes=False))


def test_a_users_op_keeps_its_graphs_out_of_the_plan_cache(registered):
    registered(_cube())
    x = gn.input("x", shape=(2,))
    unchecked = CompileOptions(check_passes=False)
    assert not plans.cacheable(gn.Graph(ir.apply("test_cube", x)), unchecked)
    assert plans.cacheable(gn.Graph(x * 2.0), unchecked)


def test_a_dtype_rule_gives_the_result_dtype_and_its_errors_name_the_op(registered):
    # the hook integer and boolean ops fill in: here, a result of the dtype attribute
    def dtype_rule(x, dtype):
        if dtype == x:
            raise gn.DTypeError(f"x is {x} already")
        return dtype
    registered(_cube(params=(("dtype", "float64"),), dtype=dtype_rule,
                     reference=lambda x, dtype: x ** 3, vjp=None,
                     to_sympy=lambda x, dtype: x ** 3, scalar=lambda x, dtype: x * x * x))
    x = gn.input("x", shape=(2,), dtype="float32")
    y = ir.apply("test_cube", x)
    assert y.dtype == "float64" and gn.evaluate(y, {"x": np.ones(2, "float32")}).dtype == "f8"
    with pytest.raises(gn.DTypeError, match=r"test_cube\(x \[2\]\): x is float32 already\n  at"):
        ir.apply("test_cube", x, dtype="float32")


def test_a_composite_keeps_its_expansion_beside_the_node_not_in_it():
    x = gn.input("x", shape=(3,))
    node = gn.softmax(x * 2.0)
    first = node.expansion()
    assert node.expansion() is first and not hasattr(node, "__dict__")
    other = gn.softmax(x * 3.0)
    other.expansion()
    assert other in ir._EXPANSIONS
    gone = weakref.ref(other)
    del other                                # the cache holds no node alive
    gc.collect()
    assert gone() is None


def test_size_reads_its_operand_for_its_shape_alone():
    x = gn.input("x", shape=(4, 3))
    size = gn.ops.size(gn.exp(x), axis=0)
    assert REGISTRY["size"].from_shapes and REGISTRY["size"].shape_only == (0,)
    assert "exp" not in str(lower(gn.Graph(size)).kernel)   # exp(x) is not computed for it
    assert float(gn.compile(size)(np.ones((4, 3)))) == 4.0


def test_an_activation_is_declared_with_its_initializer():
    from graphnn.nn.layers import activations
    assert activations() == {"linear": "xavier", "relu": "he", "leaky_relu": "he", "elu": "he",
                             "sigmoid": "xavier", "tanh": "xavier", "softmax": "xavier",
                             "softplus": "he", "softsign": "xavier", "gelu": "he", "silu": "he"}
    assert {name for name, op in REGISTRY.items() if op.activation} == set(activations()) - {
        "linear"}
