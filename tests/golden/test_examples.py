"""The examples: golden text forms of their graphs and gradient graphs (as print shows them),
golden DOT of their pictures, and each example runs as a script (writing its pictures to a
temporary directory)."""

from __future__ import annotations

import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

import graphnn as gn
from graphnn.model_file import load_model

EXAMPLES = sorted((Path(__file__).parents[2] / "examples").glob("[0-9]*.py"))


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_graph_text(path, golden):
    # the inputs in the order the graph reaches them, whatever earlier tests declared; the
    # gradient graph takes the model's inputs, in the model's order
    model = load_model(str(path))
    grads = gn.grad(model.graph.outputs[0], model.wrt)
    gradient = gn.Graph(grads, model.graph.inputs, name=model.graph.name + "_gradient")
    text = f"{model.graph}\n\n{gradient}\n"
    golden(f"{path.stem}.graph", text)


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_pictures_dot(path, golden):
    pictures = runpy.run_path(str(path))["pictures"]()
    assert pictures and all(name.startswith(path.stem) for name in pictures)
    for name, rendering in pictures.items():
        golden(f"{name}.dot", rendering.source)


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_runs(path, tmp_path):
    env = {**os.environ, "GRAPHNN_OUT": str(tmp_path)}
    result = subprocess.run([sys.executable, str(path)], capture_output=True, text=True,
                            timeout=120, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written and all(name.startswith(path.stem) and name.endswith(".svg")
                           for name in written), written
