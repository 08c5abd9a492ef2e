"""neuron: sigmoid(w0 x0 + w1 x1 + w2), its value and its 5 gradients, per call (float64)."""

from __future__ import annotations

import math

import numpy as np

import graphnn as gn
from benchmarks import peers
from benchmarks.workload import Workload, options

VALUES = (2.0, -1.0, -3.0, -2.0, -3.0)


def _python(w0, x0, w1, x1, w2):
    """Plain Python floats: the hand-written reference, and the fastest way to do it in Python."""
    f = 1.0 / (1.0 + math.exp(-(w0 * x0 + w1 * x1 + w2)))
    d = f * (1.0 - f)
    return [f, d * x0, d * w0, d * x1, d * w1, d]


def _numpy(w0, x0, w1, x1, w2):
    """The same formulas on NumPy float64 scalars (what a NumPy user writes)."""
    f = 1.0 / (1.0 + np.exp(-(w0 * x0 + w1 * x1 + w2)))
    d = f * (1.0 - f)
    return [f, d * x0, d * w0, d * x1, d * w1, d]


def build(quick: bool = False) -> Workload:
    work = Workload("neuron", lambda: [np.float64(v) for v in _python(*VALUES)], rtol=1e-12, atol=0,
                    note="value and 5 gradients of the lecture neuron, float64, per call")
    names = ["w0", "x0", "w1", "x1", "w2"]
    inputs = [gn.input(n) for n in names]
    w0, x0, w1, x1, w2 = inputs
    f = gn.sigmoid(w0 * x0 + w1 * x1 + w2)
    compiled = gn.compile([f, *gn.grad(f, inputs)], inputs, **options())
    work.add("graphnn", lambda: compiled(*VALUES))
    scalars = [np.float64(v) for v in VALUES]
    work.add("numpy", lambda: _numpy(*scalars))
    work.add("python floats", lambda: _python(*VALUES))
    torch = peers.torch()
    if torch is not None:
        def torch_eager():
            w = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in VALUES]
            out = torch.sigmoid(w[0] * w[1] + w[2] * w[3] + w[4])
            out.backward()
            return [out.detach()] + [t.grad for t in w]
        work.add("torch eager", torch_eager, lambda r: [t.numpy() for t in r])
    jax = peers.jax()
    if jax is not None:
        def neuron(w0, x0, w1, x1, w2):
            return jax.nn.sigmoid(w0 * x0 + w1 * x1 + w2)
        jitted = jax.jit(jax.value_and_grad(neuron, argnums=(0, 1, 2, 3, 4)))
        work.add("jax jit", lambda: jax.block_until_ready(jitted(*VALUES)),
                 lambda r: [np.asarray(r[0])] + [np.asarray(g) for g in r[1]])
    return work
