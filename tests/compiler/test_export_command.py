"""`python -m graphnn export MODEL.py --out DIR`: the model file's graph as a library and header,
and its errors (a user op that cannot be lowered, a bad option) in one line with status 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import graphnn as gn
from graphnn.cli import main
from graphnn.compiler.export import export_graph
from graphnn.errors import ExportError
from graphnn.ir import REGISTRY, OpDef, register
from graphnn.model_file import load_model
from graphnn.opdef import Symbolic
from graphnn.ops.common import elementwise_shape, scalar_instance
from tests.codegen.aot_support import call, load, needs_cc

ROOT = Path(__file__).parents[2]
NEURON = ROOT / "examples" / "02_neuron.py"

# An op whose scalar rule calls Python's math.erf: NumPy can run it (reference), native code
# cannot (its rule gets loop IR expressions, which math.erf refuses).
PYTHON_OP = '''
import math
import numpy as np
import pytest
import graphnn as gn
from graphnn.ir import OpDef, REGISTRY, apply, register
from graphnn.opdef import Lowering, Symbolic
from graphnn.ops.common import elementwise_shape, scalar_instance

if "python_erf" not in REGISTRY:
    register(OpDef("python_erf", ("x",), "erf through Python's math module",
                   shape=elementwise_shape, reference=np.vectorize(math.erf), vjp=None,
                   to_sympy=lambda x: x, scalar=lambda x: math.erf(x), elementwise=True,
                   derivative=("?",), symbol="erf", kinks=(),
                   symbolic=Symbolic(instances=scalar_instance(1))))
x = gn.input("x", shape=(3,))
outputs = [apply("python_erf", x) * 2.0]
'''


@needs_cc
def test_export_a_model_file(tmp_path, capsys):
    assert main(["export", str(NEURON), "--out", str(tmp_path / "build"),
                 "--cpu", "x86-64-v2"]) == 0
    printed = capsys.readouterr().out
    assert f"wrote {tmp_path / 'build' / 'neuron.so'} and {tmp_path / 'build' / 'neuron.h'}" \
        in printed
    assert "exports neuron, neuron_set_threads, neuron_version, neuron_with_workspace" in printed
    header = (tmp_path / "build" / "neuron.h").read_text()
    assert '#define NEURON_CPU "x86-64-v2"' in header
    model = load_model(str(NEURON))
    values = [np.array(model.feed[n.name]) for n in model.graph.inputs]
    out = np.empty(())
    assert call(load(tmp_path / "build" / "neuron.so"), "neuron", *values, out) == 0
    np.testing.assert_allclose(out, gn.evaluate(model.graph.outputs[0], model.feed),
                               rtol=1e-15)


def test_export_an_object_file_under_another_name(tmp_path, capsys):
    assert main(["export", str(NEURON), "--out", str(tmp_path), "--object",
                 "--name", "lecture"]) == 0
    assert (tmp_path / "lecture.o").stat().st_size > 0
    assert "int lecture(const double *w0," in (tmp_path / "lecture.h").read_text()


def test_a_python_op_cannot_be_exported(tmp_path):
    model = tmp_path / "erf_model.py"
    model.write_text(PYTHON_OP)
    done = subprocess.run([sys.executable, "-m", "graphnn", "export", str(model), "--out",
                           str(tmp_path)], capture_output=True, text=True, cwd=ROOT,
                          timeout=120)
    assert done.returncode == 2
    assert "graphnn: error: cannot export erf_model: op 'python_erf' (registered outside " \
           "graphnn) could not be lowered to loop IR (TypeError: " in done.stderr
    assert "never Python" in done.stderr and "Traceback" not in done.stderr
    assert not list(tmp_path.glob("erf_model.*[!y]"))       # no .so, .o or .h written


def test_export_graph_names_the_python_op(tmp_path):
    namespace: dict = {}
    try:
        exec(PYTHON_OP, namespace)                            # noqa: S102 - the test's model
        graph = gn.Graph(namespace["outputs"], name="erf")
        with pytest.raises(ExportError, match="op 'python_erf' .* could not be lowered"):
            export_graph(graph, tmp_path / "erf.o")
    finally:
        REGISTRY.pop("python_erf", None)     # other tests see graphnn's own registry


@needs_cc
def test_a_user_op_lowered_to_loop_ir_is_exported(tmp_path):
    """An op registered outside graphnn whose rule builds loop IR runs natively: exported."""
    try:
        register(OpDef("user_triple", ("x",), "x * 3", shape=elementwise_shape,
                       reference=lambda x: x * 3.0, vjp=None, to_sympy=lambda x: 3 * x,
                       scalar=lambda x: x * 3.0, elementwise=True, derivative=("3",),
                       symbol="3x", kinks=(),
                       symbolic=Symbolic(instances=scalar_instance(1))))
        x = gn.input("x", shape=(4,))
        f = gn.compile(gn.exp(gn.apply("user_triple", x)), name="triple")
        exported = f.export(tmp_path / "triple.so")
        value, got = np.linspace(-1, 1, 4), np.empty(4)
        assert call(load(exported.path), "triple", value, got) == 0
        np.testing.assert_allclose(got, np.exp(3 * value), rtol=1e-15)
    finally:
        REGISTRY.pop("user_triple", None)


def test_bad_options_are_usage_errors(tmp_path, capsys):
    try:
        main(["export", str(NEURON), "--out", str(tmp_path), "--cpu", "pentium"])
    except SystemExit as stop:
        assert stop.code == 2
    assert "invalid choice: 'pentium'" in capsys.readouterr().err
    assert main(["export", str(tmp_path / "missing.py"), "--out", str(tmp_path)]) == 2
    assert "no model file" in capsys.readouterr().err
    assert main(["export", str(NEURON), "--out", str(tmp_path), "--batch", "w0"]) == 2
    assert "no neuron_batch" in capsys.readouterr().err
