"""The loop IR itself: structural equality, text, typing, kernel verification, rewriting, and
the workspace layout. No compilation here."""

from __future__ import annotations

import pytest

from codegen import loops
from codegen.llvm import Emitter, LoweringError
from codegen.workspace import layout

X = loops.Buffer("x", "f32", (4, 5))
Y = loops.Buffer("y", "f32", (4, 5))
OUT = loops.Buffer("out", "f32", (4, 5))
I, J = loops.Var("i"), loops.Var("j")


def test_equal_trees_are_equal_and_hash_alike():
    a = loops.exp(X[I, J] * 2.0) + 1.0
    b = loops.exp(X[I, J] * 2.0) + 1.0
    assert a == b and hash(a) == hash(b) and a is not b
    assert a != loops.exp(X[I, J] * 2.0) + 2.0
    assert loops.const(float("nan"), "f32") == loops.const(float("nan"), "f32")
    assert loops.const(0.0, "f32") != loops.const(-0.0, "f32")
    assert loops.const(1.0, "f32") != loops.const(1.0, "f64")
    assert len({a, b, loops.fmax(X[I, J], 0.0)}) == 2


def test_reduction_variables_are_named_by_nesting_depth():
    inner = loops.reduce_max(5, lambda k: X[I, k])
    outer = loops.reduce_sum(4, lambda k: loops.reduce_max(5, lambda l: X[k, l]) + X[k, 0])
    assert str(inner) == "max(r0 in 0..5: x[i, r0])"
    assert str(outer) == "sum(r1 in 0..4: max(r0 in 0..5: x[r1, r0]) + x[r1, 0])"
    assert outer == loops.reduce_sum(4, lambda k: loops.reduce_max(5, lambda l: X[k, l])
                                     + X[k, 0])


def test_expression_text_keeps_needed_parentheses_only():
    a, b, c = X[I, J], Y[I, J], X[J, I]
    assert str(a - (b - c)) == "x[i, j] - (y[i, j] - x[j, i])"
    assert str((a - b) - c) == "x[i, j] - y[i, j] - x[j, i]"
    assert str(-(a * b) / c) == "-(x[i, j] * y[i, j]) / x[j, i]"
    assert str(loops.select(loops.lt(a, b), a * -1.0, loops.cast(I, "f32"))) == \
        "select(x[i, j] < y[i, j], x[i, j] * -1.0, f32(i))"
    assert str(X.flat[I * 5 + J % 5]) == "x.flat[i * 5 + j % 5]"
    assert str(loops.const(float("-inf"), "f64")) == "-inf"


TYPE_ERRORS = [
    ("mixed float dtypes", lambda: X[I, J] + loops.Buffer("z", "f64", (1,))[0], "operand dtypes"),
    ("float literal as index", lambda: I + 1.5, "float literal"),
    ("non-constant divisor", lambda: I // J, "positive constant divisor"),
    ("zero divisor", lambda: I % 0, "positive constant divisor"),
    ("select on a float", lambda: loops.select(X[I, J], X[I, J], 2.0), "condition must be i1"),
    ("exp of an index", lambda: loops.exp(I), "needs a float operand"),
    ("index count", lambda: X[I], None),
    ("store dtype", lambda: loops.store(OUT, (I, J), loops.cast(I, "f64")), "cannot store f64"),
    ("float index", lambda: X[I, X[I, J]], "index of x must be i64"),
    ("two literals", lambda: loops.select(loops.lt(I, J), 1.0, 2.0), "use loops.const"),
    ("unknown dtype", lambda: loops.Buffer("z", "f16", (1,)), "unsupported dtype"),
]


@pytest.mark.parametrize("build,message", [c[1:] for c in TYPE_ERRORS],
                         ids=[c[0] for c in TYPE_ERRORS])
def test_ill_typed_nodes_cannot_be_built(build, message):
    if message is None:  # a single index is a flat access, which is legal
        assert str(build()) == "x.flat[i]"
        return
    with pytest.raises(TypeError, match=message):
        build()


def kernel_with(*body, inputs=(X,), outputs=(OUT,), temps=()):
    return loops.Kernel("k", list(inputs), list(outputs), list(temps), list(body))


KERNEL_ERRORS = [
    ("out of bounds", lambda: kernel_with(loops.loop_nest((4, 5), lambda i, j: loops.store(
        OUT, (i, j), X[i, j + 1]))), r"index 1 of x \(j \+ 1\) ranges over \[1, 5\]"),
    ("flat out of bounds", lambda: kernel_with(loops.loop(21, lambda i: loops.store(
        OUT, (0, 0), X.flat[i]))), r"index 0 of x \(i\) ranges over \[0, 20\]"),
    ("negative index", lambda: kernel_with(loops.loop(4, lambda i: loops.store(
        OUT, (i, 0), X[i - 1, 0]))), r"ranges over \[-1, 2\]"),
    ("writes an input", lambda: kernel_with(loops.store(X, (0, 0), 1.0)), "writes input buffer x"),
    ("undeclared buffer", lambda: kernel_with(loops.store(OUT, (0, 0), Y[0, 0])),
     "buffer y is not declared"),
    ("redeclared buffer", lambda: kernel_with(loops.store(OUT, (0, 0), loops.Buffer(
        "x", "f32", (5, 4))[0, 0])), r"declared as x: f32\[4,5\] but used as x: f32\[5,4\]"),
    ("unbound variable", lambda: kernel_with(loops.store(OUT, (0, 0), X[I, 0])),
     "variable i is not bound"),
    ("shadowing", lambda: kernel_with(loops.loop(4, lambda i: loops.loop(
        4, lambda i2: loops.store(OUT, (i2, 0), 1.0), name="i"))), "shadows an enclosing loop"),
    ("reduction shadowing", lambda: kernel_with(loops.loop(4, lambda r: loops.store(
        OUT, (r, 0), loops.reduce_sum(5, lambda k: X[r, k])), name="r0")),
     "reduction variable r0 shadows"),
    ("duplicate names", lambda: kernel_with(inputs=(X, loops.Buffer("x", "f64", (1,)))),
     "not a unique identifier"),
    ("bad kernel name", lambda: loops.Kernel("my kernel", [X], [OUT]), "not an identifier"),
]


@pytest.mark.parametrize("build,message", [c[1:] for c in KERNEL_ERRORS],
                         ids=[c[0] for c in KERNEL_ERRORS])
def test_kernel_errors_name_the_fault(build, message):
    with pytest.raises(loops.KernelError, match=message):
        build()


def test_clamped_and_guarded_indices_verify():
    # a padded window read: clamp keeps the load in bounds, select discards padding values
    def body(i, j):
        row = i + 1 - 1
        col = j - 2
        safe = X[loops.clamp(row, 0, 3), loops.clamp(col, 0, 4)]
        return loops.store(OUT, (i, j), loops.select(loops.ge(col, 0), safe, 0.0))

    kernel_with(loops.loop_nest((4, 5), body))
    kernel_with(loops.loop(0, lambda i: loops.store(OUT, (i + 100, 0), 1.0)))  # never runs


def test_substitute_and_walk():
    e = loops.reduce_sum(5, lambda k: X[I, k] * Y[J, k])
    swapped = loops.substitute(e, {"i": J, "j": I})
    assert str(swapped) == "sum(r0 in 0..5: x[j, r0] * y[i, r0])"
    assert loops.substitute(e, {"r0": I}) == e  # bound by the reduction: untouched
    assert {type(n).__name__ for n in loops.walk(e)} >= {"Reduce", "Mul", "Load", "Var"}


def test_workspace_reuses_space_of_dead_temps():
    t = [loops.Buffer(f"t{n}", "f32", (10,)) for n in range(3)]
    body = [
        loops.loop(10, lambda i: loops.store(t[0], i, 1.0)),
        loops.loop(10, lambda i: loops.store(t[1], i, t[0][i] + 1.0)),  # t0 dies here
        loops.loop(10, lambda i: loops.store(t[2], i, t[1][i] * 2.0)),  # t2 may reuse t0
        loops.loop(10, lambda i: loops.store(OUT, (0, i % 5), t[2][i] + t[1][i])),
    ]
    out = layout(kernel_with(*body, inputs=(), temps=t))
    assert out.offsets["t0"] == out.offsets["t2"] != out.offsets["t1"]
    assert out.size == 2 * 64  # two live 40-byte temps, each rounded up to 64 bytes


def test_unknown_nodes_fail_loudly_in_the_emitter():
    class Mystery(loops.Var):
        pass

    emitter = Emitter(builder=None, pointers={}, gemm="blas")  # type: ignore[arg-type]
    with pytest.raises(LoweringError, match="no LLVM emitter for Mystery"):
        emitter.emit(Mystery("q"))
