"""Teaching plots: gradient magnitudes on edges (grad_scale), gradient norms per layer, loss
surfaces with optimizer paths, decision boundaries, and the two teaching examples."""

from __future__ import annotations

import builtins
import re
import runpy
from pathlib import Path

import numpy as np
import pytest

import graphnn as gn
from graphnn import nn
from graphnn.render import plots
from graphnn.render.magnitude import Scale
from graphnn.render.optimization import loss_surface, optimizer_path, plot_decision_boundary
from graphnn.render.pictures import render

TEACHING = Path(__file__).parents[2] / "examples" / "teaching"


def chain():
    """f = 10 · tanh(x · w): the gradient reaching x is smaller than the one leaving f."""
    x, w = gn.input("x"), gn.input("w")
    return gn.mul(gn.tanh(gn.mul(x, w, name="p"), name="t"), 10.0, name="f"), [x, w]


def test_grad_scale_draws_wider_darker_edges_for_larger_gradients():
    f, inputs = chain()
    source = render(f, feed={"x": 2.0, "w": 1.5}, grads=inputs, grad_scale=True).source
    widths = {m.group(1): float(m.group(2)) for m in re.finditer(
        r"(n\d+) -> e\d+ \[[^\]]*penwidth=([\d.]+)", source)}
    # x -> p carries w · tanh' · 10 ≈ 0.15; p -> t carries 10 · tanh'(3) ≈ 0.099; t -> f, 10
    assert widths["n3"] > widths["n0"] and widths["n3"] > widths["n2"]
    assert "log scale" in source and "bgcolor" in source                  # the legend
    with pytest.raises(gn.GraphnnError, match="needs feed"):
        render(f, grads=inputs, grad_scale=True)


def test_scale_is_logarithmic_and_marks_zero_gradients():
    scale = Scale.of({"a": 1e-4, "b": 1e-2, "c": 1.0})
    assert scale.position(1e-2) == pytest.approx(0.5)
    assert float(scale.edge(1.0)["penwidth"]) > float(scale.edge(1e-4)["penwidth"])
    assert scale.edge(0.0)["style"] == "dashed"


def test_gradient_norms_group_nodes_and_take_intermediate_ones():
    x = gn.input("x", shape=(3,))
    h = gn.mul(x, 2.0, name="h")
    loss = gn.sum(h * h)
    norms = plots.gradient_norms(loss, {"h": h, "x": [x]}, {"x": np.array([1.0, 2.0, 2.0])})
    assert norms["h"] == pytest.approx(2 * np.linalg.norm([2.0, 4.0, 4.0]))     # 2h
    assert norms["x"] == pytest.approx(2 * norms["h"])                           # × 2
    with pytest.raises(gn.GraphnnError, match="scalar loss"):
        plots.gradient_norms(h, {"x": x}, {"x": np.ones(3)})


def test_plots_without_matplotlib_say_which_extra_to_install(monkeypatch):
    real = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError(f"No module named {name!r}")
        return real(name, *args, **kwargs)
    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    with pytest.raises(ImportError, match=r'pip install "\.\[plots\]"'):
        plots.plot_gradient_norms({"net": {"layer1": 1.0}})


def quadratic():
    p = gn.input("p", shape=(2,))
    return gn.sum(p * p * np.array([1.0, 10.0])), p       # loss = p0² + 10 p1²


def reference_path(optimizer: str, start, steps, lr):
    """The updates of SGD, momentum (0.9) and Adam written out in NumPy."""
    p, v, m, s = np.array(start, dtype=float), np.zeros(2), np.zeros(2), np.zeros(2)
    path = [p.copy()]
    for t in range(1, steps + 1):
        g = 2 * p * np.array([1.0, 10.0])
        if optimizer == "sgd":
            p = p - lr * g
        elif optimizer == "momentum":
            v = 0.9 * v - lr * g
            p = p + v
        else:
            m = 0.9 * m + 0.1 * g
            s = 0.999 * s + 0.001 * g * g
            p = p - lr * (m / (1 - 0.9 ** t)) / (np.sqrt(s / (1 - 0.999 ** t)) + 1e-8)
        path.append(p.copy())
    return np.array(path)


@pytest.mark.parametrize("name,optimizer", [("sgd", nn.SGD(lr=0.04)),
                                            ("momentum", nn.Momentum(lr=0.04)),
                                            ("adam", nn.Adam(lr=0.1))])
def test_optimizer_paths_follow_the_training_updates(name, optimizer):
    loss, p = quadratic()
    path = optimizer_path(loss, p, {}, optimizer, (1.5, -1.0), 20)
    lr = 0.1 if name == "adam" else 0.04
    np.testing.assert_allclose(path, reference_path(name, (1.5, -1.0), 20, lr), rtol=1e-12)


def test_loss_surface_is_the_loss_on_a_grid():
    loss, p = quadratic()
    P0, P1, L = loss_surface(loss, p, {}, center=(1.0, 0.0), radius=(1.0, 0.5), resolution=5)
    np.testing.assert_allclose(L, P0 ** 2 + 10 * P1 ** 2)
    assert (P0.min(), P0.max(), P1.min(), P1.max()) == (0.0, 2.0, -0.5, 0.5)
    with pytest.raises(gn.GraphnnError, match="shape \\(2,\\)"):
        loss_surface(gn.sum(gn.input("q", shape=(3,))), gn.input("q", shape=(3,)), {})


def test_decision_boundary_is_drawn_where_the_prediction_crosses_one_half(tmp_path):
    plt = plots.pyplot()
    x = np.array([[0.0, 0.0], [1.0, 1.0], [0.0, 1.0], [1.0, 0.0]])
    ax = plot_decision_boundary(lambda g: (g.sum(axis=1) > 1.0).astype(float), x,
                                np.array([0, 1, 0, 0]), title="AND")
    assert ax.get_title() == "AND" and len(ax.collections) >= 3
    ax.figure.savefig(tmp_path / "and.png")
    plt.close(ax.figure)
    assert (tmp_path / "and.png").read_bytes().startswith(b"\x89PNG")
    with pytest.raises(gn.GraphnnError, match="2-D inputs"):
        plot_decision_boundary(lambda g: g, np.zeros((3, 3)), np.zeros(3))


def test_vanishing_gradients_example_shows_sigmoid_gradients_vanish(tmp_path, capsys):
    results = runpy.run_path(str(TEACHING / "vanishing_gradients.py"))["main"](tmp_path)
    sigmoid, relu = results["norms"]["sigmoid"], results["norms"]["relu"]
    # at initialization: the sigmoid net's first layer gets a gradient thousands of times
    # smaller than its last; the ReLU net's gradients keep their size (within a factor 10)
    assert sigmoid["layer10"] / sigmoid["layer1"] > 1e3
    assert 0.1 < relu["layer10"] / relu["layer1"] < 10
    assert all(p.exists() and p.stat().st_size > 1000 for p in results["written"])
    assert "gradient norm layer 1" in capsys.readouterr().out


def test_optimization_example_draws_surface_and_boundaries(tmp_path):
    results = runpy.run_path(str(TEACHING / "optimization.py"))["main"](tmp_path, quick=True)
    assert [p.name for p in results["written"]] == ["loss_surface.png",
                                                   "decision_boundaries.png"]
    assert all(p.read_bytes().startswith(b"\x89PNG") for p in results["written"])
    paths = results["paths"]
    assert set(paths) == {"SGD", "momentum", "Adam"}
    assert all(path.shape == (51, 2) for path in paths.values())


def test_rnn_gradients_example_draws_steps_and_the_vanishing_gradient(tmp_path, capsys):
    results = runpy.run_path(str(TEACHING / "rnn_gradients.py"))["main"](tmp_path)
    # one cluster per time step inside the layer's, the hidden state an edge between them
    clusters = set(re.findall(r"subgraph (cluster_\w+)", results["source"]))
    assert {"cluster_rnn1", *(f"cluster_rnn1_step{t}" for t in range(4))} <= clusters
    step = {node: int(t) for t, body in re.findall(r"subgraph cluster_rnn1_step(\d) \{(.*?)\}",
                                                   results["source"], re.S)
            for node in re.findall(r"^\s*(n\d+) ", body, re.M)}
    crossing = {(step[a], step[b]) for a, b in re.findall(r"(n\d+) -> (n\d+)", results["source"])
                if a in step and b in step and step[a] != step[b]}
    assert crossing == {(0, 1), (1, 2), (2, 3)}
    norms = results["norms"]
    rnn, kept = norms["tanh RNN(32)"], norms["LSTM(32), forget bias 3"]
    assert rnn["0"] / rnn["39"] < 1e-6 < 1e-2 < kept["0"] / kept["39"]
    assert all(p.exists() and p.stat().st_size > 1000 for p in results["written"])
    assert "first/last" in capsys.readouterr().out
