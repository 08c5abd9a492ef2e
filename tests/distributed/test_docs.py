"""docs/distributed.md stays true: its Python blocks run in order (on this module's cluster in
place of the LocalCluster the page starts; the real-cluster block is not run), their results
are what the page says, and the pickle sizes it quotes are the sizes graphnn's pickles have."""

from __future__ import annotations

import pickle
import re
from pathlib import Path

import numpy as np
import pytest

import graphnn as gn
from graphnn import nn
from graphnn.nn.parallel import shard_graph

PAGE = Path(__file__).parents[2] / "docs" / "distributed.md"
PYTHON_BLOCK = re.compile(r"```python\n(.*?)```", flags=re.S)
STARTS_A_CLUSTER = ("LocalCluster(", 'Client("tcp')


def test_the_python_blocks_run_and_give_what_the_page_says(client):
    blocks = PYTHON_BLOCK.findall(PAGE.read_text(encoding="utf-8"))
    run = [b for b in blocks if not any(s in b for s in STARTS_A_CLUSTER)]
    assert len(blocks) - len(run) == 2
    namespace = {"client": client}
    for block in run:
        exec(compile(block, str(PAGE), "exec"), namespace)
    assert namespace["probabilities"].chunks[0] == (1000,) * 10 + (500,)
    assert namespace["total"] == pytest.approx(10_500.0, rel=1e-5)     # float32 sums
    features = namespace["features"].compute()
    residual = features @ np.zeros(3) - features @ np.array([1.0, -2.0, 0.5])
    assert namespace["value"] == pytest.approx(np.sum(residual ** 2), rel=1e-12)
    np.testing.assert_allclose(namespace["gradient"], 2 * features.T @ residual, rtol=1e-12)
    assert namespace["history"].epoch == [1, 2, 3]


def mlp(sizes):
    model = nn.Sequential([nn.Dense(sizes[1], "relu"), nn.Dense(sizes[2])],
                          input_shape=(sizes[0],), seed=0)
    return model, nn.TrainStep(model, "softmax_cross_entropy", nn.SGD(0.1))


def quoted_sizes():
    """(pickle bytes, parameter bytes) of each row of the page's table, measured."""
    rows = []
    for sizes in ((64, 64, 10), (784, 256, 10)):
        model, step = mlp(sizes)
        graph = step.graph(256)
        parameters = sum(v.nbytes for v in model.values.values())
        rows.append((gn.compile(list(graph.outputs), list(graph.inputs)), parameters))
    model, step = mlp((784, 256, 10))
    shard = shard_graph(model, step.loss, 128)
    rows.append((gn.compile(list(shard.outputs), list(shard.inputs)), parameters))
    forward = model.build(256, training=False)
    inputs = [forward.x, *(p.node for p in model.parameters.values())]
    rows.append((gn.compile(forward.output, inputs), parameters))
    return [(len(pickle.dumps(f)), size) for f, size in rows]


def test_the_quoted_pickle_sizes_are_measured():
    text = PAGE.read_text(encoding="utf-8")
    table = re.findall(r"^\| [^|]*\| ([\d.]+) kB \| ([\d.]+) kB \|$", text, flags=re.M)
    assert len(table) == 4
    for (pickled, parameters), (quoted_pickle, quoted_parameters) in zip(quoted_sizes(), table):
        assert f"{pickled / 1000:.1f}" == quoted_pickle
        assert f"{parameters / 1000:.0f}" == quoted_parameters
