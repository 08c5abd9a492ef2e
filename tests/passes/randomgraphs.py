"""Random graphs drawn from the op table, with broadcasting, fan-out and special constants, and
feeds with 0, -0, ±inf, NaN, huge values and ties: the optimizer's semantics tests use them.

Elementwise ops are taken from the registry itself; every other op has a builder below, and
`tests/passes/test_semantics.py` checks that together they cover the whole registry except the
ops that only gradient rules build (GRADIENT_ONLY: the internal ops, but for elementwise ones
that read every input, which are drawn like the others), and that the graphs meet every op.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

import graphnn as gn
from graphnn.errors import GraphnnError
from graphnn.ir import REGISTRY, Node, apply

SHAPES = [(), (3,), (2, 3), (2, 1), (1, 3)]
IMAGE, KERNEL = (1, 2, 4, 4), (2, 2, 3, 3)
SPECIAL = [0.0, -0.0, 1.0, -1.0, 2.0, 0.5, -0.125, 3.0]
FEED_SPECIAL = [0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, 1e300, -1e-310, 0.5]
GRADIENT_ONLY = {name for name, op in REGISTRY.items() if not op.public and not op.source
                 and not (op.elementwise and not op.shape_only)}
ATTRS = {"leaky_relu": [{"alpha": 0.01}, {"alpha": 0.5}, {"alpha": -0.5}],
         "elu": [{"alpha": 1.0}, {"alpha": 0.0}], "above": [{"tie": 0.5}, {"tie": 1.0}]}


def _elementwise(rng: np.random.Generator, pool: list[Node], name: str) -> Node:
    op = REGISTRY[name]
    args = [pool[rng.integers(len(pool))] for _ in range(op.arity)]
    choices = ATTRS.get(name, [{}])
    return apply(name, *args, **choices[rng.integers(len(choices))])


def _reduce(rng, pool, name):
    x = pool[rng.integers(len(pool))]
    axis = None if x.ndim == 0 or rng.random() < 0.4 else int(rng.integers(x.ndim))
    return apply(name, x, axis=axis, keepdims=bool(rng.random() < 0.5))


def _layout(rng, pool, name):
    x = pool[rng.integers(len(pool))]
    if name == "reshape":
        return apply("reshape", x, shape=(-1,) if rng.random() < 0.5 else (1,) + x.shape)
    if name == "transpose":
        return apply("transpose", x)
    return apply("broadcast_to", x, shape=(2,) + x.shape)


def _matmul(rng, pool, name):
    # a random array times the first array (or matrix transposed) of the pool that fits it
    arrays = [n for n in pool if n.ndim]
    if not arrays:
        raise GraphnnError("matmul needs arrays")
    a = arrays[rng.integers(len(arrays))]
    for k in rng.permutation(len(arrays)):
        b = arrays[k]
        if b.ndim == 2 and b.shape[-1] == a.shape[-1] != b.shape[-2]:
            b = apply("transpose", b)
        if a.shape[-1] == (b.shape[0] if b.ndim == 1 else b.shape[-2]):
            return apply("matmul", a, b)
    raise GraphnnError("no operand fits")


def _axis_op(rng, pool, name):
    x = pool[rng.integers(len(pool))]
    return apply(name, x, axis=int(rng.integers(max(x.ndim, 1))))


def _pair(rng, pool, name):
    x = pool[rng.integers(len(pool))]
    same = [n for n in pool if n.shape == x.shape]
    return apply(name, x, same[rng.integers(len(same))])


def _pick(rng, choices: list):
    return choices[rng.integers(len(choices))]


def _image(rng, pool, name):
    images = [n for n in pool if n.shape == IMAGE]
    if not images:
        raise GraphnnError("no image in the pool")
    x = _pick(rng, images)
    if name in ("conv2d", "conv1d"):
        kernel = _pick(rng, [n for n in pool if n.shape == KERNEL])
        groups = int(rng.integers(1, 3))
        if groups == 2:                      # (O, C / groups, KH, KW) = (4, 1, 3, 3)
            kernel = apply("reshape", kernel, shape=(4, 1, 3, 3))
        if name == "conv1d":                 # (1, 2, 16) by (O, C / groups, 9)
            return apply("conv1d", apply("reshape", x, shape=(1, 2, 16)),
                         apply("reshape", kernel, shape=kernel.shape[:2] + (9,)),
                         stride=int(rng.integers(1, 3)), groups=groups,
                         padding=(int(rng.integers(0, 3)), int(rng.integers(0, 3))))
        return apply("conv2d", x, kernel, groups=groups, dilation=_pick(rng, [1, (2, 1)]),
                     padding=_pick(rng, [1, ((1, 0), (0, 2))]))
    if name == "global_avg_pool2d":
        return apply(name, x, keepdims=bool(rng.integers(2)))
    extra = {"count_include_pad": bool(rng.integers(2))} if name == "avg_pool2d" else {}
    return apply(name, x, kernel=2, padding=_pick(rng, [0, 1, ((1, 0), (0, 1))]), **extra)


def _layer_norm(rng, pool, name):
    x = pool[rng.integers(len(pool))]
    return apply(name, x, axis=int(rng.integers(max(x.ndim, 1))) if x.ndim else None,
                 eps=_pick(rng, [1e-5, 0.0]))


def _batch_norm(rng, pool, name):
    x = _pick(rng, [n for n in pool if n.ndim >= 2] or [None])
    if x is None:
        raise GraphnnError("no (N, C, ...) value in the pool")
    channels = [n for n in pool if n.shape == (x.shape[1],)]
    vectors = [_pick(rng, channels) if channels and rng.random() < 0.5 else
               gn.constant(rng.normal(size=x.shape[1]), dtype=x.dtype) for _ in range(4)]
    return apply(name, x, *vectors, eps=_pick(rng, [1e-5, 0.0]))


def pick(rng, items):
    if not items:
        raise GraphnnError("nothing to pick")
    return items[rng.integers(len(items))]


def random_index(rng, shape) -> tuple:
    """A random basic index: per axis an int (negative too) or a slice with a step of either
    sign and bounds that may fall outside; a None and an ... here and there."""
    parts = []
    for size in shape:
        if size and rng.random() < 0.3:
            parts.append(int(rng.integers(-size, size)))
        else:
            step = int(pick(rng, [1, 1, 2, -1, -2]))
            bound = lambda: None if rng.random() < 0.5 else int(rng.integers(-4, 5))  # noqa: E731
            parts.append(slice(bound(), bound(), step))
    if rng.random() < 0.3:
        parts.insert(int(rng.integers(len(parts) + 1)), None)
    if parts and rng.random() < 0.3:
        parts[int(rng.integers(len(parts)))] = Ellipsis
    return tuple(parts)


def joined(rng, pool, name):
    """concat or stack of a node with nodes of the pool that fit it."""
    x = pick(rng, pool)
    if name == "stack":
        same = [n for n in pool if n.shape == x.shape]
        return apply("stack", x, *(pick(rng, same) for _ in range(int(rng.integers(1, 3)))),
                     axis=int(rng.integers(x.ndim + 1)))
    axis = int(rng.integers(max(x.ndim, 1)))
    fits = [n for n in pool if n.ndim == x.ndim and all(
        a == b for k, (a, b) in enumerate(zip(n.shape, x.shape)) if k != axis)]
    return apply("concat", x, *(pick(rng, fits) for _ in range(int(rng.integers(1, 3)))),
                 axis=axis)


def rearranged(rng, pool, name):
    x = pick(rng, pool)
    axis = int(rng.integers(max(x.ndim, 1)))
    attrs = {
        "slice": lambda: {"index": random_index(rng, x.shape)},
        "pad": lambda: {"widths": tuple((int(rng.integers(3)), int(rng.integers(3)))
                                        for _ in x.shape), "value": pick(rng, SPECIAL)},
        "squeeze": lambda: {"axis": tuple(k for k, d in enumerate(x.shape) if d == 1)},
        "expand_dims": lambda: {"axis": int(rng.integers(x.ndim + 1))},
        "flip": lambda: {"axis": None if rng.random() < 0.5 else axis},
        "tile": lambda: {"reps": tuple(int(rng.integers(1, 3))
                                       for _ in range(x.ndim + int(rng.integers(2))))},
        "repeat": lambda: {"repeats": int(rng.integers(1, 4)), "axis": axis},
    }[name]()
    return apply(name, x, **attrs)


def _bool(rng, pool) -> Node:
    """A bool node of the pool, or a new comparison of a float one with 0."""
    bools = [n for n in pool if n.dtype == "bool"]
    if bools and rng.random() < 0.7:
        return bools[rng.integers(len(bools))]
    floats = [n for n in pool if n.dtype in ("float32", "float64")]
    return apply("greater", floats[rng.integers(len(floats))], 0.0)


def _logical(rng, pool, name):
    return apply(name, *(_bool(rng, pool) for _ in range(REGISTRY[name].arity)))


def _where(rng, pool, name):
    a, b = (pool[rng.integers(len(pool))] for _ in range(2))
    return apply("where", _bool(rng, pool), a, b)


def _cast(rng, pool, name):
    x = pool[rng.integers(len(pool))]
    return apply("cast", x, dtype=["int32", "int64", "bool", "float32", "float64"][
        rng.integers(5)])


def _index(rng, pool, name):
    """take (repeated and negative indices), one_hot, argmax, argmin and first_match."""
    x = pool[rng.integers(len(pool))]
    if name == "first_match":         # argmax's second step, drawn on its own too
        axis = 0 if x.ndim == 0 else int(rng.integers(x.ndim))
        if x.ndim == 0:
            raise GraphnnError("first_match needs an array")
        return apply(name, x, apply("max", x, axis=axis, keepdims=True), axis=axis)
    if name in ("argmax", "argmin"):
        return apply(name, x, axis=None if x.ndim == 0 else int(rng.integers(x.ndim)))
    if name == "one_hot":
        ints = [n for n in pool if n.dtype in ("int32", "int64")] or [
            gn.constant(np.array([2, -1, 0]), dtype="int64")]
        return apply("one_hot", ints[rng.integers(len(ints))], depth=3, dtype=x.dtype
                     if x.dtype in ("float32", "float64") else "float64")
    if x.ndim == 0:
        raise GraphnnError("take needs an array")
    axis = int(rng.integers(x.ndim))
    size = x.shape[axis]
    indices = gn.constant(np.array([0, size - 1, -size, 0])[: 2 + rng.integers(3)], "int64")
    return apply("take", x, indices, axis=axis)


BUILDERS: dict[str, Callable] = {
    **{name: rearranged for name in ("slice", "pad", "squeeze", "expand_dims", "flip", "tile",
                                      "repeat")},
    "concat": joined, "stack": joined,
    **{name: _reduce for name in ("sum", "mean", "max", "min")},
    **{name: _layout for name in ("reshape", "transpose", "broadcast_to")},
    "matmul": _matmul, "softmax": _axis_op, "log_softmax": _axis_op,
    **{name: _pair for name in ("mse", "binary_cross_entropy", "softmax_cross_entropy")},
    **{name: _image for name in ("conv2d", "conv1d", "max_pool2d", "avg_pool2d",
                                 "global_avg_pool2d")},
    "layer_norm": _layer_norm, "batch_norm": _batch_norm,
    **{name: _logical for name in ("logical_and", "logical_or", "logical_not")},
    "where": _where, "cast": _cast,
    **{name: _index for name in ("take", "one_hot", "argmax", "argmin", "first_match")},
}
ELEMENTWISE = sorted(n for n, op in REGISTRY.items()
                     if op.elementwise and n not in BUILDERS and n not in GRADIENT_ONLY)


def _constants(rng, dtype: str) -> list[Node]:
    picks = [gn.constant(SPECIAL[k], dtype=dtype) for k in rng.choice(len(SPECIAL), 3)]
    uniform = gn.constant(np.full(SHAPES[rng.integers(1, len(SHAPES))], 1.0), dtype=dtype)
    return picks + [uniform, gn.constant(rng.normal(size=(2, 3)), dtype=dtype)]


def random_graph(seed: int, dtype: str = "float64") -> gn.Graph:
    """A graph of random forward outputs, a scalar loss over them and its gradients."""
    rng = np.random.default_rng(seed)
    inputs = [gn.input(f"a{k}", shape=SHAPES[rng.integers(len(SHAPES))], dtype=dtype)
              for k in range(int(rng.integers(1, 4)))]
    if rng.random() < 0.2:
        inputs.append(gn.input("image", shape=IMAGE, dtype=dtype))
        inputs.append(gn.input("kernel", shape=KERNEL, dtype=dtype))
    pool = inputs + _constants(rng, dtype)
    ops = ELEMENTWISE + sorted(BUILDERS)
    # the ops with their own dtype rule (comparisons, casts, indices: bool and int results)
    # drawn a quarter of the time, so that float arithmetic keeps the rewrite rules busy
    own = [n for n in ops if REGISTRY[n].dtype is not None]
    rest = [n for n in ops if REGISTRY[n].dtype is None]
    for _ in range(int(rng.integers(5, 14))):
        names = own if rng.random() < 0.25 else rest
        name = names[rng.integers(len(names))]
        # the float ops draw their operands among the float nodes
        operands = pool if names is own else [n for n in pool if n.dtype == dtype]
        try:
            pool.append(BUILDERS.get(name, _elementwise)(rng, operands, name))
        except GraphnnError:
            continue
    outputs = [n for n in pool if n.dtype == dtype][-2:]      # float outputs: a loss of them
    loss = gn.sum(outputs[0]) + gn.sum(outputs[1] * outputs[0] if outputs[1].shape ==
                                       outputs[0].shape else outputs[1])
    grads = gn.grad(loss, inputs)
    if rng.random() < 0.25:         # second order: gradients of a gradient's squared norm
        first = grads[rng.integers(len(grads))]
        grads += gn.grad(gn.sum(first * first), inputs)
    others = [n for n in pool if n.dtype != dtype][-2:]      # int and bool results too
    return gn.Graph([*outputs, loss, *grads, *others], inputs=inputs)


def image_graph(dtype: str = "float64") -> gn.Graph:
    """conv2d, both poolings and their first- and second-order gradients, on purpose: the
    random graphs meet the second-order pooling ops (max_pool2d_select) too rarely."""
    image, kernel = gn.input("image", shape=IMAGE, dtype=dtype), \
        gn.input("kernel", shape=KERNEL, dtype=dtype)
    features = gn.tanh(gn.conv2d(image, kernel, padding=1))
    loss = gn.sum(gn.max_pool2d(features) * gn.avg_pool2d(features) * 0.5)
    grads = gn.grad(loss, [image, kernel])
    second = gn.grad(gn.sum(grads[0] * grads[0]), [image, kernel])
    return gn.Graph([loss, *grads, *second])


def random_feed(graph: gn.Graph, seed: int) -> dict[str, np.ndarray]:
    """Normal values with special values (0, -0, ±inf, NaN, huge, subnormal) sprinkled in."""
    rng = np.random.default_rng(seed)
    feed = {}
    for node in graph.inputs:
        value = rng.normal(size=node.shape)
        mask = rng.random(node.shape) < 0.3
        value = np.where(mask, rng.choice(FEED_SPECIAL, size=node.shape), value)
        with np.errstate(over="ignore"):      # 1e300 becomes inf in float32
            feed[node.name] = np.asarray(value, dtype=node.dtype)
    return feed

