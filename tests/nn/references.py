"""NumPy references for the layers, written independently of graphnn (loops and plain numpy),
and a gradient check of a layer's graph against central differences of its reference."""

from __future__ import annotations

import numpy as np

import graphnn as gn
from graphnn import nn
from tests.support import central_difference


def conv2d(x, w, b, stride=1, padding=0):
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    oh, ow = (h + 2 * padding - kh) // stride + 1, (wd + 2 * padding - kw) // stride + 1
    out = np.zeros((n, o, oh, ow))
    for i in range(oh):
        for j in range(ow):
            window = xp[:, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
            out[:, :, i, j] = np.einsum("ncpq,ocpq->no", window, w)
    return out + b[None, :, None, None]


def pool(x, kernel, stride, reduce):
    n, c, h, w = x.shape
    oh, ow = (h - kernel) // stride + 1, (w - kernel) // stride + 1
    out = np.zeros((n, c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            window = x[:, :, i * stride:i * stride + kernel, j * stride:j * stride + kernel]
            out[:, :, i, j] = reduce(window, axis=(2, 3))
    return out


def batchnorm_train(x, gamma, beta, eps):
    axes = (0,) if x.ndim == 2 else (0, 2, 3)
    shape = (1, -1) if x.ndim == 2 else (1, -1, 1, 1)
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
    return gamma.reshape(shape) * (x - mean) / np.sqrt(var + eps) + beta.reshape(shape)


def batchnorm_eval(x, gamma, beta, mean, var, eps):
    shape = (1, -1) if x.ndim == 2 else (1, -1, 1, 1)
    return gamma.reshape(shape) * (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps) \
        + beta.reshape(shape)


def single(layer: nn.Layer, input_shape: tuple[int, ...]) -> nn.Sequential:
    """A float64 model of one layer (parameters from the default seed)."""
    return nn.Sequential([layer], input_shape=input_shape, dtype="float64", seed=3)


def check_layer(model: nn.Sequential, x: np.ndarray, reference, extra: dict | None = None,
                training: bool = True, rtol: float = 1e-6) -> None:
    """The layer's output equals reference(x, **parameters) and its gradients (of
    sum(output * g), in x and every trainable parameter) equal central differences of the
    reference. `extra` feeds more inputs (dropout masks)."""
    forward = model.build(x.shape[0], training)
    names = list(model.values)
    feed = {"x": x, **model.values, **(extra or {})}
    g = np.random.default_rng(7).normal(size=forward.output.shape)
    wrt = [forward.x] + [model.parameters[n].node for n in names
                         if model.parameters[n].trainable]
    values = gn.evaluate([forward.output, *gn.grad(gn.sum(forward.output * g), wrt)], feed,
                         allow_extra=True)      # the feed holds every value of the model
    np.testing.assert_allclose(values[0], reference(x, **model.values), rtol=1e-12, atol=1e-12)
    arrays = [x] + [model.values[n] for n in names if model.parameters[n].trainable]
    trainable = [n for n in names if model.parameters[n].trainable]
    fixed = {n: model.values[n] for n in names if not model.parameters[n].trainable}

    def objective(args):
        return float(np.sum(reference(args[0], **dict(zip(trainable, args[1:])), **fixed) * g))
    for k, got in enumerate(values[1:]):
        what = "x" if k == 0 else trainable[k - 1]
        np.testing.assert_allclose(got, central_difference(objective, arrays, k), rtol=rtol,
                                   atol=1e-7, err_msg=f"gradient in {what}")
