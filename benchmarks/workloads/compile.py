"""compile: time from a built graph to its first result, in a fresh process (imports excluded),
with an empty disk cache and from the disk cache; JAX's jit for comparison.

Each measurement runs `python -m benchmarks.workloads.compile <tool> <model>` in a subprocess,
which prints the seconds from "graph built" to "first result returned".
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

from benchmarks import peers


def _graphnn(model: str) -> float:
    import numpy as np

    import graphnn as gn
    from benchmarks.workloads.mlp import graphnn_step, initial
    if model == "neuron":
        inputs = [gn.input(n) for n in ["w0", "x0", "w1", "x1", "w2"]]
        w0, x0, w1, x1, w2 = inputs
        f = gn.sigmoid(w0 * x0 + w1 * x1 + w2)
        outputs = [f, *gn.grad(f, inputs)]
        start = time.perf_counter()
        gn.compile(outputs, inputs)(2.0, -1.0, -3.0, -2.0, -3.0)
        return time.perf_counter() - start
    data, params = initial(64)
    start = time.perf_counter()
    step = graphnn_step(64)
    np.asarray(step(data["x"], data["t"], *params)[0])
    return time.perf_counter() - start


def _jax(model: str) -> float:
    jax = peers.jax()
    from benchmarks.workloads import mlp
    if model == "neuron":
        fn = jax.jit(jax.value_and_grad(lambda w0, x0, w1, x1, w2: jax.nn.sigmoid(
            w0 * x0 + w1 * x1 + w2), argnums=(0, 1, 2, 3, 4)))
        start = time.perf_counter()
        jax.block_until_ready(fn(2.0, -1.0, -3.0, -2.0, -3.0))
        return time.perf_counter() - start
    data, params = mlp.initial(64)
    jnp = jax.numpy

    def loss_fn(p, x, t):
        w1, b1, w2, b2 = p
        logits = jax.nn.relu(x @ w1 + b1) @ w2 + b2
        return -jnp.sum(t * jax.nn.log_softmax(logits)) / x.shape[0]
    step = jax.jit(lambda p, x, t: jax.value_and_grad(loss_fn)(p, x, t))
    start = time.perf_counter()
    jax.block_until_ready(step(params, data["x"], data["t"]))
    return time.perf_counter() - start


def measure(tool: str, model: str, cache: str) -> float:
    """Seconds to the first result in a fresh process (cache: a directory or "off")."""
    env = {**os.environ, "GRAPHNN_CACHE_DIR": cache}
    result = subprocess.run([sys.executable, "-m", "benchmarks.workloads.compile", tool, model],
                            capture_output=True, text=True, env=env, timeout=600,
                            cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    if result.returncode != 0:
        raise RuntimeError(f"compile benchmark {tool} {model} failed:\n{result.stderr}")
    return float(result.stdout.strip().splitlines()[-1])


def run(repeats: int = 3) -> list[tuple[str, str, float]]:
    """Rows (workload, implementation, median seconds) for the compile table."""
    rows = []
    for model in ("neuron", "mlp"):
        cold, warm = [], []
        for _ in range(repeats):
            with tempfile.TemporaryDirectory() as cache:
                cold.append(measure("graphnn", model, cache))
                warm.append(measure("graphnn", model, cache))
        rows.append((f"compile {model}, cold", "graphnn", sorted(cold)[len(cold) // 2]))
        rows.append((f"compile {model}, cached", "graphnn", sorted(warm)[len(warm) // 2]))
        if peers.optional("jax") is not None:
            times = sorted(measure("jax", model, "off") for _ in range(repeats))
            rows.append((f"compile {model}, cold", "jax jit", times[len(times) // 2]))
    return rows


if __name__ == "__main__":
    tool, model = sys.argv[1:3]
    print(_graphnn(model) if tool == "graphnn" else _jax(model))
