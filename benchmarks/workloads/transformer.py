"""transformer: one training step of a pre-norm Transformer encoder layer (batch 32, length 64,
dim 128, 4 heads, feed-forward 512, ReLU, float32) under a mean-squared-error loss: forward,
gradients of its twelve parameters and their SGD update in one compiled call. Checked against
the layer's backward pass written out in NumPy (float64), then timed against PyTorch's
`nn.TransformerEncoderLayer(norm_first=True)` (eager, CPU) and JAX (`jit`) when installed."""

from __future__ import annotations

import numpy as np

import graphnn as gn
from benchmarks import peers
from benchmarks.workload import Workload, options, training_steps
from graphnn import nn

LR = 0.1
EPS = 1e-5
LAYER = "encoder1"


def model_of(length: int, dim: int, heads: int, ff: int) -> nn.Sequential:
    return nn.Sequential([nn.TransformerEncoderLayer(dim, heads, ff)], input_shape=(length, dim),
                         seed=0)


def initial(batch: int, model: nn.Sequential):
    rng = np.random.default_rng(0)
    shape = (batch, *model.input_shape)
    data = {"x": rng.normal(size=shape).astype(np.float32),
            "t": rng.normal(size=shape).astype(np.float32)}
    return data, {name: value.copy() for name, value in model.values.items()}


def _norm(x, gamma, beta):
    mean = x.mean(-1, keepdims=True)
    scale = 1.0 / np.sqrt(x.var(-1, keepdims=True) + EPS)
    xhat = (x - mean) * scale
    return xhat * gamma + beta, (xhat, scale)


def _norm_back(dy, gamma, saved):
    """(dx, dgamma, dbeta) of y = xhat * gamma + beta, xhat the normalized x."""
    xhat, scale = saved
    dxhat = dy * gamma
    dx = scale * (dxhat - dxhat.mean(-1, keepdims=True)
                  - xhat * (dxhat * xhat).mean(-1, keepdims=True))
    return dx, (dy * xhat).sum((0, 1)), dy.sum((0, 1))


def _split(z, heads):
    n, length, dim = z.shape
    return z.reshape(n, length, heads, dim // heads).transpose(0, 2, 1, 3)


def _merge(z):
    n, heads, length, d = z.shape
    return z.transpose(0, 2, 1, 3).reshape(n, length, heads * d)


def _attention_back(da, a_in, q, k, v, weights, p, heads):
    """Gradients of concat_heads(softmax(q k^T / sqrt(d)) v) W_out + b_out: (d a_in, grads)."""
    dim = p["w_out"].shape[0]
    context = _merge(weights @ v)
    grads = {"w_out": np.einsum("ntd,nte->de", context, da), "b_out": da.sum((0, 1))}
    dcontext = _split(da @ p["w_out"].T, heads)
    dweights, dv = dcontext @ v.transpose(0, 1, 3, 2), weights.transpose(0, 1, 3, 2) @ dcontext
    dscores = weights * (dweights - (dweights * weights).sum(-1, keepdims=True))
    dscores /= np.sqrt(dim // heads)
    dqkv = np.concatenate([_merge(dscores @ k), _merge(dscores.transpose(0, 1, 3, 2) @ q),
                           _merge(dv)], axis=-1)
    grads["w_qkv"], grads["b_qkv"] = np.einsum("ntd,nte->de", a_in, dqkv), dqkv.sum((0, 1))
    return dqkv @ p["w_qkv"].T, grads


def numpy_step(x, t, values: dict, heads: int) -> list[np.ndarray]:
    """Forward, backward and SGD update of the layer, float64: [loss, *updated parameters]."""
    p = {k[len(LAYER) + 1:]: np.asarray(v, np.float64) for k, v in values.items()}
    x, t = np.asarray(x, np.float64), np.asarray(t, np.float64)
    dim = p["attention_w_out"].shape[0]
    a_in, saved1 = _norm(x, p["norm1_gamma"], p["norm1_beta"])
    qkv = a_in @ p["attention_w_qkv"] + p["attention_b_qkv"]
    q, k, v = (_split(qkv[..., j * dim:(j + 1) * dim], heads) for j in range(3))
    scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(dim // heads)
    weights = np.exp(scores - scores.max(-1, keepdims=True))
    weights /= weights.sum(-1, keepdims=True)
    h = x + _merge(weights @ v) @ p["attention_w_out"] + p["attention_b_out"]
    m, saved2 = _norm(h, p["norm2_gamma"], p["norm2_beta"])
    z = m @ p["linear1_w"] + p["linear1_b"]
    r = np.maximum(z, 0.0)
    y = h + r @ p["linear2_w"] + p["linear2_b"]
    loss = np.mean((y - t) ** 2)
    dy = 2.0 * (y - t) / y.size
    g = {"linear2_w": np.einsum("ntf,ntd->fd", r, dy), "linear2_b": dy.sum((0, 1))}
    dz = (dy @ p["linear2_w"].T) * (z > 0)
    g["linear1_w"], g["linear1_b"] = np.einsum("ntd,ntf->df", m, dz), dz.sum((0, 1))
    dh, g["norm2_gamma"], g["norm2_beta"] = _norm_back(dz @ p["linear1_w"].T,
                                                       p["norm2_gamma"], saved2)
    dh += dy
    attention = {key: p[f"attention_{key}"] for key in ("w_qkv", "w_out")}
    da_in, found = _attention_back(dh, a_in, q, k, v, weights, attention, heads)
    g.update({f"attention_{key}": value for key, value in found.items()})
    _, g["norm1_gamma"], g["norm1_beta"] = _norm_back(da_in, p["norm1_gamma"], saved1)
    return [loss, *(p[k] - LR * g[k] for k in p)]


def graphnn_step(model: nn.Sequential, batch: int):
    forward = model.build(batch, training=True)
    t = gn.input("t", forward.output.shape, "float32")
    params = [p.node for p in model.parameters.values()]
    loss = gn.mse(forward.output, t)
    updates = [p - LR * g for p, g in zip(params, gn.grad(loss, params))]
    return gn.compile([loss, *updates], [forward.x, t, *params], **options())


def build(quick: bool = False, batch: int = 32, length: int = 64, dim: int = 128,
          heads: int = 4) -> Workload:
    if quick:
        batch, length = 4, 16
    model = model_of(length, dim, heads, 4 * dim)
    data, values = initial(batch, model)
    work = Workload(f"transformer {batch}x{length}x{dim}, {heads} heads",
                    lambda: numpy_step(data["x"], data["t"], values, heads), rtol=1e-4,
                    atol=1e-5, note="pre-norm encoder layer training step; float32")
    training_steps(work, graphnn_step(model, batch),
                   lambda x, t, *params: numpy_step(x, t, dict(zip(values, params)), heads),
                   [data["x"], data["t"]], list(values.values()))
    _torch(work, data, model, heads)
    return work


def _torch(work: Workload, data, model: nn.Sequential, heads: int) -> None:
    torch = peers.torch()
    if torch is None:
        return
    dim, ff = model.layers[0].dim, model.layers[0].ff_dim
    layer = torch.nn.TransformerEncoderLayer(dim, heads, ff, dropout=0.0, batch_first=True,
                                             norm_first=True)
    layer.load_state_dict({k: torch.from_numpy(v) for k, v in
                           nn.torch_state(model, LAYER).items()})
    shadow = model_of(*model.input_shape, heads, ff)
    x, t = torch.from_numpy(data["x"]), torch.from_numpy(data["t"])

    def step():
        loss = peers.torch_sgd(torch, torch.nn.functional.mse_loss(layer(x), t),
                               list(layer.parameters()), LR)
        return loss, {k: v.detach().numpy().copy() for k, v in
                               layer.state_dict().items()}

    def results(found):
        loss, state = found
        nn.load_torch_state(shadow, LAYER, state)
        return [loss.numpy(), *shadow.values.values()]
    work.add("torch eager", step, results)
