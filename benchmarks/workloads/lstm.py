"""lstm: one training step of an LSTM (batch 32, 50 steps, 64 inputs, 128 units, float32) with
a 10-way softmax head on its last state: forward through the unrolled net, backpropagation
through time, and the SGD update of all six parameters, in one compiled call. Checked against
BPTT written out in NumPy (float64), then timed against PyTorch's `nn.LSTM` (eager, CPU) and
JAX (`lax.scan` under `jit`) when installed."""

from __future__ import annotations

import numpy as np

import graphnn as gn
from benchmarks import peers
from benchmarks.workload import Workload, options, training_steps
from graphnn import nn

LR = 0.1
SHAPES = {"w_ih": lambda f, u: (f, 4 * u), "w_hh": lambda f, u: (u, 4 * u),
          "b_ih": lambda f, u: (4 * u,), "b_hh": lambda f, u: (4 * u,),
          "w_out": lambda f, u: (u, 10), "b_out": lambda f, u: (10,)}


def initial(batch: int, steps: int, features: int, units: int):
    """(data, parameters in SHAPES order), PyTorch's U(-1/sqrt(units), 1/sqrt(units))."""
    rng = np.random.default_rng(0)
    data = {"x": rng.normal(size=(batch, steps, features)).astype(np.float32),
            "t": np.eye(10, dtype=np.float32)[rng.integers(0, 10, batch)]}
    bound = 1.0 / np.sqrt(units)
    params = [rng.uniform(-bound, bound, shape(features, units)).astype(np.float32)
              for shape in SHAPES.values()]
    return data, params


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def numpy_step(x, t, w_ih, w_hh, b_ih, b_hh, w_out, b_out):
    """Forward, BPTT and the SGD update, in float64: [loss, *updated parameters]."""
    x, t, w_ih, w_hh, b_ih, b_hh, w_out, b_out = (np.asarray(a, np.float64) for a in
                                                   (x, t, w_ih, w_hh, b_ih, b_hh, w_out, b_out))
    n, steps, _ = x.shape
    u = w_hh.shape[0]
    xp = x @ w_ih + b_ih
    h, c = np.zeros((n, u)), np.zeros((n, u))
    saved = []
    for s in range(steps):
        z = xp[:, s] + h @ w_hh + b_hh
        i, f, o = _sigmoid(z[:, :u]), _sigmoid(z[:, u:2 * u]), _sigmoid(z[:, 3 * u:])
        g = np.tanh(z[:, 2 * u:3 * u])
        saved.append((h, c, i, f, g, o))
        c = f * c + i * g
        h = o * np.tanh(c)
    logits = h @ w_out + b_out
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    loss = -np.sum(t * np.log(p)) / n
    dlogits = (p - t) / n
    grads = {"w_out": h.T @ dlogits, "b_out": dlogits.sum(0), "w_hh": np.zeros_like(w_hh)}
    dh, dc, dxp = dlogits @ w_out.T, np.zeros((n, u)), np.zeros_like(xp)
    for s in range(steps - 1, -1, -1):
        h_prev, c_prev, i, f, g, o = saved[s]
        c_now = f * c_prev + i * g
        tc = np.tanh(c_now)
        dc = dc + dh * o * (1.0 - tc ** 2)
        dz = np.concatenate([dc * g * i * (1 - i), dc * c_prev * f * (1 - f),
                             dc * i * (1 - g ** 2), dh * tc * o * (1 - o)], axis=1)
        dxp[:, s] = dz
        grads["w_hh"] += h_prev.T @ dz
        dh, dc = dz @ w_hh.T, dc * f
    grads["w_ih"] = np.einsum("nsf,nsg->fg", x, dxp)
    grads["b_ih"] = grads["b_hh"] = dxp.sum((0, 1))
    current = dict(zip(SHAPES, (w_ih, w_hh, b_ih, b_hh, w_out, b_out)))
    return [loss, *(current[k] - LR * grads[k] for k in SHAPES)]


def graphnn_step(batch: int, steps: int, features: int, units: int):
    x = gn.input("x", (batch, steps, features), "float32")
    t = gn.input("t", (batch, 10), "float32")
    params = [gn.input(k, shape(features, units), "float32") for k, shape in SHAPES.items()]
    w_ih, w_hh, b_ih, b_hh, w_out, b_out = params
    _, (h, _) = nn.lstm(x, w_ih, w_hh, b_ih, b_hh)
    loss = gn.softmax_cross_entropy(h @ w_out + b_out, t)
    updates = [p - LR * g for p, g in zip(params, gn.grad(loss, params))]
    return gn.compile([loss, *updates], [x, t, *params], **options())


def build(quick: bool = False, batch: int = 32, steps: int = 50, features: int = 64,
          units: int = 128) -> Workload:
    if quick:
        steps = 10
    data, params = initial(batch, steps, features, units)
    work = Workload(f"lstm {batch}x{steps}x{features}->{units}",
                    lambda: numpy_step(data["x"], data["t"], *params), rtol=1e-4, atol=1e-5,
                    note="LSTM training step: forward, BPTT, SGD update; float32")
    training_steps(work, graphnn_step(batch, steps, features, units), numpy_step,
                   [data["x"], data["t"]], params)
    _torch(work, data, params)
    _jax(work, data, params)
    return work


def _torch(work: Workload, data, params) -> None:
    torch = peers.torch()
    if torch is None:
        return
    w_ih, w_hh, b_ih, b_hh, w_out, b_out = params
    lstm = torch.nn.LSTM(w_ih.shape[0], w_hh.shape[0], batch_first=True)
    lstm.load_state_dict({"weight_ih_l0": torch.from_numpy(w_ih.T.copy()),
                          "weight_hh_l0": torch.from_numpy(w_hh.T.copy()),
                          "bias_ih_l0": torch.from_numpy(b_ih),
                          "bias_hh_l0": torch.from_numpy(b_hh)})
    head = [torch.tensor(w_out, requires_grad=True), torch.tensor(b_out, requires_grad=True)]
    weights = [*lstm.parameters(), *head]
    x, labels = torch.from_numpy(data["x"]), torch.from_numpy(data["t"].argmax(1))

    def step():
        _, (h, _) = lstm(x)
        loss = torch.nn.functional.cross_entropy(h[0] @ head[0] + head[1], labels)
        loss = peers.torch_sgd(torch, loss, weights, LR)
        ih, hh, bi, bh = (p.detach() for p in lstm.parameters())
        return [loss, ih.T.clone(), hh.T.clone(), bi.clone(), bh.clone(),
                *(p.detach().clone() for p in head)]
    work.add("torch eager", step, lambda r: [t.numpy() for t in r])


def _jax(work: Workload, data, params) -> None:
    jax = peers.jax()
    if jax is None:
        return
    jnp = jax.numpy

    def loss_fn(p, x, t):
        w_ih, w_hh, b_ih, b_hh, w_out, b_out = p
        u = w_hh.shape[0]

        def cell(state, xp):
            h, c = state
            z = xp + h @ w_hh + b_hh
            i, f, o = (jax.nn.sigmoid(z[:, k * u:(k + 1) * u]) for k in (0, 1, 3))
            c = f * c + i * jnp.tanh(z[:, 2 * u:3 * u])
            return (o * jnp.tanh(c), c), None
        zeros = jnp.zeros((x.shape[0], u), x.dtype)
        (h, _), _ = jax.lax.scan(cell, (zeros, zeros), jnp.swapaxes(x @ w_ih + b_ih, 0, 1))
        return -jnp.sum(t * jax.nn.log_softmax(h @ w_out + b_out)) / x.shape[0]

    peers.add_jax_sgd(work, jax, loss_fn, [data["x"], data["t"]], params, LR)
