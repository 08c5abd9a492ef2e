"""Random small convolutional networks mixing conv2d (grouped, dilated, strided, asymmetric
padding), conv1d, pooling with padding, batch_norm, layer_norm and global_avg_pool2d with the
elementwise ops: values and gradients compiled against the NumPy reference always, and
against PyTorch's autograd when PyTorch is installed.

Tolerance: 1e-9 relative in float64, as tests/differential/test_random_graphs.py (chains of
ops; Gemm and the polynomial tanh differ from NumPy in the last bits).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest

import graphnn as gn
from graphnn.compiler import compile

RTOL = 1e-9


@dataclass
class Network:
    """A random network: its input and parameter nodes with values, its output, and the
    same network as a function of PyTorch tensors (by name)."""

    feed: dict[str, np.ndarray] = field(default_factory=dict)
    nodes: dict[str, gn.ir.Node] = field(default_factory=dict)
    steps: list = field(default_factory=list)        # (torch builder, graphnn result)

    def parameter(self, name: str, value: np.ndarray) -> gn.ir.Node:
        self.feed[name] = value
        self.nodes[name] = gn.input(name, shape=value.shape)
        return self.nodes[name]


def _pad_sides(rng, limit: int):
    return tuple((int(rng.integers(0, limit)), int(rng.integers(0, limit))) for _ in range(2))


def _conv2d(net, rng, h, k):
    channels = h.shape[1]
    groups = int(rng.choice([g for g in (1, 2, 3) if channels % g == 0]))
    out = groups * int(rng.integers(1, 3))
    attrs = {"stride": tuple(int(s) for s in rng.integers(1, 3, 2)),
             "dilation": tuple(int(d) for d in rng.integers(1, 3, 2)),
             "padding": _pad_sides(rng, 3), "groups": groups}
    w = net.parameter(f"w{k}", rng.standard_normal((out, channels // groups, 2, 3)) * 0.5)
    (top, bottom), (left, right) = attrs["padding"]

    def torch_conv(t, v):
        padded = t.nn.functional.pad(v, (left, right, top, bottom))
        return t.nn.functional.conv2d(padded, net.torch[f"w{k}"], stride=attrs["stride"],
                                      dilation=attrs["dilation"], groups=groups)
    return gn.conv2d(h, w, **attrs), torch_conv


def _pool(net, rng, h, k):
    kind = rng.choice(["max", "avg", "avg_excluding"])
    padding = _pad_sides(rng, 2)
    (top, bottom), (left, right) = padding
    attrs = {"kernel": 2, "stride": int(rng.integers(1, 3)), "padding": padding}

    def torch_pool(t, v):
        F = t.nn.functional
        if kind == "max":
            return F.max_pool2d(F.pad(v, (left, right, top, bottom), value=-np.inf), 2,
                                attrs["stride"])
        total = F.avg_pool2d(F.pad(v, (left, right, top, bottom)), 2, attrs["stride"])
        if kind == "avg":
            return total
        ones = F.pad(t.ones_like(v), (left, right, top, bottom))
        return total / F.avg_pool2d(ones, 2, attrs["stride"])
    if kind == "max":
        return gn.max_pool2d(h, **attrs), torch_pool
    return gn.avg_pool2d(h, count_include_pad=kind == "avg", **attrs), torch_pool


def _norm(net, rng, h, k):
    if rng.random() < 0.5:
        axes = (1, 2, 3) if rng.random() < 0.5 else (2, 3)
        return gn.layer_norm(h, axis=axes, eps=1e-3), \
            lambda t, v: t.nn.functional.layer_norm(v, tuple(h.shape[a] for a in axes),
                                                    eps=1e-3)
    c = h.shape[1]
    names = [f"{what}{k}" for what in ("mean", "var", "gamma", "beta")]
    values = [rng.standard_normal(c), rng.uniform(0.5, 2.0, c), rng.standard_normal(c),
              rng.standard_normal(c)]
    nodes = [net.parameter(n, v) for n, v in zip(names, values)]

    def torch_batch_norm(t, v):
        # written out: torch's batch_norm has no gradient in the running statistics
        mean, var, gamma, beta = (net.torch[n][:, None, None] for n in names)
        return (v - mean) * gamma / t.sqrt(var + 1e-4) + beta
    return gn.batch_norm(h, *nodes, eps=1e-4), torch_batch_norm


def _activation(net, rng, h, k):
    if rng.random() < 0.5:
        return gn.tanh(h), lambda t, v: t.tanh(v)
    return gn.sigmoid(h) * h, lambda t, v: t.sigmoid(v) * v


def _conv1d(net, rng, h, k):
    # (N, C, H, W) -> (N, C, H W) -> conv1d, dilated and padded unevenly
    n, c, height, width = h.shape
    flat = gn.reshape(h, (n, c, height * width))
    padding = (int(rng.integers(0, 3)), int(rng.integers(0, 3)))
    w = net.parameter(f"w{k}", rng.standard_normal((2, c, 2)) * 0.5)

    def torch_conv1d(t, v):
        padded = t.nn.functional.pad(v.reshape(n, c, height * width), padding)
        return t.nn.functional.conv1d(padded, net.torch[f"w{k}"], dilation=2)
    return gn.conv1d(flat, w, padding=padding, dilation=2), torch_conv1d


def random_network(seed: int) -> Network:
    rng = np.random.default_rng(seed)
    net = Network()
    h = net.parameter("x", rng.standard_normal((2, int(rng.choice([2, 3])), 9, 9)))
    for k, layer in enumerate((_conv2d, _activation, _pool, _norm, _conv2d, _activation)):
        h, step = layer(net, rng, h, k)
        net.steps.append(step)
    last = _conv1d if seed % 2 else (lambda net, rng, h, k: (
        gn.global_avg_pool2d(h), lambda t, v: v.mean(dim=(2, 3))))
    h, step = last(net, rng, h, 9)
    net.steps.append(step)
    net.output = h
    net.cotangent = rng.standard_normal(h.shape)
    return net


SEEDS = range(6)


@pytest.mark.parametrize("seed", SEEDS)
def test_compiled_matches_the_reference(seed):
    net = random_network(seed)
    wrt = list(net.nodes.values())
    outputs = [net.output, *gn.grad(gn.sum(net.output * net.cotangent), wrt)]
    want = gn.evaluate(outputs, net.feed)
    got = compile(outputs, wrt)(**net.feed)
    for node, g, w in zip([net.output, *wrt], got, want):
        assert np.all(np.isfinite(w))
        np.testing.assert_allclose(g, w, rtol=RTOL, atol=RTOL * max(1.0, np.abs(w).max()),
                                   err_msg=f"seed {seed}: {getattr(node, 'name', 'output')}")


@pytest.mark.parametrize("seed", SEEDS)
def test_reference_matches_pytorch_autograd(seed):
    torch = pytest.importorskip("torch", reason="PyTorch is not installed: the networks are "
                                                "checked against the NumPy reference alone")
    net = random_network(seed)
    net.torch = {k: torch.tensor(v, requires_grad=True) for k, v in net.feed.items()}
    value = net.torch["x"]
    for step in net.steps:
        value = step(torch, value)
    (value * torch.tensor(net.cotangent)).sum().backward()
    wrt = list(net.nodes.values())
    got = gn.evaluate([net.output, *gn.grad(gn.sum(net.output * net.cotangent), wrt)], net.feed)
    np.testing.assert_allclose(got[0], value.detach().numpy(), rtol=RTOL, atol=1e-12)
    for node, g in zip(wrt, got[1:]):
        np.testing.assert_allclose(g, net.torch[node.name].grad.numpy(), rtol=RTOL,
                                   atol=1e-11, err_msg=f"seed {seed}: gradient in {node.name}")
