"""The benchmark's imported models (tests/onnx/zoo.py) against onnxruntime at batch 1 and 32,
and each of their convolutions alone, by kind: the benchmark times only what this checks."""

from __future__ import annotations

import numpy as np
import onnxruntime
import pytest

import graphnn as gn
from tests.onnx.zoo import MODELS, conv_layers


def onnxruntime_outputs(proto, x):
    session = onnxruntime.InferenceSession(proto.SerializeToString(),
                                           providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x})


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("batch", [1, 32])
def test_zoo_model_matches_onnxruntime(name, batch):
    proto = MODELS[name]()
    m = gn.onnx.load(proto, batch=batch)
    x = np.random.default_rng(batch).normal(0, 1, m.inputs[0].shape).astype(np.float32)
    (got,) = m.compile()(x)
    (want,) = onnxruntime_outputs(proto, x)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_resnet_has_every_kind_of_convolution_and_each_runs_alone():
    layers = conv_layers(MODELS["resnet"](), batch=2)
    assert {kind for kind, _ in layers} == {"1x1", "3x3", "strided", "depthwise"}
    for kind, proto in layers:
        m = gn.onnx.load(proto)
        x = np.random.default_rng(0).normal(0, 1, m.inputs[0].shape).astype(np.float32)
        np.testing.assert_allclose(m.compile()(x)[0], onnxruntime_outputs(proto, x)[0],
                                   rtol=1e-4, atol=1e-4, err_msg=kind)
