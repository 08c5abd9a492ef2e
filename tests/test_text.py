"""The canonical text form: numbering, literals, attributes, names, determinism."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

import graphnn as gn


def test_constants_inline_and_numbered():
    x = gn.input("x", shape=(2,), dtype="float32")
    y = x * 0.1 + np.array([1.0, 2.0], dtype=np.float32)
    text = str(gn.Graph(y))
    assert "mul x, 0.1" in text                      # float32 literal, shortest form
    assert "constant [1.0, 2.0]" in text


def test_large_constants_are_hashed():
    y = gn.input("x", shape=(100,)) + np.arange(100.0)
    assert "constant <sha256:" in str(gn.Graph(y))


def test_attributes_differing_from_defaults_are_listed():
    x = gn.input("x", shape=(2, 3))
    text = str(gn.Graph([gn.sum(x, axis=1, keepdims=True), gn.leaky_relu(x),
                         gn.leaky_relu(x, alpha=0.2)]))
    assert "sum x {axis=(1,), keepdims=True}" in text
    assert "leaky_relu x  " in text and "leaky_relu x {alpha=0.2}" in text


def test_names_are_shown_as_comments():
    x = gn.input("x")
    assert "# h" in str(gn.Graph(gn.relu(x, name="h")))


def test_special_values():
    x = gn.input("x")
    text = str(gn.Graph([x + np.inf, x * np.nan, x - 1e-30]))
    assert "add x, inf" in text and "mul x, nan" in text and "sub x, 1e-30" in text


SCRIPT = """
import numpy as np, graphnn as gn
x = gn.input("x", shape=(4, 3)); w = gn.input("w", shape=(3, 2))
loss = gn.softmax_cross_entropy(x @ w + np.ones(2), np.eye(2)[[0, 1, 1, 0]])
print(gn.Graph([loss, *gn.grad(loss, [x, w])]))
"""


def test_same_text_in_every_process():
    runs = {subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                           env={"PYTHONHASHSEED": seed, "PATH": ""}).stdout
            for seed in ("0", "1", "random")}
    assert len(runs) == 1 and "softmax_cross_entropy" in runs.pop()
