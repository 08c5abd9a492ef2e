"""Case rows of the ops on ints and bools (graphnn/ops/compare.py, graphnn/ops/gather.py):
comparisons, logical ops, where, clip, cast, take, take_grad, one_hot, argmax/argmin. Merged
into tests/ops/cases.py's CASES. Int and bool operands carry a fixed dtype (Case.dtypes);
int and bool results are compared exactly.
"""

from __future__ import annotations

import numpy as np

from tests.ops.edges import LARGE, TINY, Edge

inf, nan = np.inf, np.nan
SHAPES = [((3, 4), (3, 4)), ((3, 1), (4,)), ((), (2, 3)), ((1,), (1,))]
# ties (equal operands), signed zeros, infinities, NaN, huge and tiny magnitudes
COMPARE_EDGES = [(0.0, 0.0), (0.0, -0.0), (1.0, 1.0), (inf, inf), (-inf, 1.0), (nan, 1.0),
                 (nan, nan), (LARGE, LARGE), (TINY, -TINY), (1e3, -1e3)]
AT_BOUND = "kink at a bound: graphnn gives the gradient to x whole, a central difference 1/2"


def _ints(shape, low=-3, high=4):
    return lambda r: r.integers(low, high, size=shape)


def _compare_cases(Case):
    def sample(shapes):
        def draw(r):   # ties on purpose: integers
            return [r.integers(-2, 3, size=s).astype(float) for s in shapes]
        return draw
    cases = [Case(s, sample=sample(s), edges=COMPARE_EDGES if k == 0 else [],
                  label=f"{s[0]}x{s[1]}") for k, s in enumerate(SHAPES)]
    ints = ((3, 4), (4,))
    cases.append(Case(ints, dtypes=("int64", "int64"),
                      sample=lambda r: (r.integers(-3, 3, size=(3, 4)), r.integers(-3, 3, 4)),
                      label="int64"))
    return cases


def _bool_cases(Case, arity):
    shapes = [((3, 4),) * arity, ((3, 1), (4,))[:arity], ((),) * arity]
    return [Case(s, dtypes=("bool",) * arity, label="x".join(map(str, s)),
                 sample=lambda r, s=s: [r.random(size=t) < 0.5 for t in s]) for s in shapes]


def _where_cases(Case):
    def sample(shapes):
        return lambda r: [r.random(size=shapes[0]) < 0.5,
                          *(r.uniform(-2, 2, size=t) for t in shapes[1:])]
    rows = [((3, 4), (3, 4), (3, 4)), ((3, 1), (4,), ()), ((), (2, 3), (2, 3))]
    cases = [Case(s, dtypes=("bool",), sample=sample(s), wrt=(1, 2), label=str(s[0]))
             for s in rows]
    cond = np.array([[True, False, True, False]] * 3)
    cases[0].edges = [(cond, LARGE, -LARGE), (cond, TINY, 0.0), (cond, inf, nan),
                      (cond, -0.0, 1.0)]
    cases.append(Case(((2, 3), (2, 3), ()), dtypes=("bool", "int64", "int64"), wrt=(),
                      sample=lambda r: [r.random((2, 3)) < 0.5, r.integers(-5, 5, (2, 3)),
                                        np.int64(7)], label="int64"))
    return cases


def _clip_sample(shapes):
    def draw(r):
        while True:   # keep x 0.05 away from both bounds (the kinks)
            x = r.uniform(-2, 2, size=shapes[0])
            lo = r.uniform(-1.5, -0.5, size=shapes[1])
            hi = r.uniform(0.5, 1.5, size=shapes[2])
            if min(np.min(np.abs(x - lo), initial=1), np.min(np.abs(x - hi), initial=1)) > 0.05:
                return x, lo, hi
    return draw


def _clip_cases(Case):
    rows = [((3, 4), (3, 4), (3, 4)), ((3, 4), (), ()), ((4,), (3, 1), ())]
    cases = [Case(s, sample=_clip_sample(s), label=str(s[0])) for s in rows]
    cases[0].edges = [
        (LARGE, -1.0, 1.0), (-LARGE, -1.0, 1.0), (TINY, -1.0, 1.0), (0.0, -1.0, 1.0),
        Edge(-1.0, -1.0, 1.0, skip=AT_BOUND), Edge(1.0, -1.0, 1.0, skip=AT_BOUND),
        (0.5, 1.0, -1.0), Edge(nan, -1.0, 1.0, skip="NaN"), Edge(inf, -1.0, 1.0, skip="inf"),
        (1e3, -1e3 - 1, 1e3 + 1)]
    cases.append(Case(((3, 4), (), ()), dtypes=("int64", "int64", "int64"), wrt=(),
                      sample=lambda r: [r.integers(-9, 9, (3, 4)), np.int64(-2), np.int64(3)],
                      label="int64"))
    return cases


def _saturated(x, dtype):
    """float -> int as graphnn defines it, element by element in Python: NaN 0, truncation,
    saturation at the int's extremes (an independent reference for cast)."""
    info = np.iinfo(dtype)

    def one(v):
        if v != v:
            return 0
        if v >= info.max:
            return info.max
        if v <= info.min:
            return info.min
        return int(v)       # truncates toward zero
    return np.array([one(float(v)) for v in np.ravel(x)], dtype=dtype).reshape(np.shape(x))


CAST_EDGES = [(0.0,), (-0.0,), (2.9,), (-2.9,), (LARGE,), (-LARGE,), (TINY,), (inf,), (-inf,),
              (nan,), (2.0 ** 31,), (-(2.0 ** 31) - 1,), (2.0 ** 63,), (1e3,)]


def _cast_cases(Case):
    cases = [Case(((3, 4),), attrs={"dtype": "float64"}, edges=CAST_EDGES, label="float64"),
             # wrt=(): a difference quotient of a rounding to float32 is noise at float64
             # steps; tests/compiler/test_dtypes.py checks this gradient exactly
             Case(((3, 4),), attrs={"dtype": "float32"}, label="float32", wrt=(), edges=[
                 (LARGE,), (TINY,), (1e3,), (nan,)])]
    for dtype in ("int32", "int64"):
        cases.append(Case(((3, 4),), attrs={"dtype": dtype}, low=-1e3, high=1e3, wrt=(),
                          expected=lambda x, dtype: _saturated(x, dtype), edges=CAST_EDGES,
                          label=dtype))
    cases.append(Case(((3, 4),), attrs={"dtype": "bool"}, wrt=(), edges=CAST_EDGES,
                      label="bool"))
    cases.append(Case(((2, 3),), attrs={"dtype": "float64"}, dtypes=("int64",), wrt=(),
                      sample=lambda r: [r.integers(-2**40, 2**40, (2, 3))], label="from int64"))
    cases.append(Case(((2, 3),), attrs={"dtype": "int32"}, dtypes=("int64",), wrt=(),
                      sample=lambda r: [r.integers(-2**40, 2**40, (2, 3))], label="wraps"))
    cases.append(Case(((2, 3),), attrs={"dtype": "float32"}, dtypes=("bool",), wrt=(),
                      sample=lambda r: [r.random((2, 3)) < 0.5], label="from bool"))
    return cases


def _gather_expected(x, indices, axis):
    """np.take by hand: loop over the index array."""
    moved = np.moveaxis(x, axis, 0)
    n = moved.shape[0]
    picked = np.stack([moved[i + n if i < 0 else i] for i in np.ravel(indices)]) if \
        np.size(indices) else np.zeros((0,) + moved.shape[1:])
    picked = picked.reshape(np.shape(indices) + moved.shape[1:])
    return np.moveaxis(picked, list(range(np.ndim(indices))),
                       list(range(axis, axis + np.ndim(indices))))


def _take_cases(Case):
    table = Case(((5, 3), (6,)), dtypes=(None, "int64"), wrt=(0,), expected=_gather_expected,
                 sample=lambda r: [r.normal(size=(5, 3)), np.array([0, 4, 4, -1, 2, 0])],
                 label="embedding, repeated")
    table.edges = [(np.full((5, 3), LARGE), np.array([1, 1, -5, 4, 0, 2])),
                   (np.full((5, 3), TINY), np.array([3, 3, 3, 3, 3, 3])),
                   (np.array([[inf, nan, 0.0]] * 5), np.array([0, 1, 2, 3, 4, -2]))]
    return [
        table,
        Case(((2, 5, 3), (2, 2)), attrs={"axis": 1}, dtypes=(None, "int32"), wrt=(0,),
             expected=_gather_expected,
             sample=lambda r: [r.normal(size=(2, 5, 3)), np.array([[0, -1], [3, 3]])],
             label="axis 1, int32"),
        Case(((4,), ()), dtypes=(None, "int64"), wrt=(0,), expected=_gather_expected,
             sample=lambda r: [r.normal(size=4), np.int64(-2)], label="scalar index"),
        Case(((3, 4), (2,)), attrs={"axis": -1}, dtypes=("bool", "int64"), wrt=(),
             sample=lambda r: [r.random((3, 4)) < 0.5, np.array([3, -4])], label="bool x"),
    ]


def _take_grad_cases(Case):
    row = Case(((6, 3), (6,)), attrs={"at": 0, "size": 5}, dtypes=(None, "int64"), wrt=(0,),
               sample=lambda r: [r.normal(size=(6, 3)), np.array([0, 4, 4, -1, 2, 0])],
               label="repeated")
    row.edges = [(np.full((6, 3), LARGE), np.array([1, 1, 1, 1, 1, 1])),
                 (np.full((6, 3), TINY), np.array([0, 1, 2, 3, 4, -1]))]
    return [row, Case(((2, 2, 2, 3), (2, 2)), attrs={"at": 1, "size": 4},
                      dtypes=(None, "int32"), wrt=(0,), label="axis 1",
                      sample=lambda r: [r.normal(size=(2, 2, 2, 3)),
                                        np.array([[0, -1], [3, 3]], dtype=np.int32)])]


def _one_hot_cases(Case):
    return [Case(((6,),), attrs={"depth": 4}, dtypes=("int64",), wrt=(),
                 sample=lambda r: [np.array([0, 3, -1, -4, 4, -5])], label="edges"),
            Case(((2, 3),), attrs={"depth": 3, "dtype": "int32"}, dtypes=("int32",), wrt=(),
                 sample=lambda r: [r.integers(-3, 3, (2, 3))], label="int32")]


def _arg_sample(shape):
    return lambda r: [r.integers(-2, 3, size=shape).astype(float)]   # ties on purpose


ARG_EDGES = [(np.array([[1.0, nan, 3.0, nan], [2.0, 2.0, -inf, inf], [0.0, -0.0, 0.0, LARGE]]),),
             (np.full((3, 4), TINY),), (np.full((3, 4), nan),)]


def _arg_cases(Case):
    return [Case(((3, 4),), attrs={"axis": 1}, sample=_arg_sample((3, 4)), wrt=(),
                 edges=ARG_EDGES, label="axis 1"),
            Case(((3, 4),), attrs={"axis": 0, "keepdims": True}, sample=_arg_sample((3, 4)),
                 wrt=(), edges=ARG_EDGES, label="axis 0 keepdims"),
            Case(((2, 3, 2),), sample=_arg_sample((2, 3, 2)), wrt=(), label="flattened"),
            Case(((2, 3),), attrs={"keepdims": True}, sample=_arg_sample((2, 3)), wrt=(),
                 label="flattened keepdims"),
            Case(((),), sample=lambda r: [np.array(1.5)], wrt=(), label="scalar"),
            Case(((3, 4),), attrs={"axis": -1}, dtypes=("int32",), wrt=(),
                 sample=lambda r: [r.integers(-2, 3, (3, 4))], label="int32")]


def _first_match_cases(Case):
    def sample(r):
        x = r.integers(-2, 3, size=(3, 4)).astype(float)
        x[1, 2] = nan
        return [x, np.max(x, axis=1, keepdims=True)]
    return [Case(((3, 4), (3, 1)), attrs={"axis": 1}, sample=sample, wrt=())]


def dtype_cases(Case) -> dict:
    """The rows of this module, for CASES."""
    rows = {name: _compare_cases(Case) for name in (
        "greater", "greater_equal", "less", "less_equal", "equal", "not_equal")}
    rows.update(logical_and=_bool_cases(Case, 2), logical_or=_bool_cases(Case, 2),
                logical_not=_bool_cases(Case, 1), where=_where_cases(Case),
                clip=_clip_cases(Case), cast=_cast_cases(Case), take=_take_cases(Case),
                take_grad=_take_grad_cases(Case), one_hot=_one_hot_cases(Case),
                argmax=_arg_cases(Case), argmin=_arg_cases(Case),
                first_match=_first_match_cases(Case))
    for cases in rows.values():
        for case in cases:
            if case.wrt is None and case.dtypes:
                case.wrt = case.floats()
    return rows
