"""Calling a compiled function at another batch size (graphnn/compiler/rebatch.py): only a
provable batch re-specializes, every other shape change gets the error gn.evaluate gives, and
every re-specialized call equals gn.evaluate of the graph declared at the new shapes: the
issue's reproducers, random graphs and the nn models at batch sizes 0, 1, 2, the declared one,
one more and four times as many."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

import graphnn as gn
from graphnn import nn
from graphnn.compiler import compile
from tests.differential.random_graphs import BatchRecipe, random_values
from tests.differential.test_random_graphs import assert_agree


def batch_sizes(declared: int) -> list[int]:
    return sorted({0, 1, 2, declared, declared + 1, 4 * declared})


def assert_refused_as_evaluate_refuses(f, graph, feed):
    """The compiled call raises the InputError gn.evaluate raises (then says why)."""
    with pytest.raises(gn.InputError) as reference:
        gn.evaluate(graph, feed)
    with pytest.raises(gn.InputError) as compiled:
        f(**feed)
    assert str(compiled.value).startswith(str(reference.value) + "; "), str(compiled.value)
    return str(compiled.value)


# -- the reproducers --------------------------------------------------------------------------

def test_a_batch_of_one_does_not_broadcast_over_the_declared_batch():
    # a (5, 2) input broadcast a (1, 2) array over 5 and returned a result
    a = gn.input("a", shape=(5, 2))
    loss = gn.sum(a * np.arange(10.0).reshape(5, 2))
    message = assert_refused_as_evaluate_refuses(compile(loss), gn.Graph(loss),
                                                 {"a": np.ones((1, 2))})
    assert "cannot run at batch size 1 (declared 5): mul(x [B,2], y [5,2]) holds only at B = 5" \
        in message


def test_the_length_of_a_vector_is_not_a_batch():
    # a declared (3,) input took 7 elements and returned 14.0
    c = gn.input("c", shape=(3,))
    loss = gn.sum(c * 2.0)
    message = assert_refused_as_evaluate_refuses(compile(loss), gn.Graph(loss),
                                                 {"c": np.ones(7)})
    assert "the length of a vector is not a batch" in message


def _batch_in_the_middle(batch: int):
    x = gn.input("x", shape=(batch, 2))
    loss = gn.sum(gn.tanh(gn.sum(x * np.arange(1.0, 4.0).reshape(3, 1, 1), axis=2)))
    return x, [loss, gn.grad(loss, x)]


@pytest.mark.parametrize("batch", batch_sizes(7) + [14])
def test_a_reshape_follows_the_batch_wherever_it_is(batch):
    # the gradient reshapes to (3, 7, 1): at 14 the old rule rescaled the 3, giving
    # broadcast_like(x [6,7,1], like [3,14,2]) and refusing a valid graph
    x, outputs = _batch_in_the_middle(7)
    f = compile(outputs, [x])
    value = np.random.default_rng(batch).normal(size=(batch, 2))
    _, want = _batch_in_the_middle(batch)
    assert_agree(f(value), gn.evaluate(want, {"x": value}), "float64", f"batch {batch}")


def test_batch_zero_of_a_graph_that_contracts_over_the_batch():
    x, w = gn.input("x", shape=(4, 3)), gn.input("w", shape=(3, 2))
    loss = gn.sum(gn.tanh(x @ w))
    f = compile([loss, gn.grad(loss, w)], [x, w])
    value, dw = f(np.zeros((0, 3)), np.ones((3, 2)))
    assert value == 0.0 and dw.shape == (3, 2) and not dw.any()


@pytest.mark.parametrize("change,reason", [
    (lambda d: {**d, "x": np.ones((4, 5))}, "only the leading \\(batch\\) dimension may differ"),
    (lambda d: {**d, "x": np.ones((8, 4)), "t": np.ones((5, 1))},
     "the batch changes from 4 to 8 here but input 't' changes from 4 to 5"),
    (lambda d: {**d, "x": np.ones((8, 4)), "t": np.ones((8, 2))},
     "only the leading \\(batch\\) dimension may differ from the declared shape \\(input 't' "
     "got shape \\(8, 2\\)\\)"),
    (lambda d: {**d, "x": np.ones((8, 4))}, "mse\\(pred \\[B,1\\], target \\[4,1\\]\\) holds "
                                            "only at B = 4"),
])
def test_every_other_shape_change_is_refused_with_the_reference_error(change, reason):
    x, t = gn.input("x", shape=(4, 4)), gn.input("t", shape=(4, 1))
    loss = gn.mse(x @ np.ones((4, 1)), t)
    feed = change({"x": np.ones((4, 4)), "t": np.ones((4, 1))})
    message = assert_refused_as_evaluate_refuses(compile(loss, [x, t]), gn.Graph(loss, [x, t]),
                                                 feed)
    assert re.search(reason, message), message


# -- random graphs ----------------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(18))
def test_random_graphs_at_every_batch_size(seed):
    """Accepted exactly where the graph exists at the new size and does not fix the batch
    (a baked recipe does: a constant of the declared size), and then equal to gn.evaluate of
    the graph declared at that size."""
    declared = (2, 3, 5)[seed % 3]
    recipe = BatchRecipe(seed, declared, baked=seed % 6 == 5)
    inputs, outputs = recipe.build(declared)
    f = compile(outputs, inputs)
    for batch in batch_sizes(declared):
        feed = random_values(seed + batch, recipe.inputs(batch))
        try:
            built = recipe.build(batch)
        except gn.GraphnnError:
            built = None
        if batch != declared and (built is None or recipe.baked):
            assert_refused_as_evaluate_refuses(f, gn.Graph(outputs, inputs), feed)
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)     # numpy's mean of nothing
            want = gn.evaluate(gn.Graph(built[1], built[0]), feed)
        assert_agree(f(**feed), want, "float64", f"graph {seed} at batch {batch}")


# -- the nn models ----------------------------------------------------------------------------

def _mlp():
    return nn.Sequential([nn.Dense(6, "relu"), nn.Dropout(0.5), nn.Dense(3)], input_shape=(4,),
                         dtype="float64", seed=0)


def _cnn():
    return nn.Sequential([nn.Conv2D(2, 3, padding=1), nn.BatchNorm(), nn.ReLU(),
                          nn.MaxPool2D(2), nn.Flatten(), nn.Dense(3)], input_shape=(1, 4, 4),
                         dtype="float64", seed=0)   # float64: batch norm of one example is
                                                    # ill-conditioned (x - mean is rounding)


def _feed(model, graph_inputs, step, batch, rng):
    values = {**model.values, **step.slots, **step.optimizer.hyperparameters(1)}
    feed = {}
    for node in graph_inputs:
        if node.name in values:
            feed[node.name] = np.asarray(values[node.name], dtype=node.dtype)
        elif node.name == "target":
            feed[node.name] = np.eye(3, dtype=node.dtype)[rng.integers(0, 3, batch)]
        else:                                   # x and the dropout masks
            feed[node.name] = rng.random(node.shape).astype(node.dtype)
    return feed


@pytest.mark.parametrize("make", [_mlp, _cnn], ids=["mlp", "cnn"])
def test_nn_training_steps_at_every_batch_size(make):
    """The compiled training step (forward, loss, gradients, update) declared at batch 3,
    called at every batch size, against gn.evaluate of the step nn declares there."""
    model = make()
    step = nn.TrainStep(model, "softmax_cross_entropy", nn.SGD(lr=0.1, momentum=0.9))
    declared = step.graph(3)
    f = compile(list(declared.outputs), list(declared.inputs))
    for batch in batch_sizes(3):
        graph = step.graph(batch)
        feed = _feed(model, graph.inputs, step, batch, np.random.default_rng(batch))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)     # numpy's mean of nothing
            want = gn.evaluate(gn.Graph(list(graph.outputs), list(graph.inputs)), feed)
        assert_agree(f(**feed), want, model.dtype, f"{make.__name__} at batch {batch}")


def test_nn_forward_pass_at_every_batch_size():
    model = _cnn()
    forward = model.build(3, training=False)
    params = [p.node for p in model.parameters.values()]
    f = compile(forward.output, [forward.x, *params])
    for batch in batch_sizes(3):
        x = np.random.default_rng(batch).normal(size=(batch, 1, 4, 4)).astype(model.dtype)
        other = model.build(batch, training=False)
        feed = {"x": x, **model.values}
        want = gn.evaluate(other.output, feed)
        assert_agree([f(**feed)], [want], model.dtype, f"cnn forward at batch {batch}")
