"""Deep and big graphs compile (issue 12): a 20,000-node elementwise chain, a 5,000-node
branching network of tanh(x @ W + b) blocks with fan-out and fan-in, and the gradient of a long
chain, each under a recursion limit a few hundred frames above the test's own depth (any pass
recursing once per node fails), with values checked against gn.evaluate. The work per node is
pinned down without timing: the largest loop body and the largest LLVM function stay the same
as the graph grows four times longer, and only the number of loops and functions grows."""

from __future__ import annotations

import re

import numpy as np

import graphnn as gn
from codegen import loops
from codegen.cost import statement_size
from codegen.llvm import build_module
from graphnn.compiler.plans import make_plan
from graphnn.options import CompileOptions
from tests.harness import shallow_stack


def _chain(nodes: int, shape: tuple[int, ...] = (16,)) -> tuple[gn.Graph, gn.Graph]:
    """x -> tanh, * 0.5, + 0.25, - 0.125, ... until the graph has `nodes` nodes."""
    x = gn.input("x", shape=shape)
    y, count = x, 4                  # x and the three constants
    while count < nodes:
        y = gn.tanh(y) if count % 4 == 0 else y * 0.5 if count % 4 == 1 else \
            y + 0.25 if count % 4 == 2 else y - 0.125
        count += 1
    return x, y


def _branching(nodes: int) -> tuple[list, gn.Node]:
    """Blocks a = tanh(y @ W + b), c = sigmoid(y @ V - b), y = a * c + y / 2: y fans out to
    four users and the block fans back in."""
    x = gn.input("x", shape=(4, 8))
    w, v = gn.input("W", shape=(8, 8)), gn.input("V", shape=(8, 8))
    b = gn.input("b", shape=(8,))
    y = x
    while len(gn.Graph(y).nodes) < nodes:
        for _ in range(50):
            y = gn.tanh(y @ w + b) * gn.sigmoid(y @ v - b) + y * 0.5
    return [x, w, v, b], y


def _close(got, want) -> None:
    for g, w in zip(got if isinstance(got, list) else [got], want):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-14)


def test_a_20000_node_elementwise_chain_compiles():
    x, y = _chain(20_000)
    assert len(gn.Graph(y).nodes) >= 20_000
    value = np.linspace(-2.0, 2.0, 16)
    with shallow_stack():
        f = gn.compile(y)
        got = f(value)
    _close(got, gn.evaluate([y], {"x": value}))


def test_a_5000_node_branching_graph_compiles():
    inputs, y = _branching(5_000)
    assert len(gn.Graph(y).nodes) >= 5_000
    rng = np.random.default_rng(0)
    feed = {"x": rng.normal(size=(4, 8)), "W": rng.normal(size=(8, 8)) * 0.3,
            "V": rng.normal(size=(8, 8)) * 0.3, "b": rng.normal(size=8)}
    with shallow_stack():
        f = gn.compile(y, inputs=inputs)
        got = f(**feed)
    _close(got, gn.evaluate([y], feed))


def test_the_gradient_of_a_long_chain_compiles():
    x, y = _chain(4_000, shape=(3, 5))
    loss = gn.sum(y * y)
    with shallow_stack():
        (dx,) = gn.grad(loss, [x])
        f = gn.compile([loss, dx])
        value = np.linspace(-1.5, 1.5, 15).reshape(3, 5)
        got = f(value)
    _close(got, gn.evaluate([loss, dx], {"x": value}))


def _kernel(nodes: int) -> loops.Kernel:
    x, y = _chain(nodes)
    return make_plan(gn.Graph(y), "f", optimize=True).kernel


def _stage_sizes(ir_text: str) -> list[int]:
    """Instructions in each stage function of a kernel's LLVM IR."""
    sizes: list[int] = []
    inside = False
    for line in ir_text.splitlines():
        if line.startswith("define "):
            inside = bool(re.search(r"@\"?f\.stage\d+", line))
            sizes += [0] if inside else []
        elif inside and line.startswith("  "):
            sizes[-1] += 1
    return sizes


def test_loops_and_llvm_functions_stay_bounded_as_the_chain_grows():
    with shallow_stack():
        short, long = _kernel(2_000), _kernel(8_000)
        stages = [_stage_sizes(str(build_module(k).module)) for k in (short, long)]
    # four times the nodes: about four times the loops, of the same bounded size (a loop's
    # members cost at most MAX_GROUP_COST: about 8 loop IR nodes a unit, a tanh 31 for 4)
    assert 3 <= len(long.body) / len(short.body) <= 5
    bound = 10 * CompileOptions().max_group_cost
    assert max(map(statement_size, long.body)) <= bound
    assert max(map(statement_size, short.body)) <= bound
    # and about four times the LLVM functions, of the same bounded size (the last one of
    # each kernel holds what is left over, so sizes vary by a statement or two)
    assert 3 <= len(stages[1]) / len(stages[0]) <= 5
    assert max(stages[1]) <= 2 * max(stages[0])


def test_an_inlined_expression_and_a_fused_loop_are_capped():
    # the chain's nodes would inline into one expression; it is cut into pieces of at most
    # MAX_INLINE_COST, and a loop holds pieces worth at most MAX_GROUP_COST
    with shallow_stack():
        kernel = _kernel(3_000)
    assert len(kernel.temps) > 1
    for stmt in kernel.body:
        stores = [n for n in loops.walk(stmt) if isinstance(n, loops.Store)]
        tanh = sum(isinstance(n, loops.Tanh) for s in stores for n in _tree(s.value))
        others = sum(isinstance(n, (loops.Add, loops.Sub, loops.Mul))
                     for s in stores for n in _tree(s.value))
        assert tanh * 4 + others <= CompileOptions().max_group_cost
        for store in stores:
            tree = _tree(store.value)
            assert 4 * sum(isinstance(n, loops.Tanh) for n in tree) + sum(
                isinstance(n, (loops.Add, loops.Sub, loops.Mul)) for n in tree) \
                <= CompileOptions().max_inline_cost


def _tree(e: loops.Expr) -> list[loops.Expr]:
    """Every node of an expression tree, a shared subexpression once per use."""
    found, stack = [], [e]
    while stack:
        node = stack.pop()
        found.append(node)
        stack.extend(c for c in loops.children(node) if isinstance(c, loops.Expr))
    return found


def test_the_loop_ir_of_a_deep_graph_prints():
    x, y = _chain(6_000)
    with shallow_stack():
        text = gn.compile(y).loop_ir
    assert text.count("tanh(") == sum(n.op == "tanh" for n in gn.Graph(y).nodes)
    assert re.search(r"temp t\d+: f64\[16\]", text)
