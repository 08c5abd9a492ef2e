"""math chain: eight of the elementwise math functions in a row (gelu sin softplus erf silu cos
softsign log1p) against eight of exp and tanh (tanh exp tanh exp ...), float32 and float64, one
fused loop each; the bar (issue 13): the new chain within 1.5x of the exp/tanh chain per element.

`build` gives each chain as a workload checked against NumPy/SciPy; `run` times both chains in
alternation, several rounds per dtype (the machine may be loaded: a ratio is taken within one
round, and the median round's ratio printed).
"""

from __future__ import annotations

import numpy as np
import scipy.special

import graphnn as gn
from benchmarks.workload import Workload, options

BAR = 1.5
SIZE = 65_536           # one run fits in a time slice of a loaded machine
DTYPES = ("float32", "float64")


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


def build(size: int, kind: str, quick: bool = False, dtype: str = "float32") -> Workload:
    chain = CHAINS[kind]
    x_value = np.random.default_rng(0).normal(size=size).astype(dtype)
    work = Workload(f"{kind} chain {dtype}", lambda: [_numpy(chain, x_value)],
                    rtol=2e-5, atol=2e-6, note=f"{len(chain)} functions on {size:,} {dtype}",
                    bytes_moved=2 * x_value.nbytes)
    x = gn.input("x", shape=(size,), dtype=dtype)
    y = x
    for function, _ in chain:
        y = function(y)
    compiled = gn.compile(y, **options())
    out = np.empty(size, dtype)
    work.add("graphnn", lambda: compiled(x_value, out=out), lambda r: [r])
    work.add("numpy", lambda: _numpy(chain, x_value), lambda r: [r])
    return work


def run(quick: bool = False) -> list[tuple[str, str, float]]:
    """Both chains checked, then timed in alternation for a few rounds per dtype; the rows hold
    the median round's times, and the new/exp-tanh ratio per element (below BAR is the bar met)
    is printed per dtype."""
    rows: list[tuple[str, str, float]] = []
    for dtype in DTYPES:
        works = {kind: build(SIZE, kind, quick, dtype) for kind in CHAINS}
        for work in works.values():
            work.check()
        rounds = [{kind: work.time(0.1 if quick else 0.4, rounds=1) for kind, work in works.items()}
                  for _ in range(2 if quick else 7)]
        ratios = [r["new math"]["graphnn"] / r["exp/tanh"]["graphnn"] for r in rounds]
        middle = rounds[sorted(range(len(rounds)), key=ratios.__getitem__)[len(rounds) // 2]]
        for kind, work in works.items():
            rows += [(work.name, label, seconds) for label, seconds in middle[kind].items()]
        per_element = {kind: middle[kind]["graphnn"] / SIZE * 1e9 for kind in CHAINS}
        print(f"# math chain {dtype}: new math {per_element['new math']:.1f} ns/element, "
              f"exp/tanh {per_element['exp/tanh']:.1f}: {sorted(ratios)[len(ratios) // 2]:.2f}x "
              f"(bar {BAR}x; rounds {' '.join(f'{r:.2f}' for r in ratios)})")
    return rows
