"""The C examples of examples/aot/: the build commands of its README, run as written, build
programs whose output equals gn.evaluate's (the digits classified with baked and passed
weights; gradient descent on an exported loss and gradients)."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import graphnn as gn
from tests.codegen.aot_support import needs_cc

ROOT = Path(__file__).parents[2]
EXAMPLES = ROOT / "examples" / "aot"
pytestmark = [needs_cc, pytest.mark.skipif(
    importlib.util.find_spec("sklearn") is None,
    reason="the digits example needs scikit-learn (graphnn's digits extra)")]


def readme_commands(section: str) -> list[str]:
    """The shell commands of the README's first bash block after `section`'s heading."""
    text = (EXAMPLES / "README.md").read_text()
    block = re.search(rf"## {re.escape(section)}.*?```bash\n(.*?)```", text, re.S).group(1)
    return [line for line in block.replace("\\\n", " ").splitlines() if line.strip()]


def run_commands(commands: list[str], where: Path) -> list[str]:
    """Run each command in `where` (holding a link to the examples), `python` being this
    interpreter; the outputs."""
    (where / "examples").symlink_to(ROOT / "examples")
    bin_dir = where / "bin"
    bin_dir.mkdir()
    python = bin_dir / "python"         # a script, not a link: a venv knows itself by path
    python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    python.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
           "PYTHONPATH": str(ROOT)}
    outputs = []
    for command in commands:
        done = subprocess.run(["bash", "-c", command], cwd=where, env=env, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
        outputs.append(done.stdout)
    return outputs


def test_digits_classified_in_c(tmp_path):
    outputs = run_commands(readme_commands("Classifying digits with a trained MLP"), tmp_path)
    build = tmp_path / "build"
    with open(build / "digits_test.bin", "rb") as f:
        n, features = np.fromfile(f, "<i4", 2)
        x = np.fromfile(f, "<f4", n * features).reshape(n, features)
        labels = np.fromfile(f, "<i4", n)
    sizes = [(64, 64), (64,), (64, 10), (10,)]
    flat = np.fromfile(build / "digits_weights.bin", "<f4")
    cuts = np.cumsum([0] + [int(np.prod(s)) for s in sizes])
    weights = [flat[a:b].reshape(s) for a, b, s in zip(cuts, cuts[1:], sizes)]
    x_node = gn.input("x", shape=(int(n), 64), dtype="float32")
    w1, b1, w2, b2 = (gn.constant(w) for w in weights)
    want = gn.evaluate(gn.relu(x_node @ w1 + b1) @ w2 + b2, {"x": x})
    accuracy = float(np.mean(np.argmax(want, axis=1) == labels))
    assert accuracy > 0.9
    for variant in ("baked", "inputs"):
        logits = np.fromfile(build / f"logits_{variant}.bin", "<f4").reshape(n, 10)
        np.testing.assert_allclose(logits, want, rtol=1e-4, atol=1e-4)
        right = int(round(accuracy * n))
        assert f"accuracy {accuracy:.4f} ({right} of {n})" in outputs[-1]
    assert "digits_baked  (weights in the code)" in outputs[-1]
    assert "digits_inputs (weights as inputs)" in outputs[-1]


def test_gradient_descent_in_c(tmp_path):
    commands = readme_commands("Gradient descent on an exported loss and its gradients")
    printed = run_commands(commands, tmp_path)[-1].splitlines()
    rate, steps = (float(v) for v in commands[-1].split()[1:])
    sys.path.insert(0, str(EXAMPLES))
    try:
        import descent_export
    finally:
        sys.path.remove(str(EXAMPLES))
    trace = descent_export.descend(rate, int(steps))
    assert len(printed) == 5
    for line in printed:
        step, loss, w0, w1, b = re.fullmatch(
            r"step (\d+) loss (\S+) w (\S+) (\S+) b (\S+)", line).groups()
        want_step, want_loss, want_w, want_b = trace[int(step)]
        np.testing.assert_allclose([float(loss), float(w0), float(w1), float(b)],
                                   [want_loss, *want_w, want_b], rtol=1e-12)
