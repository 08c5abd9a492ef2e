"""The plan cache (graphnn/compiler/plans.py): a graph compiled before skips optimizing,
lowering and scheduling; its key changes with everything a plan follows from; a damaged entry
is rebuilt; every numeric setting of the modules that make plans is part of the key."""

from __future__ import annotations

import ast
import importlib
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import graphnn as gn
from codegen import cache
from graphnn.compiler import compile, plans
from graphnn.lower import conv
from graphnn.passes import verify

ROOT = Path(__file__).parents[2]


@pytest.fixture(autouse=True)
def unchecked_optimizer(monkeypatch):
    """The suite runs the optimizer's invariant checks (tests/conftest.py), which keep plans
    out of the cache; these tests are about the cache, so the checks are off here."""
    monkeypatch.setattr(verify, "CHECKS", False)


def _graph(scale: float = 3.0):
    x = gn.input("x", shape=(6,))
    y = gn.sum(gn.sigmoid(x * scale) * x)
    return [y, gn.grad(y, x)], x


def _forbid_planning(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("the plan was made again instead of loaded")
    monkeypatch.setattr(plans, "make_plan", fail)


def test_a_graph_compiled_before_loads_its_plan(tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHNN_CACHE_DIR", str(tmp_path))
    outputs, x = _graph()
    value = np.linspace(-1, 1, 6)
    first = compile(outputs, [x])(value)
    _forbid_planning(monkeypatch)
    outputs, x = _graph()                    # the same graph, built again: same text
    again = compile(outputs, [x])
    for got, want in zip(again(value), first):
        assert np.array_equal(got, want)
    assert "broadcast_like" not in str(again.base.graph)   # introspection made on demand
    outputs, x = _graph(scale=4.0)
    with pytest.raises(AssertionError, match="made again"):
        compile(outputs, [x])                # another constant: another plan


def test_the_key_follows_the_graph_option_constants_and_settings(monkeypatch):
    outputs, x = _graph()
    graph = gn.Graph(outputs, [x])
    key = plans.plan_key(graph, "f", True)
    rebuilt, x2 = _graph()
    assert plans.plan_key(gn.Graph(rebuilt, [x2]), "f", True) == key
    other, x3 = _graph(4.0)
    assert plans.plan_key(gn.Graph(other, [x3]), "f", True) != key
    assert plans.plan_key(graph, "f", False) != key
    assert plans.plan_key(graph, "g", True) != key
    monkeypatch.setattr(conv, "MIN_DEPTH", conv.MIN_DEPTH + 1)
    assert plans.plan_key(graph, "f", True) != key


def test_large_constants_are_keyed_by_all_their_bytes():
    x = gn.input("x", shape=(300,))
    base = np.linspace(0, 1, 300)
    changed = base.copy()
    changed[-1] += 1e-12
    keys = {plans.plan_key(gn.Graph(gn.sum(x * gn.constant(c))), "f", True)
            for c in (base, changed)}
    assert len(keys) == 2


def test_a_damaged_plan_is_rebuilt(tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHNN_CACHE_DIR", str(tmp_path))
    outputs, x = _graph(5.0)
    key = plans.plan_key(gn.Graph(outputs, [x]), "f", True)
    value = np.linspace(-1, 1, 6)
    want = compile(outputs, [x])(value)
    for payload in (b"not a pickle", pickle.dumps({"a": "dict, not a plan"})):
        cache.store(key, payload)            # a valid entry whose payload is no plan
        for got, expected in zip(compile(outputs, [x])(value), want):
            assert np.array_equal(got, expected)
        assert isinstance(pickle.loads(cache.load(key)), plans.Plan)


def _numeric_settings(module_name: str) -> set[str]:
    """Module-level UPPER_CASE names bound to a number in one module."""
    module = importlib.import_module(module_name)
    path = ROOT / (module_name.replace(".", "/") + ".py")
    names = set()
    for node in ast.parse(path.read_text()).body:
        targets = node.targets if isinstance(node, ast.Assign) else \
            [node.target] if isinstance(node, ast.AnnAssign) else []
        for target in targets:
            if isinstance(target, ast.Name) and target.id.lstrip("_").isupper():
                value = getattr(module, target.id)
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    names.add(target.id)
    return names


def test_every_numeric_setting_of_plan_making_modules_is_in_the_key():
    modules = [f"graphnn.lower.{p.stem}" for p in (ROOT / "graphnn/lower").glob("*.py")] + \
        [f"graphnn.passes.{p.stem}" for p in (ROOT / "graphnn/passes").glob("*.py")] + \
        ["codegen.schedule", "codegen.cost"]
    listed = {(module.__name__, name) for module, name in plans.SETTINGS}
    missing = [(m, n) for m in modules if not m.endswith("__init__")
               for n in _numeric_settings(m) if (m, n) not in listed]
    assert not missing, f"add these to plans.SETTINGS: {missing}"


def _plan_entries(directory: Path) -> list[Path]:
    """The cache entries under `directory` that hold a plan (the others hold object code)."""
    found = []
    for entry in directory.rglob("*.o"):
        try:
            if isinstance(pickle.loads(entry.read_bytes()[cache._HEADER:]), plans.Plan):
                found.append(entry)
        except Exception:      # noqa: BLE001 - object code does not unpickle
            pass
    return found


def test_a_graph_with_a_user_registered_op_is_never_planned_from_the_cache(tmp_path):
    # The user's op is lowered by the user's code, which no source stamp covers: a cached plan
    # would go on computing the op as it was when first compiled. Two processes share a cache
    # directory and register the op differently.
    script = tmp_path / "user_op.py"
    script.write_text(
        "import sys\n"
        "import numpy as np\n"
        "import graphnn as gn\n"
        "from graphnn.ir import OpDef, apply, register\n"
        "from graphnn.ops.common import elementwise_shape\n"
        "k = float(sys.argv[1])\n"
        "register(OpDef('user_scale', ('x',), 'x * k', shape=elementwise_shape,\n"
        "    reference=lambda x: x * k, vjp=lambda g, out, x: (g * k,),\n"
        "    to_sympy=lambda x: k * x, scalar=lambda x: x * k, elementwise=True,\n"
        "    derivative=('k',), symbol='k'))\n"
        "x = gn.input('x', shape=(3,))\n"
        "print(gn.compile(apply('user_scale', x))(np.ones(3)).tolist())\n")
    env = {**os.environ, "GRAPHNN_CACHE_DIR": str(tmp_path / "cache")}
    env.pop("GRAPHNN_CHECK_PASSES", None)
    for k in ("2", "3"):
        result = subprocess.run([sys.executable, str(script), k], capture_output=True,
                                text=True, env=env, timeout=120, cwd=ROOT)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == str([float(k)] * 3)
    assert _plan_entries(tmp_path / "cache") == []


def test_plans_with_large_constants_are_not_stored(tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHNN_CACHE_DIR", str(tmp_path))
    x = gn.input("x", shape=(plans.PLAN_CONSTANTS_LIMIT // 8 + 1,))
    weights = np.linspace(0, 1, x.shape[0])
    f = compile(gn.sum(x * gn.constant(weights)))
    np.testing.assert_allclose(f(np.ones(x.shape)), weights.sum(), rtol=1e-12)
    assert _plan_entries(tmp_path) == []
    small = gn.input("s", shape=(4,))
    compile(gn.sum(small * gn.constant(np.arange(4.0))))
    assert len(_plan_entries(tmp_path)) == 1


def test_no_cached_plan_while_the_optimizer_checks_itself(tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHNN_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(verify, "CHECKS", True)
    outputs, x = _graph(6.0)
    compile(outputs, [x])
    assert _plan_entries(tmp_path) == []
