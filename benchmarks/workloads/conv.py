"""conv: conv 3x3 (padding 1) + ReLU + 2x2 max pooling, forward and gradients with respect to
the input and the weights (of sum(pooled * g) for a fixed g), float32."""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

import graphnn as gn
from benchmarks import peers
from benchmarks.workload import Workload, options


def _conv3x3(x, w):
    """The padded image, its 3x3 windows (n c h w 3 3) and the convolution (n o h w)."""
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    windows = sliding_window_view(xp, (3, 3), axis=(2, 3))
    return xp, windows, np.tensordot(windows, w, axes=([1, 4, 5], [1, 2, 3])).transpose(0, 3, 1, 2)


def numpy_conv(x, w, g):
    """Forward and input/weight gradients with im2col (sliding windows) and tensordot."""
    n, c, h, wd = x.shape
    xp, windows, z = _conv3x3(x, w)
    r = np.maximum(z, 0)
    blocks = r.reshape(n, -1, h // 2, 2, wd // 2, 2)
    pooled = blocks.max(axis=(3, 5))
    mask = blocks == pooled[:, :, :, None, :, None]                  # no ties in random data
    dr = (mask * g[:, :, :, None, :, None]).reshape(r.shape)
    dz = dr * (z > 0)
    dw = np.tensordot(dz, windows, axes=([0, 2, 3], [0, 2, 3]))      # o c 3 3
    dxp = np.zeros_like(xp)
    for p in range(3):
        for q in range(3):
            dxp[:, :, p:p + h, q:q + wd] += np.tensordot(dz, w[:, :, p, q], axes=([1], [0])
                                                         ).transpose(0, 3, 1, 2)
    return [pooled, dxp[:, :, 1:-1, 1:-1], dw]


def _near_ties(x, w, margin: float = 1e-3):
    """Pooling windows whose float32 result may depend on summation order: the winner within
    `margin` (relative) of the runner-up, or of zero (the ReLU's kink). Float32 convolutions
    sum in a CPU-dependent order (the BLAS kernel differs between machines), so any of them may
    pick either element there; a zero upstream gradient at those windows makes every correct
    implementation agree with the float64 reference."""
    n, _, h, wd = x.shape
    z = _conv3x3(x.astype(np.float64), w.astype(np.float64))[2]
    blocks = z.reshape(n, -1, h // 2, 2, wd // 2, 2).transpose(0, 1, 2, 4, 3, 5)
    ranked = np.sort(blocks.reshape(*blocks.shape[:4], 4), axis=-1)
    scale = margin * max(1.0, float(np.abs(z).max()))
    # all four negative: ReLU makes them equal but no gradient flows; those stay as they are
    tie = (ranked[..., 3] - ranked[..., 2] < scale) & (ranked[..., 3] > 0)
    return tie | (np.abs(ranked[..., 3]) < scale)


def build(batch: int, channels_in: int, channels_out: int, size: int,
          quick: bool = False) -> Workload:
    rng = np.random.default_rng(0)
    x_value = rng.normal(size=(batch, channels_in, size, size)).astype(np.float32)
    w_value = (rng.normal(size=(channels_out, channels_in, 3, 3)) * 0.3).astype(np.float32)
    g_value = rng.normal(size=(batch, channels_out, size // 2, size // 2)).astype(np.float32)
    g_value[_near_ties(x_value, w_value)] = 0.0
    label = f"conv {batch}x{channels_in}->{channels_out} {size}x{size}"
    work = Workload(label, lambda: numpy_conv(*(a.astype(np.float64) for a in
                                                (x_value, w_value, g_value))),
                    rtol=2e-4, atol=2e-4, note="conv3x3 pad 1 + relu + maxpool 2, fwd + grads")
    x = gn.input("x", shape=x_value.shape, dtype="float32")
    w = gn.input("w", shape=w_value.shape, dtype="float32")
    g = gn.input("g", shape=g_value.shape, dtype="float32")
    pooled = gn.max_pool2d(gn.relu(gn.conv2d(x, w, padding=1)))
    compiled = gn.compile([pooled, *gn.grad(gn.sum(pooled * g), [x, w])], [x, w, g], **options())
    work.add("graphnn", lambda: compiled(x_value, w_value, g_value))
    work.add("numpy", lambda: numpy_conv(x_value, w_value, g_value))
    _torch(work, x_value, w_value, g_value)
    _jax(work, x_value, w_value, g_value)
    return work


def _torch(work, x_value, w_value, g_value) -> None:
    torch = peers.torch()
    if torch is None:
        return
    functional = torch.nn.functional
    g = torch.from_numpy(g_value)

    def run():
        x = torch.from_numpy(x_value).requires_grad_(True)
        w = torch.from_numpy(w_value).requires_grad_(True)
        pooled = functional.max_pool2d(torch.relu(functional.conv2d(x, w, padding=1)), 2)
        pooled.backward(g)
        return [pooled.detach(), x.grad, w.grad]
    work.add("torch eager", run, lambda r: [t.numpy() for t in r])


def _jax(work, x_value, w_value, g_value) -> None:
    jax = peers.jax()
    if jax is None:
        return
    jnp, lax = jax.numpy, jax.lax

    def forward(x, w):
        z = lax.conv_general_dilated(x, w, (1, 1), ((1, 1), (1, 1)))
        return lax.reduce_window(jax.nn.relu(z), -jnp.inf, lax.max, (1, 1, 2, 2),
                                 (1, 1, 2, 2), "VALID")

    @jax.jit
    def run(x, w, g):
        pooled, pullback = jax.vjp(forward, x, w)
        return [pooled, *pullback(g)]
    args = [jnp.asarray(a) for a in (x_value, w_value, g_value)]
    work.add("jax jit", lambda: jax.block_until_ready(run(*args)),
             lambda r: [np.asarray(v) for v in r])
