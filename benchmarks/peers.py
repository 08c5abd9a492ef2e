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
