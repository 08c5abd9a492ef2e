"""What a fresh process imports to compile a graph and to load one from the disk cache: none of
the heavy packages graphnn uses elsewhere (SciPy, SymPy, networkx, tqdm, graphnn.nn), and SciPy
only for a product that runs on its BLAS (issue 17: compile to first result)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("scipy", "sympy", "networkx", "tqdm", "graphnn.nn", "onnx", "dask")

# compiles, calls, and prints: from the cache?, then every HEAVY module the process holds
PROGRAM = """
import sys
import numpy as np
import graphnn as gn
x = gn.input("x", shape=(4, 3)); w = gn.input("w", shape=(3, 2))
loss = gn.sum(gn.tanh(x * 2.0 + 1.0))
f = gn.compile([loss, *gn.grad(loss, [x])]) if {matmul} is False else \\
    gn.compile(gn.sum(gn.relu(x @ w)), gemm={gemm!r})
values = [np.full((4, 3), 0.5)] + ([] if {matmul} is False else [np.ones((3, 2))])
result = f(*values)
print(f.base.kernel.from_cache)
print(" ".join(m for m in {heavy!r} if m in sys.modules))
"""


def _run(cache: Path, matmul: bool = False, gemm: str = "auto") -> tuple[bool, set[str]]:
    """(whether the kernel came from the cache, the heavy modules imported), in a new
    interpreter using the disk cache `cache`."""
    env = {**os.environ, "GRAPHNN_CACHE_DIR": str(cache),
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    code = PROGRAM.format(matmul=matmul, gemm=gemm, heavy=HEAVY)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    cached, imported = (done.stdout.splitlines() + ["", ""])[:2]
    return cached == "True", set(imported.split())


def test_import_graphnn_imports_none_of_the_heavy_packages():
    code = f"import sys, graphnn; print([m for m in {HEAVY!r} if m in sys.modules])"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_nn_is_there_when_used():
    code = "import graphnn as gn; from graphnn import nn; print(gn.nn is nn, 'nn' in dir(gn), " \
           "nn.Sequential.__name__)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "True", "Sequential"]


def test_compiling_and_the_cached_path_import_none_of_them(tmp_path):
    assert _run(tmp_path) == (False, set())          # compiled, the cache filled
    assert _run(tmp_path) == (True, set())           # loaded from the cache


def test_a_product_on_graphnns_gemm_needs_no_scipy_from_the_cache(tmp_path):
    _run(tmp_path, matmul=True, gemm="native")
    assert _run(tmp_path, matmul=True, gemm="native") == (True, set())


def test_scipy_comes_only_with_its_blas(tmp_path):
    # gemm="blas" runs the product on SciPy's BLAS, reached through its Cython capsules: that
    # is the one path that imports SciPy (the package, for the capsules' module)
    _run(tmp_path, matmul=True, gemm="blas")
    cached, imported = _run(tmp_path, matmul=True, gemm="blas")
    assert cached and imported == {"scipy"}
