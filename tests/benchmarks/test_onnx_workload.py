"""`python -m benchmarks --only onnx`: every imported model and convolution agrees with
onnxruntime before it is timed, and the convolutions cover every kind. Nothing here is timed."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.workload import CheckError
from benchmarks.workloads import onnx_models

pytest.importorskip("onnxruntime")


def test_every_workload_agrees_with_onnxruntime():
    works = onnx_models.build(quick=True)
    names = [w.name for w in works]
    for model in ("mlp", "cnn", "resnet"):
        assert {f"onnx {model} batch 1", f"onnx {model} batch 32"} <= set(names)
    assert {kind for kind in ("1x1", "3x3", "strided", "depthwise")
            if any(f"conv {kind} " in n for n in names)} == {"1x1", "3x3", "strided",
                                                              "depthwise"}
    for work in works:
        assert set(work.implementations) == {"graphnn", "onnxruntime"}
        work.check()
    broken = works[0]
    run = broken.implementations["graphnn"]
    broken.add("graphnn", lambda: [np.asarray(r) * 1.01 for r in run()])
    with pytest.raises(CheckError, match="graphnn result 0 differs"):
        broken.check()
