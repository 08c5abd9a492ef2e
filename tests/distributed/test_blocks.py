"""Compiled functions on dask arrays: `f.map_blocks` (batch inference) and
`gn.distributed.grad_sum` (full-batch sums) equal the single-process call, with dask's threaded
scheduler and with a real `distributed.Client` whose worker processes receive the function
pickled (as its graph) and compile it themselves."""

from __future__ import annotations

import os
import pickle

import dask
import dask.array as da
import numpy as np
import pytest

import graphnn as gn
from graphnn.compiler.function import rebuild
from graphnn.errors import InputError


def classifier(batch):
    """A two-output inference function: probabilities and the hidden layer."""
    x = gn.input("x", shape=(batch, 6), dtype="float32")
    w = gn.input("w", shape=(6, 4), dtype="float32")
    v = gn.input("v", shape=(4, 3), dtype="float32")
    hidden = gn.relu(x @ w)
    return gn.compile([gn.softmax(hidden @ v), hidden], inputs=[x, w, v], name="classify")


def regression_loss(batch, mean=False):
    """(loss, dloss/dw, dloss/db) of a linear model: a sum (or mean) over the rows."""
    x = gn.input("x", shape=(batch, 3))
    y = gn.input("y", shape=(batch,))
    w = gn.input("w", shape=(3,))
    b = gn.input("b")
    error = gn.square(x @ w + b - y)
    loss = gn.mean(error) if mean else gn.sum(error)
    return gn.compile([loss, *gn.grad(loss, [w, b])], inputs=[x, y, w, b])


def data(rows=22):
    rng = np.random.default_rng(0)
    return (rng.normal(size=(rows, 6)).astype("float32"),
            rng.normal(size=(6, 4)).astype("float32"),
            rng.normal(size=(4, 3)).astype("float32"))


@pytest.fixture
def threads():
    with dask.config.set(scheduler="threads"):
        yield


def assert_blocks_equal_the_whole_call(compute):
    x, w, v = data()
    xs = da.from_array(x, chunks=8)                          # blocks of 8, 8 and 6 rows
    probabilities, hidden = classifier(8).map_blocks(xs, w, v)
    assert isinstance(probabilities, da.Array) and probabilities.chunks == ((8, 8, 6), (3,))
    got = compute(probabilities, hidden)
    want = classifier(22)(x, w, v)
    for g, e in zip(got, want):
        assert g.dtype == np.float32
        np.testing.assert_allclose(g, e, rtol=1e-6, atol=1e-7)   # float32, same kernels


def test_map_blocks_equals_the_whole_call_with_threads(threads):
    assert_blocks_equal_the_whole_call(dask.compute)


def test_map_blocks_equals_the_whole_call_on_worker_processes(client):
    client.run(rebuild.cache_clear)
    assert_blocks_equal_the_whole_call(lambda *arrays: client.compute(arrays, sync=True))
    # each worker rebuilt the function from its pickled graph: at most once per block size
    made = client.run(lambda: rebuild.cache_info().misses)
    assert sum(made.values()) >= 1 and all(count <= 1 for count in made.values())


def test_a_pickled_function_runs_in_another_process(client):
    x, w, v = data(8)
    f = classifier(8)
    where, (probabilities, hidden) = client.submit(
        lambda g, *arrays: (os.getpid(), g(*arrays)), f, x, w, v, pure=False).result()
    assert where != os.getpid()
    np.testing.assert_array_equal(probabilities, f(x, w, v)[0])
    np.testing.assert_array_equal(hidden, f(x, w, v)[1])
    # what travelled: the graph and its settings, a few kilobytes whatever the kernels' size
    assert len(pickle.dumps(f)) < 8192


@pytest.mark.parametrize("mean", [False, True])
def test_grad_sum_equals_the_full_batch_gradient(threads, mean):
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(30, 3)), rng.normal(size=30)
    params = [rng.normal(size=3), np.asarray(0.5)]
    got = gn.distributed.grad_sum(regression_loss(8, mean), da.from_array(x, chunks=8),
                                  da.from_array(y, chunks=8), params,
                                  reduce="mean" if mean else "sum")
    want = regression_loss(30, mean)(x, y, *params)
    for g, e in zip(got, want):
        np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-12)  # float64, reordered sums


def test_grad_sum_on_worker_processes(client):
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(40, 3)), rng.normal(size=40)
    params = [rng.normal(size=3), np.asarray(-0.25)]
    got = gn.distributed.grad_sum(regression_loss(10), da.from_array(x, chunks=10),
                                  da.from_array(y, chunks=10), params)
    for g, e in zip(got, regression_loss(40)(x, y, *params)):
        np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-12)


def test_an_output_that_does_not_follow_the_batch_is_refused():
    x = gn.input("x", shape=(4, 3))
    f = gn.compile([gn.tanh(x), gn.sum(x)], inputs=[x])
    with pytest.raises(InputError, match=r"output 1 \(sum\) of .* has shape \(\)"):
        f.map_blocks(da.ones((8, 3), chunks=4))


@pytest.mark.parametrize("arguments, message", [
    (lambda: (np.ones((8, 6), "float32"),) + data()[1:], "first argument is a ndarray"),
    (lambda: (da.ones((8, 6), chunks=4),) + data()[1:],
     "input 'x' expects a float32 dask array of shape \\(n, 6\\), got a float64"),
    (lambda: (da.ones((8, 5), dtype="float32", chunks=4),) + data()[1:],
     "got a float32 array of shape \\(8, 5\\)"),
    (lambda: (da.ones((8, 6), dtype="float32", chunks=4), data()[1], data()[1]),
     "input 'v' expects a float32 array of shape \\(4, 3\\)"),
])
def test_bad_arguments_are_named_before_any_task_runs(arguments, message):
    with pytest.raises(InputError, match=message):
        classifier(4).map_blocks(*arguments())
