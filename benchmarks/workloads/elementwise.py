"""elementwise: y = sigmoid(1.5 x - 0.25) * maximum(x, 0) + x * x, and d sum(y) / dx, float32."""

from __future__ import annotations

import numpy as np

import graphnn as gn
from benchmarks import peers
from benchmarks.workload import Workload, options


def _numpy_grad(x):
    # dy/dx = s'(z) 1.5 max(x, 0) + s(z) [x > 0] + 2x, with s' = s (1 - s); the max gate's
    # tie at x = 0 contributes s/2, which the random data never hits
    s = 1.0 / (1.0 + np.exp(-(1.5 * x - 0.25)))
    return s * (1.0 - s) * 1.5 * np.maximum(x, 0) + s * (x > 0) + 2.0 * x


def build(size: int, with_out: bool, quick: bool = False) -> Workload:
    x_value = np.random.default_rng(0).normal(size=size).astype(np.float32)
    label = f"elementwise {size // 1_000_000}M" + (" out=" if with_out else "")
    work = Workload(label, lambda: [_numpy_grad(x_value.astype(np.float64))], rtol=2e-5,
                    atol=2e-5, note=f"gradient of sum(y) for {size:,} float32 elements",
                    bytes_moved=2 * x_value.nbytes)      # read x, write the gradient
    x = gn.input("x", shape=(size,), dtype="float32")
    y = gn.sigmoid(1.5 * x - 0.25) * gn.maximum(x, 0.0) + x * x
    compiled = gn.compile(gn.grad(gn.sum(y), x), **options())
    if with_out:
        out = np.empty(size, np.float32)
        work.add("graphnn", lambda: compiled(x_value, out=out), lambda r: [r])
    else:
        work.add("graphnn", lambda: compiled(x_value), lambda r: [r])
    work.add("numpy", lambda: _numpy_grad(x_value), lambda r: [r])
    _torch(work, x_value)
    _jax(work, x_value)
    return work


def _torch(work: Workload, x_value: np.ndarray) -> None:
    torch = peers.torch()
    if torch is None:
        return
    data = torch.from_numpy(x_value)

    def grad(x):
        x = x.detach().requires_grad_(True)
        y = torch.sigmoid(1.5 * x - 0.25) * torch.clamp(x, min=0) + x * x
        (g,) = torch.autograd.grad(y.sum(), x)
        return g
    work.add("torch eager", lambda: grad(data), lambda r: [r.numpy()])
    compiled = torch.compile(grad)
    work.add("torch.compile", lambda: compiled(data), lambda r: [r.numpy()])


def _jax(work: Workload, x_value: np.ndarray) -> None:
    jax = peers.jax()
    if jax is None:
        return
    jnp = jax.numpy

    def total(x):
        return jnp.sum(jax.nn.sigmoid(1.5 * x - 0.25) * jnp.maximum(x, 0) + x * x)
    grad = jax.jit(jax.grad(total))
    data = jnp.asarray(x_value)
    work.add("jax jit", lambda: grad(data).block_until_ready(), lambda r: [np.asarray(r)])
