"""Elementwise work on a product's result fused into its Gemm (graphnn/lower/epilogue.py), and
constant right operands packed once (graphnn/lower/gemm.py): the loop IR has no separate pass
for the fused part, and the values equal the reference evaluation in every gemm mode."""

from __future__ import annotations

import numpy as np
import pytest

import graphnn as gn
from codegen import loops
from graphnn.compiler import compile

MODES = ("auto", "native", "blas", "loops")


def _body(f) -> tuple[loops.Stmt, ...]:
    return f.base.kernel.kernel.body


def _check(f, outputs, feed, rtol):
    for got, want in zip(f(**feed), gn.evaluate(outputs, feed), strict=True):
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype,rtol", [("float32", 1e-4), ("float64", 1e-12)])
def test_dense_layer_bias_and_relu_are_the_products_store(mode, dtype, rtol):
    x, w, b = gn.input("x", (37, 300), dtype), gn.input("w", (300, 70), dtype), \
        gn.input("b", (70,), dtype)
    outputs = [gn.relu(x @ w + b)]
    f = compile(outputs, [x, w, b], gemm=mode)
    (gemm,) = _body(f)                   # no loop nest after the product
    assert isinstance(gemm, loops.Gemm) and gemm.relu and gemm.bias.name.endswith("_b")
    rng = np.random.default_rng(0)
    _check(f, outputs, {"x": rng.normal(size=(37, 300)).astype(dtype),
                        "w": rng.normal(size=(300, 70)).astype(dtype),
                        "b": rng.normal(size=70).astype(dtype)}, rtol)


@pytest.mark.parametrize("mode", MODES)
def test_sgd_update_is_written_by_the_weight_gradient_product(mode):
    x, g, w = gn.input("x", (64, 100)), gn.input("g", (64, 30)), gn.input("w", (100, 30))
    outputs = [w - 0.1 * (x.T @ g)]
    f = compile(outputs, [x, g, w], gemm=mode)
    (gemm,) = _body(f)
    assert (gemm.alpha, gemm.beta, gemm.source.name) == (-0.1, 1.0, "in2_w")
    assert not f.base.kernel.kernel.temps
    rng = np.random.default_rng(1)
    _check(f, outputs, {n: rng.normal(size=s) for n, s in
                        [("x", (64, 100)), ("g", (64, 30)), ("w", (100, 30))]}, 1e-12)


def test_mlp_step_values_and_gradients_with_fused_updates():
    x, t = gn.input("x", (16, 20)), gn.input("t", (16, 4))
    params = [gn.input("w1", (20, 8)), gn.input("b1", (8,)), gn.input("w2", (8, 4))]
    w1, b1, w2 = params
    loss = gn.softmax_cross_entropy(gn.relu(x @ w1 + b1) @ w2, t)
    outputs = [loss, *(p - 0.5 * d for p, d in zip(params, gn.grad(loss, params)))]
    rng = np.random.default_rng(2)
    feed = {"x": rng.normal(size=(16, 20)), "t": np.eye(4)[rng.integers(0, 4, 16)],
            "w1": rng.normal(size=(20, 8)), "b1": rng.normal(size=8),
            "w2": rng.normal(size=(8, 4))}
    for mode in MODES:
        f = compile(outputs, [x, t, *params], gemm=mode)
        fused = [s for s in _body(f) if isinstance(s, loops.Gemm) and s.source is not None]
        assert {s.c.name for s in fused} == {"out1", "out3"}    # w1's and w2's updates
        _check(f, outputs, feed, 1e-12)


def test_a_result_read_elsewhere_or_not_elementwise_stays_a_pass():
    x, w, b = gn.input("x", (5, 6)), gn.input("w", (6, 7)), gn.input("b", (7,))
    product = x @ w
    cases = [[gn.relu(product + b), product],          # the product is an output too
             [gn.exp(product)],                        # not a linear form
             [product + gn.input("col", (5, 1))]]      # broadcast along the other axis
    rng = np.random.default_rng(3)
    for outputs in cases:
        f = compile(outputs, gemm="native")
        assert any(isinstance(s, loops.Loop) for s in _body(f))
        feed = {n.name: rng.normal(size=n.shape) for n in f.graph.inputs}
        _check(f, outputs, feed, 1e-12)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("transposed", [False, True])
def test_constant_operand_is_packed_once(mode, transposed):
    rng = np.random.default_rng(4)
    value = rng.normal(size=(70, 300) if transposed else (300, 70)).astype(np.float32)
    w = gn.constant(value)
    x = gn.input("x", (9, 300), "float32")
    outputs = [x @ (w.T if transposed else w) + gn.constant(np.ones(70, np.float32))]
    f = compile(outputs, [x], gemm=mode)
    (gemm,) = _body(f)
    assert gemm.packed_b is not None and gemm.bias is not None
    _check(f, outputs, {"x": rng.normal(size=(9, 300)).astype(np.float32)}, 1e-4)
    # another batch size: a specialization of its own, one row read by plain loops
    for rows in (1, 20):
        x_value = rng.normal(size=(rows, 300)).astype(np.float32)
        want = x_value.astype(float) @ (value.T if transposed else value) + 1.0
        np.testing.assert_allclose(f(x_value)[0], want, rtol=1e-4, atol=1e-4)


def test_imported_mlp_is_three_products_and_matches_onnxruntime():
    onnxruntime = pytest.importorskip("onnxruntime")
    from tests.onnx.zoo import mlp

    proto = mlp()
    model = gn.onnx.load(proto, batch=32)
    compiled = model.compile()
    body = compiled.base.kernel.kernel.body
    assert len(body) == 3 and all(isinstance(s, loops.Gemm) and s.packed_b is not None
                                  for s in body)
    x = np.random.default_rng(5).normal(size=(32, 784)).astype(np.float32)
    session = onnxruntime.InferenceSession(proto.SerializeToString(),
                                           providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(compiled(x)[0], session.run(None, {"x": x})[0], rtol=1e-4,
                               atol=1e-4)
