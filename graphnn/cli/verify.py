"""`graphnn verify FILE`: the gradients of a model file checked with SymPy (or differences).

Stage: command line (through graphnn.symbolic's check_gradients). Input: a Python file defining
`outputs` (and optionally `feed` and `wrt`, see graphnn/model_file.py). Output: the printed report
and an exit status.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

from graphnn.ir import apply
from graphnn.model_file import load_model
from graphnn.symbolic.gradients import check_gradients


def run_verify(path: str, method: str = "auto", out: TextIO | None = None,
               **limits: Any) -> int:
    """Check the gradients of a model file's first output; print the report.

    method "auto" checks symbolically when the graph is small enough and numerically
    otherwise; "symbolic" raises SymbolicLimitError instead. `limits` go to check_gradients
    (max_ops, max_partials, timeout, samples, seed). Returns 0 when every derivative agrees,
    1 otherwise. A non-scalar first output is checked through its sum.

    >>> import io, pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "model.py"
    >>> _ = path.write_text("import graphnn as gn\\nx = gn.input('x')\\noutputs = gn.exp(x) * x\\n")
    >>> out = io.StringIO()
    >>> run_verify(str(path), out=out), out.getvalue().splitlines()[-1]
    (0, 'OK: all 1 derivatives agree (decided by simplify)')
    """
    out = out or sys.stdout
    model = load_model(path)
    y = model.graph.outputs[0]
    if y.shape != ():
        print(f"note: output 0 is {y.describe()}, not a scalar; checking the gradients of its "
              "sum", file=out)
        y = apply("sum", y)
    report = check_gradients(y, model.wrt, feed=model.feed or None, method=method, **limits)
    print(report, file=out)
    return 0 if report.ok else 1
