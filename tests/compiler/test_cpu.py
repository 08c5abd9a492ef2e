"""gn.compile(cpu=...): graphs built for each x86-64 level this CPU runs (each test skipped,
saying why, where it cannot), against the NumPy reference: the ops of the elementwise math
library, matrix products (graphnn's GEMM, and "auto"), convolution and a training step. Nothing
here depends on the CPU running it beyond which levels it runs; a level it cannot run is
refused before anything is compiled."""

from __future__ import annotations

import numpy as np
import pytest

import graphnn as gn
from codegen.llvm import Target
from graphnn import nn
from graphnn.compiler import compile
from tests.compiler.test_ops_compiled import assert_matches, magnitude, points_of
from tests.harness import absent_cpu_feature, cpu_levels
from tests.ops.cases import all_cases
from tests.support import feed_for, inputs_for

LEVELS = cpu_levels()
# the ops computed with the polynomial exp, log and tanh, or with square roots and powers
MATH = ("exp", "log", "tanh", "sigmoid", "elu", "pow", "sqrt", "softmax", "log_softmax",
        "softmax_cross_entropy", "binary_cross_entropy")


def _math_graph(name: str, dtype: str) -> tuple[list, list, dict, list]:
    """The op's case rows at their random points and edge values, as one graph: (outputs,
    inputs, feed, what each output is and the magnitude of its operands)."""
    outputs, inputs, feed, described = [], [], {}, []
    for _, k, case in (row for row in all_cases() if row[0] == name):
        for p, point in enumerate(points_of(case, k)):
            nodes = inputs_for([a.shape for a in point], dtype, prefix=f"a{k}_{p}_")
            outputs.append(gn.apply(name, *nodes, **case.attrs))
            inputs += nodes
            feed.update(feed_for(nodes, point))
            described.append((f"{name} row {k} at {point}", magnitude(point)))
    return outputs, inputs, feed, described


# float32 here, where the vector widths differ most (4, 8 or 16 lanes); tests/codegen/llvm
# checks exp, log and tanh in both dtypes on each level
@pytest.mark.parametrize("cpu", LEVELS)
def test_math_library_matches_numpy(cpu):
    dtype = "float32"
    for name in MATH:
        outputs, inputs, feed, described = _math_graph(name, dtype)
        with np.errstate(all="ignore"):
            want = gn.evaluate(outputs, feed)
        got = compile(outputs, inputs, cpu=cpu)(**feed)
        for g, w, (what, scale) in zip(got, want, described):
            assert g.dtype == np.dtype(dtype)
            assert_matches(g, w, dtype, scale ** 2, f"{what} on {cpu}")


@pytest.mark.parametrize("gemm", ["native", "auto"])
@pytest.mark.parametrize("cpu", LEVELS)
def test_matrix_products_match_numpy(cpu, gemm):
    # float32 (both dtypes of graphnn's GEMM run on each level in tests/codegen/llvm)
    a = gn.input("a", shape=(2, 37, 45), dtype="float32")    # batched: a loop of products
    b = gn.input("b", shape=(45, 29), dtype="float32")
    c = gn.input("c", shape=(29, 70), dtype="float32")
    loss = gn.sum(gn.tanh(a @ b) @ c)
    outputs = [loss, *gn.grad(loss, [a, b, c])]
    rng = np.random.default_rng(4)
    feed = {"a": rng.normal(size=(2, 37, 45)), "b": rng.normal(size=(45, 29)) / 6,
            "c": rng.normal(size=(29, 70))}
    feed = {k: v.astype(np.float32) for k, v in feed.items()}
    for got, want in zip(compile(outputs, gemm=gemm, cpu=cpu)(**feed),
                         gn.evaluate(outputs, feed)):
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-4)   # float32 sums of 45


@pytest.mark.parametrize("gemm", ["native", "auto"])
@pytest.mark.parametrize("cpu", LEVELS)
def test_convolution_and_its_gradients_match_numpy(cpu, gemm):
    # deep enough for im2col products in all three (with "auto": graphnn's GEMM inside the
    # per-image parallel loop), four images
    x = gn.input("x", shape=(4, 3, 9, 8), dtype="float32")
    w = gn.input("w", shape=(16, 3, 3, 3), dtype="float32")
    y = gn.conv2d(x, w, stride=1, padding=1)
    g = gn.input("g", shape=y.shape, dtype="float32")
    outputs = [y, *gn.grad(gn.sum(y * g), [x, w])]
    rng = np.random.default_rng(5)
    feed = {"x": rng.normal(size=x.shape), "w": rng.normal(size=w.shape),
            "g": rng.normal(size=y.shape)}
    feed = {k: v.astype(np.float32) for k, v in feed.items()}
    f = compile(outputs, [x, w, g], gemm=gemm, cpu=cpu)
    assert "gemm" in f.loop_ir
    for got, want in zip(f(**feed), gn.evaluate(outputs, feed)):
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-4)   # float32 sums of 100s


# the direct loops with their bias + ReLU epilogue: rows of 16 (a whole AVX-512 vector, two
# AVX2 ones), rows of 14 along the flattened padded image, stride 2 through the phases
@pytest.mark.parametrize("shape,attrs", [((2, 4, 5, 16), {"padding": 1}),
                                         ((2, 4, 6, 14), {"padding": 1}),
                                         ((2, 4, 8, 32), {"stride": 2, "padding": 1})],
                         ids=["rows", "flat", "phases"])
@pytest.mark.parametrize("cpu", LEVELS)
def test_direct_convolution_with_bias_and_relu_matches_numpy(cpu, shape, attrs):
    x = gn.input("x", shape=shape, dtype="float32")
    w = gn.input("w", shape=(6, 4, 3, 3), dtype="float32")
    b = gn.input("b", shape=(6, 1, 1), dtype="float32")
    y = gn.relu(gn.conv2d(x, w, **attrs) + b)
    rng = np.random.default_rng(6)
    feed = {n.name: rng.normal(size=n.shape).astype(np.float32) for n in (x, w, b)}
    f = compile(y, [x, w, b], cpu=cpu)
    assert "gemm" not in f.loop_ir
    np.testing.assert_allclose(f(**feed), gn.evaluate(y, feed), rtol=2e-5, atol=2e-5)


@pytest.mark.parametrize("cpu", LEVELS)
def test_a_training_step_matches_numpy(cpu):
    model = nn.Sequential([nn.Conv2D(4, 3, padding=1), nn.ReLU(), nn.Flatten(),
                           nn.Dense(3)], input_shape=(2, 5, 5), seed=0)
    step = nn.TrainStep(model, nn.SoftmaxCrossEntropy(), nn.Adam(lr=0.01), seed=0)
    graph = step.graph(6)
    rng = np.random.default_rng(1)
    feed = {"x": rng.normal(size=(6, 2, 5, 5)).astype("float32"),
            "target": nn.one_hot(rng.integers(0, 3, 6), 3),
            "lr": np.float32(0.01), "correct1": np.float32(10.0), "correct2": np.float32(1000.0),
            **model.values, **{k: rng.normal(size=v.shape).astype("float32") ** 2
                               for k, v in step.slots.items()}}
    arrays = [feed[node.name] for node in graph.inputs]
    compiled = compile(list(graph.outputs), list(graph.inputs), cpu=cpu)(*arrays)
    evaluated = gn.evaluate(list(graph.outputs), feed)
    for name, got, want in zip(["loss", "output", *graph.buffers], compiled, evaluated):
        np.testing.assert_allclose(got, want, rtol=2e-4, atol=2e-6, err_msg=name)  # float32


@pytest.mark.parametrize("cpu", LEVELS[:2])             # the levels below AVX-512
def test_a_level_keeps_to_its_instructions(cpu):
    # the property of the forced target, not of this CPU: no 512-bit registers in its code
    x = gn.input("x", shape=(4096,), dtype="float32")
    f = compile(gn.sigmoid(x) * gn.tanh(x), cpu=cpu)
    assert f.target == Target.named(cpu) and f.base.kernel.target == f.target
    assert "zmm" not in f.assembly and "<16 x float>" not in f.optimized_llvm_ir


def test_the_default_is_this_cpu():
    f = compile(gn.input("x") * 2.0)
    assert f.target == Target.host() == compile(gn.input("x") * 3.0, cpu="host").target


@pytest.mark.parametrize("cpu,message", [
    ("x86-64-v9", "cpu must be one of 'host', 'x86-64-v2', 'x86-64-v3', 'x86-64-v4' or a "
                  "Target, got 'x86-64-v9'"),
    ("avx2", "cpu must be one of"),
    (None, "cpu must be one of"),
])
def test_an_unknown_cpu_is_a_clear_error(cpu, message):
    with pytest.raises(gn.OpError, match=message):
        compile(gn.input("x") * 2.0, cpu=cpu)


def test_a_cpu_this_machine_cannot_run_is_refused_before_compiling(tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHNN_CACHE_DIR", str(tmp_path))
    feature = absent_cpu_feature()
    x = gn.input("x", shape=(8,))
    with pytest.raises(gn.OpError, match=f"cannot run code for .* it lacks {feature}"):
        compile(gn.exp(x) + 0.375, cpu=Target(Target.host().cpu, f"+{feature}"))
    other = "skylake" if Target.host().cpu != "skylake" else "znver3"
    with pytest.raises(gn.OpError, match=f"cannot tell whether this CPU .* '{other}'"):
        compile(gn.exp(x) + 0.375, cpu=Target(other))
    assert not [p for p in tmp_path.rglob("*") if p.is_file()], "something was compiled"
