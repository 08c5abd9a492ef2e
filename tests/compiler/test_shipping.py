"""Compiled functions pickle as their graph and compile settings (graphnn/compiler/shipping.py):
no machine code travels, another process compiles them again (once, through the disk cache),
and damaged or foreign bytes are a clear error. The same functions through a Dask cluster's
worker processes: tests/distributed/test_blocks.py."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import graphnn as gn
from graphnn.compiler.function import NativeFunction, rebuild
from graphnn.compiler.shipping import Shipped, decode, encode
from graphnn.graphdata import GraphDataError, pack, unpack
from graphnn.options import CompileOptions

ROOT = Path(__file__).parents[2]


def mlp(batch=4):
    x = gn.input("x", shape=(batch, 3), dtype="float32")
    w = gn.input("w", shape=(3, 5), dtype="float32")
    b = np.linspace(-1.0, 1.0, 5, dtype="float32")          # a constant: travels as its bytes
    h = gn.tanh(x @ w + b)
    return gn.compile([h, gn.sum(h)], inputs=[x, w], name="mlp",
                      options=CompileOptions(fold_limit=4))


def arguments(batch=4):
    rng = np.random.default_rng(0)
    return (rng.normal(size=(batch, 3)).astype("float32"),
            rng.normal(size=(3, 5)).astype("float32"))


def run_in_fresh_process(script: str, cache: Path) -> subprocess.CompletedProcess:
    environment = {**os.environ, "GRAPHNN_CACHE_DIR": str(cache),
                   "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(script)], capture_output=True,
                          check=False, timeout=120, env=environment)


def cache_entries(cache: Path) -> dict[str, int]:
    return {str(p.relative_to(cache)): p.stat().st_mtime_ns for p in cache.rglob("*")
            if p.is_file()}


def test_a_pickle_is_the_graph_and_settings_not_machine_code():
    f = mlp()
    blob = pickle.dumps(f)
    shipped = decode(f._shipped)
    # the pickle is the call rebuild(bytes, native) around the shipped bytes, nothing else
    assert len(f._shipped) < len(blob) < len(f._shipped) + 200
    assert str(shipped.graph) == str(f.graph)
    assert (shipped.name, shipped.single, shipped.cpu) == ("mlp", False, "host")
    assert shipped.options.fold_limit == 4
    assert b"ELF" not in blob and len(blob) < 4096           # a text header and 20 bytes of b
    assert np.linspace(-1.0, 1.0, 5, dtype="float32").tobytes() in blob


def test_unpickled_functions_compute_the_same_and_are_made_once():
    f = mlp()
    blob = pickle.dumps(f)
    g = pickle.loads(blob)
    for got, want in zip(g(*arguments()), f(*arguments())):
        np.testing.assert_array_equal(got, want)
    assert pickle.loads(blob) is g                 # a task receiving f again reuses it
    native = gn.compile(gn.input("v", shape=(2,)) * 2.0)
    assert isinstance(native, NativeFunction)
    assert isinstance(pickle.loads(pickle.dumps(native)), NativeFunction)
    assert type(pickle.loads(pickle.dumps(native.function))) is type(native.function)


def test_another_process_compiles_it_once_then_loads_it_from_the_disk_cache(tmp_path):
    f = mlp()
    (tmp_path / "f.pickle").write_bytes(pickle.dumps(f))
    np.save(tmp_path / "x.npy", arguments()[0])
    np.save(tmp_path / "w.npy", arguments()[1])
    script = f"""
        import pathlib, pickle, numpy as np
        folder = pathlib.Path({str(tmp_path)!r})
        f = pickle.loads((folder / "f.pickle").read_bytes())
        h, total = f(np.load(folder / "x.npy"), np.load(folder / "w.npy"))
        np.save(folder / "h.npy", h)
    """
    cache = tmp_path / "cache"
    first = run_in_fresh_process(script, cache)
    assert first.returncode == 0, first.stderr.decode()
    np.testing.assert_array_equal(np.load(tmp_path / "h.npy"), f(*arguments())[0])
    entries = cache_entries(cache)
    assert entries                                   # the receiver compiled, and cached it
    second = run_in_fresh_process(script, cache)
    assert second.returncode == 0, second.stderr.decode()
    assert cache_entries(cache) == entries           # ... and the next one only loaded it


@pytest.mark.parametrize("damage, message", [
    (lambda b: b[:len(b) // 2], "truncated"),
    (lambda b: b"not a graph" + b, "not packed graphnn graph data"),
])
def test_damaged_bytes_are_a_clear_error(damage, message):
    with pytest.raises(GraphDataError, match=message):
        rebuild.__wrapped__(damage(mlp()._shipped), False)


def shipped_header(**change):
    x = gn.input("x", shape=(3,))
    shipped = Shipped(gn.Graph(gn.tanh(x)), single=True, name="f", gemm="auto", threads=None,
                      optimize=True, cpu="host", options=CompileOptions())
    header, arrays = unpack(encode(shipped))
    header.update(change)
    return pack(header, arrays)


@pytest.mark.parametrize("change, message", [
    ({"format": "something else"}, "not a shipped graphnn function"),
    ({"version": 99}, "of version 99; this graphnn reads version 1"),
    ({"single": "yes"}, "single must be a bool"),
    ({"threads": 1.5}, "threads must be an int or null"),
    ({"cpu": 7}, "cpu must be a name or a target"),
    ({"options": {"no_such_option": 1}}, "the field 'no_such_option'"),
])
def test_a_header_of_another_kind_is_named(change, message):
    with pytest.raises(GraphDataError, match=message):
        decode(shipped_header(**change))

