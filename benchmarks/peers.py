"""The optional peers: PyTorch (eager and torch.compile) and JAX, when installed."""

from __future__ import annotations

import importlib
import os
from types import ModuleType

os.environ.setdefault("JAX_PLATFORMS", "cpu")


def optional(name: str) -> ModuleType | None:
    """The module, or None when it is not installed (the benchmark then skips that peer) or
    left out by BENCH_PEERS (a comma-separated list of peers to use, e.g. "jax" or "none")."""
    chosen = os.environ.get("BENCH_PEERS")
    if chosen is not None and name not in chosen.split(","):
        return None
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def torch() -> ModuleType | None:
    module = optional("torch")
    if module is not None:
        module.set_num_threads(os.cpu_count() or 1)
    return module


def jax() -> ModuleType | None:
    module = optional("jax")
    if module is not None:
        module.config.update("jax_enable_x64", True)
    return module


def add_jax_sgd(work, jax: ModuleType, loss_fn, data: list, params: list, lr: float) -> None:
    """Register "jax jit" on `work`: one SGD step of `loss_fn(params, *data)` under `jax.jit`,
    returning [loss, *updated parameters] and carrying the parameters from call to call."""
    import numpy as np

    @jax.jit
    def step(p, *inputs):
        loss, grads = jax.value_and_grad(loss_fn)(p, *inputs)
        return loss, [w - lr * g for w, g in zip(p, grads)]
    inputs = [jax.numpy.asarray(a) for a in data]
    state = [[jax.numpy.asarray(p) for p in params]]

    def run():
        loss, state[0] = step(state[0], *inputs)
        return jax.block_until_ready([loss, *state[0]])
    work.add("jax jit", run, lambda r: [np.asarray(v) for v in r])


def torch_sgd(torch: ModuleType, loss, params, lr: float):
    """Backpropagate PyTorch's `loss` and apply one SGD step to `params` in place (clearing
    their gradients); returns the detached loss."""
    loss.backward()
    with torch.no_grad():
        for p in params:
            p -= lr * p.grad
            p.grad = None
    return loss.detach()
