"""Golden text forms of the examples' graphs and their gradient graphs, and each example runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import graphnn as gn
from graphnn.model_file import load_model

EXAMPLES = sorted((Path(__file__).parents[2] / "examples").glob("[0-9]*.py"))


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_graph_text(path, golden):
    model = load_model(str(path))
    grads = gn.grad(model.graph.outputs[0], model.wrt)
    text = f"{model.graph}\n\n{gn.Graph(grads, name=model.graph.name + '_gradient')}\n"
    golden(f"{path.stem}.graph", text)


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_runs(path):
    result = subprocess.run([sys.executable, str(path)], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()
