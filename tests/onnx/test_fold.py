"""An inference BatchNormalization folded at import into the Conv, Gemm or MatMul + Add before
it (graphnn/onnx/fold.py): no batch_norm node is left, and the values are onnxruntime's; where
the pattern does not hold (another reader of the linear op's output, weights that are inputs)
the batch_norm stays."""

from __future__ import annotations

import numpy as np
import onnxruntime
import pytest

import graphnn as gn
from tests.onnx.models import FLOAT, model
from tests.onnx.zoo import MODELS


def _statistics(rng, channels: int) -> list[tuple[str, np.ndarray]]:
    parts = [rng.uniform(0.5, 1.5, channels), rng.normal(0, 0.5, channels),
             rng.normal(0, 0.5, channels), rng.uniform(0.2, 2.0, channels)]
    return [(name, value.astype(np.float32))
            for name, value in zip(("scale", "shift", "mean", "var"), parts)]


def _check(proto, x: np.ndarray, folded: bool, **load) -> None:
    m = gn.onnx.load(proto, **load)
    assert ("batch_norm" in {n.op for n in m.graph.nodes}) != folded
    session = onnxruntime.InferenceSession(proto.SerializeToString(),
                                           providers=["CPUExecutionProvider"])
    want = session.run(None, {"x": x})
    feed = m.feed(x)
    for k, expected in enumerate(want):
        np.testing.assert_allclose(gn.evaluate(m.outputs, feed)[k], expected, rtol=1e-5,
                                   atol=1e-5)
        np.testing.assert_allclose(m.compile()(*[feed[i] for i in m.graph.inputs])[k],
                                   expected, rtol=1e-5, atol=1e-5)


BN = ["y", "scale", "shift", "mean", "var"]


@pytest.mark.parametrize("bias", [False, True], ids=["no-bias", "bias"])
@pytest.mark.parametrize("groups", [1, 2])
def test_conv_then_batch_norm_folds_into_the_conv(bias, groups):
    rng = np.random.default_rng(groups + 2 * bias)
    weights = [("w", rng.normal(size=(4, 4 // groups, 3, 3)).astype(np.float32))]
    if bias:
        weights.append(("b", rng.normal(size=4).astype(np.float32)))
    proto = model([("Conv", ["x", "w"] + (["b"] if bias else []), ["y"],
                    {"pads": [1, 1, 1, 1], "group": groups}),
                   ("BatchNormalization", BN, ["z"], {"epsilon": 1e-3})],
                  [("x", FLOAT, [2, 4, 6, 5])], [("z", FLOAT, [2, 4, 6, 5])],
                  weights + _statistics(rng, 4))
    _check(proto, rng.normal(size=(2, 4, 6, 5)).astype(np.float32), folded=True)


@pytest.mark.parametrize("form", ["gemm", "matmul-add"])
def test_dense_then_batch_norm_folds_into_the_product(form):
    rng = np.random.default_rng(5)
    if form == "gemm":
        nodes = [("Gemm", ["x", "w", "b"], ["y"], {"transB": 1})]
        w = rng.normal(size=(3, 6)).astype(np.float32)
    else:
        nodes = [("MatMul", ["x", "w"], ["h"], {}), ("Add", ["h", "b"], ["y"], {})]
        w = rng.normal(size=(6, 3)).astype(np.float32)
    proto = model(nodes + [("BatchNormalization", BN, ["z"], {})],
                  [("x", FLOAT, [4, 6])], [("z", FLOAT, [4, 3])],
                  [("w", w), ("b", rng.normal(size=3).astype(np.float32)),
                   *_statistics(rng, 3)])
    _check(proto, rng.normal(size=(4, 6)).astype(np.float32), folded=True)


def test_a_conv_output_read_twice_is_not_folded():
    # folding would compute the convolution twice (the folded one and the one Relu reads)
    rng = np.random.default_rng(6)
    proto = model([("Conv", ["x", "w"], ["y"], {}),
                   ("BatchNormalization", BN, ["z"], {}),
                   ("Relu", ["y"], ["r"], {})],
                  [("x", FLOAT, [1, 2, 4, 4])], [("z", FLOAT, [1, 3, 2, 2]),
                                                 ("r", FLOAT, [1, 3, 2, 2])],
                  [("w", rng.normal(size=(3, 2, 3, 3)).astype(np.float32)),
                   *_statistics(rng, 3)])
    _check(proto, rng.normal(size=(1, 2, 4, 4)).astype(np.float32), folded=False)


def test_weights_as_inputs_are_not_folded():
    # params="inputs": the weights are trained, so the normalization stays apart
    rng = np.random.default_rng(7)
    proto = model([("Conv", ["x", "w"], ["y"], {}), ("BatchNormalization", BN, ["z"], {})],
                  [("x", FLOAT, [1, 2, 4, 4])], [("z", FLOAT, [1, 3, 2, 2])],
                  [("w", rng.normal(size=(3, 2, 3, 3)).astype(np.float32)),
                   *_statistics(rng, 3)])
    _check(proto, rng.normal(size=(1, 2, 4, 4)).astype(np.float32), folded=False,
           params="inputs")


def test_the_zoo_resnet_keeps_no_batch_norm():
    m = gn.onnx.load(MODELS["resnet"](), batch=1)
    ops = [n.op for n in m.graph.nodes]
    assert "batch_norm" not in ops and ops.count("conv2d") == 8
