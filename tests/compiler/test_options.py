"""The options of gn.compile and of a call that reach native code (threads, gemm, name): a bad one
is a clear graphnn error before anything runs, a large thread count is clamped, and none can
crash the interpreter. The crash reproducers run in a child process, so a crash fails the test
instead of killing pytest."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import graphnn as gn
from codegen.native import pycall
from codegen.native.runtime import MAX_THREADS
from graphnn.compiler import compile

ROOT = Path(__file__).parents[2]
HUGE = [1 << 62, 2**63 - 1, 1 << 64]
BAD_THREADS = [(0, "got 0"), (-1, "got -1"), (True, "got True"), (2.5, "got 2.5"),
               ("4", "got '4'"), ([2], r"got \[2\]")]

# the reproducers: a native-GEMM product (whose thread arithmetic divided by zero)
REPRODUCERS = """
import sys
import numpy as np
import graphnn as gn
x = gn.input("x", shape=(64, 64), dtype="float32")
w = gn.input("w", shape=(64, 64), dtype="float32")
y = gn.sum(gn.tanh(x @ w))
xv, wv = np.full((64, 64), 0.01, np.float32), np.full((64, 64), 0.02, np.float32)
want = float(gn.compile(y, gemm="native", threads=1)(xv, wv))
for threads in (1 << 62, 2**63 - 1, 1 << 64):
    if sys.argv[1] == "call":
        got = gn.compile(y, gemm="native")(xv, wv, threads=threads)
    else:
        got = gn.compile(y, gemm="native", threads=threads)(xv, wv)
    assert float(got) == want, (threads, float(got), want)
    print("ok", threads, flush=True)
"""


@pytest.mark.parametrize("where", ["call", "compile"])
def test_huge_thread_counts_do_not_crash(where):
    result = subprocess.run([sys.executable, "-c", REPRODUCERS, where], capture_output=True,
                            text=True, timeout=300, cwd=ROOT)
    assert result.returncode == 0, f"exit {result.returncode}: {result.stdout}{result.stderr}"
    assert result.stdout.split() == [word for t in HUGE for word in ("ok", str(t))]


@pytest.fixture(scope="module")
def product():
    x = gn.input("x", shape=(3, 4))
    w = gn.input("w", shape=(4, 2))
    return compile(gn.tanh(x @ w)), (np.ones((3, 4)), np.full((4, 2), 0.25))


@pytest.mark.parametrize("threads,message", BAD_THREADS)
def test_a_bad_thread_count_is_refused_at_compile(threads, message):
    with pytest.raises(gn.OpError, match=f"threads must be a positive int or None, {message}"):
        compile(gn.input("x") * 2.0, threads=threads)


@pytest.mark.parametrize("threads,message", BAD_THREADS)
def test_a_bad_thread_count_is_refused_per_call(product, threads, message):
    f, args = product
    assert f._native is not None or not pycall.supported()   # the native entry hands it over
    with pytest.raises(gn.InputError, match=f"threads must be a positive int or None, {message}"):
        f(*args, threads=threads)


@pytest.mark.parametrize("threads,message", BAD_THREADS)
def test_a_bad_thread_count_is_refused_when_no_kernel_runs(threads, message):
    x = gn.input("x", shape=(3,))
    f = compile([x, x])                           # nothing to compute: no kernel is called
    with pytest.raises(gn.InputError, match=message):
        f(np.ones(3), threads=threads)


def test_large_thread_counts_are_clamped(product):
    f, args = product
    want = f(*args, threads=1)
    for threads in [MAX_THREADS + 1, *HUGE, np.int64(1 << 40)]:
        assert np.array_equal(f(*args, threads=threads), want)
        assert compile(gn.input("x") * 2.0, threads=threads).threads == MAX_THREADS
    assert compile(gn.input("x") * 2.0, threads=np.int32(3)).threads == 3


@pytest.mark.parametrize("name", ["a b", "", "x-y", 'a"b', "1st", 7, None])
def test_a_name_that_is_not_an_identifier_is_refused(name):
    # non-ASCII identifiers are names too: lowering spells them in ASCII (test_input_names)
    with pytest.raises(gn.OpError, match="name must be a Python identifier"):
        compile(gn.input("x") * 2.0, name=name)


@pytest.mark.parametrize("gemm", ["fast", None, 1, ["auto"]])
def test_an_unknown_gemm_mode_is_refused(gemm):
    with pytest.raises(gn.OpError, match="gemm must be one of auto, blas, native, loops"):
        compile(gn.input("x") * 2.0, gemm=gemm)
