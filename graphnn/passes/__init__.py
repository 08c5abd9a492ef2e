"""The graph optimizer: one ordered pipeline of named passes, each a pure Graph -> Graph.

    merge common     nodes computing the same value become one (names, scopes, x+y = y+x)
    eliminate dead   shape-only reads (size, broadcast_like) become what they read; unread
                     nodes go
    fold constants   constant subexpressions become constants (splats stay small)
    reuse forward    backward masks computed from forward outputs
    simplify         rule tables (fold + algebra) and merging, until nothing changes

Every rule keeps the NumPy reference semantics bit for bit, NaN and inf included: an optimized
graph evaluates to the same bits as the original (NaN compares equal to NaN). With checks on
(`CompileOptions.check_passes`, by default GRAPHNN_CHECK_PASSES=1 in the environment), the graph
is verified after every pass.

A pass is `run(graph, fired, options) -> Graph`: `fired` a Counter of what it did (by rule
name, for the report), `options` the CompileOptions whose settings it reads (fold_limit,
max_rounds). docs/architecture.md shows how to add one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Literal, overload

from graphnn.errors import OpError
from graphnn.graph import Graph
from graphnn.options import CompileOptions
from graphnn.passes import verify
from graphnn.passes.cse import merge_common
from graphnn.passes.dce import eliminate_dead
from graphnn.passes.fold import fold_constants
from graphnn.passes.report import PassRecord, Report
from graphnn.passes.reuse import reuse_forward
from graphnn.passes.simplify import simplify
from graphnn.passes.verify import InvariantError

# run(graph, fired: Counter | None = None, options: CompileOptions | None = None) -> Graph
Pass = Callable[[Graph, Counter, CompileOptions], Graph]

PIPELINE: tuple[tuple[str, Pass], ...] = (
    ("merge common", merge_common),
    ("eliminate dead", eliminate_dead),
    ("fold constants", fold_constants),
    ("reuse forward", reuse_forward),
    ("simplify", simplify),
)


@overload
def optimize(graph: Graph, report: Literal[False] = ..., *, check: bool | None = ...,
             pipeline: Sequence[tuple[str, Pass]] | None = ...,
             options: CompileOptions | None = ...) -> Graph: ...
@overload
def optimize(graph: Graph, report: Literal[True], *, check: bool | None = ...,
             pipeline: Sequence[tuple[str, Pass]] | None = ...,
             options: CompileOptions | None = ...) -> tuple[Graph, Report]: ...


def optimize(graph, report=False, *, check=None, pipeline=None, options=None):
    """Run the passes of PIPELINE (or `pipeline`) in order; with report=True, also return a
    Report (per pass: node counts and rules fired; the text before and after).

    `options` (a gn.CompileOptions; default: a new one) go to every pass. `check` turns the
    invariant checks between passes on or off (default: `options.check_passes`).

    >>> import graphnn as gn
    >>> x = gn.input("x")
    >>> print(optimize(gn.Graph(x * 1.0 + 2.0 * 3.0)))
    graph f(x: f64[]) {
      %0 = add x, 6.0  : f64[]
      return %0
    }
    >>> g, r = optimize(gn.Graph(x * 1.0), report=True)
    >>> r.nodes_before, r.nodes_after
    (3, 1)
    """
    if not isinstance(graph, Graph):
        raise OpError(f"optimize takes a gn.Graph, got {type(graph).__name__}; wrap the "
                      "outputs: gn.optimize(gn.Graph([y, *grads]))")
    options = CompileOptions() if options is None else options
    checking = options.check_passes if check is None else check
    records = []
    current = graph
    for name, run in PIPELINE if pipeline is None else pipeline:
        fired: Counter = Counter()
        result = run(current, fired, options)
        if checking:
            verify.verify(result, graph, after=name)
        records.append(PassRecord(name, len(current.nodes), len(result.nodes),
                                  tuple(fired.items())))
        current = result
    if report:
        return current, Report(tuple(records), graph.text(raw=True), current.text(raw=True))
    return current


__all__ = [
    "PIPELINE", "InvariantError", "Pass", "PassRecord", "Report", "eliminate_dead",
    "fold_constants", "merge_common", "optimize", "reuse_forward", "simplify", "verify",
]
