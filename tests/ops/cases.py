"""One or more test cases per registered op: operand shapes, attributes, a sampler that keeps
away from non-differentiable points, an independent expected function where numpy's own is not
the definition, edge values (tests/ops/edges.py) and the step rule for central differences
(tests/ops/differences.py). tests/ops/test_registry.py generates every per-op test from this
table and from the registry; an op without a row fails the suite.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.special

from tests.ops.differences import relative_step, scipy_step
from tests.ops.cases_dtypes import dtype_cases
from tests.ops.edges import LARGE, TINY, Edge, magnitudes, pair_ties, pattern, underflow

Array = np.ndarray
inf, nan = np.inf, np.nan


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
    edges: list[tuple[Any, ...]] = field(default_factory=list)   # values (or Edges) to check at
    step: Callable[[Array], Array] = relative_step   # central-difference steps: differences.py
    rtol: float = 1e-8                # gradient tolerance beyond the differences' rounding bound
    relative: bool = False            # compiled results accurate relative to themselves, as
    label: str = ""                   # every elementwise op's are (no magnitude term)
    dtypes: tuple[str | None, ...] = ()   # per operand: a fixed dtype ("int64", "bool"), or
                                          # None (and beyond the tuple) the test's float dtype

    def dtype_of(self, position: int) -> str | None:
        return self.dtypes[position] if position < len(self.dtypes) else None

    def floats(self) -> tuple[int, ...]:
        """The positions of float operands (the others hold indices or conditions)."""
        return tuple(k for k in range(len(self.shapes)) if self.dtype_of(k) is None)

    def draw(self, rng: np.random.Generator) -> list[Array]:
        if self.sample is not None:
            return [np.asarray(a, dtype=self.dtype_of(k) or np.float64)
                    for k, a in enumerate(self.sample(rng))]
        ranges = self.ranges or [(self.low, self.high)] * len(self.shapes)
        arrays = [rng.uniform(lo, hi, size=s) for s, (lo, hi) in zip(self.shapes, ranges)]
        if self.away_from is not None:
            # push samples out of (-away, away): kinks of relu, abs, step sit at 0
            arrays = [np.where(np.abs(a) < self.away_from, a + np.sign(a + 1e-12) *
                               2 * self.away_from, a) for a in arrays]
        return arrays


def at_magnitudes(case: Case, *more: tuple[Any, ...], ties: str | None = None,
                  absorbed: dict[str, str] | None = None) -> Case:
    """The case with edges at large and tiny magnitudes and at zero (tests/ops/edges.py), and
    `more`."""
    case.edges = magnitudes(case.shapes, ties, absorbed) + list(more)
    return case


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
EDGES_BINARY = [(0.0, 0.0), (0.0, 1.0), (1e3, -1e3), (-1e-3, 1e-3), (LARGE, -TINY),
                (TINY, TINY), (inf, 1.0), (nan, 1.0), (-inf, -inf)]
ABSORBED = "y is absorbed: x ± y rounds to x = 1e150 for every y near -1e-150"
EDGES_SUM = [Edge(x, y, skip={"y": ABSORBED}) if (x, y) == (LARGE, -TINY) else (x, y)
             for x, y in EDGES_BINARY]
EDGES_UNARY = [(0.0,), (-0.0,), (1e3,), (-1e3,), (1e-8,), (LARGE,), (-TINY,), (inf,), (-inf,),
               (nan,)]


def _kink(convention: str, difference: str) -> str:
    return f"kink at 0: {convention} by convention, a central difference gives {difference}"


def _jump(op: str, at: str = "0") -> str:
    return f"jump at {at}: {op} has gradient 0 by convention, a central difference gives 1/(2h)"


TIES = ("ties of more than two: the convention splits the gradient evenly (1/k each), a "
        "central difference gives 1/2 to each tied element")
DOMAIN = "outside the domain, where the value is NaN"


def binary(edges=EDGES_BINARY, **kw) -> list[Case]:
    return [Case((a, b), edges=edges if k == 0 else [], label=f"{a}x{b}", **kw)
            for k, (a, b) in enumerate(BROADCASTS)]


def unary(shapes=((3, 4), (), (1,), (2, 1, 3)), edges=EDGES_UNARY, **kw) -> list[Case]:
    return [Case((s,), edges=edges if k == 0 else [], label=str(s), **kw)
            for k, s in enumerate(shapes)]


def _conv_naive(x, w, stride=(1, 1), padding=((0, 0), (0, 0)), dilation=(1, 1), groups=1):
    """The textbook loops: each output a sum over its group's channels and the dilated taps."""
    (sh, sw), (dh, dw) = stride, dilation
    xp = np.pad(x, ((0, 0), (0, 0)) + tuple(padding))
    n, _, hp, wp = xp.shape
    o, cg, kh, kw = w.shape
    og = o // groups
    out = np.zeros((n, o, (hp - dh * (kh - 1) - 1) // sh + 1, (wp - dw * (kw - 1) - 1) // sw + 1))
    for b, f, i, j in np.ndindex(out.shape):
        c0 = f // og * cg
        window = xp[b, c0:c0 + cg, i * sh:i * sh + dh * (kh - 1) + 1:dh,
                    j * sw:j * sw + dw * (kw - 1) + 1:dw]
        out[b, f, i, j] = np.sum(window * w[f])
    return out


def _conv_input_adjoint(g, w, input_hw, **attrs):
    """dx as the transpose of the (linear in x) naive convolution, column by column."""
    n, c = g.shape[0], w.shape[1] * attrs.get("groups", 1)
    basis = np.zeros((n, c) + tuple(input_hw))
    out = np.zeros_like(basis)
    for index in np.ndindex(basis.shape):
        basis[index] = 1.0
        out[index] = np.sum(_conv_naive(basis, w, **attrs) * g)
        basis[index] = 0.0
    return out


def _conv_weight_adjoint(x, g, kernel_hw, **attrs):
    shape = (g.shape[1], x.shape[1] // attrs.get("groups", 1)) + tuple(kernel_hw)
    basis, out = np.zeros(shape), np.zeros(shape)
    for index in np.ndindex(shape):
        basis[index] = 1.0
        out[index] = np.sum(_conv_naive(x, basis, **attrs) * g)
        basis[index] = 0.0
    return out


def _conv_row(x_shape, w_shape, edges=False, label="", **attrs) -> Case:
    case = Case((x_shape, w_shape), attrs=attrs, expected=_conv_naive, label=label)
    return at_magnitudes(case) if edges else case


def _conv_grad_input_row(g_shape, w_shape, input_hw, label="", **attrs) -> Case:
    return Case((g_shape, w_shape), attrs={"input_hw": input_hw, **attrs}, label=label,
                expected=_conv_input_adjoint)


def _conv_grad_weight_row(x_shape, g_shape, kernel_hw, edges=False, label="", **attrs) -> Case:
    case = Case((x_shape, g_shape), attrs={"kernel_hw": kernel_hw, **attrs}, label=label,
                expected=_conv_weight_adjoint)
    return at_magnitudes(case) if edges else case


def _pool_naive(x, kernel=2, stride=None, padding=((0, 0), (0, 0)), reduce=np.max,
                count_include_pad=True):
    """The textbook loops over each window's input elements (padding left out of max and
    of the mean, or counted as zeros when count_include_pad)."""
    k = kernel if isinstance(kernel, tuple) else (kernel, kernel)
    s = k if stride is None else (stride if isinstance(stride, tuple) else (stride, stride))
    (top, bottom), (left, right) = padding
    n, c, h, w = x.shape
    out = np.zeros((n, c, (h + top + bottom - k[0]) // s[0] + 1,
                    (w + left + right - k[1]) // s[1] + 1))
    for b, f, i, j in np.ndindex(out.shape):
        r0, c0 = i * s[0] - top, j * s[1] - left
        window = x[b, f, max(r0, 0):r0 + k[0], max(c0, 0):c0 + k[1]]
        out[b, f, i, j] = reduce(window)
        if reduce is np.mean and count_include_pad:
            out[b, f, i, j] = np.sum(window) / (k[0] * k[1])
    return out


def _max_naive(x, kernel, stride, padding):
    return _pool_naive(x, kernel, stride, padding)


def _avg_naive(x, kernel, stride, padding, count_include_pad):
    return _pool_naive(x, kernel, stride, padding, np.mean, count_include_pad)


def _pool_grad_sample(kernel, stride, shape, padding=((0, 0), (0, 0))):
    def sample(rng):
        x = rng.permutation(np.prod(shape)).reshape(shape) / 7.0      # distinct values
        out = _pool_naive(x, kernel, stride, padding)
        return x, out, rng.normal(size=out.shape)
    return sample


def _select_sample(kernel, stride, shape, padding=((0, 0), (0, 0))):
    def sample(rng):
        x, out, _ = _pool_grad_sample(kernel, stride, shape, padding)(rng)
        return x, out, rng.normal(size=shape)
    return sample


def _distinct(shape):
    return lambda r: [r.permutation(np.prod(shape)).reshape(shape) / 9.0]


def _conv1d_naive(x, w, stride, padding, dilation, groups):
    return _conv_naive(x[:, :, None, :], w[:, :, None, :], (1, stride), ((0, 0), padding),
                       (1, dilation), groups)[:, :, 0, :]


def _conv1d_row(x_shape, w_shape, edges=False, label="", **attrs) -> Case:
    case = Case((x_shape, w_shape), attrs=attrs, expected=_conv1d_naive, label=label)
    return at_magnitudes(case) if edges else case


def _layer_norm_naive(x, axis, eps):
    return (x - np.mean(x, axis=axis, keepdims=True)) / np.sqrt(
        np.var(x, axis=axis, keepdims=True) + eps)


def _batch_norm_naive(x, mean, var, gamma, beta, eps):
    out = np.empty_like(x)
    for c in range(x.shape[1]):
        out[:, c] = (x[:, c] - mean[c]) / np.sqrt(var[c] + eps) * gamma[c] + beta[c]
    return out


def _batch_norm_row(x_shape, channels, label="", **attrs) -> Case:
    return Case((x_shape,) + ((channels,),) * 4, attrs=attrs, expected=_batch_norm_naive,
                ranges=((-2, 2), (-1, 1), (0.5, 2), (-2, 2), (-2, 2)), label=label)


def _with_edges(case: Case, edges: list) -> Case:
    case.edges = edges
    return case


def _batch_norm_edges(x_shape, channels) -> list:
    """Large inputs and statistics with an output of order 1e3, tiny ones (var + eps about
    1e-3), a variance of 0 (eps alone keeps the division finite) and all zeros."""
    def operands(scales, seed=0):
        shapes = (x_shape,) + ((channels,),) * 4
        return [pattern(s, m, seed + k) for k, (s, m) in enumerate(zip(shapes, scales))]
    x, mean, var, gamma, beta = operands((LARGE, LARGE, LARGE, 1e3, 1e3))
    large = Edge(x, mean, var * var, gamma, beta)
    x, mean, var, gamma, beta = operands((TINY, TINY, 1e-3, 1.0, TINY), seed=5)
    tiny = Edge(x, mean, np.abs(var), gamma, beta)
    zero_var = Edge(pattern(x_shape, 1.0), np.zeros(channels), np.zeros(channels),
                    np.ones(channels), np.zeros(channels), skip={
                        "var": "var + eps is 1e-5, and the step at var = 0 (6e-6, absolute) "
                               "spans most of it: the differences' truncation is not small"})
    zeros = Edge(*[np.zeros(x_shape)] + [np.zeros(channels)] * 4)
    return [large, tiny, zero_var, zeros]


def _batched_einsum(a, b):
    return np.einsum("...ik,...kj->...ij", a, b)


def _onehot(rng, n, k):
    return np.eye(k)[rng.integers(0, k, size=n)]


def _expit(x):
    # scipy's expit is 1 / (1 + e^-x): 0 below -709, where σ(x) is subnormal; e^log_expit is not
    return np.exp(scipy.special.log_expit(x))


def _softmax_ce(z, t):
    return -np.sum(t * scipy.special.log_softmax(z, axis=-1)) / np.prod(z.shape[:-1])


def _pool_grad_edges(shape, third_shape, kernel=2, stride=None, padding=((0, 0), (0, 0))):
    """max_pool2d_grad and max_pool2d_select: x large, tiny, all tied (4 per window) and tied
    in pairs, with out = max_pool2d(x); both are linear in their third operand, so ties in x
    do not stop the check."""
    xs = [pattern(shape, LARGE), pattern(shape, TINY), np.zeros(shape), pair_ties(shape)]
    return [Edge(x, _pool_naive(x, kernel, stride, padding), pattern(third_shape, scale, seed=1))
            for x, scale in zip(xs, [LARGE, TINY, 1.0, 1.0])]


def _avg_grad_adjoint(g, input_hw, **attrs):
    """avg_pool2d_grad as the transpose of the (linear) naive average pooling."""
    basis = np.zeros(g.shape[:2] + tuple(input_hw))
    out = np.zeros_like(basis)
    for index in np.ndindex(basis.shape):
        basis[index] = 1.0
        out[index] = np.sum(_avg_naive(basis, **attrs) * g)
        basis[index] = 0.0
    return out


def _rows(*rows):
    return np.array(rows, dtype=float)


# softmax rows whose smaller entries' exponentials (after the maximum is subtracted) are
# subnormal or 0 in float32 or float64: tests/ops/edges.py EXP_UNDERFLOW
UNDERFLOW_ROWS = _rows((0, -90, -100, -103.5), (0, -709, -740, -745), (-87.5, 0, -720, -1e3))
UNDERFLOW_GRADIENT = ("every gradient entry is below e^-87 (subnormal in float64 from e^-708): "
                      "smaller than the rounding of the values near 1, so no difference sees it")


def specials(shape: tuple[int, ...]) -> Array:
    """0, -0, ±inf, NaN, large and tiny values in turn: a layout op moves each unchanged, and
    the selects of pad, concat and slice_grad never let one leak to another element."""
    values = [0.0, -0.0, inf, -inf, nan, 1e300, -1e-300, 1.5]
    return np.resize(np.array(values), shape)


def layout(shapes, attrs=None, **kw) -> Case:
    """A case of a layout op, with edges at large and tiny magnitudes, zero and the special
    values (every operand). With several operands, a large first one absorbs the others' tiny
    contributions to the sum the gradient check differences."""
    absorbed = {f"xs{k}": ABSORBED_PARTS for k in range(1, len(shapes))}
    case = at_magnitudes(Case(shapes, attrs or {}, **kw), absorbed=absorbed)
    case.edges.append(tuple(specials(s) for s in shapes))
    return case


S = slice      # index parts of the slice op's rows
ABSORBED_PARTS = ("the other parts are absorbed: the weighted sum the differences take is "
                  "1e150 and rounds their 1e-150 away")

CASES: dict[str, list[Case]] = {
    "add": binary(EDGES_SUM),
    "sub": binary(EDGES_SUM),
    "mul": binary(),
    "div": binary(ranges=((-2, 2), (0.5, 2)), edges=[
        Edge(1.0, 0.0, skip="pole at y = 0: x / 0 is inf"), Edge(0.0, 0.0, skip="0 / 0 is NaN"),
        Edge(-1.0, 0.0, skip="pole at y = 0: x / 0 is -inf"),
        Edge(1e300, 1e-300, skip="x / y overflows (1e600)"), (inf, 2.0), (1e100, 1e-100),
        (1e-100, 1e100), (0.0, 1e3), (-1e3, 1e-3), (1e-8, -1e-8)])
    + [Case(((3, 4), (3, 4)), sample=lambda r: (r.uniform(-2, 2, (3, 4)), _nonzero(r, (3, 4))),
            label="negative divisors")],
    "neg": unary(),
    "pow": binary(ranges=((0.5, 2), (-2, 2)), edges=[
        Edge(-2.0, 3.0, skip={"y": "negative base: x^y is NaN at every non-integer y near 3"}),
        Edge(-8.0, 1 / 3, skip=f"negative base, non-integer exponent: {DOMAIN}"),
        Edge(0.0, 0.0, skip="x^y has no limit at (0, 0): 0^0 = 1, 0^h = 0, 0^-h = inf"),
        Edge(0.0, -1.0, skip="pole: 0^-1 = inf"),
        (0.0, 2.0),     # 0^y is flat in y: d/dy = 0 there (the rule takes log 1, not log 0)
        (2.0, 1e3), (2.0, 100.0), (1e100, 0.5), (1e-100, 0.5), (1e3, -3.0)]) + [
            Case(((3,), ()), sample=lambda r: (r.uniform(-2, 2, 3), np.array(2.0)), wrt=(0,),
                 label="negative base, integer exponent")],
    "square": unary(),
    "sqrt": unary(sample=None, low=0.5, high=3.0, edges=[
        Edge(0.0, skip="sqrt'(0) = inf (a vertical tangent)"), (1e300,), (inf,),
        Edge(-1.0, skip=DOMAIN), (nan,), (1e-300,), (1e-8,)]),
    "sign": unary(away_from=0.05, edges=[
        Edge(0.0, skip=_jump("sign")), Edge(-0.0, skip=_jump("sign")), (nan,), (inf,),
        (1e-300,), (-1e3,)]),
    "abs": unary(away_from=0.05, edges=[
        (0.0,), (-0.0,), (inf,), (-inf,), (nan,), (1e-300,), (-1e3,)]),
    "exp": unary(step=scipy_step, edges=[
        (0.0,), (709.0,), Edge(710.0, skip="e^710 overflows to inf"),
        (-1e3,), (inf,), (-inf,), (nan,), (20.0,), (-30.0,), *underflow("exp")])
    + [Case(((2,),), low=-30, high=30, step=scipy_step, label="wide")],
    "log": unary(low=0.1, high=3.0, edges=[
        Edge(0.0, skip="log 0 = -inf"), Edge(-1.0, skip=DOMAIN),
        Edge(1e-310, skip="1 / x overflows at the subnormal x = 1e-310"), (inf,), (nan,),
        (1e-300,), (LARGE,), (1.0,)]),
    "maximum": [Case(s, sample=_gate_sample(s),
                     edges=EDGES_BINARY if k == 0 else [], label=f"{s[0]}x{s[1]}")
                for k, s in enumerate(BROADCASTS)],
    "minimum": [Case(s, sample=_gate_sample(s),
                     edges=EDGES_BINARY if k == 0 else [], label=f"{s[0]}x{s[1]}")
                for k, s in enumerate(BROADCASTS)],
    "above": [Case(((3, 4), (4,)), attrs={"tie": 0.5}, sample=_gate_sample(((3, 4), (4,))),
                     edges=[Edge(*e, skip=_jump("above", at="x = y"))
                            if e[0] == e[1] else e for e in EDGES_BINARY]),
                Case(((3,), ()), attrs={"tie": 1.0}, sample=_gate_sample(((3,), ())))],
    "sigmoid": unary(expected=_expit, step=scipy_step, edges=[
        (0.0,), Edge(30.0, skip="saturated: σ(30) = 1 - 9e-14 changes by less than the spacing "
                                "of floats near 1 over any step"),
        (-30.0,), (-1e3,), (1e3,), (inf,), (-inf,), (nan,), (1e-8,), *underflow("sigmoid")]),
    "tanh": unary(step=scipy_step, edges=[
        (0.0,), (1e-8,), (20.0,), (-20.0,), (inf,), (nan,), (1e3,), (-90.0,), (-745.0,)]),
    "relu": unary(away_from=0.05, edges=[
        Edge(0.0, skip=_kink("relu'(0) = 0", "1/2")),
        Edge(-0.0, skip=_kink("relu'(0) = 0", "1/2")),
        (1e3,), (-1e3,), (1e-8,), (-1e-8,), (-inf,), (nan,)]),
    "leaky_relu": unary(away_from=0.05, edges=[
        Edge(0.0, skip=_kink("leaky_relu'(0) = alpha", "(1 + alpha) / 2")),
        (-1e3,), (1e3,), (1e-8,), (-1e-8,), (nan,)])
    + [Case(((4,),), attrs={"alpha": 0.2}, away_from=0.05, label="alpha=0.2")],
    "elu": unary(away_from=0.05, edges=[
        Edge(0.0, skip="elu'' jumps at 0 (from alpha to 0): elu'(0) = alpha = 1 is the limit of "
                       "central differences, but their error there is O(h), not O(h^4)"),
        (-1e3,), (1e3,), (inf,), (-inf,), (nan,), (1e-8,), (-1e-8,), (-20.0,), (-90.0,),
        (-745.0,), (-1e-30,)])
    + [Case(((4,),), attrs={"alpha": 0.5}, away_from=0.05, label="alpha=0.5",
            edges=[Edge(0.0, skip=_kink("elu'(0) = alpha", "(1 + alpha) / 2"))])],
    "step": unary(away_from=0.05, edges=[
        Edge(0.0, skip=_jump("step")), Edge(-0.0, skip=_jump("step")), (1e-300,), (-1e-300,),
        (1e3,), (nan,)]),
    "size": [at_magnitudes(Case(((3, 4),), attrs={"axis": 0})),
             Case(((2, 3, 4),), attrs={"axis": None}),
             Case(((2, 3),), attrs={"axis": ()}, label="no axes")],
    "sum": [at_magnitudes(Case(((3, 4),))), Case(((3, 4),), attrs={"axis": 0}),
            Case(((2, 3, 4),), attrs={"axis": (0, 2), "keepdims": True}),
            Case(((5,),), attrs={"axis": -1}), Case(((),), label="scalar")],
    "mean": [at_magnitudes(Case(((3, 4),))), Case(((3, 4),), attrs={"axis": 1}),
             Case(((2, 3, 4),), attrs={"axis": (0, 2), "keepdims": True})],
    "max": [at_magnitudes(Case(((3, 4),)), (pair_ties((3, 4), LARGE),), ties=TIES),
            Case(((3, 4),), attrs={"axis": 1}),
            Case(((2, 3, 4),), attrs={"axis": (0, 2), "keepdims": True}),
            Case(((1, 4),), attrs={"axis": 0}, label="size-1 axis")],
    "min": [at_magnitudes(Case(((3, 4),)), (pair_ties((3, 4), TINY),), ties=TIES),
            Case(((3, 4),), attrs={"axis": 0, "keepdims": True})],
    "reshape": [at_magnitudes(Case(((3, 4),), attrs={"shape": (2, -1)})),
                Case(((6,),), attrs={"shape": (1, 6)}),
                Case(((1,),), attrs={"shape": ()}, label="to scalar")],
    "transpose": [at_magnitudes(Case(((3, 4),))), Case(((2, 3, 4),), attrs={"axes": (1, 2, 0)})],
    "broadcast_to": [at_magnitudes(Case(((4,),), attrs={"shape": (3, 4)})),
                     Case(((3, 1),), attrs={"shape": (2, 3, 5)}),
                     Case(((),), attrs={"shape": (2, 2)})],
    "broadcast_like": [at_magnitudes(Case(((4,), (3, 4)), wrt=(0,))),
                       Case(((3, 1), (2, 1, 5)), wrt=(0,)), Case(((), (2, 2)), wrt=(0,))],
    "matmul": [at_magnitudes(Case(((3, 4), (4, 5)),
                                  expected=lambda a, b: np.einsum("ik,kj->ij", a, b))),
               Case(((4,), (4, 5)), label="vector @ matrix"),
               Case(((3, 4), (4,)), label="matrix @ vector"),
               Case(((4,), (4,)), label="dot"),
               Case(((2, 3, 4), (4, 5)), label="batched"),
               Case(((2, 1, 3, 4), (5, 4, 2)), label="batch broadcast"),
               # rank 3 and 4, the batch axes broadcast on either side (einsum's "..." is the
               # independent reference)
               Case(((2, 3, 4), (2, 4, 5)), expected=_batched_einsum, label="rank 3"),
               Case(((3, 4), (2, 4, 5)), expected=_batched_einsum, label="matrix @ rank 3"),
               Case(((1, 3, 4), (2, 4, 5)), expected=_batched_einsum,
                    label="rank 3, left broadcast"),
               Case(((2, 3, 4), (1, 4, 5)), expected=_batched_einsum,
                    label="rank 3, right broadcast"),
               Case(((2, 3, 3, 4), (2, 3, 4, 2)), expected=_batched_einsum, label="rank 4"),
               Case(((2, 1, 3, 4), (1, 3, 4, 2)), expected=_batched_einsum,
                    label="rank 4, both broadcast"),
               Case(((3, 2, 4), (2, 1, 4, 5)), expected=_batched_einsum,
                    label="rank 3 @ rank 4"),
               Case(((2, 1, 3, 3, 4), (3, 4, 1)), expected=_batched_einsum,
                    label="rank 5 @ rank 3")],
    # edges on the strided, padded rows: smaller than the first rows, so the checks stay fast
    "conv2d": [_conv_row((2, 3, 5, 5), (4, 3, 3, 3)),
               _conv_row((1, 2, 6, 5), (3, 2, 3, 2), edges=True, stride=2, padding=1),
               _conv_row((1, 1, 4, 4), (1, 1, 1, 1), label="1x1 kernel"),
               _conv_row((1, 2, 7, 6), (3, 2, 3, 2), dilation=2, label="dilation 2"),
               _conv_row((2, 4, 5, 5), (6, 2, 3, 3), groups=2, padding=1, label="groups 2"),
               _conv_row((1, 3, 6, 6), (6, 1, 3, 3), groups=3, label="depthwise x2"),
               _conv_row((1, 2, 5, 6), (3, 2, 3, 3), padding=((2, 0), (1, 3)),
                         label="asymmetric padding"),
               _conv_row((1, 2, 7, 8), (2, 2, 3, 3), stride=2, padding=((1, 1), (0, 2)),
                         label="stride 2, asymmetric padding"),
               _conv_row((1, 4, 8, 7), (4, 1, 2, 3), stride=(2, 1), padding=((1, 2), (2, 0)),
                         dilation=(1, 3), groups=4, label="every attribute")],
    "conv2d_grad_input": [
        _conv_grad_input_row((2, 4, 3, 3), (4, 3, 3, 3), (5, 5)),
        Case(((1, 3, 3, 3), (3, 2, 3, 2)), attrs={"input_hw": (6, 5), "stride": 2, "padding": 1},
             expected=_conv_input_adjoint, edges=[
                 # 1e150 is inf in float32: a weight reaches only the positions its windows
                 # cover, so the rest stays finite (the direct loops mask the product, not
                 # the load, so no 0 * inf from windows that miss)
                 Edge(pattern((1, 3, 3, 3), LARGE), pattern((3, 2, 3, 2), LARGE, seed=1)),
                 *magnitudes(((1, 3, 3, 3), (3, 2, 3, 2)))[1:]]),
        _conv_grad_input_row((1, 6, 4, 4), (6, 2, 3, 3), (4, 4), groups=2, padding=1,
                             label="groups 2"),
        _conv_grad_input_row((1, 3, 2, 3), (3, 1, 3, 2), (6, 6), stride=2, dilation=(2, 1),
                             padding=((1, 0), (0, 1)), groups=3,
                             label="depthwise, dilated, strided, asymmetric")],
    "conv2d_grad_weight": [
        _conv_grad_weight_row((2, 3, 5, 5), (2, 4, 3, 3), (3, 3)),
        _conv_grad_weight_row((1, 2, 6, 5), (1, 3, 3, 3), (3, 2), edges=True, stride=2,
                              padding=1),
        _conv_grad_weight_row((1, 4, 5, 5), (1, 6, 5, 5), (3, 3), groups=2, padding=1,
                              label="groups 2"),
        _conv_grad_weight_row((1, 3, 6, 6), (1, 3, 2, 3), (3, 2), stride=2, dilation=(2, 1),
                              padding=((1, 0), (0, 1)), groups=3,
                              label="depthwise, dilated, strided, asymmetric")],
    "max_pool2d": [
        at_magnitudes(Case(((2, 3, 4, 4),), sample=_distinct((2, 3, 4, 4)), expected=_max_naive),
                      (pair_ties((2, 3, 4, 4)),), ties=TIES),
        Case(((1, 2, 5, 5),), attrs={"kernel": 3, "stride": 1}, sample=_distinct((1, 2, 5, 5)),
             expected=_max_naive, label="overlap"),
        Case(((1, 2, 5, 6),), attrs={"kernel": 3, "stride": 2, "padding": 1},
             sample=_distinct((1, 2, 5, 6)), expected=_max_naive, label="stride 2, padding 1",
             edges=[Edge(np.full((1, 2, 5, 6), -1e3), skip=TIES), (-pattern((1, 2, 5, 6), LARGE),),
                    (np.full((1, 2, 5, 6), -inf),)]),
        Case(((1, 1, 4, 5),), attrs={"kernel": (2, 3), "stride": 1,
                                     "padding": ((1, 0), (2, 1))},
             sample=_distinct((1, 1, 4, 5)), expected=_max_naive, label="asymmetric padding")],
    "max_pool2d_grad": [
        Case(((1, 2, 4, 4), (1, 2, 2, 2), (1, 2, 2, 2)), sample=_pool_grad_sample(2, None,
                                                                                  (1, 2, 4, 4)),
             wrt=(2,), edges=_pool_grad_edges((1, 2, 4, 4), (1, 2, 2, 2))),
        Case(((1, 1, 5, 5), (1, 1, 3, 3), (1, 1, 3, 3)), attrs={"kernel": 3, "stride": 1},
             sample=_pool_grad_sample(3, 1, (1, 1, 5, 5)), wrt=(2,), label="overlap"),
        Case(((1, 2, 4, 4), (1, 2, 3, 2), (1, 2, 3, 2)),
             attrs={"kernel": 3, "stride": 2, "padding": ((1, 2), (1, 1))},
             sample=_pool_grad_sample(3, 2, (1, 2, 4, 4), ((1, 2), (1, 1))), wrt=(2,),
             edges=_pool_grad_edges((1, 2, 4, 4), (1, 2, 3, 2), 3, 2, ((1, 2), (1, 1))),
             label="padding")],
    "max_pool2d_select": [
        Case(((1, 2, 4, 4), (1, 2, 2, 2), (1, 2, 4, 4)), sample=_select_sample(2, None,
                                                                               (1, 2, 4, 4)),
             wrt=(2,), edges=_pool_grad_edges((1, 2, 4, 4), (1, 2, 4, 4))),
        Case(((1, 2, 4, 4), (1, 2, 3, 2), (1, 2, 4, 4)),
             attrs={"kernel": 3, "stride": 2, "padding": ((1, 2), (1, 1))},
             sample=_select_sample(3, 2, (1, 2, 4, 4), ((1, 2), (1, 1))), wrt=(2,),
             edges=_pool_grad_edges((1, 2, 4, 4), (1, 2, 4, 4), 3, 2, ((1, 2), (1, 1))),
             label="padding")],
    "avg_pool2d": [
        at_magnitudes(Case(((2, 3, 4, 4),), expected=_avg_naive)),
        Case(((1, 2, 5, 6),), attrs={"kernel": (3, 2), "stride": (1, 2)}, expected=_avg_naive),
        Case(((1, 2, 5, 6),), attrs={"kernel": 3, "stride": 2, "padding": 1},
             expected=_avg_naive, label="padding, count_include_pad"),
        Case(((1, 2, 5, 6),), attrs={"kernel": 3, "stride": 2, "padding": 1,
                                     "count_include_pad": False},
             expected=_avg_naive, label="padding, count_include_pad=False"),
        Case(((1, 1, 4, 5),), attrs={"kernel": (2, 3), "stride": 1,
                                     "padding": ((1, 0), (2, 1)), "count_include_pad": False},
             expected=_avg_naive, label="asymmetric padding, count_include_pad=False")],
    "avg_pool2d_grad": [
        at_magnitudes(Case(((1, 2, 2, 2),), attrs={"input_hw": (4, 4)},
                           expected=_avg_grad_adjoint)),
        Case(((1, 1, 3, 3),), attrs={"input_hw": (5, 5), "kernel": 3, "stride": 1},
             expected=_avg_grad_adjoint),
        Case(((1, 2, 3, 3),), attrs={"input_hw": (5, 6), "kernel": 3, "stride": 2,
                                     "padding": 1}, expected=_avg_grad_adjoint,
             label="padding, count_include_pad"),
        Case(((1, 2, 3, 3),), attrs={"input_hw": (4, 5), "kernel": 3, "stride": 2,
                                     "padding": ((1, 2), (1, 1)), "count_include_pad": False},
             expected=_avg_grad_adjoint, label="padding, count_include_pad=False")],
    "global_avg_pool2d": [
        at_magnitudes(Case(((2, 3, 4, 5),), expected=lambda x, keepdims: np.mean(
            x, axis=(2, 3), keepdims=keepdims))),
        Case(((1, 2, 1, 3),), attrs={"keepdims": True}, label="keepdims")],
    "conv1d": [_conv1d_row((2, 3, 10), (4, 3, 3), edges=True),
               _conv1d_row((1, 2, 11), (3, 2, 3), stride=2, padding=(2, 0), dilation=2,
                           label="stride, padding, dilation"),
               _conv1d_row((2, 3, 8), (3, 1, 3), padding=1, groups=3, label="depthwise"),
               _conv1d_row((1, 4, 9), (6, 2, 2), stride=3, padding=(0, 1), groups=2,
                           label="groups 2, stride 3")],
    "layer_norm": [
        at_magnitudes(Case(((3, 4),), expected=_layer_norm_naive),
                      # rows far from 0: the two-pass variance keeps their spread exactly
                      Edge(1e8 + pattern((3, 4), 1.0), skip="central differences with steps "
                           "relative to 1e8 are wider than the rows' spread of 1"),
                      (pattern((3, 4), 1e-3),)),
        Case(((2, 3, 4),), attrs={"axis": (1, 2), "eps": 1e-3}, expected=_layer_norm_naive,
             label="two axes"),
        Case(((4, 3),), attrs={"axis": 0}, expected=_layer_norm_naive, label="axis 0"),
        Case(((2, 5),), attrs={"eps": 0.0}, expected=_layer_norm_naive, label="eps 0"),
        Case(((2, 1, 3),), attrs={"axis": None}, expected=_layer_norm_naive,
             label="every axis")],
    "batch_norm": [
        _with_edges(_batch_norm_row((2, 3, 2, 2), 3, label="NCHW"),
                    _batch_norm_edges((2, 3, 2, 2), 3)),
        _batch_norm_row((4, 3), 3, label="(N, C)", eps=1e-3),
        _batch_norm_row((2, 3, 4), 3, label="NCL", eps=0.0)],
    # softmax and its losses vary on a unit length wherever they are: steps of max(|x|, 1)
    "softmax": [Case(((3, 4),), expected=lambda x, axis: scipy.special.softmax(x, axis=axis),
                     step=scipy_step, relative=True, edges=[
                         (_rows(1e3, 0, -1e3),), (_rows(-inf, 0, 1),), (_rows(20, 0, -20),),
                         (_rows(1e-8, 0, -1e-8),), (np.zeros((3, 4)),),
                         Edge(UNDERFLOW_ROWS, skip=UNDERFLOW_GRADIENT)]),
                Case(((3, 4),), attrs={"axis": 0}, step=scipy_step, relative=True,
                     expected=lambda x, axis: scipy.special.softmax(x, axis=axis))],
    "log_softmax": [Case(((3, 4),), expected=lambda x, axis: scipy.special.log_softmax(
        x, axis=axis), step=scipy_step, relative=True, edges=[
            (_rows(1e3, 0, -1e3),), (_rows(50, 0, -50),), (_rows(1e-8, 0, -1e-8),),
            (np.zeros((3, 4)),), (pattern((3, 4), 1e3),), (UNDERFLOW_ROWS,)]),
                    Case(((2, 3, 2),), attrs={"axis": 1}, step=scipy_step, relative=True)],
    "mse": [at_magnitudes(Case(((4, 3), (4, 3)),
                               expected=lambda p, t: np.sum((p - t) ** 2) / p.size),
                          (pattern((4, 3), 1e3),) * 2, absorbed={
                              "target": "target is absorbed: pred - target rounds to pred"}),
            Case(((), ()), label="scalars")],
    "binary_cross_entropy": [Case(((5,), (5,)), sample=lambda r: (
        r.uniform(0.05, 0.95, 5), r.integers(0, 2, 5).astype(float)),
        expected=lambda p, t: -np.mean(np.where(t == 1, np.log(p), np.log1p(-p))),
        edges=[
            (_rows(0.01, 0.99, 0.01, 0.99, 0.5), _rows(1, 0, 0, 1, 1)),
            (_rows(1e-8, 1e-8, 1e-3, 0.5, 0.5), _rows(1, 0, 1, 0, 1)),
            Edge(_rows(0, 0.5, 0.5, 0.5, 0.5), _rows(1, 0, 1, 0, 1), skip="log 0 = -inf"),
            Edge(_rows(1, 0.5, 0.5, 0.5, 0.5), _rows(0, 0, 1, 0, 1),
                 skip="log(1 - p) = -inf at p = 1"),
            # sigmoid(-90) and sigmoid(-740): subnormal in float32 or in float64 (0 in float32)
            (_rows(8.2e-40, 0.5, 8.2e-40, 0.5, 0.5), _rows(1, 1, 0, 0, 1)),
            Edge(_rows(4.2e-322, 0.5, 0.5, 0.5, 0.5), _rows(1, 0, 1, 0, 1),
                 skip="1 / p overflows at the subnormal p = 4.2e-322")])],
    "softmax_cross_entropy": [
        Case(((4, 3), (4, 3)), sample=lambda r: (r.normal(size=(4, 3)), _onehot(r, 4, 3)),
             expected=_softmax_ce, step=scipy_step, edges=[
                 (_rows((30, 0, -30), (-30, 30, 0), (0, -30, 30), (30, 30, -30)), np.eye(3)[
                     [0, 0, 1, 2]]),
                 (pattern((4, 3), 1e3), np.eye(3)[[1, 2, 0, 1]]),
                 (pattern((4, 3), 1e-8), np.eye(3)[[1, 2, 0, 1]]),
                 (np.zeros((4, 3)), np.full((4, 3), 1 / 3)),
                 # the target on an entry e^-90 or e^-740 times the largest: loss 90 or 740
                 (_rows((0, -90, -100), (-103.5, 0, -709), (-740, -745, 0), (-87.5, -720, 0)),
                  np.eye(3)[[1, 0, 0, 1]])]),
        Case(((3,), (3,)), sample=lambda r: (r.normal(size=3), np.array([0.0, 1.0, 0.0])),
             expected=_softmax_ce, step=scipy_step, label="one example"),
        Case(((2, 2, 3), (2, 2, 3)), sample=lambda r: (r.normal(size=(2, 2, 3)),
                                                       r.dirichlet(np.ones(3), size=(2, 2))),
             expected=_softmax_ce, step=scipy_step, label="soft targets")],
    "slice": [layout(((3, 4),), {"index": (S(1, None), S(None, None, -2))}),
              Case(((2, 3, 4),), {"index": (None, Ellipsis, 0)}, label="None, ..., int"),
              Case(((5,),), {"index": (S(-1, -6, -2),)}, label="negative bounds and step"),
              Case(((4, 3),), {"index": -1}, label="negative int"),
              Case(((3,),), {"index": (S(10, 20),)}, label="empty, clamped"),
              Case(((1,),), {"index": (0, None)}, label="size 1"),
              Case(((2, 3),), {"index": ()}, label="everything")],
    "slice_grad": [at_magnitudes(Case(((2,), (3, 4)), {"index": (S(None, None, 2), -1)}),
                                 (specials((2,)), specials((3, 4)))),
                   Case(((2, 2, 1), (4, 3)), {"index": (S(None, None, -2), S(0, 2), None)},
                        label="negative step, new axis"),
                   Case(((0,), (3,)), {"index": (S(5, None),)}, label="empty")],
    "concat": [layout(((2, 1), (2, 3)), {"axis": 1}),
               Case(((1,), (3,), (2,)), label="three"),
               Case(((2, 0), (2, 2)), {"axis": -1}, label="an empty part"),
               Case(((3, 2),), label="one")],
    "stack": [layout(((3,), (3,))),
              Case(((2, 2), (2, 2), (2, 2)), {"axis": -1}, label="last axis"),
              Case(((), ()), label="scalars")],
    "pad": [layout(((2, 3),), {"widths": ((1, 0), (2, 1))}),
            Case(((3,),), {"widths": 2, "value": 1e3}, label="large border"),
            Case(((2, 2),), {"widths": (1, 2), "value": -2.5}, label="negative border"),
            Case(((1, 2),), {"widths": ((0, 0), (0, 3)), "value": 1.5}, label="one side"),
            Case(((),), {"widths": 3}, label="scalar")],
    "squeeze": [layout(((1, 3, 1),), {"axis": (0, 2)}),
                Case(((1,),), {"axis": 0}, label="to scalar"),
                Case(((2, 1),), {"axis": -1}, label="last")],
    "expand_dims": [layout(((2, 3),), {"axis": 1}),
                    Case(((),), {"axis": 0}, label="scalar"),
                    Case(((3,),), {"axis": -1}, label="last")],
    "flip": [layout(((3, 4),)), Case(((2, 3, 4),), {"axis": (0, 2)}, label="two axes"),
             Case(((1, 2),), {"axis": 0}, label="size 1")],
    "tile": [layout(((2, 3),), {"reps": (2, 1)}),
             Case(((3,),), {"reps": (2, 2)}, label="new axis"),
             Case(((2, 2),), {"reps": 3}, label="int"),
             Case(((2,),), {"reps": 0}, label="none")],
    "repeat": [layout(((2, 3),), {"repeats": 2, "axis": 1}),
               Case(((3,),), {"repeats": 3, "axis": 0}, label="vector"),
               Case(((2, 2),), {"repeats": 1, "axis": -2}, label="once")],
}

CASES.update(dtype_cases(Case))

# Linear in each operand (max_pool2d piecewise linear): central differences are exact, so the
# gradient checks leave out the Richardson step for these, the costly ones to difference.
MULTILINEAR = frozenset({"matmul", "conv2d", "conv2d_grad_input", "conv2d_grad_weight",
                         "take", "take_grad",
                         "max_pool2d", "max_pool2d_grad", "max_pool2d_select", "avg_pool2d",
                         "avg_pool2d_grad", "slice", "slice_grad", "concat", "stack", "pad",
                         "squeeze", "expand_dims", "flip", "tile", "repeat",
                         "global_avg_pool2d", "conv1d"})


def edge_arrays(case: Case, edge: tuple[Any, ...]) -> list[Array]:
    """An edge point as arrays: scalars fill the case's shape, arrays keep their own; each of
    the operand's dtype (float64 unless the case fixes an int or bool one)."""
    return [np.full(s, v, dtype=case.dtype_of(k) or float) if np.ndim(v) == 0 else
            np.asarray(v, dtype=case.dtype_of(k) or float)
            for k, (v, s) in enumerate(zip(edge, case.shapes))]


def differentiable(case: Case, result_dtype: str) -> bool:
    """Whether gradients are checked: a float result and float operands to differentiate."""
    wrt = case.wrt if case.wrt is not None else range(len(case.shapes))
    return bool(tuple(wrt)) and result_dtype in ("float32", "float64")


def all_cases() -> list[tuple[str, int, Case]]:
    """(op name, index, case) for every row, in a stable order (pytest ids)."""
    return [(name, k, case) for name in sorted(CASES) for k, case in enumerate(CASES[name])]
