"""Graphs as data (graphnn/graphdata.py): every op of the registry (a graph per case row, with
its gradient graph) and the nn models' graphs round-trip through JSON and packed bytes, in this
process (interning hands back the very same nodes: op, inputs, attributes, name, scope and
constants all equal) and in a fresh one (the same text form); damaged data and ops registered
outside graphnn are clear errors."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import graphnn as gn
from graphnn import nn
from graphnn.graphdata import GraphDataError, from_data, pack, to_data, unpack
from graphnn.ir import REGISTRY, OpDef, apply, register
from graphnn.opdef import Symbolic
from graphnn.ops.common import elementwise_shape, scalar_instance
from tests.ops.cases import all_cases, differentiable
from tests.support import inputs_for

ROWS = all_cases()


def _case_graph(name: str, k: int, case) -> gn.Graph:
    """The op on the row's operands, named and scoped, with its gradient graph (constants,
    broadcasting, the op's vjp nodes) as further outputs."""
    with gn.scope("case"), gn.scope(f"{name}{k}"):
        nodes = inputs_for(case.shapes, "float64", dtypes=case.dtypes)
        out = apply(name, *nodes, name=f"{name}_out", **case.attrs)
        grads = []
        if REGISTRY[name].vjp is not None and differentiable(case, out.dtype):
            weight = np.random.default_rng(k).normal(size=out.shape).astype(out.dtype)
            wrt = [nodes[i] for i in (case.wrt if case.wrt is not None else case.floats())]
            grads = gn.grad(gn.sum(out * weight), wrt)
    return gn.Graph([out, *grads], nodes, name=f"g_{name}_{k}")


def _models() -> dict[str, gn.Graph]:
    """Forward and training-step graphs of nn models: dense, dropout, convolution, pooling,
    batch normalization, with SGD, momentum and Adam."""
    mlp = nn.Sequential([nn.Dense(16, "relu"), nn.Dropout(0.3), nn.Dense(3)], input_shape=(5,),
                        seed=0)
    cnn = nn.Sequential([nn.Conv2D(4, 3, padding=1), nn.BatchNorm(), nn.ReLU(),
                         nn.MaxPool2D(2), nn.Flatten(), nn.Dense(2)],
                        input_shape=(1, 6, 6), dtype="float64", seed=1)
    graphs = {}
    for label, model, loss, optimizer in [
            ("mlp", mlp, nn.SoftmaxCrossEntropy(weight_decay=1e-3), nn.Momentum(lr=0.1)),
            ("cnn", cnn, "mse", nn.Adam())]:
        step = nn.TrainStep(model, loss, optimizer).graph(8)
        graphs[f"{label}_step"] = gn.Graph(step.outputs, step.inputs, name="train_step")
        forward = model.build(4, training=False)
        graphs[f"{label}_forward"] = gn.Graph(forward.output, name="forward")
    return graphs


GRAPHS = {f"{name}-{k}": (lambda name=name, k=k, case=case: _case_graph(name, k, case))
          for name, k, case in ROWS}
GRAPHS.update({label: (lambda label=label: _models()[label])
               for label in ("mlp_step", "mlp_forward", "cnn_step", "cnn_forward")})


def _through_bytes(graph: gn.Graph) -> tuple[dict, list[np.ndarray]]:
    data, arrays = to_data(graph)
    text = json.dumps(data, allow_nan=False)          # JSON, strictly (no NaN or inf literals)
    return unpack(pack(json.loads(text), arrays))


@pytest.mark.parametrize("label", sorted(GRAPHS))
def test_round_trip_gives_the_same_nodes(label):
    graph = GRAPHS[label]()
    rebuilt = from_data(*_through_bytes(graph))
    assert rebuilt.outputs == graph.outputs          # interned: identical objects
    assert rebuilt.inputs == graph.inputs
    assert rebuilt.name == graph.name
    assert str(rebuilt) == str(graph)


def test_every_op_is_covered():
    assert {name for name, _, _ in ROWS} == set(REGISTRY) - {"input", "constant"}


def test_a_fresh_process_rebuilds_the_same_graphs(tmp_path):
    labels = sorted(GRAPHS)
    texts = {}
    for k, label in enumerate(labels):
        graph = GRAPHS[label]()
        (tmp_path / f"{k}.bin").write_bytes(pack(*to_data(graph)))
        texts[label] = str(graph)
    script = textwrap.dedent(f"""
        import json, pathlib, sys
        from graphnn.graphdata import from_data, unpack
        folder = pathlib.Path({str(tmp_path)!r})
        out = [str(from_data(*unpack((folder / f"{{k}}.bin").read_bytes())))
               for k in range({len(labels)})]
        json.dump(out, sys.stdout)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    assert dict(zip(labels, json.loads(done.stdout))) == texts


def test_what_json_cannot_say_is_kept():
    x = gn.input("x", shape=(2, 3), dtype="float32")
    y = gn.leaky_relu(x, alpha=math.inf) + np.array([np.nan, -np.inf, 0.0], dtype="float32")
    y = gn.transpose(gn.sum(y, axis=(0,), keepdims=True), (1, 0))
    data, arrays = _through_bytes(gn.Graph(y))
    rebuilt = from_data(data, arrays)
    assert rebuilt.output is y
    assert rebuilt.output.inputs[0].attrs["axis"] == (0,)


def test_unused_inputs_and_their_order_are_kept():
    a, b, c = (gn.input(n, shape=(2,)) for n in "abc")
    graph = gn.Graph([b * 2.0], [c, b, a])
    assert from_data(*to_data(graph)).inputs == (c, b, a)


def test_a_scope_around_the_rebuild_does_not_change_the_nodes():
    x = gn.input("x", shape=(3,))
    graph = gn.Graph(gn.tanh(x))
    data, arrays = to_data(graph)
    with gn.scope("outer"):
        assert from_data(data, arrays).outputs == graph.outputs


@pytest.fixture
def user_op():
    op = register(OpDef("user_twice", ("x",), "2x, registered by a test",
                        shape=elementwise_shape, reference=lambda x: 2 * x, vjp=None,
                        to_sympy=lambda x: 2 * x, scalar=lambda x: x * 2.0, elementwise=True,
                        derivative=("2",), symbol="2x", kinks=(),
                        symbolic=Symbolic(instances=scalar_instance(1))))
    yield op
    REGISTRY.pop(op.name, None)


def test_an_op_registered_outside_graphnn_is_refused_by_name(user_op):
    y = apply("user_twice", gn.input("x", shape=(2,)))
    with pytest.raises(GraphDataError, match=r"op 'user_twice' is not one of graphnn's own"):
        to_data(gn.Graph(y))


def test_reading_refuses_an_op_that_is_not_graphnn_own(user_op):
    data, arrays = to_data(gn.Graph(gn.exp(gn.input("x", shape=(2,)))))
    data["nodes"][1]["op"] = "user_twice"
    with pytest.raises(GraphDataError, match=r"node 1 \(user_twice\): op 'user_twice' is not "
                                             "one of this graphnn's own ops"):
        from_data(data, arrays)


def _data():
    x = gn.input("x", shape=(2, 3))
    return to_data(gn.Graph(gn.sum(x * np.arange(3.0), axis=1)))


@pytest.mark.parametrize("damage,message", [
    (lambda d, a: d.update(version=99), r"version 99 .* reads version 1"),
    (lambda d, a: d.update(format="other"), r"not graphnn graph data"),
    (lambda d, a: d["nodes"][2].update(op="no_such_op"), r"node 2 \(no_such_op\): op "),
    (lambda d, a: d["nodes"][2].update(inputs=[0, 5]), r"inputs \[0, 5\] must name earlier"),
    (lambda d, a: d["nodes"][0].update(shape=[2, 4]),
     r"node 2 \(mul\): mul\(x \[2,4\], y \[3\]\): shapes"),
    (lambda d, a: d["nodes"][3].update(shape=[3]), r"node 3 \(sum\): rebuilt as float64 \(2,\)"),
    (lambda d, a: d["nodes"][3]["attrs"].update(axis={"set": [1]}), r"is no attribute value"),
    (lambda d, a: d["nodes"][1].update(array=4), r"constant array 4 is not among the 1"),
    (lambda d, a: a.__setitem__(0, np.arange(4.0)), r"array 0 is float64 \(4,\), but the node"),
    (lambda d, a: d.update(outputs=[9]), r"outputs \[9\] must name nodes"),
])
def test_damaged_data_is_a_clear_error(damage, message):
    data, arrays = _data()
    damage(data, arrays)
    with pytest.raises(GraphDataError, match=message):
        from_data(data, arrays)


def test_damaged_bytes_are_a_clear_error():
    blob = pack(*_data())
    with pytest.raises(GraphDataError, match="truncated"):
        unpack(blob[:-3])
    with pytest.raises(GraphDataError, match="not packed graphnn graph data"):
        unpack(b"PICKLE" + blob)
    with pytest.raises(GraphDataError, match="damaged header"):
        unpack(blob[:16] + b"[" + blob[17:])


def test_an_attribute_of_an_unknown_kind_is_named():
    from graphnn.graphdata import _encode
    with pytest.raises(GraphDataError, match=r"softmax: attribute 'axis' is a dict"):
        _encode({"a": 1}, "softmax: attribute 'axis'")
