"""mlp: one SGD step of a 784-256-10 ReLU MLP with softmax cross-entropy, the update in the
compiled graph, float32. graphnn keeps the parameters in two preallocated sets of arrays and
alternates between them (out=), as a training loop does."""

from __future__ import annotations

import numpy as np

import graphnn as gn
from benchmarks import peers
from benchmarks.workload import Workload, options, training_steps

LR = 0.1


def initial(batch: int):
    rng = np.random.default_rng(0)
    data = {"x": rng.normal(size=(batch, 784)).astype(np.float32),
            "t": np.eye(10, dtype=np.float32)[rng.integers(0, 10, batch)]}
    params = [(rng.normal(size=(784, 256)) * 0.05).astype(np.float32),
              np.zeros(256, np.float32),
              (rng.normal(size=(256, 10)) * 0.05).astype(np.float32),
              np.zeros(10, np.float32)]
    return data, params


def numpy_step(x, t, w1, b1, w2, b2):
    n = x.shape[0]
    z1 = x @ w1 + b1
    h = np.maximum(z1, 0)
    z2 = h @ w2 + b2
    shifted = z2 - z2.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -np.sum(t * log_p) / n
    dz2 = (np.exp(log_p) - t) / n
    dh = dz2 @ w2.T
    dz1 = dh * (z1 > 0)
    return [loss, w1 - LR * (x.T @ dz1), b1 - LR * dz1.sum(0), w2 - LR * (h.T @ dz2),
            b2 - LR * dz2.sum(0)]


def graphnn_step(batch: int):
    x = gn.input("x", shape=(batch, 784), dtype="float32")
    t = gn.input("t", shape=(batch, 10), dtype="float32")
    params = [gn.input(n, shape=s, dtype="float32") for n, s in
              [("w1", (784, 256)), ("b1", (256,)), ("w2", (256, 10)), ("b2", (10,))]]
    w1, b1, w2, b2 = params
    loss = gn.softmax_cross_entropy(gn.relu(x @ w1 + b1) @ w2 + b2, t)
    grads = gn.grad(loss, params)
    updates = [p - LR * g for p, g in zip(params, grads)]
    return gn.compile([loss, *updates], [x, t, *params], **options())


def build(batch: int, quick: bool = False) -> Workload:
    data, params = initial(batch)
    work = Workload(f"mlp batch {batch}", lambda: numpy_step(data["x"], data["t"], *params),
                    rtol=1e-4, atol=1e-5, note="784-256-10 ReLU MLP, one SGD step, float32")
    training_steps(work, graphnn_step(batch), numpy_step, [data["x"], data["t"]], params)
    _torch(work, data, params)
    _jax(work, data, params)
    return work


def _torch(work: Workload, data, params) -> None:
    torch = peers.torch()
    if torch is None:
        return
    x, labels = torch.from_numpy(data["x"]), torch.from_numpy(data["t"].argmax(1))
    state = [torch.tensor(p, requires_grad=True) for p in params]

    def step():
        w1, b1, w2, b2 = state
        loss = torch.nn.functional.cross_entropy(torch.relu(x @ w1 + b1) @ w2 + b2, labels)
        loss = peers.torch_sgd(torch, loss, state, LR)
        return [loss] + [p.detach().clone() for p in state]
    work.add("torch eager", step, lambda r: [t.numpy() for t in r])


def _jax(work: Workload, data, params) -> None:
    jax = peers.jax()
    if jax is None:
        return
    jnp = jax.numpy

    def loss_fn(p, x, t):
        w1, b1, w2, b2 = p
        logits = jax.nn.relu(x @ w1 + b1) @ w2 + b2
        return -jnp.sum(t * jax.nn.log_softmax(logits)) / x.shape[0]

    peers.add_jax_sgd(work, jax, loss_fn, [data["x"], data["t"]], params, LR)
