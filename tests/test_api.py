"""The public namespace: every name DESIGN.md promises exists and is what it should be."""

from __future__ import annotations

import subprocess
import sys
import types

import graphnn as gn
from graphnn.ir import REGISTRY

ENTRY_POINTS = ["input", "constant", "grad", "evaluate", "compile", "optimize", "render",
                "scope", "apply"]


def test_every_exported_name_exists():
    for name in gn.__all__:
        assert hasattr(gn, name), name


def test_entry_points_are_functions_not_modules():
    for name in ENTRY_POINTS:
        assert callable(getattr(gn, name)) and not isinstance(getattr(gn, name),
                                                              types.ModuleType), name


def test_every_public_op_is_exported():
    public = {name for name, op in REGISTRY.items() if op.public}
    assert public <= set(gn.__all__)
    for name in public:
        assert getattr(gn, name).__name__ == name


def _in_a_fresh_process(code: str) -> str:
    """What `code` prints, run by a new interpreter (one that has not imported SymPy)."""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_importing_graphnn_leaves_sympy_for_when_it_is_used():
    # SymPy costs about half a second to import; declaring, evaluating and compiling graphs
    # must not pay it, and the symbolic entry points must still work
    printed = _in_a_fresh_process(
        "import sys, graphnn as gn\n"
        "x = gn.input('x'); f = gn.compile(gn.grad(gn.sigmoid(x), x))\n"
        "assert float(f(0.0)) == 0.25\n"
        "assert 'sympy.core' not in sys.modules, 'sympy was imported'\n"
        "print(gn.to_sympy(gn.sigmoid(x)), 'check_ops' in dir(gn))\n"
        "from graphnn import check_gradients\n"
        "print(check_gradients(gn.sigmoid(x), x).ok)\n")
    assert printed.split() == ["σ(x)", "True", "True"]


def test_sympy_is_whole_for_every_thread_that_imports_it_with_graphnn():
    # graphnn's lazy SymPy must not put a half-initialized module where other threads (the
    # user's own SymPy code) can see it
    printed = _in_a_fresh_process(
        "import threading, graphnn as gn\n"
        "errors = []\n"
        "def user():\n"
        "    try:\n"
        "        import sympy; sympy.Symbol('q')\n"
        "    except Exception as error:\n"
        "        errors.append(repr(error))\n"
        "def ours():\n"
        "    try:\n"
        "        gn.to_sympy(gn.sigmoid(gn.input('x')) * 2.0)\n"
        "    except Exception as error:\n"
        "        errors.append(repr(error))\n"
        "threads = [threading.Thread(target=f) for f in (user, user, user, ours)]\n"
        "for t in threads: t.start()\n"
        "for t in threads: t.join()\n"
        "print(errors)\n")
    assert printed.strip() == "[]"
