"""Random graphs drawn from the op table, for differential tests: broadcasting, fan-out,
reductions, matmul, layout ops and composites, with inputs holding edge values (0, exact ties,
±inf, NaN, large magnitudes) and size-1 dimensions."""

from __future__ import annotations

import numpy as np

import graphnn as gn

SHAPES = [(3, 4), (4,), (3, 1), (), (1, 4), (2, 3, 4)]
UNARY = [gn.neg, gn.exp, gn.tanh, gn.sigmoid, gn.relu, gn.step, gn.abs, gn.square,
         lambda x: gn.leaky_relu(x, alpha=0.2), gn.elu, lambda x: gn.log(gn.abs(x) + 0.5),
         lambda x: gn.sqrt(gn.abs(x))]
BINARY = [gn.add, gn.sub, gn.mul, gn.div, gn.maximum, gn.minimum,
          lambda x, y: gn.pow(gn.abs(x) + 0.5, y)]


def _broadcastable(a, b) -> bool:
    try:
        np.broadcast_shapes(a.shape, b.shape)
        return True
    except ValueError:
        return False


def _step(rng, pool):
    kind = rng.choice(["unary", "binary", "binary", "reduce", "layout", "special"])
    x = pool[rng.integers(len(pool))]
    if kind == "unary":
        return UNARY[rng.integers(len(UNARY))](x)
    if kind == "binary":
        partners = [y for y in pool if _broadcastable(x, y)]
        y = partners[rng.integers(len(partners))]
        return BINARY[rng.integers(len(BINARY))](x, y)
    if kind == "reduce" and x.ndim:
        reduce = [gn.sum, gn.mean, gn.max, gn.min][rng.integers(4)]
        return reduce(x, axis=int(rng.integers(x.ndim)), keepdims=bool(rng.integers(2)))
    if kind == "layout" and x.ndim:
        return gn.transpose(x) if rng.integers(2) else gn.reshape(x, (-1,))
    if kind == "special" and x.ndim:
        matrices = [y for y in pool if y.ndim in (1, 2) and y.shape[0] == x.shape[-1]]
        if matrices and rng.integers(2):
            return x @ matrices[rng.integers(len(matrices))]
        return (gn.softmax if rng.integers(2) else gn.log_softmax)(x)
    return gn.tanh(x)


def random_graph(seed: int, steps: int = 12, dtype: str = "float64"):
    """(inputs, outputs) of a random graph; outputs are the last three nodes built."""
    rng = np.random.default_rng(seed)
    count = int(rng.integers(2, 4))
    inputs = [gn.input(f"r{k}", shape=SHAPES[rng.integers(len(SHAPES))], dtype=dtype)
              for k in range(count)]
    pool = list(inputs)
    for _ in range(steps):
        pool.append(_step(rng, pool))
    return inputs, pool[-3:]


def random_values(seed: int, inputs, edges: bool = True) -> dict[str, np.ndarray]:
    """Normal values, with some entries replaced by edge values and ties when `edges`."""
    rng = np.random.default_rng(1000 + seed)
    feed = {}
    for node in inputs:
        value = rng.normal(scale=1.5, size=node.shape)
        if edges and value.size > 1:
            flat = value.reshape(-1)
            specials = [0.0, np.inf, -np.inf, np.nan, 1e3, flat[0]]   # flat[0]: an exact tie
            for position in rng.choice(flat.size, size=min(2, flat.size - 1), replace=False):
                flat[position] = specials[rng.integers(len(specials))]
        feed[node.name] = np.asarray(value, dtype=node.dtype)
    return feed
