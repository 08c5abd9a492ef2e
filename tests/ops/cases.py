"""One or more test cases per registered op: operand shapes, attributes, a sampler that keeps
away from non-differentiable points, an independent expected function where numpy's own is not
the definition, and edge values. tests/ops/test_registry.py generates every per-op test from
this table and from the registry; an op without a row fails the suite.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.special

Array = np.ndarray


@dataclass
class Case:
    shapes: tuple[tuple[int, ...], ...]
    attrs: dict[str, Any] = field(default_factory=dict)
    low: float = -2.0                 # uniform sampling range of every operand ...
    high: float = 2.0
    ranges: tuple[tuple[float, float], ...] | None = None    # ... or one range per operand
    away_from: float | None = None    # ... keeping |x| (or |x - y| for gates) above this
    sample: Callable[[np.random.Generator], list[Array]] | None = None
    expected: Callable[..., Array] | None = None     # independent reference
    wrt: tuple[int, ...] | None = None               # operands to check gradients for
    edges: list[tuple[Any, ...]] = field(default_factory=list)   # values to check at
    edge_grads: bool = True           # also check gradients at the edges (smooth there)
    rtol: float = 1e-5                # gradient tolerance against central differences
    atol: float = 1e-7
    label: str = ""

    def draw(self, rng: np.random.Generator) -> list[Array]:
        if self.sample is not None:
            return [np.asarray(a, dtype=np.float64) for a in self.sample(rng)]
        ranges = self.ranges or [(self.low, self.high)] * len(self.shapes)
        arrays = [rng.uniform(lo, hi, size=s) for s, (lo, hi) in zip(self.shapes, ranges)]
        if self.away_from is not None:
            # push samples out of (-away, away): kinks of relu, abs, step sit at 0
            arrays = [np.where(np.abs(a) < self.away_from, a + np.sign(a + 1e-12) *
                               2 * self.away_from, a) for a in arrays]
        return arrays


def _gate_sample(shapes):
    def sample(rng):
        while True:     # redraw until no pair is within 0.05 of a tie (the gates' kink)
            x = rng.uniform(-2, 2, size=shapes[0])
            y = rng.uniform(-2, 2, size=shapes[1])
            if np.min(np.abs(np.subtract(x, y)), initial=1.0) > 0.05:
                return x, y
    return sample


def _nonzero(rng, shape):
    return rng.uniform(0.5, 2.0, size=shape) * rng.choice([-1.0, 1.0], size=shape)


BROADCASTS = [((3, 4), (3, 4)), ((3, 1), (1, 4)), ((4,), (3, 4)), ((3, 4), ()),
              ((), (3, 4)), ((2, 1, 4), (3, 1)), ((1,), (1,))]
EDGES_BINARY = [(0.0, 0.0), (0.0, 1.0), (1e3, -1e3), (-1e-3, 1e-3), (np.inf, 1.0),
                (np.nan, 1.0), (-np.inf, -np.inf)]
EDGES_UNARY = [(0.0,), (-0.0,), (1e3,), (-1e3,), (1e-8,), (np.inf,), (-np.inf,), (np.nan,)]


def binary(edges=EDGES_BINARY, **kw) -> list[Case]:
    return [Case((a, b), edges=edges if k == 0 else [], label=f"{a}x{b}", **kw)
            for k, (a, b) in enumerate(BROADCASTS)]


def unary(shapes=((3, 4), (), (1,), (2, 1, 3)), edges=EDGES_UNARY, **kw) -> list[Case]:
    return [Case((s,), edges=edges if k == 0 else [], label=str(s), **kw)
            for k, s in enumerate(shapes)]


def _conv_naive(x, w, stride=(1, 1), padding=(0, 0)):
    (sh, sw), (ph, pw) = stride, padding
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    n, _, hp, wp = xp.shape
    o, c, kh, kw = w.shape
    out = np.zeros((n, o, (hp - kh) // sh + 1, (wp - kw) // sw + 1))
    for b, f, i, j in np.ndindex(out.shape):
        out[b, f, i, j] = np.sum(xp[b, :, i * sh:i * sh + kh, j * sw:j * sw + kw] * w[f])
    return out


def _conv_input_adjoint(g, w, input_hw, stride=(1, 1), padding=(0, 0)):
    """dx as the transpose of the (linear in x) naive convolution, column by column."""
    n, c = g.shape[0], w.shape[1]
    basis = np.zeros((n, c) + tuple(input_hw))
    out = np.zeros_like(basis)
    for index in np.ndindex(basis.shape):
        basis[index] = 1.0
        out[index] = np.sum(_conv_naive(basis, w, stride, padding) * g)
        basis[index] = 0.0
    return out


def _conv_weight_adjoint(x, g, kernel_hw, stride=(1, 1), padding=(0, 0)):
    shape = (g.shape[1], x.shape[1]) + tuple(kernel_hw)
    basis, out = np.zeros(shape), np.zeros(shape)
    for index in np.ndindex(shape):
        basis[index] = 1.0
        out[index] = np.sum(_conv_naive(x, basis, stride, padding) * g)
        basis[index] = 0.0
    return out


def _pool_naive(x, kernel=2, stride=None, reduce=np.max):
    k = kernel if isinstance(kernel, tuple) else (kernel, kernel)
    s = k if stride is None else (stride if isinstance(stride, tuple) else (stride, stride))
    n, c, h, w = x.shape
    out = np.zeros((n, c, (h - k[0]) // s[0] + 1, (w - k[1]) // s[1] + 1))
    for b, f, i, j in np.ndindex(out.shape):
        out[b, f, i, j] = reduce(x[b, f, i * s[0]:i * s[0] + k[0], j * s[1]:j * s[1] + k[1]])
    return out


def _pool_grad_sample(kernel, stride, shape):
    def sample(rng):
        x = rng.permutation(np.prod(shape)).reshape(shape) / 7.0      # distinct values
        out = _pool_naive(x, kernel, stride)
        return x, out, rng.normal(size=out.shape)
    return sample


def _select_sample(kernel, stride, shape):
    def sample(rng):
        x, out, _ = _pool_grad_sample(kernel, stride, shape)(rng)
        return x, out, rng.normal(size=shape)
    return sample


def _onehot(rng, n, k):
    return np.eye(k)[rng.integers(0, k, size=n)]


def _softmax_ce(z, t):
    return -np.sum(t * scipy.special.log_softmax(z, axis=-1)) / np.prod(z.shape[:-1])


CASES: dict[str, list[Case]] = {
    "add": binary(),
    "sub": binary(),
    "mul": binary(),
    "div": binary(ranges=((-2, 2), (0.5, 2)),
                  edges=[(1.0, 0.0), (0.0, 0.0), (-1.0, 0.0), (1e300, 1e-300), (np.inf, 2.0)],
                  edge_grads=False)
    + [Case(((3, 4), (3, 4)), sample=lambda r: (r.uniform(-2, 2, (3, 4)), _nonzero(r, (3, 4))),
            label="negative divisors")],
    "neg": unary(),
    "pow": binary(ranges=((0.5, 2), (-2, 2)),
                  edges=[(-2.0, 3.0), (-8.0, 1 / 3), (0.0, 0.0), (0.0, -1.0), (2.0, 1e3)],
                  edge_grads=False) + [
            Case(((3,), ()), sample=lambda r: (r.uniform(-2, 2, 3), np.array(2.0)), wrt=(0,),
                 label="negative base, integer exponent")],
    "square": unary(),
    "sqrt": unary(sample=None, low=0.5, high=3.0,
                  edges=[(0.0,), (1e300,), (np.inf,), (-1.0,), (np.nan,)], edge_grads=False),
    "sign": unary(away_from=0.05, edges=[(0.0,), (-0.0,), (np.nan,), (np.inf,)],
                  edge_grads=False),
    "abs": unary(away_from=0.05, edges=[(-0.0,), (np.inf,), (-np.inf,), (np.nan,)],
                 edge_grads=False),
    "exp": unary(edges=[(0.0,), (709.0,), (710.0,), (-745.0,), (-1e3,), (np.inf,), (-np.inf,),
                        (np.nan,)], edge_grads=False) + [Case(((2,),), low=-30, high=30,
                                                             label="wide")],
    "log": unary(low=0.1, high=3.0, edges=[(0.0,), (-1.0,), (1e-310,), (np.inf,), (np.nan,)],
                 edge_grads=False),
    "maximum": [Case(s, sample=_gate_sample(s), edges=EDGES_BINARY if k == 0 else [],
                     edge_grads=False, label=f"{s[0]}x{s[1]}") for k, s in enumerate(BROADCASTS)],
    "minimum": [Case(s, sample=_gate_sample(s), edges=EDGES_BINARY if k == 0 else [],
                     edge_grads=False, label=f"{s[0]}x{s[1]}") for k, s in enumerate(BROADCASTS)],
    "greater": [Case(((3, 4), (4,)), attrs={"tie": 0.5}, sample=_gate_sample(((3, 4), (4,))),
                     edges=EDGES_BINARY, edge_grads=False),
                Case(((3,), ()), attrs={"tie": 1.0}, sample=_gate_sample(((3,), ())))],
    "sigmoid": unary(expected=scipy.special.expit,
                     edges=[(0.0,), (30.0,), (-30.0,), (-1e3,), (1e3,), (np.inf,), (-np.inf,),
                            (np.nan,)], atol=1e-12),
    "tanh": unary(edges=[(0.0,), (1e-8,), (20.0,), (-20.0,), (np.inf,), (np.nan,)], atol=1e-12),
    "relu": unary(away_from=0.05, edges=[(0.0,), (-0.0,), (1e3,), (-np.inf,), (np.nan,)],
                  edge_grads=False),
    "leaky_relu": unary(away_from=0.05, edges=[(0.0,), (-1e3,), (np.nan,)], edge_grads=False)
    + [Case(((4,),), attrs={"alpha": 0.2}, away_from=0.05, label="alpha=0.2")],
    "elu": unary(away_from=0.05, edges=[(0.0,), (-1e3,), (1e3,), (np.inf,), (-np.inf,),
                                        (np.nan,)], edge_grads=False)
    + [Case(((4,),), attrs={"alpha": 0.5}, away_from=0.05, label="alpha=0.5")],
    "step": unary(away_from=0.05, edges=[(0.0,), (-0.0,), (1e-300,), (np.nan,)],
                  edge_grads=False),
    "size": [Case(((3, 4),), attrs={"axis": 0}), Case(((2, 3, 4),), attrs={"axis": None}),
             Case(((2, 3),), attrs={"axis": ()}, label="no axes")],
    "sum": [Case(((3, 4),)), Case(((3, 4),), attrs={"axis": 0}),
            Case(((2, 3, 4),), attrs={"axis": (0, 2), "keepdims": True}),
            Case(((5,),), attrs={"axis": -1}), Case(((),), label="scalar")],
    "mean": [Case(((3, 4),)), Case(((3, 4),), attrs={"axis": 1}),
             Case(((2, 3, 4),), attrs={"axis": (0, 2), "keepdims": True})],
    "max": [Case(((3, 4),)), Case(((3, 4),), attrs={"axis": 1}),
            Case(((2, 3, 4),), attrs={"axis": (0, 2), "keepdims": True}),
            Case(((1, 4),), attrs={"axis": 0}, label="size-1 axis")],
    "min": [Case(((3, 4),)), Case(((3, 4),), attrs={"axis": 0, "keepdims": True})],
    "reshape": [Case(((3, 4),), attrs={"shape": (2, -1)}), Case(((6,),), attrs={"shape": (1, 6)}),
                Case(((1,),), attrs={"shape": ()}, label="to scalar")],
    "transpose": [Case(((3, 4),)), Case(((2, 3, 4),), attrs={"axes": (1, 2, 0)})],
    "broadcast_to": [Case(((4,),), attrs={"shape": (3, 4)}),
                     Case(((3, 1),), attrs={"shape": (2, 3, 5)}),
                     Case(((),), attrs={"shape": (2, 2)})],
    "broadcast_like": [Case(((4,), (3, 4)), wrt=(0,)), Case(((3, 1), (2, 1, 5)), wrt=(0,)),
                       Case(((), (2, 2)), wrt=(0,))],
    "matmul": [Case(((3, 4), (4, 5)), expected=lambda a, b: np.einsum("ik,kj->ij", a, b)),
               Case(((4,), (4, 5)), label="vector @ matrix"),
               Case(((3, 4), (4,)), label="matrix @ vector"),
               Case(((4,), (4,)), label="dot"),
               Case(((2, 3, 4), (4, 5)), label="batched"),
               Case(((2, 1, 3, 4), (5, 4, 2)), label="batch broadcast")],
    "conv2d": [Case(((2, 3, 5, 5), (4, 3, 3, 3)), expected=_conv_naive),
               Case(((1, 2, 6, 5), (3, 2, 3, 2)), attrs={"stride": 2, "padding": 1},
                    expected=lambda x, w, stride, padding: _conv_naive(x, w, stride, padding)),
               Case(((1, 1, 4, 4), (1, 1, 1, 1)), label="1x1 kernel")],
    "conv2d_grad_input": [
        Case(((2, 4, 3, 3), (4, 3, 3, 3)), attrs={"input_hw": (5, 5)},
             expected=lambda g, w, input_hw, stride, padding: _conv_input_adjoint(
                 g, w, input_hw, stride, padding)),
        Case(((1, 3, 3, 3), (3, 2, 3, 2)), attrs={"input_hw": (6, 5), "stride": 2, "padding": 1},
             expected=lambda g, w, input_hw, stride, padding: _conv_input_adjoint(
                 g, w, input_hw, stride, padding))],
    "conv2d_grad_weight": [
        Case(((2, 3, 5, 5), (2, 4, 3, 3)), attrs={"kernel_hw": (3, 3)},
             expected=lambda x, g, kernel_hw, stride, padding: _conv_weight_adjoint(
                 x, g, kernel_hw, stride, padding)),
        Case(((1, 2, 6, 5), (1, 3, 3, 3)), attrs={"kernel_hw": (3, 2), "stride": 2, "padding": 1},
             expected=lambda x, g, kernel_hw, stride, padding: _conv_weight_adjoint(
                 x, g, kernel_hw, stride, padding))],
    "max_pool2d": [
        Case(((2, 3, 4, 4),), sample=lambda r: [r.permutation(96).reshape(2, 3, 4, 4) / 9.0],
             expected=lambda x, kernel, stride: _pool_naive(x, kernel, stride)),
        Case(((1, 2, 5, 5),), attrs={"kernel": 3, "stride": 1},
             sample=lambda r: [r.permutation(50).reshape(1, 2, 5, 5) / 9.0],
             expected=lambda x, kernel, stride: _pool_naive(x, kernel, stride), label="overlap")],
    "max_pool2d_grad": [
        Case(((1, 2, 4, 4), (1, 2, 2, 2), (1, 2, 2, 2)), sample=_pool_grad_sample(2, None,
                                                                                  (1, 2, 4, 4)),
             wrt=(2,)),
        Case(((1, 1, 5, 5), (1, 1, 3, 3), (1, 1, 3, 3)), attrs={"kernel": 3, "stride": 1},
             sample=_pool_grad_sample(3, 1, (1, 1, 5, 5)), wrt=(2,), label="overlap")],
    "max_pool2d_select": [
        Case(((1, 2, 4, 4), (1, 2, 2, 2), (1, 2, 4, 4)), sample=_select_sample(2, None,
                                                                               (1, 2, 4, 4)),
             wrt=(2,))],
    "avg_pool2d": [
        Case(((2, 3, 4, 4),), expected=lambda x, kernel, stride: _pool_naive(
            x, kernel, stride, np.mean)),
        Case(((1, 2, 5, 6),), attrs={"kernel": (3, 2), "stride": (1, 2)},
             expected=lambda x, kernel, stride: _pool_naive(x, kernel, stride, np.mean))],
    "avg_pool2d_grad": [Case(((1, 2, 2, 2),), attrs={"input_hw": (4, 4)}),
                        Case(((1, 1, 3, 3),), attrs={"input_hw": (5, 5), "kernel": 3,
                                                     "stride": 1})],
    "softmax": [Case(((3, 4),), expected=lambda x, axis: scipy.special.softmax(x, axis=axis),
                     edges=[(np.array([1e3, 0.0, -1e3]),), (np.array([-np.inf, 0.0, 1.0]),)],
                     edge_grads=False),
                Case(((3, 4),), attrs={"axis": 0},
                     expected=lambda x, axis: scipy.special.softmax(x, axis=axis))],
    "log_softmax": [Case(((3, 4),), expected=lambda x, axis: scipy.special.log_softmax(
        x, axis=axis), edges=[(np.array([1e3, 0.0, -1e3]),)], edge_grads=False),
                    Case(((2, 3, 2),), attrs={"axis": 1})],
    "mse": [Case(((4, 3), (4, 3)), expected=lambda p, t: np.sum((p - t) ** 2) / p.size),
            Case(((), ()), label="scalars")],
    "binary_cross_entropy": [Case(((5,), (5,)), sample=lambda r: (
        r.uniform(0.05, 0.95, 5), r.integers(0, 2, 5).astype(float)),
        expected=lambda p, t: -np.mean(np.where(t == 1, np.log(p), np.log1p(-p))))],
    "softmax_cross_entropy": [
        Case(((4, 3), (4, 3)), sample=lambda r: (r.normal(size=(4, 3)), _onehot(r, 4, 3)),
             expected=_softmax_ce),
        Case(((3,), (3,)), sample=lambda r: (r.normal(size=3), np.array([0.0, 1.0, 0.0])),
             expected=_softmax_ce, label="one example"),
        Case(((2, 2, 3), (2, 2, 3)), sample=lambda r: (r.normal(size=(2, 2, 3)),
                                                       r.dirichlet(np.ones(3), size=(2, 2))),
             expected=_softmax_ce, label="soft targets")],
}


def all_cases() -> list[tuple[str, int, Case]]:
    """(op name, index, case) for every row, in a stable order (pytest ids)."""
    return [(name, k, case) for name in sorted(CASES) for k, case in enumerate(CASES[name])]
