"""math chain: eight of the elementwise math functions in a row (gelu sin softplus erf silu cos
softsign log1p) against eight of exp and tanh (tanh exp tanh exp ...), float32, one fused loop
each; the bar (issue 13): the new chain within 1.5x of the exp/tanh chain per element.

`build` gives each chain as a workload checked against NumPy/SciPy; `run` times both and adds
the ratio as its own row (seconds per element of the new chain / of the exp/tanh chain).
"""

from __future__ import annotations

import numpy as np
import scipy.special

import graphnn as gn
from benchmarks.workload import Workload, options

BAR = 1.5


def _silu(y):
    return y * scipy.special.expit(y)


# (graphnn function, NumPy/SciPy function) per link of each chain
NEW = [(gn.gelu, lambda y: y * scipy.special.ndtr(y)), (gn.sin, np.sin),
       (gn.softplus, lambda y: np.logaddexp(0.0, y)), (gn.erf, scipy.special.erf),
       (gn.silu, _silu), (gn.cos, np.cos), (gn.softsign, lambda y: y / (1.0 + np.abs(y))),
       (gn.log1p, np.log1p)]
BASE = [(gn.tanh, np.tanh), (gn.exp, np.exp)] * 4
CHAINS = {"new math": NEW, "exp/tanh": BASE}


def _numpy(chain, x: np.ndarray) -> np.ndarray:
    y = x.astype(np.float64)
    for _, reference in chain:
        y = reference(y)
    return y


def build(size: int, kind: str, quick: bool = False) -> Workload:
    chain = CHAINS[kind]
    x_value = np.random.default_rng(0).normal(size=size).astype(np.float32)
    work = Workload(f"{kind} chain {size // 1_000_000}M", lambda: [_numpy(chain, x_value)],
                    rtol=2e-5, atol=2e-6, note=f"{len(chain)} functions on {size:,} float32")
    x = gn.input("x", shape=(size,), dtype="float32")
    y = x
    for function, _ in chain:
        y = function(y)
    compiled = gn.compile(y, **options())
    out = np.empty(size, np.float32)
    work.add("graphnn", lambda: compiled(x_value, out=out), lambda r: [r])
    work.add("numpy", lambda: _numpy(chain, x_value), lambda r: [r])
    return work


def run(quick: bool = False) -> list[tuple[str, str, float]]:
    """Both chains checked and timed, and the ratio row ("new/exp-tanh", as seconds: read it
    as a factor; below BAR is the bar met)."""
    size = 1_000_000
    rows: list[tuple[str, str, float]] = []
    graphnn_time = {}
    for kind in CHAINS:
        work = build(size, kind, quick)
        work.check()
        times = work.time(0.3 if quick else 1.5)
        graphnn_time[kind] = times["graphnn"]
        rows += [(work.name, label, seconds) for label, seconds in times.items()]
    ratio = graphnn_time["new math"] / graphnn_time["exp/tanh"]
    print(f"# math chain: new math / exp-tanh per element = {ratio:.2f}x (bar {BAR}x)")
    return rows
