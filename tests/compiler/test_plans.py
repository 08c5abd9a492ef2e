"""The plan cache (graphnn/compiler/plans.py): a graph compiled before skips optimizing,
lowering and scheduling; its key changes with everything a plan follows from; a damaged entry
is rebuilt; every numeric setting of the modules that make plans is part of the key."""

from __future__ import annotations

import ast
import importlib
import pickle
from pathlib import Path

import numpy as np
import pytest

import graphnn as gn
from codegen import cache
from graphnn.compiler import compile, plans
from graphnn.lower import conv

ROOT = Path(__file__).parents[2]


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
