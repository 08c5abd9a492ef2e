"""Each layer's forward pass and gradients against NumPy references (float64, gn.evaluate);
shape errors that name the layer; initializers."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.special

import graphnn as gn
from graphnn import nn
from graphnn.nn.layers import activations
from tests.nn import references as ref
from tests.nn.references import check_layer, single

RNG = np.random.default_rng(0)


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


ACTIVATIONS = {"linear": lambda z: z, "relu": lambda z: np.maximum(z, 0), "sigmoid": sigmoid,
               "tanh": np.tanh, "elu": lambda z: np.where(z > 0, z, np.expm1(z)),
               "leaky_relu": lambda z: np.where(z > 0, z, 0.01 * z),
               "softplus": lambda z: np.logaddexp(0.0, z), "softsign": lambda z: z / (1 + abs(z)),
               "gelu": lambda z: z * scipy.special.ndtr(z), "silu": lambda z: z * sigmoid(z)}


def test_every_activation_has_a_reference_here():
    # the activations come from the registry (OpDef.activation): a new one needs a row above
    assert set(ACTIVATIONS) | {"softmax"} == set(activations())


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_dense(activation):
    model = single(nn.Dense(4, activation), (3,))
    act = ACTIVATIONS[activation]
    check_layer(model, RNG.normal(size=(5, 3)),
                lambda x, dense1_w, dense1_b: act(x @ dense1_w + dense1_b))


def test_dense_without_bias_and_softmax_activation():
    model = single(nn.Dense(4, "softmax", bias=False), (3,))
    assert list(model.values) == ["dense1_w"]

    def softmax(x, dense1_w):
        z = x @ dense1_w
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    check_layer(model, RNG.normal(size=(5, 3)), softmax)


@pytest.mark.parametrize("stride, padding", [(1, 0), (1, 1), (2, 1)])
def test_conv2d(stride, padding):
    model = single(nn.Conv2D(3, 3, stride=stride, padding=padding, activation="relu"),
                   (2, 6, 6))
    model.values["conv1_b"][:] = RNG.normal(size=3)     # zeros would hide a broadcasting bug
    check_layer(model, RNG.normal(size=(2, 2, 6, 6)),
                lambda x, conv1_w, conv1_b: np.maximum(
                    ref.conv2d(x, conv1_w, conv1_b, stride, padding), 0))


@pytest.mark.parametrize("layer, reduce", [(nn.MaxPool2D, np.max), (nn.AvgPool2D, np.mean)])
@pytest.mark.parametrize("kernel, stride", [(2, None), (3, 1)])
def test_pooling(layer, reduce, kernel, stride):
    model = single(layer(kernel, stride), (2, 6, 6))
    check_layer(model, RNG.normal(size=(3, 2, 6, 6)),
                lambda x: ref.pool(x, kernel, stride or kernel, reduce))


def test_flatten_and_activation_layers():
    model = nn.Sequential([nn.Flatten(), nn.Tanh(), nn.LeakyReLU(0.2), nn.Sigmoid(),
                           nn.ReLU(), nn.Activation("elu"), nn.Softmax()],
                          input_shape=(2, 3), dtype="float64")

    def reference(x):
        z = np.maximum(sigmoid(np.where(np.tanh(x) > 0, np.tanh(x), 0.2 * np.tanh(x))), 0)
        z = np.where(z > 0, z, np.expm1(z)).reshape(len(x), -1)
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    check_layer(model, RNG.normal(size=(4, 2, 3)), reference)
    assert model.output_shape == (6,)


def test_maxout():
    model = single(nn.Maxout(3, pieces=4), (5,))
    check_layer(model, RNG.normal(size=(6, 5)), lambda x, maxout1_w, maxout1_b: (
        (x @ maxout1_w + maxout1_b).reshape(6, 3, 4).max(axis=2)))


def test_dropout_uses_the_fed_mask_in_training_and_nothing_in_evaluation():
    model = single(nn.Dropout(0.25), (4,))
    x = RNG.normal(size=(5, 4))
    mask = (RNG.random((5, 4)) >= 0.25) / 0.75
    check_layer(model, x, lambda x: x * mask, extra={"dropout1_mask": mask})
    forward = model.build(5, training=False)
    assert forward.output is forward.x and not forward.build.masks
    train = model.build(5, training=True)
    assert [(m.name, m.shape, rate) for m, rate in train.build.masks] == \
        [("dropout1_mask", (5, 4), 0.25)]


@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 2, 2)])
def test_batchnorm_training(shape):
    model = single(nn.BatchNorm(eps=1e-3), shape[1:])
    model.values["batchnorm1_gamma"][:] = RNG.normal(size=3)
    model.values["batchnorm1_beta"][:] = RNG.normal(size=3)
    x = RNG.normal(size=shape) * 2.0 + 1.0
    check_layer(model, x, lambda x, batchnorm1_gamma, batchnorm1_beta, **_: ref.batchnorm_train(
        x, batchnorm1_gamma, batchnorm1_beta, 1e-3), rtol=1e-5)


@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 2, 2)])
def test_batchnorm_running_statistics(shape):
    model = single(nn.BatchNorm(momentum=0.8), shape[1:])
    model.values["batchnorm1_mean"][:] = [0.5, -1.0, 2.0]
    model.values["batchnorm1_var"][:] = [1.0, 2.0, 0.5]
    x = RNG.normal(size=shape)
    forward = model.build(shape[0], training=True)
    updates = forward.build.updates
    got = gn.evaluate([updates["batchnorm1_mean"], updates["batchnorm1_var"]],
                      {"x": x, **model.values}, allow_extra=True)   # every value of the model
    axes = (0,) if len(shape) == 2 else (0, 2, 3)
    count = x.size // 3
    np.testing.assert_allclose(got[0], 0.8 * model.values["batchnorm1_mean"] +
                               0.2 * x.mean(axis=axes), rtol=1e-12)
    np.testing.assert_allclose(got[1], 0.8 * model.values["batchnorm1_var"] +
                               0.2 * x.var(axis=axes) * count / (count - 1), rtol=1e-12)


def test_batchnorm_evaluation_uses_running_statistics():
    model = single(nn.BatchNorm(eps=1e-5), (3,))
    model.values.update(batchnorm1_mean=np.array([0.5, -1.0, 2.0]),
                        batchnorm1_var=np.array([1.0, 2.0, 0.5]),
                        batchnorm1_gamma=np.array([1.0, 2.0, 3.0]),
                        batchnorm1_beta=np.array([0.0, 0.1, 0.2]))
    x = RNG.normal(size=(4, 3))
    forward = model.build(4, training=False)
    got = gn.evaluate(forward.output, {"x": x, **model.values})
    v = model.values
    np.testing.assert_allclose(got, ref.batchnorm_eval(
        x, v["batchnorm1_gamma"], v["batchnorm1_beta"], v["batchnorm1_mean"],
        v["batchnorm1_var"], 1e-5), rtol=1e-12)
    assert not model.parameters["batchnorm1_mean"].trainable
    assert not model.parameters["batchnorm1_gamma"].decay


def test_shape_errors_name_the_layer():
    with pytest.raises(nn.ModelError, match=r"'dense1' \(Dense\).*\(batch, features\).*Flatten"):
        nn.Sequential([nn.Dense(3)], input_shape=(2, 2))
    with pytest.raises(nn.ModelError, match=r"'conv1' \(Conv2D\).*\(batch, channels, height"):
        nn.Sequential([nn.Conv2D(3)], input_shape=(4,))
    with pytest.raises(nn.ModelError, match="unknown activation 'relux'"):
        nn.Dense(3, "relux")
    with pytest.raises(nn.ModelError, match="layer name 'dense1' is used twice"):
        nn.Sequential([nn.Dense(3), nn.Dense(3, name="dense1")], input_shape=(2,))
    with pytest.raises(nn.ModelError, match="rate must be in"):
        nn.Dropout(1.0)


def test_parameters_are_named_scoped_and_reproducible():
    def make(seed):
        return nn.Sequential([nn.Conv2D(2, 3), nn.Flatten(), nn.Dense(3)],
                             input_shape=(1, 4, 4), seed=seed)
    a, b, c = make(0), make(0), make(1)
    assert list(a.values) == ["conv1_w", "conv1_b", "dense1_w", "dense1_b"]
    assert a.parameters["conv1_w"].node.scope == ("conv1",)
    assert all(np.array_equal(a.values[k], b.values[k]) for k in a.values)
    assert not np.array_equal(a.values["dense1_w"], c.values["dense1_w"])
    assert all(v.dtype == np.float32 for v in a.values.values())
    assert "conv1" in a.summary() and "total" in a.summary()


@pytest.mark.parametrize("name, std", [
    ("normal", lambda fan_in, fan_out: 0.01),
    ("xavier", lambda fan_in, fan_out: np.sqrt(2 / (fan_in + fan_out))),
    ("xavier_uniform", lambda fan_in, fan_out: np.sqrt(2 / (fan_in + fan_out))),
    ("he", lambda fan_in, fan_out: np.sqrt(2 / fan_in)),
])
def test_initializers_have_their_variance(name, std):
    values = nn.init.initializer(name)(np.random.default_rng(0), (400, 300), 400, 300,
                                       "float64")
    assert abs(values.mean()) < 0.05 * std(400, 300)
    assert values.std() == pytest.approx(std(400, 300), rel=0.02)


def test_initializer_defaults_and_errors():
    model = nn.Sequential([nn.Dense(300, "relu"), nn.Dense(200, "tanh")], input_shape=(400,))
    assert model.values["dense1_w"].std() == pytest.approx(np.sqrt(2 / 400), rel=0.03)  # He
    assert model.values["dense2_w"].std() == pytest.approx(np.sqrt(2 / 500), rel=0.03)  # Xavier
    assert not model.values["dense1_b"].any()
    with pytest.raises(nn.ModelError, match="unknown initializer 'hee'"):
        nn.Sequential([nn.Dense(3, init="hee")], input_shape=(2,))
    with pytest.raises(nn.ModelError, match="returned a float64 array of shape \\(2,\\)"):
        nn.Sequential([nn.Dense(3, init=lambda rng, s, i, o, d: np.zeros(2))], input_shape=(2,))


def test_a_misspelt_activation_names_the_layer_and_suggests_the_activation():
    # the reproducer: nn.Dense(16, "rleu") said "layer None (Dense)", with no suggestion
    with pytest.raises(nn.ModelError) as error:
        nn.Dense(16, "rleu")
    message = str(error.value)
    assert message.startswith("Dense layer: unknown activation 'rleu'; did you mean 'relu'?")
    assert "None" not in message and "test_layers.py" in message and 'nn.Dense(16, "rleu")' \
        in message
    with pytest.raises(nn.ModelError, match=r"unknown initializer 'hee'; did you mean 'he'\?"):
        nn.Sequential([nn.Dense(3, init="hee")], input_shape=(2,))
    with pytest.raises(nn.ModelError, match=r"got 'flaot32'; did you mean 'float32'\?"):
        nn.Sequential([nn.Dense(3)], input_shape=(2,), dtype="flaot32")
    with pytest.raises(nn.ModelError, match=r"unknown loss 'mes'; did you mean 'mse'\?"):
        nn.fit(nn.Sequential([nn.Dense(1)], input_shape=(2,)), np.zeros((2, 2), np.float32),
               np.zeros(2), loss="mes", optimizer="sgd", progress=False)
