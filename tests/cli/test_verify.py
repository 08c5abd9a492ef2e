"""run_verify: the `verify FILE` command's function, on model files."""

from __future__ import annotations

import io
import textwrap
from pathlib import Path

import pytest

from graphnn.cli.verify import run_verify
from graphnn.ir import REGISTRY

EXAMPLES = Path(__file__).parents[2] / "examples"


def _model(tmp_path, source):
    path = tmp_path / "model.py"
    path.write_text(textwrap.dedent(source))
    return str(path)


def test_the_neuron_example_verifies_symbolically():
    out = io.StringIO()
    assert run_verify(str(EXAMPLES / "02_neuron.py"), out=out) == 0
    text = out.getvalue()
    assert "(symbolic, SymPy)" in text and "f*x0*(1 - f)" in text
    assert text.rstrip().endswith("OK: all 5 derivatives agree (decided by simplify)")


def test_a_large_model_is_verified_numerically(tmp_path):
    path = _model(tmp_path, """
        import numpy as np
        import graphnn as gn
        x = gn.input("x", shape=(4, 300))
        w = gn.input("w", shape=(300, 100))
        outputs = [gn.mean(gn.tanh(x @ w))]
        rng = np.random.default_rng(1)
        feed = {"x": rng.normal(size=(4, 300)), "w": rng.normal(size=(300, 100)) * 0.1}
        wrt = [w]
    """)
    out = io.StringIO()
    assert run_verify(path, out=out) == 0
    text = out.getvalue()
    assert "note: not checked symbolically" in text and "(numeric, central differences" in text


def test_a_wrong_rule_gives_exit_status_1(tmp_path, monkeypatch):
    monkeypatch.setitem(REGISTRY["exp"].__dict__, "vjp", lambda g, out, x: (g,))
    path = _model(tmp_path, """
        import graphnn as gn
        x = gn.input("x")
        outputs = gn.exp(2.0 * x)
    """)
    out = io.StringIO()
    assert run_verify(path, out=out) == 1
    assert "FAILED: 1 differ (of 1)" in out.getvalue()


def test_a_tensor_output_is_checked_through_its_sum(tmp_path):
    path = _model(tmp_path, """
        import graphnn as gn
        x = gn.input("x", shape=(2,))
        outputs = [gn.square(x)]
    """)
    out = io.StringIO()
    assert run_verify(path, method="symbolic", out=out) == 0
    assert out.getvalue().startswith("note: output 0 is square f64[2], not a scalar")


EXAMPLE_FILES = sorted(EXAMPLES.glob("[0-9]*.py"))


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=[p.stem for p in EXAMPLE_FILES])
def test_every_example_verifies(path):
    """The course's examples (scalar expression, neuron, logistic regression, MLP, convolution
    with max pooling) all verify with the default method."""
    out = io.StringIO()
    assert run_verify(str(path), out=out) == 0, out.getvalue()
