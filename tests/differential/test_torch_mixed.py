"""Random graphs mixing the tensor ops (indexing, concat, stack, split, pad, flip, where, clip,
gather with repeated indices, layer_norm, grouped and dilated convolutions, the new math) with
the old ones: compiled values and gradients agree with the NumPy reference always, and with
PyTorch autograd when PyTorch is installed.

Each step kind is a pair of builders, one on graphnn nodes and one on torch tensors, written
from each library's documented semantics, so the comparison checks graphnn's conventions
(slicing, padding widths order, gather axis, layer norm's biased variance) against PyTorch's,
not against a translation of graphnn's own graph.

Tolerance: float64 throughout; 1e-9 relative between compiled code and the reference (as in
test_random_graphs), 1e-7 against PyTorch (two independent implementations of erf, gelu and
the reductions, compounded along a chain).
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

import graphnn as gn
from graphnn.compiler import compile
from tests.differential.test_random_graphs import assert_agree

HAS_TORCH = importlib.util.find_spec("torch") is not None
needs_torch = pytest.mark.skipif(not HAS_TORCH, reason="PyTorch is not installed (optional: "
                                 "pip install torch); the NumPy-reference half still runs")


def _torch():
    import torch
    return torch


# -- step kinds: name -> (arity, accepts(shapes), graphnn builder, torch builder) ------------
# A builder takes (operands, k) with k a random int that picks sizes, axes and constants the
# same way on both sides.

def _gn_unary(xs, k):
    return [gn.tanh, gn.gelu, gn.silu, gn.softplus, gn.erf, gn.sin, gn.exp][k % 7](xs[0] * 0.5)


def _t_unary(xs, k):
    t = _torch()
    f = t.nn.functional
    return [t.tanh, f.gelu, f.silu, f.softplus, t.erf, t.sin, t.exp][k % 7](xs[0] * 0.5)


def _gn_binary(xs, k):
    a, b = xs
    return [a + b, a * b, a - b, gn.maximum(a, b)][k % 4]


def _t_binary(xs, k):
    a, b = xs
    return [a + b, a * b, a - b, _torch().maximum(a, b)][k % 4]


def _slice_of(x, k):
    # a basic index both libraries read the same way (torch has no negative steps: flip is its
    # own step)
    if k % 3 == 0:
        return x[::2]
    if k % 3 == 1:
        return x[..., 1:]
    return x[None, ..., -1]


def _gn_concat(xs, k):
    return gn.concat([xs[0], xs[1] * 2.0], axis=k % xs[0].ndim)


def _t_concat(xs, k):
    return _torch().cat([xs[0], xs[1] * 2.0], dim=k % xs[0].ndim)


def _gn_stack(xs, k):
    return gn.stack([xs[0], gn.tanh(xs[1])], axis=k % (xs[0].ndim + 1))


def _t_stack(xs, k):
    t = _torch()
    return t.stack([xs[0], t.tanh(xs[1])], dim=k % (xs[0].ndim + 1))


def _split_sizes(n):
    return [1, n - 1]


def _gn_split(xs, k):
    axis = k % xs[0].ndim
    first, rest = gn.split(xs[0], _split_sizes(xs[0].shape[axis]), axis=axis)
    return gn.sum(first) * rest


def _t_split(xs, k):
    axis = k % xs[0].ndim
    first, rest = _torch().split(xs[0], _split_sizes(xs[0].shape[axis]), dim=axis)
    return first.sum() * rest


def _widths(ndim, k):
    return [((k + a) % 2, (k + 2 * a) % 3) for a in range(ndim)]


def _gn_pad(xs, k):
    return gn.pad(xs[0], _widths(xs[0].ndim, k), value=0.25)


def _t_pad(xs, k):
    # torch lists (before, after) pairs from the last axis backwards
    flat = [w for pair in reversed(_widths(xs[0].dim(), k)) for w in pair]
    return _torch().nn.functional.pad(xs[0], flat, value=0.25)


def _gn_where(xs, k):
    a, b = xs
    return gn.where(a > b, a * 3.0, gn.sin(b))


def _t_where(xs, k):
    a, b = xs
    return _torch().where(a > b, a * 3.0, _torch().sin(b))


def _indices(n, k):
    # a gather with a repeated index, so its gradient must accumulate
    rng = np.random.default_rng(k)
    idx = rng.integers(0, n, size=n + 2)
    idx[-1] = idx[0]
    return idx.astype(np.int64)


def _gn_take(xs, k):
    axis = k % xs[0].ndim
    return gn.take(xs[0], _indices(xs[0].shape[axis], k), axis=axis)


def _t_take(xs, k):
    t = _torch()
    axis = k % xs[0].dim()
    return t.index_select(xs[0], axis, t.from_numpy(_indices(xs[0].shape[axis], k)))


def _t_layer_norm(xs, k):
    return _torch().nn.functional.layer_norm(xs[0], xs[0].shape[-1:], eps=1e-5)


def _reduce(xs, k, library):
    x, axis = xs[0], k % len(xs[0].shape)
    if library == "gn":
        return [gn.sum(x, axis=axis), gn.mean(x, axis=axis), gn.logsumexp(x, axis=axis)][k % 3]
    t = _torch()
    return [t.sum(x, dim=axis), t.mean(x, dim=axis), t.logsumexp(x, dim=axis)][k % 3]


def _has_rank(lo):
    return lambda *shapes: all(len(s) >= lo for s in shapes)


def _same(*shapes):
    return len(set(shapes)) == 1


def _broadcastable(a, b):
    try:
        np.broadcast_shapes(a, b)
        return True
    except ValueError:
        return False


def _concat_ok(a, b):
    return len(a) >= 1 and a == b


def _splittable(a):
    return len(a) >= 1 and min(a) >= 2


STEPS = {
    "unary": (1, lambda a: True, _gn_unary, _t_unary),
    "binary": (2, _broadcastable, _gn_binary, _t_binary),
    "slice": (1, lambda a: len(a) >= 1 and min(a) >= 2, lambda xs, k: _slice_of(xs[0], k),
              lambda xs, k: _slice_of(xs[0], k)),
    "flip": (1, _has_rank(1), lambda xs, k: gn.flip(xs[0], axis=k % xs[0].ndim),
             lambda xs, k: _torch().flip(xs[0], dims=(k % xs[0].dim(),))),
    "concat": (2, _concat_ok, _gn_concat, _t_concat),
    "stack": (2, _same, _gn_stack, _t_stack),
    "split": (1, _splittable, _gn_split, _t_split),
    "pad": (1, _has_rank(1), _gn_pad, _t_pad),
    "where": (2, _same, _gn_where, _t_where),
    "clip": (1, lambda a: True, lambda xs, k: gn.clip(xs[0], -0.5, 0.75),
             lambda xs, k: _torch().clamp(xs[0], -0.5, 0.75)),
    "take": (1, _has_rank(1), _gn_take, _t_take),
    "layer_norm": (1, lambda a: len(a) >= 1 and a[-1] >= 2,
                   lambda xs, k: gn.layer_norm(xs[0], axis=-1, eps=1e-5), _t_layer_norm),
    "reduce": (1, _has_rank(2), lambda xs, k: _reduce(xs, k, "gn"),
               lambda xs, k: _reduce(xs, k, "torch")),
    "matmul": (2, lambda a, b: len(a) == 2 and len(b) == 2 and a[1] == b[0],
               lambda xs, k: xs[0] @ xs[1], lambda xs, k: xs[0] @ xs[1]),
}

SHAPES = [(3, 4), (4, 3), (2, 3, 4), (4,), (3, 1)]
# grouped (2 groups), dilated (2), strided, asymmetric-free convolution of an image input
CONV = {"x": (2, 4, 7, 6), "w": (6, 2, 3, 2), "stride": (1, 2), "padding": (1, 1),
        "dilation": (2, 1), "groups": 2}


class Recipe:
    """A random graph as a list of steps, built on either side."""

    def __init__(self, seed: int, steps: int = 10) -> None:
        rng = np.random.default_rng(seed)
        self.shapes = [SHAPES[i] for i in rng.integers(len(SHAPES), size=int(rng.integers(2, 4)))]
        pool = [tuple(s) for s in self.shapes] + [self.conv_shape()]
        self.steps: list[tuple[str, tuple[int, ...], int]] = []
        while len(self.steps) < steps:
            name = sorted(STEPS)[rng.integers(len(STEPS))]
            arity, accepts = STEPS[name][:2]
            operands = tuple(int(i) for i in rng.integers(len(pool), size=arity))
            k = int(rng.integers(1000))
            if not accepts(*(pool[i] for i in operands)):
                continue
            node = self._build("gn", [gn.input(f"s{j}", pool[i]) for j, i in enumerate(operands)],
                               name, k)
            self.steps.append((name, operands, k))
            pool.append(tuple(node.shape))

    @staticmethod
    def conv_shape():
        x, w = CONV["x"], CONV["w"]
        node = gn.conv2d(gn.input("cx", x), gn.input("cw", w), stride=CONV["stride"],
                         padding=CONV["padding"], dilation=CONV["dilation"], groups=CONV["groups"])
        return tuple(gn.reshape(node, (node.shape[0] * node.shape[1], -1)).shape)

    @staticmethod
    def _build(library, operands, name, k):
        return STEPS[name][2 if library == "gn" else 3](operands, k)

    def inputs(self, rng):
        values = [rng.normal(size=s) for s in self.shapes]
        values += [rng.normal(size=CONV["x"]), rng.normal(size=CONV["w"]) * 0.3]
        return values

    def build(self, library, leaves):
        """The last three values built from `leaves` (graphnn input nodes or torch tensors)."""
        *plain, x, w = leaves
        if library == "gn":
            conv = gn.conv2d(x, w, stride=CONV["stride"], padding=CONV["padding"],
                             dilation=CONV["dilation"], groups=CONV["groups"])
            pool = [*plain, gn.reshape(conv, (conv.shape[0] * conv.shape[1], -1))]
        else:
            conv = _torch().nn.functional.conv2d(
                x, w, stride=CONV["stride"], padding=CONV["padding"],
                dilation=CONV["dilation"], groups=CONV["groups"])
            pool = [*plain, conv.reshape(conv.shape[0] * conv.shape[1], -1)]
        for name, operands, k in self.steps:
            pool.append(self._build(library, [pool[i] for i in operands], name, k))
        return pool[-3:]


def _graph(seed):
    recipe = Recipe(seed)
    rng = np.random.default_rng(100 + seed)
    values = recipe.inputs(rng)
    leaves = [gn.input(f"v{j}", v.shape) for j, v in enumerate(values)]
    outputs = recipe.build("gn", leaves)
    weights = rng.normal(size=len(outputs))
    loss = sum(gn.sum(o) * float(c) for o, c in zip(outputs, weights))
    feed = {leaf.name: v for leaf, v in zip(leaves, values)}
    return recipe, leaves, outputs, weights, loss, feed


@pytest.mark.parametrize("seed", range(24))
def test_compiled_matches_the_numpy_reference(seed):
    _, leaves, outputs, _, loss, feed = _graph(seed)
    wanted = [*outputs, loss, *gn.grad(loss, leaves)]
    want = gn.evaluate(gn.Graph(wanted, leaves), feed)
    assert_agree(compile(wanted, leaves)(**feed), want, "float64", f"graph {seed}")


@needs_torch
@pytest.mark.parametrize("seed", range(24))
def test_values_and_gradients_match_pytorch_autograd(seed):
    t = _torch()
    recipe, leaves, outputs, weights, loss, feed = _graph(seed)
    tensors = [t.tensor(feed[leaf.name], dtype=t.float64, requires_grad=True) for leaf in leaves]
    t_outputs = recipe.build("torch", tensors)
    t_loss = sum(o.sum() * float(c) for o, c in zip(t_outputs, weights))
    t_grads = t.autograd.grad(t_loss, tensors, allow_unused=True)
    got = compile([*outputs, *gn.grad(loss, leaves)], leaves)(**feed)
    want = [o.detach().numpy() for o in t_outputs]
    want += [np.zeros(v.shape) if g is None else g.numpy() for g, v in zip(t_grads, tensors)]
    for k, (g, w) in enumerate(zip(got, want)):
        assert g.shape == w.shape, f"graph {seed} result {k}: shape {g.shape} vs torch {w.shape}"
        scale = max(1.0, float(np.max(np.abs(w))))
        np.testing.assert_allclose(g, w, rtol=1e-7, atol=1e-7 * scale,
                                   err_msg=f"graph {seed} result {k} vs PyTorch")


def test_the_graphs_use_every_step_kind():
    # 24 graphs of 10 steps draw each kind several times: a kind never drawn is a kind untested
    drawn = {name for seed in range(24) for name, _, _ in Recipe(seed).steps}
    assert drawn == set(STEPS)
