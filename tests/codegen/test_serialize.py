"""Loop IR <-> plain data (codegen/serialize.py): every node class round-trips, with the
kernels' every feature (Gemm, parallel loops, reductions, scratch temps, special constants);
deep trees need no recursion; malformed data is refused with FormatError, never built.
(Every kernel the test suite compiles also round-trips: tests/conftest.py checks each one.)"""

from __future__ import annotations

import dataclasses
import json
import math

import pytest

from codegen import exprs, loops, serialize, stmts
from codegen.serialize import FormatError, from_data, to_data
from tests.harness import run_docstring_examples


def round_trip(node: loops.Node) -> loops.Node:
    data = json.loads(json.dumps(to_data(node), allow_nan=False))   # through real JSON text
    back = from_data(data)
    assert back == node and hash(back) == hash(node) and type(back) is type(node)
    assert str(back) == str(node)
    return back


def everything() -> loops.Kernel:
    """A kernel using every node class: Gemm with every field set, a parallel loop, nested
    reductions, accumulations of each kind, comparisons, selects, casts, special constants,
    a status check and a scratch temp."""
    a, b = loops.Buffer("a", "f64", (4, 6)), loops.Buffer("b", "f64", (6, 5))
    n = loops.Buffer("n", "i64", (4,))
    c, total = loops.Buffer("c", "f64", (2, 4, 5)), loops.Buffer("total", "f64", (4,))
    scratch = loops.Buffer("scratch", "f32", (4, 6))
    gemm = loops.loop(2, lambda i: loops.Gemm(c, a, b, 4, 5, 3, trans_a=False, trans_b=True,
                                              alpha=-0.5, beta=0.0, a_offset=i * 3,
                                              b_offset=i, c_offset=i * 20, lda=6, ldb=6,
                                              ldc=5), parallel=True)
    special = [loops.const(v, "f32") for v in (math.inf, -math.inf, math.nan, -0.0, 1e-45)]

    def element(i, j):
        x = loops.cast(a[i, j], "f32")
        value = loops.select(loops.lt(x, special[0]), x, special[3])
        for expr in (loops.exp(x), loops.expm1(x), loops.log(loops.fabs(x) + special[4]),
                     loops.tanh(x), loops.sqrt(loops.fabs(x)), loops.floor(x), loops.power(x, 2.0),
                     loops.fmax(x, special[1]), loops.fmin(x, special[2]), -x, x / 3.0,
                     loops.log1p(x), loops.erf(x), loops.normal_cdf(x), loops.softplus(x),
                     loops.sin(x), loops.muladd(x, special[1], x),
                     loops.cos(x), loops.ceil(x), loops.roundeven(x)):
            value = value + expr
        flags = [loops.le(x, 1.0), loops.gt(x, 1.0), loops.ge(x, 1.0), loops.eq(x, 1.0),
                 loops.ne(x, x)]
        for flag in flags:
            value = value + loops.cast(flag, "f32")
        index = (n[i] * 7) // 3 % 5 - 1 + j
        return value + loops.cast(loops.clamp(index, 0, 5), "f32")

    fill = loops.loop_nest((4, 6), lambda i, j: loops.store(scratch, (i, j), element(i, j)))
    sums = loops.loop(4, lambda i: [
        loops.store(total, i, loops.reduce_sum(6, lambda k: loops.reduce_max(
            5, lambda m: loops.cast(scratch[i, k], "f64") * b[k, m]))),
        loops.accumulate(total, i, loops.reduce_min(6, lambda k: a[i, k]), "max"),
        loops.accumulate(total, i, 1.0, "min"), loops.accumulate(total, i, 2.0)])
    # a status check before anything runs: every n[i] a valid row of a
    checks = loops.loop(4, lambda i: loops.check(loops.lt(n[i], 4), 1))
    # a direct convolution of two 2x2 images (1 channel, 2x2 taps) padded to 3x3 and the slack
    image, conv = loops.Buffer("image", "f64", (18 + 16,)), loops.Buffer("conv", "f64", (8,))
    direct = loops.loop(2, lambda i: loops.DirectConv(
        conv, a, image, (0, 1, 3, 4), 1, 2, 2, 6, 3, 4, 2, out_offset=i * 4, w_offset=i * 6,
        x_offset=i * 9), name="d")
    return loops.Kernel("everything", [a, b, n, image], [c, total, conv], [scratch],
                        [checks, gemm, fill, sums, direct])


def test_every_node_class_round_trips():
    kernel = everything()
    round_trip(kernel)
    used = {type(node).__name__ for stmt in kernel.body for node in loops.walk(stmt)}
    used |= {"Kernel", "Buffer"}
    assert used == set(serialize.CLASSES), "add the missing classes to everything()"


def test_the_class_table_is_every_concrete_node_class():
    # a node class added later is found (and must have encodable fields), never skipped
    concrete = {cls.__name__ for module in (exprs, stmts) for cls in vars(module).values()
                if isinstance(cls, type) and issubclass(cls, loops.Node)
                and dataclasses.is_dataclass(cls) and not cls.__name__.startswith("_")}
    assert set(serialize.CLASSES) == concrete
    for name, cls in serialize.CLASSES.items():
        for field in dataclasses.fields(cls):
            assert str(field.type) in serialize.FIELD_TYPES, (name, field.name, field.type)


def test_special_floats_keep_their_bits():
    for value in (math.nan, math.inf, -math.inf, -0.0, 5e-324, 1.7976931348623157e308, 0.1):
        back = round_trip(loops.const(value, "f64"))
        assert math.copysign(1.0, back.value) == math.copysign(1.0, value) or math.isnan(value)
        assert repr(back.value) == repr(value)
    assert round_trip(loops.const(-(2 ** 62), "i64")).value == -(2 ** 62)
    assert round_trip(loops.const(True, "i1")).value is True


def test_shared_subtrees_are_stored_once():
    x = loops.Buffer("x", "f64", (8,))
    shared = loops.exp(x[loops.Var("i")] * 2.0)
    data = to_data(shared / (shared + 1.0))
    assert sum(entry[0] == "Exp" for entry in data["nodes"]) == 1


def test_a_deep_expression_needs_no_recursion():
    x = loops.Buffer("x", "f64", (1,))
    value: loops.Expr = x[0]
    for step in range(20_000):
        value = value * 1.5 if step % 2 else value + 1.0
    data = to_data(value)
    assert len(data["nodes"]) == 20_000 + 5      # and the buffer, its index, load, 1.0, 1.5
    assert to_data(from_data(data)) == data       # compared flat: == on the trees recurses


def _valid() -> dict:
    x, y = loops.Buffer("x", "f64", (4,)), loops.Buffer("y", "f64", (4,))
    return to_data(loops.Kernel("k", [x], [y], body=[loops.loop(4, lambda i: loops.store(
        y, i, x[i] * 2.0))]))


def _edit(change) -> dict:
    data = json.loads(json.dumps(_valid()))
    change(data)
    return data


def _node(data: dict, name: str) -> list:
    return next(entry for entry in data["nodes"] if entry[0] == name)


MALFORMED = {
    "not a dict": lambda: [],
    "another format": lambda: _edit(lambda d: d.update(format="loops 0")),
    "unknown class": lambda: _edit(lambda d: _node(d, "Mul").__setitem__(0, "System")),
    "private class": lambda: _edit(lambda d: _node(d, "Mul").__setitem__(0, "_Binary")),
    "class name not a string": lambda: _edit(lambda d: _node(d, "Mul").__setitem__(0, ["Mul"])),
    "float out of range": lambda: _edit(lambda d: _node(d, "Const").__setitem__(1, 10 ** 400)),
    "forward reference": lambda: _edit(lambda d: _node(d, "Mul").__setitem__(
        1, len(d["nodes"]) - 1)),
    "self reference": lambda: _edit(lambda d: _node(d, "Mul").__setitem__(
        1, d["nodes"].index(_node(d, "Mul")))),
    "reference of the wrong class": lambda: _edit(
        lambda d: _node(d, "Load").__setitem__(1, d["nodes"].index(_node(d, "Var")))),
    "missing field": lambda: _edit(lambda d: _node(d, "Loop").pop()),
    "int as bool": lambda: _edit(lambda d: _node(d, "Loop").__setitem__(4, 1)),
    "bool as int": lambda: _edit(lambda d: _node(d, "Loop").__setitem__(2, True)),
    "bad float": lambda: _edit(lambda d: _node(d, "Const").__setitem__(1, "two")),
    "wrong dtype": lambda: _edit(lambda d: _node(d, "Const").__setitem__(2, "f16")),
    "index out of bounds": lambda: _edit(lambda d: _node(d, "Loop").__setitem__(2, 5)),
    "root out of range": lambda: _edit(lambda d: d.update(root=10 ** 6)),
    "shape not a list": lambda: _edit(lambda d: _node(d, "Buffer").__setitem__(3, 4)),
}


@pytest.mark.parametrize("damage", sorted(MALFORMED))
def test_malformed_data_is_refused(damage):
    with pytest.raises(FormatError):
        from_data(MALFORMED[damage]())


def test_the_docstring_example_runs():
    result = run_docstring_examples("codegen.serialize")
    assert result.attempted > 0 and result.failed == 0
