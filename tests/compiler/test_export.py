"""`f.export`: compiled graphs as shared libraries called through ctypes. The plain call equals
the Python-compiled function; NAME_batch equals the graph evaluated at any batch size; outputs
that are inputs, constants or repeats are written; the header says what the library holds;
calls from several threads are correct; every mistake is a clear ExportError."""

from __future__ import annotations

import hashlib
import subprocess

import numpy as np
import pytest

import graphnn as gn
from codegen.aot import link as aot_link
from graphnn.errors import ExportError
from tests.codegen import aot_support as native
from tests.codegen.aot_support import call, load, needs_cc, sentinel
from tests.harness import run_in_threads

B = 8


def mlp(batch: int = B, dtype: str = "float32"):
    """Logits of a 6-5-3 MLP; weights w1, b1 as inputs, the second layer baked in."""
    x = gn.input("x", shape=(batch, 6), dtype=dtype)
    w1 = gn.input("w1", shape=(6, 5), dtype=dtype)
    b1 = gn.input("b1", shape=(5,), dtype=dtype)
    w2 = gn.constant(np.random.default_rng(7).normal(size=(5, 3)).astype(dtype))
    return gn.tanh(x @ w1 + b1) @ w2, [x, w1, b1]


def weights(dtype: str = "float32"):
    rng = np.random.default_rng(1)
    return rng.normal(size=(6, 5)).astype(dtype), rng.normal(size=5).astype(dtype)


@pytest.fixture(scope="module")
def mlp_library(tmp_path_factory):
    out, inputs = mlp()
    f = gn.compile(out, inputs, gemm="native", name="mlp")
    exported = f.export(tmp_path_factory.mktemp("mlp") / "mlp.so")
    return f, exported


@needs_cc
def test_the_plain_call_equals_the_python_function(mlp_library):
    f, exported = mlp_library
    library = load(exported.path)
    x = np.random.default_rng(2).normal(size=(B, 6)).astype(np.float32)
    w1, b1 = weights()
    got = sentinel((B, 3), "float32")
    assert call(library, "mlp", x, w1, b1, got) == 0
    np.testing.assert_array_equal(got, f(x, w1, b1))
    raw = f.graph.text(raw=True)                                 # not the printed form
    assert native.version(library, "mlp") == hashlib.sha256(raw.encode()).hexdigest()


@needs_cc
@pytest.mark.parametrize("batch", [0, 1, B - 1, B, B + 1, 2 * B + 3])
def test_batch_equals_the_graph_at_that_batch_size(mlp_library, batch):
    _, exported = mlp_library
    library = load(exported.path)
    x = np.random.default_rng(batch).normal(size=(batch, 6)).astype(np.float32)
    w1, b1 = weights()
    got = sentinel((batch, 3), "float32")
    assert call(library, "mlp_batch", batch, x, w1, b1, got) == 0
    out, _ = mlp(batch)
    want = gn.evaluate(out, {"x": x, "w1": w1, "b1": b1})
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-6)


def test_the_header_describes_the_library(mlp_library):
    f, exported = mlp_library
    header = exported.header.read_text()
    assert exported.header.name == "mlp.h"
    assert "int mlp(const float *x, const float *w1, const float *b1, float *out_0);" in header
    assert "int mlp_batch(int64_t batch, const float *x, const float *w1, const float *b1, " \
           "float *out_0);" in header
    assert "#define MLP_BATCH 8 " in header and "#define MLP_IN_1_SHAPE {6, 5}" in header
    assert "#define MLP_IN_0_ROW_SIZE 6 " in header and "#define MLP_IN_1_ROW_SIZE 0 " in header
    assert "float32[batch, 6]" in header
    raw = f.graph.text(raw=True)
    assert f'#define MLP_VERSION "{hashlib.sha256(raw.encode()).hexdigest()}"' in header
    assert raw.splitlines()[1].strip() in header                 # the graph's text, quoted
    assert set(exported.symbols) == {"mlp", "mlp_with_workspace", "mlp_batch",
                                     "mlp_batch_with_workspace", "mlp_set_threads",
                                     "mlp_version"}


# A C program that declares every buffer from the header's macros alone (element type and size),
# checks each type against the prototype at compile time and prints the outputs.
TYPED_PROGRAM = r"""
#include <stdio.h>
#include "mixed.h"
#define IS_FLOAT(T) _Generic((T)0, float: 1, double: 0)
_Static_assert(IS_FLOAT(MIXED_IN_0_TYPE) && !IS_FLOAT(MIXED_IN_1_TYPE), "input types");
_Static_assert(IS_FLOAT(MIXED_OUT_0_TYPE) && !IS_FLOAT(MIXED_OUT_1_TYPE), "output types");
int main(void) {
    MIXED_IN_0_TYPE x[MIXED_IN_0_SIZE];
    MIXED_IN_1_TYPE y[MIXED_IN_1_SIZE];
    MIXED_OUT_0_TYPE a[MIXED_OUT_0_SIZE];
    MIXED_OUT_1_TYPE b[MIXED_OUT_1_SIZE];
    for (int k = 0; k < MIXED_IN_0_SIZE; k++) x[k] = (MIXED_IN_0_TYPE)k / 4;
    for (int k = 0; k < MIXED_IN_1_SIZE; k++) y[k] = (MIXED_IN_1_TYPE)k / 3;
    if (mixed(x, y, a, b) != GRAPHNN_OK) return 1;
    for (int k = 0; k < MIXED_OUT_0_SIZE; k++) printf("%.17g\n", (double)a[k]);
    for (int k = 0; k < MIXED_OUT_1_SIZE; k++) printf("%.17g\n", b[k]);
    return 0;
}
"""


@needs_cc
def test_a_c_program_declares_its_buffers_from_the_type_macros(tmp_path):
    x = gn.input("x", shape=(4, 3), dtype="float32")
    y = gn.input("y", shape=(3,), dtype="float64")
    f = gn.compile([gn.exp(x) * 0.5, gn.square(y) + 1.0], [x, y], name="mixed")
    header = f.export(tmp_path / "mixed.o").header.read_text()
    assert "#define MIXED_IN_0_TYPE float\n" in header
    assert "#define MIXED_OUT_1_TYPE double\n" in header
    (tmp_path / "main.c").write_text(TYPED_PROGRAM)
    # -Werror: a macro naming the wrong type would pass a float* for a double* (or fail the
    # static assertions) and stop the build
    subprocess.run(["cc", "-std=c11", "-Wall", "-Werror", "-I", str(tmp_path),
                    str(tmp_path / "main.c"), str(tmp_path / "mixed.o"), "-lpthread", "-lm",
                    "-o", str(tmp_path / "main")], check=True, capture_output=True)
    done = subprocess.run([str(tmp_path / "main")], check=True, capture_output=True, text=True)
    printed = np.array([float(v) for v in done.stdout.split()])
    xv = (np.arange(12, dtype=np.float32) / np.float32(4)).reshape(4, 3)
    yv = np.arange(3) / 3
    want = f(xv, yv)
    np.testing.assert_array_equal(printed[:12].astype(np.float32), want[0].ravel())
    np.testing.assert_array_equal(printed[12:], want[1])


@needs_cc
@native.needs_nm
def test_the_library_defines_its_symbols_and_needs_only_the_system(mlp_library):
    _, exported = mlp_library
    assert native.defined(exported.path) == set(exported.symbols)
    needed = native.undefined(exported.path)
    assert needed <= native.SYSTEM and not [s for s in needed if native.FOREIGN.match(s)], needed


@needs_cc
def test_concurrent_batches_on_the_pool(mlp_library):
    _, exported = mlp_library
    library = load(exported.path)
    assert native.set_threads(library, "mlp", 2) == 0
    w1, b1 = weights()
    failures = []

    def work(k: int) -> None:
        rows = 50 + k
        x = np.random.default_rng(k).normal(size=(rows, 6)).astype(np.float32)
        out, _ = mlp(rows)
        want = gn.evaluate(out, {"x": x, "w1": w1, "b1": b1})
        for _ in range(100):
            got = np.empty((rows, 3), np.float32)
            if call(library, "mlp_batch", rows, x, w1, b1, got) != 0 or \
                    not np.allclose(got, want, rtol=2e-5, atol=2e-6):
                failures.append(k)

    threads = run_in_threads(work, count=4, timeout=120)
    assert not any(t.is_alive() for t in threads) and failures == []
    native.set_threads(library, "mlp", 1)


@needs_cc
def test_a_training_step_with_gradients_equals_python(tmp_path):
    out, (x, w1, b1) = mlp(dtype="float64")
    t = gn.input("t", shape=(B, 3))
    loss = gn.softmax_cross_entropy(out, t)
    f = gn.compile([loss, *gn.grad(loss, [w1, b1])], [x, w1, b1, t], gemm="native",
                   name="step")
    exported = f.export(tmp_path / "step.so")
    assert "No step_batch: with x, t batched: " in exported.header.read_text()
    assert "combines the rows" in exported.header.read_text()
    rng = np.random.default_rng(4)
    arrays = [rng.normal(size=n.shape) for n in (x, w1, b1)] + [np.eye(3)[rng.integers(0, 3, B)]]
    outs = [sentinel(n.shape, "float64") for n in f.graph.outputs]
    assert call(load(exported.path), "step", *arrays, *outs) == 0
    for got, want in zip(outs, f(*arrays)):
        np.testing.assert_array_equal(got, want)


@needs_cc
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_convolutions_and_their_gradients_equal_python(tmp_path, dtype):
    """Two deep 3x3 convolutions (the direct convolutions' micro-kernel, in the library for
    the target: a conv2d and, for the second's input gradient, a transposed one), rows of 12
    outputs (a partial tile), 6 and 10 output channels (partial blocks)."""
    x = gn.input("x", shape=(3, 4, 9, 12), dtype=dtype)
    w1 = gn.input("w1", shape=(6, 4, 3, 3), dtype=dtype)
    w2 = gn.input("w2", shape=(10, 6, 3, 3), dtype=dtype)
    h = gn.relu(gn.conv2d(x, w1, padding=1))
    loss = gn.sum(gn.square(gn.conv2d(h, w2, padding=1)))
    f = gn.compile([loss, *gn.grad(loss, [w1, w2])], [x, w1, w2], name="convs")
    assert "direct conv " in f.loop_ir
    exported = f.export(tmp_path / "convs.so")
    rng = np.random.default_rng(6)
    arrays = [rng.normal(size=n.shape).astype(dtype) for n in (x, w1, w2)]
    outs = [sentinel(n.shape, dtype) for n in f.graph.outputs]
    assert call(load(exported.path), "convs", *arrays, *outs) == 0
    for got, want in zip(outs, f(*arrays)):
        np.testing.assert_allclose(got, want, rtol=1e-5 if dtype == "float32" else 1e-12)


@needs_cc
def test_outputs_that_are_inputs_constants_or_repeats(tmp_path):
    x = gn.input("x", shape=(B, 2))
    y = gn.exp(x)
    f = gn.compile([y, x, gn.constant(np.array([1.5, 2.5])), y, gn.sum(gn.square(x) * 0.0)],
                   [x], name="mixed")
    exported = f.export(tmp_path / "mixed.so", batch=False)
    value = np.random.default_rng(5).normal(size=(B, 2))
    outs = [sentinel(n.shape, "float64") for n in f.graph.outputs]
    assert call(load(exported.path), "mixed", value, *outs) == 0
    for got, want in zip(outs, f(value)):
        np.testing.assert_array_equal(got, want)
    assert "No mixed_batch: not requested (batch=False)" in exported.header.read_text()


@needs_cc
def test_batch_for_one_declared_row_and_for_chosen_inputs(tmp_path):
    x = gn.input("x", shape=(3, 3))                        # batch 3, and a 3x3 weight
    w = gn.input("w", shape=(3, 2))
    f = gn.compile(gn.relu(x @ w), name="square")
    header = f.export(tmp_path / "inferred.o").header.read_text()
    assert "No square_batch: with x, w batched" in header            # w's 3 looks batched
    exported = f.export(tmp_path / "square.so", batch=["x"])
    rows = 7
    xs, ws = np.random.default_rng(6).normal(size=(rows, 3)), np.ones((3, 2))
    got = np.empty((rows, 2))
    assert call(load(exported.path), "square_batch", rows, xs, ws, got) == 0
    np.testing.assert_allclose(got, np.maximum(xs @ ws, 0), rtol=1e-14)
    one = gn.input("x", shape=(1, 3))
    g = gn.compile(gn.softmax(one * 2.0), name="single")
    single = g.export(tmp_path / "single.so")
    xs = np.random.default_rng(7).normal(size=(5, 3))
    got = np.empty((5, 3))
    assert call(load(single.path), "single_batch", 5, xs, got) == 0
    np.testing.assert_allclose(got, np.exp(2 * xs) / np.exp(2 * xs).sum(1, keepdims=True),
                               rtol=1e-13)


def test_the_version_hashes_the_raw_text_and_the_header_quotes_it(tmp_path):
    x = gn.input("x")
    f = gn.compile(gn.grad(gn.sigmoid(x), [x]), [x], name="dexp")
    raw = f.graph.text(raw=True)
    assert "mul 1.0" in raw and raw != str(f.graph)          # print shows it without the seed
    header = f.export(tmp_path / "dexp.o").header.read_text()
    assert f'#define DEXP_VERSION "{hashlib.sha256(raw.encode()).hexdigest()}"' in header
    assert all(f" * {line}".rstrip() in header for line in raw.splitlines())


def test_names(tmp_path):
    x = gn.input("x", shape=(2,))
    f = gn.compile(gn.exp(x))                              # compile's default name "f"
    exported = f.export(tmp_path / "a.o")
    assert exported.header.name == "graphnn_fn.h" and "graphnn_fn" in exported.symbols
    keyword = gn.input("int", shape=(2,))                  # a C keyword as an input name
    header = gn.compile(keyword * 2.0, name="twice").export(tmp_path / "b.o").header
    assert "int twice(const double *int_, double *out_0);" in header.read_text()
    for bad in ("my-model", "int", "ünïcode", 3):
        with pytest.raises(ExportError, match="name must be an ASCII C identifier"):
            f.export(tmp_path / "c.o", name=bad)


def test_errors_are_clear(tmp_path, monkeypatch):
    f = gn.compile(gn.exp(gn.input("x", shape=(2,))), name="e")
    with pytest.raises(ExportError, match="cpu must be one of 'host', 'x86-64-v2'"):
        f.export(tmp_path / "e.o", cpu="x86-64-v5")
    with pytest.raises(ExportError, match="cpu must be one of"):
        f.export(tmp_path / "e.o", cpu=3)
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(ExportError, match="cannot write .*file/e.o.*cannot create its directory"):
        f.export(tmp_path / "file" / "e.o")
    with pytest.raises(ExportError, match=r"must end in \.o .* or \.so"):
        f.export(tmp_path / "e.dll")
    with pytest.raises(ExportError, match="batch must be a list of input names"):
        f.export(tmp_path / "e.o", batch="x")
    with pytest.raises(ExportError, match="no e_batch: no input has two or more dimensions"):
        f.export(tmp_path / "e.o", batch=True)
    monkeypatch.setenv("PATH", "")
    monkeypatch.setattr(aot_link, "ziglang_command", lambda: None)
    with pytest.raises(ExportError, match=r"no C compiler on PATH.*graphnn\[aot\]"):
        f.export(tmp_path / "e.so")
    assert not list(tmp_path.glob("e.*"))                  # nothing half-written


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_any_level_may_be_exported_whatever_this_cpu_runs(tmp_path, dtype):
    # a deep convolution: the micro-kernels generated for each level's vector width too
    x = gn.input("x", shape=(1, 8, 6, 20), dtype=dtype)
    w = gn.constant(np.ones((13, 8, 3, 3), dtype))
    f = gn.compile([gn.exp(x), gn.conv2d(x, w, padding=1)], name="levels")
    assert "direct conv " in f.loop_ir
    for level in ("x86-64-v2", "x86-64-v3", "x86-64-v4"):
        exported = f.export(tmp_path / f"{level}.o", cpu=level)
        assert f'#define LEVELS_CPU "{level}"' in exported.header.read_text()
        assert exported.path.stat().st_size > 0
