"""Loop IR as deep and as long as a big graph makes it: expressions thousands of operations
deep and kernels of thousands of statements are printed, compared, verified, scheduled,
emitted and compiled with no recursion as deep as the IR (each test runs under a lowered
recursion limit), and a long kernel becomes LLVM functions of bounded size (a statement that
repeats on other buffers compiled once) whose results are bit for bit those of the same kernel
compiled as one function."""

from __future__ import annotations

import re

import numpy as np
import pytest

from codegen import cost, loops
from codegen.exprs import iterate
from codegen.jit import compile_kernel
from codegen.llvm import build_module
from codegen.options import CodegenOptions
from codegen.schedule import schedule
from codegen.workspace import ITEMSIZE, layout
from tests.harness import run_docstring_examples, shallow_stack

DEPTH = 5_000       # far deeper than the recursion limit the tests run under


def _chain(e: loops.Expr, depth: int) -> loops.Expr:
    """depth operations on e: a tanh every eighth, affine maps between."""
    for k in range(depth):
        e = loops.tanh(e) if k % 8 == 0 else (e * 0.5 + 0.25 if k % 2 else e - 0.125)
    return e


def _chain_numpy(x: np.ndarray, depth: int) -> np.ndarray:
    for k in range(depth):
        x = np.tanh(x) if k % 8 == 0 else (x * 0.5 + 0.25 if k % 2 else x - 0.125)
    return x


def test_a_deep_expression_prints_compares_verifies_and_schedules():
    x = loops.Buffer("x", "f64", (4, 5))
    out = loops.Buffer("out", "f64", (4, 5))
    with shallow_stack():
        value = _chain(x[loops.Var("i"), loops.Var("j")], DEPTH)
        twin = _chain(x[loops.Var("i"), loops.Var("j")], DEPTH)
        other = _chain(x[loops.Var("j"), loops.Var("i")], DEPTH)   # differs at the bottom
        assert value == twin and value is not twin and hash(value) == hash(twin)
        assert value != other
        text = str(value)
        assert text.count("tanh(") == DEPTH // 8 and text.endswith("* 0.5 + 0.25")
        nest = loops.loop_nest((4, 5), lambda i, j: loops.store(out, (i, j), value))
        kernel = loops.Kernel("deep", [x], [out], body=[nest])     # verified as it is built
        flat = schedule(kernel, parallel=False)                    # flatten rewrites the tree
        (loop,) = flat.body
        assert loop.extent == 20 and "x.flat[i]" in str(loop.body[0].value)
        assert cost.work(flat.body[0]) > 20 * DEPTH
        assert "deep.stage0" in str(build_module(flat).module)


def test_a_deep_straight_line_kernel_compiles_and_runs():
    x = loops.Buffer("x", "f64", (3,))
    out = loops.Buffer("out", "f64", (3,))
    depth = DEPTH // 3
    with shallow_stack():
        kernel = loops.Kernel("deep", [x], [out], body=[
            loops.store(out, k, _chain(x[k], depth)) for k in range(3)])
        values = np.array([0.1, -2.0, 30.0])
        np.testing.assert_allclose(compile_kernel(kernel)(values), _chain_numpy(values, depth),
                                   rtol=1e-12)


def test_substitute_reaches_the_bottom_of_a_deep_expression():
    x = loops.Buffer("x", "f32", (8,))
    with shallow_stack():
        deep = _chain(x[loops.Var("k")], DEPTH)
        moved = loops.substitute(deep, {"k": loops.Var("i") + 1})
        assert str(moved).count("x[i + 1]") == 1 and "x[k]" not in str(moved)


def _long_kernel(statements: int, dtype: str = "f64") -> loops.Kernel:
    """out = f(f(...f(x))) with each f its own loop through a temp: exp, expm1, log, tanh."""
    x = loops.Buffer("x", dtype, (37,))
    out = loops.Buffer("out", dtype, (37,))
    temps = [loops.Buffer(f"t{k}", dtype, (37,)) for k in range(statements - 1)]
    targets = temps + [out]
    functions = [lambda v: loops.tanh(v) * 2.0,
                 lambda v: loops.exp(-loops.fabs(v)) + 0.5,
                 lambda v: loops.log(v * v + 1.0) - 0.25,
                 lambda v: loops.expm1(v * 0.5) * 0.5]
    body, source = [], x
    for k, target in enumerate(targets):
        function = functions[k % len(functions)]
        body.append(loops.loop(37, lambda i, s=source, t=target, f=function:
                               loops.store(t, i, f(s[i]))))
        source = target
    return loops.Kernel("long", [x], [out], temps, body)


def _function_sizes(ir_text: str) -> dict[str, int]:
    """Instructions per defined function of LLVM IR text."""
    sizes, name = {}, None
    for line in ir_text.splitlines():
        found = re.match(r'define [^@]*@"?([^"(]+)"?\(', line)
        if found:
            name, sizes[found.group(1)] = found.group(1), 0
        elif line == "}":
            name = None
        elif name is not None and line.startswith("  "):
            sizes[name] += 1
    return sizes


def test_a_long_kernel_becomes_functions_of_bounded_size():
    with shallow_stack():
        short = _function_sizes(str(build_module(_long_kernel(3)).module))
        assert not any(".stage" in name for name in short)     # a short kernel: one body
        counts, largest = [], []
        for statements in (300, 1200):
            sizes = _function_sizes(str(build_module(_long_kernel(statements)).module))
            stages = {n: s for n, s in sizes.items() if ".stage" in n}
            counts.append(len(stages))
            largest.append(max(sizes.values()))
    # four times the statements: about four times the functions, none of them larger (but for
    # where the stage boundaries fall among statements of different sizes)
    assert 3.5 <= counts[1] / counts[0] <= 4.5
    assert largest[1] <= 1.1 * largest[0]


def test_a_statement_repeated_on_other_buffers_is_compiled_once():
    # t1 = f(t0), t2 = g(t1), t3 = h(t2), t4 = k(t3), t5 = f(t4), ...: four shapes, each one
    # function of its buffers' pointers, however long the kernel
    for statements in (300, 1200):
        text = str(build_module(_long_kernel(statements)).module)
        shared = sorted(set(re.findall(r'define [^@]*@"(long\.shared\d+)"', text)))
        assert shared == ["long.shared0", "long.shared1", "long.shared2", "long.shared3"]
        assert text.count('call void @"long.shared') == statements


@pytest.mark.parametrize("dtype", ["f32", "f64"])
def test_a_long_kernel_computes_what_the_same_kernel_as_one_function_does(dtype):
    kernel = _long_kernel(30, dtype)
    specials = [0.0, -0.0, np.nan, np.inf, -np.inf, 1e-40, -1e-310, 88.0, -90.0, 710.0, 20.5]
    values = np.concatenate([specials, np.linspace(-30.0, 30.0, 37 - len(specials))])
    values = values.astype(np.float32 if dtype == "f32" else np.float64)
    long = compile_kernel(kernel, options=CodegenOptions(stage_size=300))  # ten statements a stage
    assert "long.stage2" in long.llvm_ir and "long.shared2" in long.llvm_ir
    for name in ("exp", "expm1", "log", "tanh"):
        assert f"{name}.{dtype}.call" in long.llvm_ir and f"{name}.{dtype}.v4" in long.llvm_ir
    whole = compile_kernel(kernel, options=CodegenOptions(stage_size=10**9))
    assert ".stage" not in whole.llvm_ir and ".call" not in whole.llvm_ir
    np.testing.assert_array_equal(long(values), whole(values))


def test_the_workspace_of_a_long_chain_reuses_two_slots():
    temps = [loops.Buffer(f"t{k}", "f32", (16,)) for k in range(DEPTH)]
    x = loops.Buffer("x", "f32", (16,))
    out = loops.Buffer("out", "f32", (16,))
    body, source = [], x
    for target in temps + [out]:
        body.append(loops.loop(16, lambda i, s=source, t=target: loops.store(t, i, s[i] + 1.0)))
        source = target
    with shallow_stack():
        planned = layout(loops.Kernel("chain", [x], [out], temps, body))
    assert planned.size == 2 * 16 * ITEMSIZE["f32"]


def test_iterate_runs_recursion_on_its_own_stack():
    def count(n):
        return 0 if n == 0 else 1 + (yield count(n - 1))

    with shallow_stack():
        assert iterate(count(DEPTH)) == DEPTH
    result = run_docstring_examples("codegen.exprs")
    assert result.failed == 0 and result.attempted > 0
