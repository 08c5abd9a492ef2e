"""The plan cache (graphnn/compiler/plans.py): a graph compiled before skips optimizing,
lowering and scheduling; its key changes with everything a plan follows from; a plan is stored
as data (never a pickle) that round-trips; an entry that is damaged, another key's or not a plan
for this graph is rebuilt and replaced; every field of the compile options is part of the key."""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import graphnn as gn
from codegen import cache, loops, serialize
from codegen.options import CodegenOptions
from graphnn.compiler import compile, plans
from graphnn.options import CompileOptions
from tests.harness import changed_fields

ROOT = Path(__file__).parents[2]


@pytest.fixture(autouse=True)
def unchecked_optimizer(monkeypatch):
    """The suite runs the optimizer's invariant checks (tests/conftest.py), which keep plans
    out of the cache; these tests are about the cache, so the checks are off here (the
    environment variable is the default of CompileOptions.check_passes)."""
    monkeypatch.setenv("GRAPHNN_CHECK_PASSES", "0")


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


def test_the_key_follows_the_graph_option_constants_and_settings():
    outputs, x = _graph()
    graph = gn.Graph(outputs, [x])
    key = plans.plan_key(graph, "f", True)
    rebuilt, x2 = _graph()
    assert plans.plan_key(gn.Graph(rebuilt, [x2]), "f", True) == key
    other, x3 = _graph(4.0)
    assert plans.plan_key(gn.Graph(other, [x3]), "f", True) != key
    assert plans.plan_key(graph, "f", False) != key
    assert plans.plan_key(graph, "g", True) != key
    deeper = CompileOptions(conv_min_depth=CompileOptions().conv_min_depth + 1)
    assert plans.plan_key(graph, "f", True, deeper) != key


def test_the_key_is_made_from_the_raw_text_not_the_printed_one():
    # x * 1 prints as x (print leaves out products by 1); unoptimized, the two graphs compile
    # to different kernels, so their keys differ
    x = gn.input("x", shape=(3,))
    times_one, plain = gn.Graph(gn.exp(x) * 1.0, [x]), gn.Graph(gn.exp(x), [x])
    assert str(times_one) == str(plain)
    assert plans.plan_key(times_one, "f", False) != plans.plan_key(plain, "f", False)


def test_large_constants_are_keyed_by_all_their_bytes():
    x = gn.input("x", shape=(300,))
    base = np.linspace(0, 1, 300)
    changed = base.copy()
    changed[-1] += 1e-12
    keys = {plans.plan_key(gn.Graph(gn.sum(x * gn.constant(c))), "f", True)
            for c in (base, changed)}
    assert len(keys) == 2


def _plan_entry(tmp_path: Path, outputs, x) -> tuple[str, Path, list[np.ndarray]]:
    """Compile into the empty cache at tmp_path: the plan's key, its entry, the results."""
    key = plans.plan_key(gn.Graph(outputs, [x]), "f", True)
    want = compile(outputs, [x])(VALUE)
    entry = tmp_path / "codegen" / f"{key}.plan"
    assert entry.is_file()
    return key, entry, want


VALUE = np.linspace(-1, 1, 6)


def _assert_rebuilt(outputs, x, entry: Path, good: bytes, want) -> None:
    for got, expected in zip(compile(outputs, [x])(VALUE), want, strict=True):
        assert np.array_equal(got, expected)
    assert entry.read_bytes() == good                  # the bad entry replaced by a good one


class _Marker:
    """Unpickling this object would create a file: proof that a payload was unpickled."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (Path.touch, (self.path,))


def test_a_plan_entry_copied_from_another_key_is_rebuilt(tmp_path, monkeypatch):
    # the reproducer: another graph's plan (same shapes, another constant) copied
    # under this key returned that graph's values on every later compile
    monkeypatch.setenv("GRAPHNN_CACHE_DIR", str(tmp_path))
    outputs, x = _graph(7.0)
    key, entry, want = _plan_entry(tmp_path, outputs, x)
    good = entry.read_bytes()
    other, x_other = _graph(8.0)
    _, other_entry, other_values = _plan_entry(tmp_path, other, x_other)
    assert not np.array_equal(other_values[0], want[0])
    shutil.copyfile(other_entry, entry)
    _assert_rebuilt(outputs, x, entry, good, want)
    # the other plan's payload under this key's header (a valid checksum over wrong bytes):
    # the plan names the key it was made for
    cache.store("plan", key, other_entry.read_bytes()[cache.HEADER:])
    _assert_rebuilt(outputs, x, entry, good, want)


def test_a_plan_payload_is_never_unpickled(tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHNN_CACHE_DIR", str(tmp_path))
    outputs, x = _graph(5.0)
    key, entry, want = _plan_entry(tmp_path, outputs, x)
    good = entry.read_bytes()
    marker = tmp_path / "unpickled"
    cache.store("plan", key, pickle.dumps(_Marker(marker)))
    _assert_rebuilt(outputs, x, entry, good, want)
    assert not marker.exists()


def _damaged_payloads(payload: bytes, key: str) -> dict[str, bytes]:
    """Stored plans that are wrong in one way each (all under a valid header)."""
    length = int.from_bytes(payload[:8], "little")
    structure = json.loads(payload[8:8 + length])

    def edited(change) -> bytes:
        copy = json.loads(json.dumps(structure))
        change(copy)
        text = json.dumps(copy).encode()
        return len(text).to_bytes(8, "little") + text + payload[8 + length:]

    return {
        "garbage": b"not a plan at all",
        "empty": b"",
        "truncated json": payload[: 8 + length // 2],
        "truncated arrays": payload[:-3],
        "extra bytes": payload + b"\0",
        "deep json": (200_000).to_bytes(8, "little") + b"[" * 100_000 + b"]" * 100_000,
        "another format": edited(lambda s: s.update(format="plan 1")),
        "another key": edited(lambda s: s.update(key="0" * 64)),
        "kernel out of bounds": edited(lambda s: s["kernel"]["nodes"].__setitem__(
            0, ["Buffer", "in0_x", "f64", [2]])),
        "another output shape": edited(lambda s: s["outputs"][0].__setitem__(1, [7])),
        "source out of range": edited(lambda s: s["sources"][0].__setitem__(1, 99)),
        "unknown source": edited(lambda s: s["sources"][0].__setitem__(0, "pickle")),
        "unhashable source": edited(lambda s: s["sources"][0].__setitem__(0, ["kernel"])),
        "unhashable dtype": edited(lambda s: s["outputs"][0].__setitem__(0, ["float64"])),
        "not a dict": edited(lambda s: s.update(kernel=[1, 2, 3])),
        "array dtype": edited(lambda s: s["constants"].__setitem__(0, ["object", [6]])
                              if s["constants"] else s.update(constants=[["object", []]])),
    }


def test_a_damaged_plan_is_rebuilt(tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHNN_CACHE_DIR", str(tmp_path))
    outputs, x = _graph(5.5)
    key, entry, want = _plan_entry(tmp_path, outputs, x)
    good = entry.read_bytes()
    for name, payload in _damaged_payloads(good[cache.HEADER:], key).items():
        cache.store("plan", key, payload)
        with_damage = entry.read_bytes()
        _assert_rebuilt(outputs, x, entry, good, want)
        assert with_damage != good, name
    for damage in (good[:-1], good[:40], good[:-5] + b"xxxxx", b""):   # checksum fails
        entry.write_bytes(damage)
        _assert_rebuilt(outputs, x, entry, good, want)


def test_a_stored_plan_round_trips(tmp_path, monkeypatch):
    # kernels with every feature a plan carries: matmuls (Gemm), parallel loops, reductions,
    # convolution scratch, constant arrays, outputs that are inputs or constants
    x = gn.input("x", shape=(64, 20))
    w = gn.input("w", shape=(20, 30))
    loss = gn.sum(gn.tanh(x @ w + gn.constant(np.linspace(0, 1, 30))))
    image = gn.input("image", shape=(4, 3, 10, 10))
    kernel = gn.input("kernel", shape=(8, 3, 3, 3))
    conv = gn.sum(gn.max_pool2d(gn.relu(gn.conv2d(image, kernel, padding=1))))
    big = gn.input("big", shape=(300_000,), dtype="float32")
    scores = gn.input("scores", shape=(16, 10))
    graphs = [gn.Graph([loss, *gn.grad(loss, [x, w])]),
              gn.Graph([conv, *gn.grad(conv, [image, kernel])]),
              gn.Graph([gn.sigmoid(big)]),
              gn.Graph([gn.log_softmax(scores), scores, gn.constant(np.arange(3.0)),
                        gn.constant(np.array([True, False])), gn.constant(np.arange(4))],
                       [scores])]
    for graph in graphs:
        made = plans.make_plan(graph, "f", True)
        key = plans.plan_key(graph, "f", True)
        back = plans.decode_plan(plans.encode_plan(made, key), graph, key)
        assert serialize.to_data(back.kernel) == serialize.to_data(made.kernel)
        assert back.outputs == made.outputs
        assert len(back.constants) == len(made.constants)
        for got, expected in zip(back.constants, made.constants, strict=True):
            assert got.dtype == expected.dtype and np.array_equal(got, expected)
            assert got.flags.c_contiguous and got.flags.aligned
        for (kind, where), (made_kind, made_where) in zip(back.sources, made.sources,
                                                          strict=True):
            assert kind == made_kind
            if kind == "constant":
                assert where.dtype == made_where.dtype and np.array_equal(where, made_where)
            else:
                assert where == made_where
    kernels = [plans.make_plan(graph, "f", True).kernel for graph in graphs]
    kinds = {type(n).__name__ for k in kernels for stmt in k.body for n in loops.walk(stmt)}
    assert {"Gemm", "Reduce"} <= kinds
    assert any(isinstance(s, loops.Loop) and s.parallel for k in kernels for s in k.body)
    assert any(t.name.startswith("s") for t in kernels[1].temps)   # conv scratch: s0, ...


def test_every_field_of_the_options_reaches_the_key():
    # the key hashes the options' repr, so a field added to CompileOptions (or to its codegen
    # part) is in the key without a list to keep: no setting can be forgotten
    outputs, x = _graph()
    graph = gn.Graph(outputs, [x])
    options = CompileOptions()
    key = plans.plan_key(graph, "f", True, options)
    assert plans.plan_key(graph, "f", True, CompileOptions()) == key
    changed = changed_fields(options)
    names = {name for name, _ in changed}
    assert {"fold_limit", "conv_min_depth", "codegen.stage_size"} <= names
    assert len(names) == len(dataclasses.fields(CompileOptions)) - 1 + \
        len(dataclasses.fields(CodegenOptions))
    keys = {name: plans.plan_key(graph, "f", True, other) for name, other in changed}
    assert key not in keys.values()
    assert len(set(keys.values())) == len(keys), "two settings give the same key"


UNRELATED_WORK = """
import sys
import graphnn as gn
from graphnn.compiler import plans
kept = []
if sys.argv[1] == "before":       # other work first: its inputs stay alive (interned)
    y = gn.input("y", shape=(3,))
    kept += [y, gn.input("w", shape=(4, 3)), gn.Graph(gn.sum(y * y))]
x = gn.input("x", shape=(2, 4))
w = gn.input("w", shape=(4, 3))
y = gn.input("y", shape=(3,))
if sys.argv[1] == "after":
    kept.append(gn.compile(gn.tanh(w) * 2.0))
graph = gn.Graph(gn.sum(gn.tanh(x @ w) * y))
print([n.name for n in graph.inputs], plans.plan_key(graph, "f", True))
"""


def test_the_input_order_and_plan_key_follow_the_graph_alone(tmp_path):
    # the reproducer of issue 20: inputs were ordered by a process-wide creation counter, so
    # a process that had declared w and y for other work ordered this graph's inputs (and so
    # its text, its plan key and its call signature) otherwise
    script = tmp_path / "unrelated.py"
    script.write_text(UNRELATED_WORK)
    env = {**os.environ, "GRAPHNN_CACHE_DIR": str(tmp_path / "cache")}
    env.pop("GRAPHNN_CHECK_PASSES", None)
    printed = set()
    for work in ("before", "nothing", "after"):
        result = subprocess.run([sys.executable, str(script), work], capture_output=True,
                                text=True, env=env, timeout=120, cwd=ROOT)
        assert result.returncode == 0, result.stderr
        printed.add(result.stdout)
    (line,) = printed
    assert line.startswith("['x', 'w', 'y'] ")


def _plan_entries(directory: Path) -> list[Path]:
    """The cache entries under `directory` that hold a plan (the others hold object code)."""
    return sorted(directory.rglob("*.plan"))


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
        "from graphnn.opdef import Lowering, Symbolic\n"
        "from graphnn.ops.common import elementwise_shape, scalar_instance\n"
        "k = float(sys.argv[1])\n"
        "register(OpDef('user_scale', ('x',), 'x * k', shape=elementwise_shape,\n"
        "    reference=lambda x: x * k, vjp=lambda g, out, x: (g * k,),\n"
        "    to_sympy=lambda x: k * x, scalar=lambda x: x * k, elementwise=True,\n"
        "    derivative=('k',), symbol='k', kinks=(),\n"
        "    symbolic=Symbolic(instances=scalar_instance(1))))\n"
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
    outputs, x = _graph(6.0)
    compile(outputs, [x], options=CompileOptions(check_passes=True))
    assert _plan_entries(tmp_path) == []


EVERY_ENTRY_SCRIPT = """
import numpy as np
import graphnn as gn
x = gn.input("x", shape=(64, 48))
w = gn.input("w", shape=(48, 40))
loss = gn.sum(gn.tanh(x @ w) * 0.5)
f = gn.compile(loss, inputs=[x, w], gemm="native", threads=2)
rng = np.random.default_rng(0)
xv, wv = rng.standard_normal((64, 48)), rng.standard_normal((48, 40))
assert np.allclose(f(xv, wv), 0.5 * np.tanh(xv @ wv).sum(), rtol=1e-12)
print("ok")
"""


def test_every_entry_of_a_compiled_function_is_rebuilt_from_garbage(tmp_path):
    # A function's plan, its kernel, and the generated objects behind it (the parallel
    # runtime, a native GEMM, the CPython entry point) each replaced by garbage under a valid
    # header: a fresh process still computes the right values and writes every entry anew
    # (a bad generated object used to fail "Symbols not found" on every later compile).
    env = {**os.environ, "GRAPHNN_CACHE_DIR": str(tmp_path)}
    env.pop("GRAPHNN_CHECK_PASSES", None)

    def run() -> None:
        result = subprocess.run([sys.executable, "-c", EVERY_ENTRY_SCRIPT], capture_output=True,
                                text=True, env=env, timeout=300, cwd=ROOT)
        assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr

    run()
    entries = {p: p.read_bytes() for p in (tmp_path / "codegen").iterdir()}
    kinds = sorted(p.suffix for p in entries)
    assert kinds.count(".plan") == 1 and kinds.count(".kernel") == 1
    assert kinds.count(".generated") >= 3            # runtime, GEMM, entry point
    for path in entries:
        kind, key = path.suffix[1:], path.stem
        cache.store(kind, key, b"\x7fELF garbage" if kind != "plan" else b"{}")
    run()
    assert {p: p.read_bytes() for p in (tmp_path / "codegen").iterdir()} == entries
