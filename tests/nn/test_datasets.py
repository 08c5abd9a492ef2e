"""Datasets: the IDX reader on small files written here (raw and gzip), MNIST found by
directory or environment variable (and a clear message when absent), the digits, generated
sets, splitting and one-hot labels."""

from __future__ import annotations

import gzip
import struct
import sys
from pathlib import Path

import numpy as np
import pytest

from graphnn import nn
from graphnn.nn import datasets


def write_idx(path, array, code=0x08, compress=False):
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    big_endian = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4",
                  0x0E: ">f8"}[code]
    data = header + array.astype(big_endian).tobytes()
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


@pytest.mark.parametrize("code, dtype", [(0x08, np.uint8), (0x09, np.int8), (0x0B, np.int16),
                                         (0x0C, np.int32), (0x0D, np.float32),
                                         (0x0E, np.float64)])
@pytest.mark.parametrize("compress", [False, True])
def test_read_idx(tmp_path, code, dtype, compress):
    array = (np.arange(24).reshape(2, 3, 4) * 3 % 100).astype(dtype)
    got = datasets.read_idx(write_idx(tmp_path / "a.idx", array, code, compress))
    assert got.shape == (2, 3, 4) and got.dtype == np.dtype(dtype).newbyteorder("=")
    np.testing.assert_array_equal(got, array)


def test_read_idx_refuses_bad_files(tmp_path):
    bad = tmp_path / "bad"
    bad.write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(ValueError, match="is not an IDX file"):
        datasets.read_idx(bad)
    short = write_idx(tmp_path / "short", np.zeros((2, 2)))
    short.write_bytes(short.read_bytes()[:-1])
    with pytest.raises(ValueError, match=r"announces shape \(2, 2\) \(16 bytes\).*15 bytes"):
        datasets.read_idx(short)


def write_mnist(directory, train=20, test=10, compress=True):
    rng = np.random.default_rng(0)
    for prefix, n in (("train", train), ("t10k", test)):
        images = rng.integers(0, 256, (n, 28, 28))
        labels = rng.integers(0, 10, n)
        suffix = ".gz" if compress else ""
        write_idx(directory / f"{prefix}-images-idx3-ubyte{suffix}", images, compress=compress)
        write_idx(directory / f"{prefix}-labels-idx1-ubyte{suffix}", labels, compress=compress)
    return directory


def test_load_mnist_from_a_directory_or_the_environment(tmp_path, monkeypatch):
    write_mnist(tmp_path)
    x_train, y_train, x_test, y_test = datasets.load_mnist(tmp_path)
    assert x_train.shape == (20, 784) and x_test.shape == (10, 784)
    assert x_train.dtype == np.float32 and 0.0 <= x_train.min() and x_train.max() <= 1.0
    assert y_train.dtype == np.int64 and set(y_train) <= set(range(10))
    monkeypatch.setenv("GRAPHNN_MNIST_DIR", str(tmp_path))
    images = datasets.load_mnist(flatten=False, dtype="float64")[0]
    assert images.shape == (20, 1, 28, 28) and images.dtype == np.float64
    np.testing.assert_allclose(images.reshape(20, 784), x_train, rtol=1e-6)


def test_missing_mnist_says_where_to_put_it(tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHNN_MNIST_DIR", str(tmp_path / "nowhere"))
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r"train-images-idx3-ubyte.*nowhere.*"
                                                r"\.cache/graphnn/mnist.*GRAPHNN_MNIST_DIR"):
        datasets.load_mnist()


def test_digits():
    x, y = datasets.load_digits()
    assert x.shape == (1797, 64) and x.dtype == np.float32 and x.max() == 1.0
    assert sorted(set(y.tolist())) == list(range(10))
    assert datasets.load_digits(images=True)[0].shape == (1797, 1, 8, 8)


def test_without_scikit_learn_the_digits_say_the_install_command_the_readme_gives(monkeypatch):
    # the reproducer: the README's training block failed after the quickstart's `pip install .`
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)       # import fails
    with pytest.raises(ImportError, match=r'pip install "\.\[digits\]" in the graphnn checkout'):
        datasets.load_digits()
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    training = readme.split("## Training a network", 1)[1].split("```python", 1)[0]
    assert 'pip install ".[digits]"' in training


def test_generated_sets():
    x, y = datasets.xor()
    assert x.tolist() == [[0, 0], [0, 1], [1, 0], [1, 1]] and y.tolist() == [0, 1, 1, 0]
    assert datasets.logic_gate("or")[1].tolist() == [0, 1, 1, 1]
    x, y = datasets.two_moons(101, seed=1)
    assert x.shape == (101, 2) and np.bincount(y).tolist() == [50, 51]
    x, y = datasets.blobs(90, centers=3, std=0.1)
    for label in range(3):
        center = x[y == label].mean(axis=0)
        angle = 2 * np.pi * label / 3
        np.testing.assert_allclose(center, [2 * np.cos(angle), 2 * np.sin(angle)], atol=0.1)
    x, y = datasets.consecutive_ones(8)
    strings = ["".join(str(int(b)) for b in row) for row in x]
    assert len(set(strings)) == 256
    assert all(label == ("11" in s) for s, label in zip(strings, y))
    assert datasets.consecutive_ones(12, n=50)[0].shape == (50, 12)


def test_split_and_one_hot():
    x, y = np.arange(20).reshape(10, 2), np.arange(10)
    x_train, y_train, x_test, y_test = datasets.train_test_split(x, y, 0.3, seed=2)
    assert len(y_test) == 3 and sorted(np.concatenate([y_train, y_test])) == list(range(10))
    assert (x_train[:, 0] == 2 * y_train).all()
    assert nn.one_hot(np.array([1, 0]), 2).tolist() == [[0, 1], [1, 0]]
    with pytest.raises(nn.ModelError, match="labels must be a 1-D integer array"):
        nn.one_hot(np.array([0.5]), 2)
