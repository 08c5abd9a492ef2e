"""The training examples run and reach their accuracy thresholds (each example's `main`, with
its own or a smaller epoch count), and print their results."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from tests.nn.test_datasets import write_mnist

EXAMPLES = Path(__file__).parents[2] / "examples" / "training"


def example(stem: str):
    path = EXAMPLES / f"{stem}.py"
    spec = importlib.util.spec_from_file_location(f"training_example_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_example_is_tested():
    tested = {"01_perceptron", "02_xor", "03_logistic_regression", "04_digits_mlp",
              "05_digits_cnn", "06_mnist_mlp", "07_consecutive_ones",
              "08_digits_sequences", "09_remember_first", "10_transformer_reverse",
              "11_digits_vit", "12_digits_autoencoder", "13_lbfgs_dask"}
    assert {p.stem for p in EXAMPLES.glob("[0-9]*.py")} == tested


def test_perceptron_learns_and_or_but_not_xor(capsys):
    results = example("01_perceptron").main()
    assert results["and"]["accuracy"] == results["or"]["accuracy"] == 1.0
    assert results["and"]["outputs"] == [0, 0, 0, 1]
    assert results["xor"]["accuracy"] < 1.0
    assert "AND: w = " in capsys.readouterr().out


def test_xor_mlp_reaches_100_percent(capsys):
    assert example("02_xor").main(progress=False)["accuracy"] == 1.0
    assert "accuracy 100%" in capsys.readouterr().out


def test_logistic_regression_separates_blobs_not_moons():
    results = example("03_logistic_regression").main()
    assert results["blobs"]["accuracy"] >= 0.95
    assert 0.75 < results["moons"]["accuracy"] < 0.95


def test_digits_mlp_reaches_95_percent(capsys):
    assert example("04_digits_mlp").main(epochs=10, progress=False)["accuracy"] >= 0.95
    assert "test accuracy" in capsys.readouterr().out


def test_lbfgs_on_dask_blocks_reaches_95_percent(capsys):
    import dask

    with dask.config.set(scheduler="threads"):
        results = example("13_lbfgs_dask").main(iterations=40)
    assert results["accuracy"] >= 0.95 and results["iterations"] <= 40
    assert "L-BFGS on 6 blocks" in capsys.readouterr().out


def test_digits_cnn_reaches_97_percent():
    assert example("05_digits_cnn").main(epochs=10, progress=False)["accuracy"] >= 0.97


def test_lecture_mlp_falls_back_to_the_digits(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GRAPHNN_MNIST_DIR", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path))
    result = example("06_mnist_mlp").main(progress=False)
    out = capsys.readouterr().out
    assert "MNIST files not found. Put train-images-idx3-ubyte" in out
    assert result["dataset"] == "digits" and result["accuracy"] >= 0.93


def test_lecture_mlp_runs_on_mnist_files(tmp_path, monkeypatch):
    # 142 examples: 128 train in two batches of 64, 14 validate; the pixels are random
    monkeypatch.setenv("GRAPHNN_MNIST_DIR", str(write_mnist(tmp_path, train=142, test=64)))
    result = example("06_mnist_mlp").main(epochs=1, progress=False)
    assert result["dataset"] == "MNIST" and 0.0 <= result["accuracy"] <= 1.0


def test_consecutive_ones_and_the_saved_model(capsys):
    result = example("07_consecutive_ones").main(progress=False)
    assert result["accuracy"] >= 0.95
    assert result["restored_accuracy"] == result["accuracy"]
    assert "loaded into a fresh model" in capsys.readouterr().out


@pytest.mark.parametrize("stem", ["02_xor", "04_digits_mlp", "09_remember_first",
                                  "10_transformer_reverse", "11_digits_vit",
                                  "12_digits_autoencoder"])
def test_examples_state_their_run_command(stem):
    assert f"python examples/training/{stem}.py" in (EXAMPLES / f"{stem}.py").read_text()


def test_digits_as_sequences_rnn_lstm_gru_reach_90_percent(capsys):
    # shortened: 6 epochs instead of 15 (the full run reaches about 95%, 98%, 98%)
    results = example("08_digits_sequences").main(epochs=6, progress=False)
    assert set(results) == {"RNN", "LSTM", "GRU"}
    assert all(r["accuracy"] >= 0.90 for r in results.values()), results
    assert "digits as sequences, LSTM(32): test loss" in capsys.readouterr().out


def test_lstm_remembers_the_first_symbol_where_the_rnn_does_not(capsys):
    # the full run (4000 sequences of 40 steps, 8 epochs; about 10 s): over 30 steps the RNN
    # can start to learn and the LSTM's breakthrough epoch moves with float32 rounding (a
    # change of matrix-product kernel once left both near 87%), so a shortened run could not
    # tell them apart reliably; over 40 the RNN stays at chance and the LSTM reaches 99-100%
    # under every product kernel tried
    results = example("09_remember_first").main(progress=False)
    assert results["LSTM"]["accuracy"] >= 0.95, results
    assert results["RNN"]["accuracy"] <= 0.3, results
    assert "remember the first of 40 symbols, LSTM(32): test accuracy" in capsys.readouterr().out


def test_transformer_reverses_digit_strings_95_percent_per_token(capsys):
    # shortened: 3 epochs of 2000 strings instead of 5 of 3000 (which reach 100%)
    result = example("10_transformer_reverse").main(epochs=3, train=2000, progress=False)
    assert result["accuracy"] >= 0.95
    assert "per-token test accuracy" in capsys.readouterr().out


def test_vit_style_patch_model_reaches_90_percent_on_the_digits():
    # shortened: 8 epochs instead of 20 (which reach about 99%)
    assert example("11_digits_vit").main(epochs=8, progress=False)["accuracy"] >= 0.90


def test_vit_patches_keep_each_patch_contiguous():
    images = np.arange(2 * 64, dtype=np.float32).reshape(2, 8, 8)
    tokens = example("11_digits_vit").patches(images, 4)
    assert tokens.shape == (2, 4, 16)
    np.testing.assert_array_equal(tokens[1, 3].reshape(4, 4), images[1, 4:, 4:])


def test_autoencoder_explains_more_variance_than_8_principal_components():
    # shortened: 15 epochs instead of 60 (about 81% explained, against 67% for the PCA)
    result = example("12_digits_autoencoder").main(epochs=15, progress=False)
    assert result["explained"] >= 0.75 and result["explained"] > result["pca"] + 0.05, result
