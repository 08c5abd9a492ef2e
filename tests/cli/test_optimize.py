"""run_optimize: the `optimize FILE` command's function, on the lecture neuron."""

from __future__ import annotations

import io
from pathlib import Path

from graphnn.cli.optimize import run_optimize

NEURON = str(Path(__file__).parents[2] / "examples/02_neuron.py")


def test_run_optimize_prints_before_after_and_report():
    out = io.StringIO()
    assert run_optimize(NEURON, out=out, diff=True) == 0
    text = out.getvalue()
    assert "# before: 18 nodes" in text and "# after: 17 nodes" in text
    assert "simplify                  18           17  x * 1 -> x (1)" in text
    assert "-  %7 = mul 1.0, %6  : f64[]" in text
    assert text.rstrip().endswith("both graphs evaluate to the same bits")
