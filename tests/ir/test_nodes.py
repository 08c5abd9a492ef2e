"""Nodes: interning, immutability, dtype rules for numbers and arrays, construction errors."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import graphnn as gn
from graphnn import ir
from tests.ops.cases import CASES


def test_same_op_on_same_inputs_is_the_same_node():
    x = gn.input("x", shape=(3,))
    assert gn.sigmoid(x) is gn.sigmoid(x)
    assert x * 2.0 is gn.mul(x, 2.0)
    assert gn.sum(x, axis=0) is gn.sum(x, axis=-1)        # attributes are normalized first
    assert gn.input("x", shape=(3,)) is x


def test_different_attributes_or_names_are_different_nodes():
    x = gn.input("x", shape=(3,))
    assert gn.leaky_relu(x, alpha=0.1) is not gn.leaky_relu(x, alpha=0.2)
    assert gn.relu(x, name="h") is not gn.relu(x)
    assert gn.relu(x).named("h") is gn.relu(x, name="h")


def test_public_fields():
    x = gn.input("x", shape=(2, 3), dtype="float32")
    y = gn.relu(x, name="h")
    assert (y.op, y.name, y.shape, y.dtype, y.inputs) == ("relu", "h", (2, 3), "float32", (x,))
    assert x.op == "input" and x.name == "x" and x.inputs == ()
    assert gn.sum(x, axis=1).attrs == {"axis": (1,), "keepdims": False}
    assert gn.constant(np.eye(2)).value.tolist() == [[1.0, 0.0], [0.0, 1.0]]


def test_nodes_are_immutable():
    x = gn.input("x")
    with pytest.raises(AttributeError):
        x.shape = (2,)
    with pytest.raises(ValueError, match="read-only"):
        gn.constant([1.0]).value[0] = 2.0


def test_numbers_adopt_the_dtype_of_the_node_they_meet():
    w = gn.input("w", shape=(3,), dtype="float32")
    for node in (0.1 * w, w * 0.1, w + 1, 2 ** w, w / np.float64(3.0), w - True):
        assert node.dtype == "float32"
    assert gn.sigmoid(1.0).dtype == "float64"
    assert (w + np.arange(3)).dtype == "float32"          # integer arrays adopt like numbers


def test_float_arrays_keep_their_dtype():
    assert gn.constant(np.ones(2, dtype=np.float32)).dtype == "float32"
    x = gn.input("x", shape=(2,))
    assert (np.ones(2) + x).op == "add"                   # numpy defers to the node
    assert (np.ones(2) @ gn.input("m", shape=(2, 2))).shape == (2,)


def test_mixing_float32_and_float64_is_an_error_not_an_upcast():
    w32 = gn.input("w32", shape=(3,), dtype="float32")
    w64 = gn.input("w64", shape=(3,))
    with pytest.raises(gn.DTypeError, match=r"add: operands have different dtypes.*float32"):
        w32 + w64
    with pytest.raises(gn.DTypeError, match="never upcasts"):
        w32 * np.ones(3)


def test_bad_dtypes_are_rejected():
    with pytest.raises(gn.DTypeError, match="'float32', 'float64', 'int32', 'int64', 'bool'"):
        gn.input("x", dtype="int16")
    with pytest.raises(gn.DTypeError, match="unsupported dtype complex128"):
        gn.input("x") + np.array([1j])
    with pytest.raises(gn.OpError, match="must be a graph node, a number or a numpy array"):
        gn.input("x") + "1"


def test_shape_error_names_op_shapes_and_user_line():
    x = gn.input("x", shape=(64, 784))
    w = gn.input("w", shape=(256, 784))
    with pytest.raises(gn.ShapeError) as error:
        x @ w  # the line the error must quote
    message = str(error.value)
    assert "matmul(a [64,784], b [256,784])" in message
    assert "inner dimensions differ: 784" in message
    assert "test_nodes.py" in message and "x @ w  # the line the error must quote" in message


def test_broadcast_error():
    with pytest.raises(gn.ShapeError, match=r"add\(x \[3\], y \[4\]\).*do not broadcast"):
        gn.input("a", shape=(3,)) + gn.input("b", shape=(4,))


def test_attribute_and_arity_errors():
    x = gn.input("x", shape=(3,))
    with pytest.raises(gn.OpError, match="unknown attribute 'axes'.*sum takes"):
        gn.sum(x, axes=0)
    with pytest.raises(gn.OpError, match=r"sigmoid takes 1 input\(s\) \(x\), got 2"):
        gn.apply("sigmoid", x, x)
    with pytest.raises(gn.OpError, match="unknown op 'sigmoidd'"):
        gn.apply("sigmoidd", x)
    with pytest.raises(gn.OpError, match="needs the attribute 'shape'"):
        gn.apply("reshape", x)
    with pytest.raises(gn.ShapeError, match="axis 3 is out of range"):
        gn.sum(x, axis=3)
    with pytest.raises(gn.OpError, match="attribute 'alpha' must be a number"):
        gn.leaky_relu(x, alpha="big")


# every op taking an axis or axes attribute: how to call it with one
AXIS_OPS = {name: op for name, op in ir.REGISTRY.items() if op.axes}   # OpDef.axes


def test_every_op_with_an_axis_attribute_is_covered():
    taking = {name for name, op in ir.REGISTRY.items()
              if {"axis", "axes"} & {key for key, _ in op.params}}
    assert taking == set(AXIS_OPS)
    kinds = {kind for op in AXIS_OPS.values() for kind in op.axes.values()}
    assert kinds <= set(KIND), f"bad axes to try for the kinds {kinds - set(KIND)}"


OUT_OF_RANGE = r"is out of range for an array of rank 2 \(axes are -2..1\)"
BAD_AXES = {   # (axis or axes, message) per kind of op
    "axes": [(2, "axis 2 " + OUT_OF_RANGE), (-3, "axis -3 " + OUT_OF_RANGE),
             ((0, 5), r"axis 5 in axis \(0, 5\) " + OUT_OF_RANGE),
             ((1, -1), r"axis \(1, -1\) repeats axis 1 \(rank 2\)")],
    "axis": [(2, "axis 2 " + OUT_OF_RANGE), (-3, "axis -3 " + OUT_OF_RANGE),
             ((0, 1), r"axis must be one int, got \(0, 1\)")],
    "new": [(3, r"axis 3 is out of range for an array of rank 3 \(axes are -3..2\)"),
            (-4, r"axis -4 is out of range for an array of rank 3 \(axes are -3..2\)"),
            ((0, 1), r"axis must be one int, got \(0, 1\)")],
    "permutation": [((0, 5), r"axis 5 in axes \(0, 5\) " + OUT_OF_RANGE),
                    ((1, 0, 2), r"axis 2 in axes \(1, 0, 2\) " + OUT_OF_RANGE),
                    ((1, -1), r"axes \(1, -1\) repeats axis 1 \(rank 2\)")],
}
KIND = {"many": "axes", "one": "axis", "permutation": "permutation", "new": "new"}
AXIS_ROWS = [(name, attribute, axis, message) for name in sorted(AXIS_OPS)
             for attribute, kind in AXIS_OPS[name].axes.items()
             for axis, message in BAD_AXES[KIND[kind]]]


# the operands after x of the ops with more than one (their error names them too)
MORE_OPERANDS = {"take": lambda: [gn.input("indices", (2,), "int64")],
                 "first_match": lambda: [gn.input("m", (2, 1))]}


@pytest.mark.parametrize("name,attribute,axis,message", AXIS_ROWS)
def test_axes_are_never_taken_modulo_the_rank(name, attribute, axis, message):
    x = gn.input("x", shape=(2, 3))
    op = ir.REGISTRY[name]
    label = op.input_names(1)[0]
    # the op's other attributes (repeat's count) as its first case row gives them
    attrs = {key: value for key, value in CASES[name][0].attrs.items() if key not in op.axes}
    more = MORE_OPERANDS.get(name, list)()
    assert len(more) + 1 == op.arity
    operands = "".join(f", {other} \\[{','.join(map(str, m.shape))}\\]"
                       for other, m in zip(op.inputs[1:], more))
    with pytest.raises(gn.ShapeError,
                       match=rf"^{name}\({label} \[2,3\]{operands}\): {message}\n  at "):
        gn.apply(name, x, *more, **attrs, **{attribute: axis})


def test_an_axis_of_a_new_result_axis_counts_one_more_axis():
    # the "new" kind (stack, expand_dims): an axis of a result one rank higher
    new = ir._AXIS_RULES["new"]
    assert new(-1, 2) == 2 and new(0, 0) == 0
    with pytest.raises(gn.ShapeError, match=r"axis 3 is out of range for an array of rank 3"):
        new(3, 2)


def test_transpose_axes_are_a_permutation():
    # the reproducers: (0, 5) was the identity and (3, 2) was (1, 0), axes taken modulo 2
    x = gn.input("x", shape=(2, 3))
    for axes in [(0, 5), (3, 2)]:
        with pytest.raises(gn.ShapeError, match=rf"transpose\(x \[2,3\]\): axis \d in axes "
                                                rf"\({axes[0]}, {axes[1]}\) is out of range"):
            gn.transpose(x, axes)
    with pytest.raises(gn.ShapeError, match=r"axis 2 in axes \(1, 0, 2\) is out of range for "
                                            r"an array of rank 2"):
        gn.transpose(x, (1, 0, 2))
    assert gn.transpose(x, (-1, 0)) is gn.transpose(x) is gn.transpose(x, np.array([1, 0]))


def test_attributes_by_position_as_in_numpy():
    x = gn.input("x", shape=(2, 3))
    assert gn.sum(x, 1) is gn.sum(x, axis=1)
    assert gn.reshape(x, (3, 2)).shape == (3, 2)


def test_nodes_have_no_truth_value():
    with pytest.raises(TypeError, match="no truth value"):
        bool(gn.input("x"))


def test_input_names_must_be_identifiers():
    with pytest.raises(gn.OpError, match="identifier"):
        gn.input("my input")
    with pytest.raises(gn.ShapeError, match="negative dimension"):
        gn.input("x", shape=(-1, 2))


def test_scope_is_recorded_and_nested():
    with gn.scope("model"):
        with gn.scope("layer1"):
            h = gn.relu(gn.input("x", shape=(2,)))
    assert h.scope == ("model", "layer1")
    assert gn.relu(gn.input("x", shape=(2,))).scope == ()


def test_repr_is_short_and_names_the_node():
    assert repr(gn.input("x", shape=(2, 3), dtype="float32")) == "<Node input 'x' f32[2,3]>"


def test_a_misspelt_dtype_gets_a_suggestion_and_the_users_line():
    # the reproducer: dtype="flaot32" gave NumPy's "data type 'flaot32' not understood"
    with pytest.raises(gn.DTypeError, match=r"got 'flaot32'; did you mean 'float32'\?\n"
                                            r"  at .*test_nodes.py, line \d+: .*flaot32"):
        gn.input("x", shape=(2,), dtype="flaot32")
    with pytest.raises(gn.DTypeError, match=r"got 'float16'\n"):     # a dtype, not a typo
        gn.input("x", dtype="float16")


def test_ints_beyond_int64_are_numbers_and_beyond_float64_an_error():
    # the reproducer: a huge Python int as a constant ("unsupported dtype object")
    x = gn.input("x", shape=(2,))
    np.testing.assert_array_equal(gn.evaluate(x * 2**70, {"x": np.ones(2)}), [2.0**70] * 2)
    np.testing.assert_array_equal(gn.constant([1, 2**70]).value, [1.0, 2.0**70])
    np.testing.assert_array_equal(gn.constant([1.5, 2**70]).value, [1.5, 2.0**70])
    with pytest.raises(gn.DTypeError, match="unsupported dtype object"):   # None is no number
        x * [None, 2**70]
    with pytest.raises(gn.DTypeError, match=r"mul: input 'y' holds an int of 1329 bits, beyond "
                                            r"float64's range .*\n  at .*test_nodes.py"):
        x * 10**400
    with pytest.raises(gn.DTypeError, match="a constant holds an int of 1329 bits"):
        gn.constant(10**400)


def test_an_op_registered_again_under_its_name_gets_new_nodes():
    # interning is keyed by the OpDef, not its name: a node of the old definition (still
    # alive) is never handed out for the new one
    from graphnn.ir import REGISTRY, apply, register
    from graphnn.ops.arithmetic import NEG

    x = gn.input("x", shape=(2,))
    first = register(dataclasses.replace(NEG, name="test_again"))
    try:
        old = apply("test_again", x)
        REGISTRY.pop("test_again")
        second = register(dataclasses.replace(NEG, name="test_again"))
        new = apply("test_again", x)
        assert old.opdef is first and new.opdef is second and new is not old
    finally:
        REGISTRY.pop("test_again", None)
