"""Each optimizer's update against its textbook formula, step by step, on a linear model with
mean squared error (whose gradient is written out here by hand); the losses' forms."""

from __future__ import annotations

import numpy as np
import pytest

import graphnn as gn
from graphnn import nn

RNG = np.random.default_rng(0)
X = RNG.normal(size=(8, 3))
T = RNG.normal(size=(8, 2))


def gradients(w, b):
    """d/dw and d/db of mean((x w + b - t)²) over all 16 elements."""
    r = 2.0 * (X @ w + b - T) / T.size
    return X.T @ r, r.sum(axis=0)


def sgd(params, state, grads, t, lr=0.1):
    return [p - lr * g for p, g in zip(params, grads)], state


def momentum(params, state, grads, t, lr=0.1, mu=0.9):
    velocity = [mu * v - lr * g for v, g in zip(state, grads)]
    return [p + v for p, v in zip(params, velocity)], velocity


def nesterov(params, state, grads, t, lr=0.1, mu=0.9):
    velocity = [mu * v - lr * g for v, g in zip(state, grads)]
    return [p - mu * v0 + (1 + mu) * v for p, v0, v in zip(params, state, velocity)], velocity


def adam(params, state, grads, t, lr=0.01, b1=0.9, b2=0.999, eps=1e-8):
    m = [b1 * m0 + (1 - b1) * g for m0, g in zip(state[0], grads)]
    v = [b2 * v0 + (1 - b2) * g * g for v0, g in zip(state[1], grads)]
    new = [p - lr * (mk / (1 - b1 ** t)) / (np.sqrt(vk / (1 - b2 ** t)) + eps)
           for p, mk, vk in zip(params, m, v)]
    return new, (m, v)


CASES = {
    "sgd": (nn.SGD(lr=0.1), sgd, lambda z: z),
    "momentum": (nn.Momentum(lr=0.1, momentum=0.9), momentum, lambda z: z),
    "nesterov": (nn.SGD(lr=0.1, momentum=0.9, nesterov=True), nesterov, lambda z: z),
    "adam": (nn.Adam(lr=0.01), adam, lambda z: (z, [a.copy() for a in z])),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_update_matches_the_textbook_formula(name):
    optimizer, rule, initial_state = CASES[name]
    model = nn.Sequential([nn.Dense(2, init="xavier")], input_shape=(3,), dtype="float64")
    model.values["dense1_b"][:] = [0.3, -0.2]
    step = nn.TrainStep(model, "mse", optimizer)
    params = [model.values["dense1_w"].copy(), model.values["dense1_b"].copy()]
    state = initial_state([np.zeros_like(p) for p in params])
    for t in range(1, 5):
        w, b = params
        loss = step(X, T)
        assert loss == pytest.approx(np.mean((X @ w + b - T) ** 2), rel=1e-12)
        params, state = rule(params, state, gradients(w, b), t)
        np.testing.assert_allclose(model.values["dense1_w"], params[0], rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(model.values["dense1_b"], params[1], rtol=1e-10, atol=1e-14)
    assert step.count == 4


def test_learning_rate_is_fed_not_compiled():
    model = nn.Sequential([nn.Dense(2)], input_shape=(3,), dtype="float64")
    optimizer = nn.SGD(lr=0.1)
    step = nn.TrainStep(model, "mse", optimizer)
    step(X, T)
    optimizer.lr = 0.0                       # a schedule may change it between steps
    before = model.get_parameters()
    step(X, T)
    assert all(np.array_equal(before[k], model.values[k]) for k in before)
    assert len(step._compiled) == 1


def test_weight_decay_adds_decay_times_weight_to_the_gradient():
    model = nn.Sequential([nn.Dense(2)], input_shape=(3,), dtype="float64")
    w, b = model.values["dense1_w"].copy(), model.values["dense1_b"].copy()
    nn.TrainStep(model, nn.MSE(weight_decay=0.5), nn.SGD(lr=0.1))(X, T)
    dw, db = gradients(w, b)
    np.testing.assert_allclose(model.values["dense1_w"], w - 0.1 * (dw + 0.5 * w), rtol=1e-12)
    np.testing.assert_allclose(model.values["dense1_b"], b - 0.1 * db, rtol=1e-12)  # no decay


def test_bad_settings_are_refused():
    with pytest.raises(nn.ModelError, match="momentum must be in"):
        nn.SGD(momentum=1.0)
    with pytest.raises(nn.ModelError, match="nesterov=True needs a momentum"):
        nn.SGD(nesterov=True)
    with pytest.raises(nn.ModelError, match="unknown optimizer 'adm'"):
        nn.TrainStep(nn.Sequential([nn.Dense(1)], input_shape=(1,)), "mse", "adm")


@pytest.mark.parametrize("loss, output, target", [
    (nn.MSE(), RNG.normal(size=(5, 2)), RNG.normal(size=(5, 2))),
    (nn.BinaryCrossEntropy(), RNG.normal(size=(5, 1)) * 30, RNG.integers(0, 2, (5, 1))),
    (nn.BinaryCrossEntropy(from_logits=False), RNG.random((5, 1)), RNG.integers(0, 2, (5, 1))),
    (nn.SoftmaxCrossEntropy(), RNG.normal(size=(5, 4)), np.eye(4)[RNG.integers(0, 4, 5)]),
])
def test_losses_per_example_average_to_the_batch_loss(loss, output, target):
    o = gn.input("o", output.shape)
    t = gn.input("t", output.shape)
    feed = {"o": output, "t": target.astype(float)}
    batch, each = gn.evaluate([loss.data_loss(o, t), loss.per_example(o, t)], feed)
    assert each.shape == (5,)
    assert float(batch) == pytest.approx(each.mean(), rel=1e-12)
    if isinstance(loss, nn.BinaryCrossEntropy) and loss.from_logits:
        # the stable form is right where sigmoid(z) rounds to 0 or 1: log(1 + e^z) - t z
        exact = np.mean(np.logaddexp(0.0, output) - target * output)
        assert float(batch) == pytest.approx(exact, rel=1e-12)


@pytest.mark.parametrize("optimizer, clip", [("sgd", 0.05), ("sgd", 100.0), ("momentum", 0.05)])
def test_clip_norm_scales_all_gradients_to_the_global_norm(optimizer, clip):
    # (not Adam: its first step m / sqrt(v) is the same for any scale of the gradient)
    model = nn.Sequential([nn.Dense(2)], input_shape=(3,), dtype="float64")
    rule = {"sgd": sgd, "momentum": momentum}[optimizer]
    step = nn.TrainStep(model, "mse", nn.Momentum(lr=0.1, clip_norm=clip)
                        if optimizer == "momentum" else nn.SGD(lr=0.1, clip_norm=clip))
    params = [model.values["dense1_w"].copy(), model.values["dense1_b"].copy()]
    state = [np.zeros_like(p) for p in params]
    for t in range(1, 4):
        grads = gradients(*params)
        norm = np.sqrt(sum(np.sum(g * g) for g in grads))
        assert (norm > clip) == (clip < 1.0)      # the small clip does clip, the large not
        params, state = rule(params, state, [g * min(1.0, clip / norm) for g in grads], t)
        step(X, T)
        np.testing.assert_allclose(model.values["dense1_w"], params[0], rtol=1e-10,
                                   atol=1e-14)
        np.testing.assert_allclose(model.values["dense1_b"], params[1], rtol=1e-10,
                                   atol=1e-14)
    assert len(step._compiled) == 1                # the clipping is inside the compiled step


def test_clip_norm_must_be_positive():
    with pytest.raises(nn.ModelError, match="clip_norm must be a positive number"):
        nn.SGD(clip_norm=0.0)
    with pytest.raises(nn.ModelError, match="clip_norm must be a positive number"):
        nn.Adam(clip_norm=-1.0)
    assert nn.Momentum(clip_norm=2).clip_norm == 2.0
