"""python -m graphnn onnx info|render|verify|run|bench|conformance."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from graphnn.cli import main
from tests.onnx.models import dense_relu


@pytest.fixture
def model_file(tmp_path):
    path = tmp_path / "dense.onnx"
    onnx.save(dense_relu(dims=("N", 3)), str(path))
    return path


def test_info_lists_operators_inputs_and_outputs(model_file, capsys):
    assert main(["onnx", "info", str(model_file), "--batch", "2"]) == 0
    out = capsys.readouterr().out
    assert "opset 18" in out and "MatMul" in out and "'input/0' as input_0: float32 (2, 3)" in out
    assert "'0': float32 (2, 4)" in out and "2 initializers, 16 numbers" in out


def test_info_without_a_size_reports_the_import_error(model_file, capsys):
    assert main(["onnx", "info", str(model_file)]) == 1
    assert "symbolic dimension 'N'" in capsys.readouterr().out


def test_render_draws_a_cluster_per_onnx_node(model_file, tmp_path, capsys):
    out = tmp_path / "m.dot"
    assert main(["onnx", "render", str(model_file), "--shape", "input/0=1,3", "-o",
                 str(out)]) == 0
    text = out.read_text()
    assert "cluster" in text and "n0_matmul" in text and "n2_relu" in text


def test_verify_checks_gradients_with_finite_differences(model_file, capsys):
    assert main(["onnx", "verify", str(model_file), "--batch", "3", "--params"]) == 0
    out = capsys.readouterr().out
    assert "gradients agree with finite differences" in out
    assert "w.weight" in out and "input/0" in out


def test_run_with_given_inputs_and_outputs_written(model_file, tmp_path, capsys):
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.save(tmp_path / "x.npy", x)
    target = tmp_path / "out"
    assert main(["onnx", "run", str(model_file), "--batch", "2", "--input",
                 f"input/0={tmp_path / 'x.npy'}", "--out", str(target)]) == 0
    saved = np.load(target / "v0.npy")
    proto = dense_relu()
    w, b = (onnx.numpy_helper.to_array(t) for t in proto.graph.initializer)
    np.testing.assert_allclose(saved, np.maximum(x @ w + b, 0), rtol=1e-6)
    assert "0: float32 (2, 4)" in capsys.readouterr().out


def test_run_names_a_wrong_input(model_file, capsys):
    assert main(["onnx", "run", str(model_file), "--batch", "2", "--input", "y=x.npy"]) == 2
    assert "not an input of the model" in capsys.readouterr().err


def test_bench_times_both_runtimes(model_file, capsys):
    assert main(["onnx", "bench", str(model_file), "--batch", "4", "--repeat", "3"]) == 0
    out = capsys.readouterr().out
    assert "graphnn" in out and "onnxruntime" in out and "graphnn / onnxruntime" in out


def test_conformance_for_chosen_operators(capsys):
    assert main(["onnx", "conformance", "--op", "Relu", "--op", "Gemm"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:4] == ["operator", "cases", "passed", "compiled"]
    assert out[1].split()[:4] == ["Gemm", "11", "11", "11/11"]
    assert out[2].split()[:4] == ["Relu", "2", "2", "2/2"]


def test_damaged_file_is_an_error_message(tmp_path, capsys):
    path = tmp_path / "bad.onnx"
    path.write_bytes(b"\x08\x07garbage")
    assert main(["onnx", "info", str(path)]) == 2
    assert "graphnn: error:" in capsys.readouterr().err
