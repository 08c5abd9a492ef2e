"""Random graphs of indexing (`x[...]`), joining (concat, stack, split, pad) and rearranging ops
(squeeze, expand_dims, flip, tile, repeat), mixed with elementwise ops, reductions and matmul,
against PyTorch autograd: values and gradients, evaluated and compiled, in float64.

Each step is built twice, once with graphnn and once with torch, from the same random draws;
the torch side never goes through graphnn (a basic index becomes index_select per axis, so
negative steps, which torch's own indexing lacks, are checked too). Skipped when PyTorch is
not installed."""

from __future__ import annotations

import numpy as np
import pytest

import graphnn as gn
from tests.differential.test_random_graphs import assert_agree
from tests.passes.randomgraphs import pick, random_index

torch = pytest.importorskip("torch", reason="PyTorch is not installed: the graphs are checked "
                                             "against it only where it is")

SHAPES = [(3, 4), (4,), (2, 1, 3), (1, 4), ()]


def torch_index(t, index: tuple):
    """t[index] as NumPy's basic indexing, from torch's select, index_select and unsqueeze."""
    parts = list(index)
    if Ellipsis in parts:
        at = parts.index(Ellipsis)
        used = sum(p is not None and p is not Ellipsis for p in parts)
        parts[at:at + 1] = [slice(None)] * (t.dim() - used)
    axis = 0
    for part in parts:
        if part is None:
            t = t.unsqueeze(axis)
            axis += 1
        elif isinstance(part, int):
            t = t.select(axis, part)
        else:
            positions = list(range(*part.indices(t.shape[axis])))
            t = t.index_select(axis, torch.tensor(positions, dtype=torch.long))
            axis += 1
    return t


def _sliced(rng, pool):
    x, t = pick(rng, pool)
    index = random_index(rng, x.shape)
    return x[index], torch_index(t, index)


def _joined(rng, pool):
    x, t = pick(rng, pool)
    if rng.random() < 0.5:
        same = [p for p in pool if p[0].shape == x.shape]
        parts = [(x, t)] + [pick(rng, same) for _ in range(int(rng.integers(1, 3)))]
        axis = int(rng.integers(x.ndim + 1))
        return gn.stack([p[0] for p in parts], axis), torch.stack([p[1] for p in parts], axis)
    if not x.ndim:
        raise gn.ShapeError("concat needs an axis")
    axis = int(rng.integers(x.ndim))
    fits = [p for p in pool if p[0].ndim == x.ndim and all(
        a == b for k, (a, b) in enumerate(zip(p[0].shape, x.shape)) if k != axis)]
    parts = [(x, t)] + [pick(rng, fits) for _ in range(int(rng.integers(1, 3)))]
    return gn.concat([p[0] for p in parts], axis), torch.cat([p[1] for p in parts], axis)


def _split(rng, pool):
    x, t = pick(rng, pool)
    if not x.ndim or x.shape[-1] < 2:
        raise gn.ShapeError("nothing to split")
    sizes = [1, x.shape[-1] - 1]
    k = int(rng.integers(2))
    return gn.split(x, sizes, axis=-1)[k], torch.split(t, sizes, dim=-1)[k]


def _padded(rng, pool):
    x, t = pick(rng, pool)
    widths = [(int(rng.integers(3)), int(rng.integers(3))) for _ in x.shape]
    value = float(pick(rng, [0.0, -1.5, 2.0]))
    # torch lists the last axis first
    flat = [w for pair in reversed(widths) for w in pair]
    return gn.pad(x, tuple(widths), value=value), \
        torch.nn.functional.pad(t, flat, value=value) if flat else t.clone()


def _rearranged(rng, pool):
    x, t = pick(rng, pool)
    if not x.ndim:
        return gn.expand_dims(x, 0), t.unsqueeze(0)
    axis = int(rng.integers(x.ndim))
    kind = int(rng.integers(5))
    if kind == 0:
        return gn.flip(x, axis=axis), torch.flip(t, (axis,))
    if kind == 1:
        reps = tuple(int(r) for r in rng.integers(1, 3, size=x.ndim + int(rng.integers(2))))
        return gn.tile(x, reps), torch.tile(t, reps)
    if kind == 2:
        return gn.repeat(x, 2, axis=axis), torch.repeat_interleave(t, 2, dim=axis)
    if kind == 3:
        return gn.expand_dims(x, axis), t.unsqueeze(axis)
    ones = tuple(a for a, d in enumerate(x.shape) if d == 1)
    squeezed = t
    for a in reversed(ones):
        squeezed = squeezed.squeeze(a)
    return gn.squeeze(x, axis=ones), squeezed


def _elementwise(rng, pool):
    x, t = pick(rng, pool)
    kind = int(rng.integers(4))
    if kind == 0:
        return gn.tanh(x), torch.tanh(t)
    if kind == 1:
        same = [p for p in pool if p[0].shape == x.shape]
        y, u = pick(rng, same)
        return x * y + 0.5, t * u + 0.5
    if kind == 2 and x.ndim:
        return gn.sum(x, axis=-1), torch.sum(t, dim=-1)
    if x.ndim and x.shape[-1] == 4:
        w = np.linspace(-1.0, 1.0, 12).reshape(4, 3)
        return x @ w, t @ torch.tensor(w)
    return gn.exp(-x * x), torch.exp(-t * t)


STEPS = [_sliced, _sliced, _joined, _split, _padded, _rearranged, _rearranged, _elementwise]


def random_pair_graph(seed: int):
    """(graphnn inputs, torch leaves, input values, graphnn outputs, torch outputs)."""
    rng = np.random.default_rng(seed)
    shapes = [SHAPES[k] for k in rng.integers(len(SHAPES), size=2)]
    values = [rng.normal(size=s) for s in shapes]
    inputs = [gn.input(f"x{k}", shape=s) for k, s in enumerate(shapes)]
    leaves = [torch.tensor(v, requires_grad=True) for v in values]
    pool = list(zip(inputs, leaves))
    for _ in range(10):
        step = STEPS[rng.integers(len(STEPS))]
        try:
            pool.append(step(rng, pool))
        except gn.ShapeError:
            continue
    outputs = pool[-3:]
    return inputs, leaves, values, [o[0] for o in outputs], [o[1] for o in outputs]


@pytest.mark.parametrize("seed", range(40))
def test_values_and_gradients_match_torch_autograd(seed):
    inputs, leaves, values, outputs, expected = random_pair_graph(seed)
    rng = np.random.default_rng(seed + 100)
    weights = [rng.normal(size=o.shape) for o in outputs]
    loss = sum(gn.sum(o * w) for o, w in zip(outputs, weights))
    torch_loss = sum(torch.sum(e * torch.tensor(w)) for e, w in zip(expected, weights))
    torch_grads = torch.autograd.grad(torch_loss, leaves, allow_unused=True)
    want = [e.detach().numpy() for e in expected] + [
        np.zeros(v.shape) if g is None else g.numpy() for g, v in zip(torch_grads, values)]
    wanted = [*outputs, *gn.grad(loss, inputs)]
    feed = {x.name: v for x, v in zip(inputs, values)}
    evaluated = gn.evaluate(gn.Graph(wanted, inputs), feed)
    compiled = gn.compile(wanted, inputs=inputs)(*values)
    for got, what in ((evaluated, "evaluate"), (compiled, "compiled")):
        assert_agree([np.asarray(g) for g in got], want, "float64", f"graph {seed} {what}")
