"""The gradient conventions the ops' docstrings state at non-differentiable points, checked
directly, both through gn.evaluate of gn.grad and through the compiled function.

Central differences cannot check most of these (tests/ops/edges.py skips them there with the
reason), so each row gives the points and the exact gradient of sum(op) the docstring states.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest

import graphnn as gn

inf = np.inf


@dataclass(frozen=True)
class Convention:
    statement: str                       # the docstring's words, and the row's test id
    op: Callable[..., gn.Node]
    operands: tuple[list, ...]
    gradients: tuple[list, ...]          # d sum(op(operands)) / d each operand


def _windows_tied(*pairs):
    """One 2x4 image: two 2x2 pooling windows, with the values in `pairs` (one per window)."""
    left, right = pairs
    return [[[left[:2] + right[:2], left[2:] + right[2:]]]]


CONVENTIONS = [
    Convention("relu'(0) = 0 (not the max gate's 1/2)", gn.relu,
               ([0.0, -0.0, 2.0, -2.0],), ([0.0, 0.0, 1.0, 0.0],)),
    Convention("leaky_relu'(0) = alpha", lambda x: gn.leaky_relu(x, alpha=0.2),
               ([0.0, -0.0, 3.0, -3.0],), ([0.2, 0.2, 1.0, 0.2],)),
    Convention("elu'(0) = alpha", lambda x: gn.elu(x, alpha=0.5),
               ([0.0, -0.0, 3.0],), ([0.5, 0.5, 1.0],)),
    Convention("elu'(0) = 1 for the default alpha = 1 (both sides agree)", gn.elu,
               ([0.0, -0.0],), ([1.0, 1.0],)),
    Convention("step has gradient 0, also at 0", gn.step,
               ([0.0, -0.0, 1e-300, -2.0, 2.0],), ([0.0] * 5,)),
    Convention("sign has no gradient (0), also at 0", gn.ops.sign,
               ([0.0, -0.0, -2.0, 2.0],), ([0.0] * 4,)),
    Convention("abs'(0) = sign(0) = 0", gn.abs,
               ([0.0, -0.0, 3.0, -3.0],), ([0.0, 0.0, 1.0, -1.0],)),
    Convention("sqrt'(0) = inf", gn.sqrt, ([0.0, 4.0],), ([inf, 0.25],)),
    Convention("x ** 2 at a negative base has the finite gradient 2x", lambda x: gn.pow(x, 2.0),
               ([-3.0, 0.0, 3.0],), ([-6.0, 0.0, 6.0],)),
    Convention("pow: d/dy = 0 at x = 0 (0 ** y is flat in y), not 0 * log 0", gn.pow,
               ([0.0, 0.0, 2.0], [2.0, 3.0, 3.0]), ([0.0, 0.0, 12.0], [0.0, 0.0, 8 * np.log(2)])),
    Convention("maximum splits a tie evenly: 1/2 to each input", gn.maximum,
               ([1.0, 2.0, 3.0], [1.0, 1.0, 4.0]), ([0.5, 1.0, 0.0], [0.5, 0.0, 1.0])),
    Convention("minimum splits a tie evenly: 1/2 to each input", gn.minimum,
               ([1.0, 2.0, 3.0], [1.0, 1.0, 4.0]), ([0.5, 0.0, 1.0], [0.5, 1.0, 0.0])),
    Convention("above has no gradient (0), also at a tie", lambda x, y: gn.ops.above(
        x, y, tie=0.5), ([1.0, 2.0], [1.0, 1.0]), ([0.0, 0.0], [0.0, 0.0])),
    Convention("max shares a tie of k evenly (1/k each)", gn.max,
               ([3.0, 1.0, 3.0, 3.0],), ([1 / 3, 0.0, 1 / 3, 1 / 3],)),
    Convention("max along an axis shares each row's tie", lambda x: gn.max(x, axis=1),
               ([[2.0, 2.0, 1.0], [5.0, 0.0, 4.0]],), ([[0.5, 0.5, 0.0], [1.0, 0.0, 0.0]],)),
    Convention("min shares a tie of k evenly (1/k each)", gn.min,
               ([-1.0, 2.0, -1.0],), ([0.5, 0.0, 0.5],)),
    Convention("max_pool2d shares a window's tied maxima evenly", gn.max_pool2d,
               (_windows_tied([7.0, 7.0, 7.0, 7.0], [1.0, 9.0, 9.0, 2.0]),),
               (_windows_tied([0.25] * 4, [0.0, 0.5, 0.5, 0.0]),)),
    Convention("max_pool2d_grad has a gradient in g only (x and out: 0)",
               lambda x, out, g: gn.ops.max_pool2d_grad(x, out, g),
               ([[[[1.0, 2.0], [2.0, 0.0]]]], [[[[2.0]]]], [[[[3.0]]]]),
               ([[[[0.0, 0.0], [0.0, 0.0]]]], [[[[0.0]]]], [[[[1.0]]]])),
]
IDS = [c.statement for c in CONVENTIONS]


def _build(k: int, convention: Convention) -> tuple[list[gn.Node], list[gn.Node]]:
    """Inputs c<k>_<i> for the row's operands, and the gradients of sum(op) in each."""
    arrays = [np.asarray(a, dtype=float) for a in convention.operands]
    nodes = [gn.input(f"c{k}_{i}", shape=a.shape) for i, a in enumerate(arrays)]
    return nodes, gn.grad(gn.sum(convention.op(*nodes)), nodes)


ROWS = [_build(k, c) for k, c in enumerate(CONVENTIONS)]


@pytest.fixture(scope="module")
def compiled():
    """One compiled function for every row's gradients (one compile keeps the test fast)."""
    inputs = [node for nodes, _ in ROWS for node in nodes]
    return gn.compile([g for _, grads in ROWS for g in grads], inputs)


def _feed(convention: Convention) -> list[np.ndarray]:
    return [np.asarray(a, dtype=float) for a in convention.operands]


def _assert_stated(got, convention: Convention, how: str) -> None:
    for i, (value, stated) in enumerate(zip(got, convention.gradients, strict=True)):
        np.testing.assert_array_equal(value, np.asarray(stated, dtype=float),
                                      err_msg=f"{convention.statement}: operand {i} ({how})")


@pytest.mark.parametrize("k", range(len(CONVENTIONS)), ids=IDS)
def test_evaluated_gradient_follows_the_convention(k):
    nodes, grads = ROWS[k]
    feed = {n.name: a for n, a in zip(nodes, _feed(CONVENTIONS[k]))}
    _assert_stated(gn.evaluate(grads, feed), CONVENTIONS[k], "gn.evaluate")


@pytest.mark.parametrize("k", range(len(CONVENTIONS)), ids=IDS)
def test_compiled_gradient_follows_the_convention(k, compiled):
    arrays = [a for c in CONVENTIONS for a in _feed(c)]
    outputs = compiled(*arrays)
    start = sum(len(c.operands) for c in CONVENTIONS[:k])
    _assert_stated(outputs[start:start + len(CONVENTIONS[k].operands)], CONVENTIONS[k],
                   "compiled")
