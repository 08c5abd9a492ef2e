"""Random graphs drawn from the op table, for differential tests: broadcasting, fan-out,
reductions, matmul, layout ops, indexing, joining and composites, with inputs holding edge
values (0, exact ties, ±inf, NaN, large magnitudes) and size-1 dimensions.

The elementwise ops come from the registry: every public elementwise op of one, two or three
inputs that maps floats to floats (the default dtype rule), with its default attributes, an operand
outside the REAL domain made to fit its domain (OpDef.domains: |x| + 0.5 for POSITIVE, σ(x)
for UNIT). tests/differential/test_random_graphs.py fails for an elementwise op it cannot
draw."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

import graphnn as gn
from graphnn.ir import REGISTRY, Node, OpDef
from graphnn.opdef import POSITIVE, REAL, UNIT
from tests.passes.randomgraphs import joined, rearranged

SHAPES = [(3, 4), (4,), (3, 1), (), (1, 4), (2, 3, 4)]
# how an operand of any value is brought into an input's domain
INTO_DOMAIN: dict[tuple[float, float], Callable[[Node], Node]] = {
    REAL: lambda x: x,
    POSITIVE: lambda x: gn.abs(x) + 0.5,
    UNIT: gn.sigmoid,
}


def elementwise_float_ops() -> list[OpDef]:
    """The public elementwise ops mapping floats to floats, by name."""
    return [op for name, op in sorted(REGISTRY.items())
            if op.public and op.elementwise and op.dtype is None]


def _builder(op: OpDef) -> Callable[..., Node]:
    def build(*xs: Node) -> Node:
        return gn.apply(op.name, *(INTO_DOMAIN[op.domain(k)](x) for k, x in enumerate(xs)))
    build.__name__ = op.name
    return build


UNARY = [_builder(op) for op in elementwise_float_ops() if op.arity == 1]
BINARY = [_builder(op) for op in elementwise_float_ops() if op.arity == 2]
TERNARY = [_builder(op) for op in elementwise_float_ops() if op.arity == 3]    # clip


def _broadcastable(a, b) -> bool:
    try:
        np.broadcast_shapes(a.shape, b.shape)
        return True
    except ValueError:
        return False


def _step(rng, pool):
    kind = rng.choice(["unary", "binary", "binary", "reduce", "layout", "special", "index"])
    x = pool[rng.integers(len(pool))]
    if kind == "unary":
        return UNARY[rng.integers(len(UNARY))](x)
    if kind == "binary":
        partners = [y for y in pool if _broadcastable(x, y)]
        y = partners[rng.integers(len(partners))]
        if TERNARY and rng.random() < 0.2:     # a third operand fitting both
            thirds = [z for z in partners if _broadcastable(y, z)]
            z = thirds[rng.integers(len(thirds))]
            return TERNARY[rng.integers(len(TERNARY))](x, y, z)
        return BINARY[rng.integers(len(BINARY))](x, y)
    if kind == "reduce" and x.ndim:
        reduce = [gn.sum, gn.mean, gn.max, gn.min][rng.integers(4)]
        return reduce(x, axis=int(rng.integers(x.ndim)), keepdims=bool(rng.integers(2)))
    if kind == "index":
        return _indexing(rng, pool)
    if kind == "layout" and x.ndim:
        return gn.transpose(x) if rng.integers(2) else gn.reshape(x, (-1,))
    if kind == "special" and x.ndim:
        matrices = [y for y in pool if y.ndim in (1, 2) and y.shape[0] == x.shape[-1]]
        if matrices and rng.integers(2):
            return x @ matrices[rng.integers(len(matrices))]
        return (gn.softmax if rng.integers(2) else gn.log_softmax)(x)
    return gn.tanh(x)


INDEXING = ["slice", "slice", "concat", "stack", "pad", "squeeze", "expand_dims", "flip",
            "tile", "repeat"]


def _indexing(rng, pool):
    """x[...] with a random basic index, or a joining or rearranging op (drawn as the random
    graphs of tests/passes draw them), until one fits the pool."""
    while True:
        name = INDEXING[rng.integers(len(INDEXING))]
        try:
            return (joined if name in ("concat", "stack") else rearranged)(rng, pool, name)
        except gn.GraphnnError:
            continue


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


# -- graphs at any batch size ----------------------------------------------------------------
# A recipe draws a graph's structure once, with the batch at REFERENCE_BATCH (a prime no fixed
# size equals), and builds it at any batch size B: batched inputs have a leading B, reshape
# targets are computed from the shapes at hand. The same recipe at two sizes is the graph a
# user would declare at each. BAKED recipes add a constant of the declared batch's size, which
# fixes the batch.

REFERENCE_BATCH = 97
BATCHED = [lambda b: (b, 4), lambda b: (b, 3, 4), lambda b: (b, 1), lambda b: (b,)]
FIXED = [lambda b: (4,), lambda b: (3, 4), lambda b: (1, 4), lambda b: ()]


def _flat(x):
    return gn.reshape(x, (-1,))


def _rows(x):
    return gn.reshape(x, (x.shape[0], int(np.prod(x.shape[1:]))))


def _holds_batch(x, axis: int) -> bool:
    """Whether the axis holds the batch: its size is a multiple of REFERENCE_BATCH where the
    recipe is drawn (0 at batch 0), a number no fixed size here is."""
    return x.shape[axis] % REFERENCE_BATCH == 0


def _fixed_axis(x, k: int) -> int:
    """An axis of x that does not hold the batch; where the recipe is drawn, a ShapeError (the
    recipe draws again) when the axis k picks holds it: slicing or padding the batch fixes it.
    A step kept was drawn with a fixed axis, which stays fixed at every batch size."""
    axis = k % max(x.ndim, 1)
    if not x.ndim or _holds_batch(x, axis):
        raise gn.ShapeError("slicing or padding the batch fixes it")
    return axis


def _cut(x, k: int):
    """x reversed on one axis (any), or on a fixed axis every other element from the second,
    or its last element."""
    if k % 3 == 0:
        return gn.flip(x, axis=k % x.ndim) if x.ndim else x[None]
    axis = _fixed_axis(x, k)
    return x[(slice(None),) * axis + ((slice(1, None, 2), -1)[k % 3 - 1],)]


def _padded(x, k: int):
    axis = _fixed_axis(x, k)
    return gn.pad(x, tuple((1, 2) if a == axis else (0, 0) for a in range(x.ndim)), value=0.5)


def _rearranged(x, k: int):
    axis = k % max(x.ndim, 1)
    if not x.ndim:
        return gn.tile(x, (2,))
    return (x[..., ::-1], gn.repeat(x, 2, axis=axis), gn.tile(x, (2,) + (1,) * axis),
            gn.squeeze(gn.expand_dims(x, axis), axis))[k % 4]


BATCH_STEPS = {   # name -> (arity, build(operands, axis)); axis: a random int for reductions
    "unary": (1, lambda xs, k: UNARY[k % len(UNARY)](xs[0])),
    "binary": (2, lambda xs, k: BINARY[k % len(BINARY)](*xs)),
    "reduce": (1, lambda xs, k: [gn.sum, gn.mean, gn.max, gn.min][k % 4](
        xs[0], axis=k % xs[0].ndim, keepdims=bool(k % 3 == 0))),
    "transpose": (1, lambda xs, k: gn.transpose(xs[0])),
    "flatten": (1, lambda xs, k: _flat(xs[0])),
    "rows": (1, lambda xs, k: _rows(xs[0])),
    "matmul": (2, lambda xs, k: xs[0] @ xs[1]),
    "softmax": (1, lambda xs, k: (gn.softmax, gn.log_softmax)[k % 2](xs[0], axis=-(k % 2) - 1)),
    "mse": (2, lambda xs, k: gn.mse(*xs)),
    "slice": (1, lambda xs, k: _cut(xs[0], k)),
    "concat": (2, lambda xs, k: gn.concat([xs[0], xs[1] * 2.0], axis=k % max(xs[0].ndim, 1))),
    "stack": (1, lambda xs, k: gn.stack([xs[0], -xs[0]], axis=k % (xs[0].ndim + 1))),
    "pad": (1, lambda xs, k: _padded(xs[0], k)),
    "rearrange": (1, lambda xs, k: _rearranged(xs[0], k)),
}


class BatchRecipe:
    """A random graph as a function of the batch size (see above)."""

    def __init__(self, seed: int, declared: int, steps: int = 8, baked: bool = False) -> None:
        self.declared, self.baked = declared, baked
        rng = np.random.default_rng(seed)
        shapes = [BATCHED[0]] + [(BATCHED + FIXED)[rng.integers(8)]
                                 for _ in range(rng.integers(1, 3))]
        self.shapes = [(f"r{k}", shape) for k, shape in enumerate(shapes)]
        self.steps: list[tuple[str, tuple[int, ...], int]] = []
        pool = list(self.inputs(REFERENCE_BATCH))
        while len(self.steps) < steps:
            name = list(BATCH_STEPS)[rng.integers(len(BATCH_STEPS))]
            operands = tuple(int(i) for i in rng.integers(len(pool), size=BATCH_STEPS[name][0]))
            step = (name, operands, int(rng.integers(1000)))
            try:
                node = BATCH_STEPS[name][1]([pool[i] for i in operands], step[2])
            except (gn.ShapeError, ZeroDivisionError, IndexError):
                continue                    # not a graph at the reference batch: draw again
            if _linear_in_batch(node.shape):
                self.steps.append(step)
                pool.append(node)

    def inputs(self, batch: int) -> list:
        return [gn.input(name, shape=shape(batch)) for name, shape in self.shapes]

    def build(self, batch: int) -> tuple[list, list]:
        """(inputs, outputs: the sum of every node built and the gradients of the last one's
        squares) at `batch`; a GraphnnError when the graph does not exist there. A baked
        recipe multiplies the first input by a constant of the declared batch's size first."""
        inputs = self.inputs(batch)
        pool = list(inputs)
        if self.baked:
            pool[0] = pool[0] * np.linspace(-1, 1, 4 * self.declared).reshape(-1, 4)
        for name, operands, k in self.steps:
            pool.append(BATCH_STEPS[name][1]([pool[i] for i in operands], k))
        built = pool[len(inputs):]
        return inputs, [gn.sum(n) for n in built] + gn.grad(gn.sum(pool[-1] * pool[-1]), inputs)


def _linear_in_batch(shape) -> bool:
    """At most one axis holds the batch (REFERENCE_BATCH times a factor): a size growing as
    the batch squared (an outer product of two batches) is not re-specialized by design."""
    return sum(1 for d in shape if d and d % REFERENCE_BATCH == 0) <= 1
