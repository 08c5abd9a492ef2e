"""`graphnn optimize FILE`: a model file's graph and gradients before and after optimization.

Stage: command line (graphnn/cli/commands.py calls `run_optimize`). Input: a model file (see
model_file.py). Output: printed text: the graph with the gradients of its first output (where the
redundancy is), the optimized graph, the per-pass report, optionally a diff, and, when the file
gives a `feed`, whether both graphs evaluate to the same bits.
"""

from __future__ import annotations

import sys
from typing import TextIO

from graphnn.autodiff import grad
from graphnn.evaluate import evaluate
from graphnn.graph import Graph
from graphnn.model_file import load_model
from graphnn.passes import optimize
from graphnn.passes.report import same_bits


def gradient_graph(path: str) -> tuple[Graph, dict]:
    """The model's outputs and the gradients of its first output with respect to `wrt`, as
    one graph (the optimizer should see forward and backward together), and its feed."""
    model = load_model(path)
    grads = grad(model.graph.outputs[0], model.wrt)
    graph = Graph([*model.graph.outputs, *grads], name=f"{model.graph.name}_gradient")
    return graph, model.feed


def run_optimize(path: str, out: TextIO | None = None, diff: bool = False) -> int:
    """Print a model file's gradient graph before and after optimization, with the report.

    >>> import io, pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "model.py"
    >>> _ = path.write_text("import graphnn as gn\\nx = gn.input('x')\\noutputs = [x * 1.0]")
    >>> text = io.StringIO()
    >>> run_optimize(str(path), out=text)
    0
    >>> print(text.getvalue().split("\\n\\n")[-1].rstrip())
    pass            nodes before  nodes after  rules fired
    merge common               4            4
    eliminate dead             4            4
    fold constants             4            3  f(constants) -> constant (1)
    reuse forward              3            3
    simplify                   3            2  x * 1 -> x (1)
    total                      4            2
    """
    out = out or sys.stdout
    graph, feed = gradient_graph(path)
    optimized, report = optimize(graph, report=True)
    print(f"# before: {report.nodes_before} nodes\n{graph.text(raw=True)}\n", file=out)
    print(f"# after: {report.nodes_after} nodes\n{optimized.text(raw=True)}\n", file=out)
    print(report.table(), file=out)
    if diff:
        print(f"\n{report.diff()}", file=out)
    if feed:
        agree = all(same_bits(a, b) for a, b in zip(evaluate(graph, feed),
                                                     evaluate(optimized, feed)))
        verdict = "the same bits" if agree else "DIFFERENT values (an optimizer bug)"
        print(f"\n# with the file's feed, both graphs evaluate to {verdict}", file=out)
    return 0
