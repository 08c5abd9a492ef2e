"""The command line: demo, show, render, optimize, verify, ops, and errors."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import graphnn
from graphnn.cli import main
from tests.harness import run_docstring_examples

SCALAR_EXPRESSION = Path(__file__).parents[2] / "examples" / "01_scalar_expression.py"


def test_demo_prints_the_neurons_value_and_gradients(capsys, tmp_path):
    assert main(["demo", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "graph neuron(w0: f64[], x0: f64[], w1: f64[], x1: f64[], w2: f64[])" in out
    for line in ["f      = +0.7311", "df/dw0 = -0.1966", "df/dx0 = +0.3932",
                 "df/dw1 = -0.3932", "df/dx1 = -0.5898", "df/dw2 = +0.1966"]:
        assert line in out
    compiled = out.split("Compiled to native code")[1]
    assert "+0.7311, -0.1966, +0.3932, -0.3932, -0.5898, +0.1966" in compiled
    difference = float(compiled.split("largest difference from the NumPy reference: ")[1]
                       .split()[0])
    assert difference < 1e-12
    assert "kernel neuron(" in compiled
    assert "OK: all 5 derivatives agree" in out
    drawn = out.split("chain rule on every edge:")[1].split("Backpropagation step by")[0].split()
    assert drawn and all((tmp_path / name.rsplit("/", 1)[-1]).exists() for name in drawn)


def test_module_entry_point_runs(tmp_path):
    result = subprocess.run([sys.executable, "-m", "graphnn", "demo", "--out", str(tmp_path)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "df/dx1 = -0.5898" in result.stdout


def test_version_is_printed_by_the_module_entry_point():
    # the reproducer: `python -m graphnn --version` was an error
    result = subprocess.run([sys.executable, "-m", "graphnn", "--version"], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0 and result.stdout == f"graphnn {graphnn.__version__}\n"
    pyproject = (Path(__file__).parents[2] / "pyproject.toml").read_text(encoding="utf-8")
    assert 'version = { attr = "graphnn.version.__version__" }' in pyproject   # one source


@pytest.fixture
def model_file(tmp_path):
    path = tmp_path / "model.py"
    path.write_text(textwrap.dedent("""
        import numpy as np
        import graphnn as gn
        x = gn.input("x", shape=(2,))
        w = gn.input("w", shape=(2,))
        outputs = [gn.sum(x * w)]
        feed = {"x": np.array([1.0, 2.0]), "w": np.array([3.0, 4.0])}
        wrt = [w]
    """))
    return path


def test_show_prints_graph_gradient_and_values(model_file, capsys):
    assert main(["show", str(model_file), "--grad"]) == 0
    out = capsys.readouterr().out
    assert "graph model(x: f64[2], w: f64[2])" in out
    assert "graph model_gradient(" in out and "# output 0 = 11.0" in out


@pytest.mark.parametrize("source,message", [
    (None, "no model file"),
    ("raise RuntimeError('boom')", "failed to run: RuntimeError: boom"),
    ("x = 1", "defines neither `outputs` nor a function `model()`"),
    ("outputs = 3", "`outputs` must be a graph node"),
])
def test_show_errors_are_one_line_with_status_2(tmp_path, capsys, source, message):
    path = tmp_path / "bad.py"
    if source is not None:
        path.write_text(source)
    assert main(["show", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("graphnn: error:") and message in err


def test_model_function_form(tmp_path, capsys):
    path = tmp_path / "fn.py"
    path.write_text("import graphnn as gn\ndef model():\n    return gn.exp(gn.input('a'))\n")
    assert main(["show", str(path)]) == 0
    assert "exp a" in capsys.readouterr().out


def test_ops_prints_the_reference(capsys):
    assert main(["ops"]) == 0
    assert "### softmax_cross_entropy" in capsys.readouterr().out


def test_render_writes_a_picture(model_file, tmp_path, capsys):
    target = tmp_path / "model.svg"
    assert main(["render", str(model_file), "-o", str(target)]) == 0
    assert target.read_text().lstrip().startswith("<?xml")
    assert "wrote" in capsys.readouterr().out


def test_render_collapse_of_an_unknown_scope_names_the_known_ones(tmp_path, capsys):
    # the reproducer: --collapse accepted a scope the graph does not have, and drew nothing so
    path = tmp_path / "layers.py"
    path.write_text(textwrap.dedent("""
        import graphnn as gn
        with gn.scope("encoder"):
            h = gn.relu(gn.input("x", shape=(3,)) * 2.0)
        with gn.scope("decoder"):
            outputs = [gn.sum(h * h)]
    """))
    target = tmp_path / "layers.dot"
    assert main(["render", str(path), "-o", str(target), "--collapse", "encodr"]) == 2
    error = capsys.readouterr().err
    assert error == ("graphnn: error: cannot collapse scope 'encodr': the graph's scopes are "
                     "'encoder', 'decoder'; did you mean 'encoder'?\n")
    assert not target.exists()
    assert main(["render", str(path), "-o", str(target), "--collapse", "encoder"]) == 0
    assert "scope encoder" in target.read_text()
    assert main(["render", str(path), "-o", str(target), "--view", "optimized",
                 "--collapse", "encoder"]) == 2
    assert "collapse is for the forward and gradient views" in capsys.readouterr().err


def test_verify_checks_a_model_file(model_file, capsys):
    assert main(["verify", str(model_file)]) == 0
    assert "agree" in capsys.readouterr().out


def test_optimize_prints_before_after_report_and_diff(model_file, capsys):
    # through the parser, as a user types it: the gradient of sum(x * w) with respect to w
    # is x, so the seed's reshape, broadcast and product by 1 all go
    assert main(["optimize", str(model_file), "--diff"]) == 0
    out = capsys.readouterr().out
    before, after = out.split("# after: ")
    assert before.startswith("# before: 8 nodes\ngraph model_gradient(x: f64[2], w: f64[2])")
    assert "broadcast_like %2, %0" in before
    assert after.startswith("4 nodes\n") and "  return %1, x\n" in after
    assert "simplify                   7            4  x * 1 -> x (1)" in out
    assert "total                      8            4" in out
    assert "--- before\n+++ after\n" in out
    assert "-  %4 = mul %3, x                 : f64[2]" in out and "+  return %1, x" in out
    assert out.rstrip().endswith("both graphs evaluate to the same bits")


def test_render_set_replaces_feed_values(tmp_path, capsys):
    # the file's feed is x = -2, y = 5, z = -4 (f = -12); at x = 1, z = 2: f = (1 + 5) 2 = 12
    # and z's value is what ∂f/∂q shows
    target = tmp_path / "f.dot"
    assert main(["render", str(SCALAR_EXPRESSION), "-o", str(target),
                 "--set", "x=1", "--set", "z=2"]) == 0
    source = target.read_text()
    assert "12.00" in source and "∂f/∂q = z = 2.00" in source
    assert "-12.00" not in source and "-4.00" not in source


def test_render_set_gives_a_vector_and_values_a_file_lacks(tmp_path):
    path = tmp_path / "dot.py"
    path.write_text("import graphnn as gn\nx = gn.input('x', shape=(2,))\n"
                    "w = gn.input('w', shape=(2,))\noutputs = [gn.sum(x * w, name='s')]\n")
    target = tmp_path / "s.dot"
    assert main(["render", str(path), "-o", str(target), "--set", "x=1,2",
                 "--set", "w=3,-4"]) == 0
    assert "-5.00" in target.read_text()                    # 1 * 3 + 2 * (-4)


@pytest.mark.parametrize("setting,message", [
    ("x", "expected NAME=VALUE"), ("x=one", "expected NAME=VALUE"), ("=1", "expected NAME"),
])
def test_render_set_needs_name_and_numbers(tmp_path, capsys, setting, message):
    with pytest.raises(SystemExit) as stopped:
        main(["render", str(SCALAR_EXPRESSION), "-o", str(tmp_path / "f.dot"),
              "--set", setting])
    assert stopped.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.parametrize("setting,message", [
    ("q=1", "feed names 'q', which is not an input here"),
    ("x=1,2", "input 'x' expects a float64 array of shape (), got shape (2,)"),
])
def test_render_set_of_an_unknown_or_misshapen_input_is_one_line(tmp_path, capsys, setting,
                                                                 message):
    assert main(["render", str(SCALAR_EXPRESSION), "-o", str(tmp_path / "f.dot"),
                 "--set", setting]) == 2
    err = capsys.readouterr().err
    assert err.startswith("graphnn: error:") and message in err


@pytest.mark.parametrize("name", ["demo", "optimize", "render", "verify"])
def test_docstring_examples(name):
    result = run_docstring_examples(f"graphnn.cli.{name}")
    assert result.failed == 0 and result.attempted > 0
