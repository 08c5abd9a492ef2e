"""Softmax regression on the 8x8 digits, trained by SciPy's L-BFGS on full-batch gradients that
graphnn computes block by block over a dask array: `gn.distributed.grad_sum`.

graphnn compiles one function of a block of rows: the block's summed cross-entropy and its
gradients in the weights. grad_sum runs it on every block (on dask's threads here, on a cluster's
workers when a `distributed.Client` is active: pass --cluster) and adds the results, so the
optimizer sees the loss and gradient of the whole training set without it ever being one
array. The L2 term does not depend on the data: it is added here, once.

Run: python examples/training/13_lbfgs_dask.py [--cluster]
"""

from __future__ import annotations

import sys
import time

import dask.array as da
import numpy as np
import scipy.optimize

import graphnn as gn
from graphnn import nn

BLOCK = 256              # rows per block (the last block is smaller: its own specialization)
DECAY = 1e-3             # L2 weight on W
FEATURES, CLASSES = 64, 10


def block_function() -> gn.Function:
    """(summed cross-entropy, d/dW, d/db) of one block of BLOCK rows."""
    x = gn.input("x", shape=(BLOCK, FEATURES))
    t = gn.input("t", shape=(BLOCK, CLASSES))          # one-hot targets
    w = gn.input("w", shape=(FEATURES, CLASSES))
    b = gn.input("b", shape=(CLASSES,))
    loss = -gn.sum(t * gn.log_softmax(x @ w + b))
    return gn.compile([loss, *gn.grad(loss, [w, b])], inputs=[x, t, w, b])


def objective(f: gn.Function, x: da.Array, t: da.Array):
    """theta -> (loss, gradient) of the mean cross-entropy plus decay, for SciPy."""
    rows = x.shape[0]

    def value_and_gradient(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w = theta[:FEATURES * CLASSES].reshape(FEATURES, CLASSES)
        b = theta[FEATURES * CLASSES:]
        loss, dw, db = gn.distributed.grad_sum(f, x, t, [w, b])
        loss = loss / rows + 0.5 * DECAY * float(np.sum(w * w))
        return float(loss), np.concatenate([(dw / rows + DECAY * w).ravel(), db / rows])
    return value_and_gradient


def main(iterations: int = 200) -> dict:
    images, labels = nn.datasets.load_digits(dtype="float64")
    x_train, y_train, x_test, y_test = nn.datasets.train_test_split(images, labels, 0.2, seed=0)
    x = da.from_array(x_train, chunks=(BLOCK, FEATURES))
    t = da.from_array(np.eye(CLASSES)[y_train], chunks=(BLOCK, CLASSES))
    started = time.perf_counter()
    found = scipy.optimize.minimize(objective(block_function(), x, t),
                                    np.zeros(FEATURES * CLASSES + CLASSES), jac=True,
                                    method="L-BFGS-B", options={"maxiter": iterations})
    seconds = time.perf_counter() - started
    w = found.x[:FEATURES * CLASSES].reshape(FEATURES, CLASSES)
    accuracy = float(np.mean(np.argmax(x_test @ w + found.x[FEATURES * CLASSES:], axis=1)
                             == y_test))
    print(f"L-BFGS on {x.numblocks[0]} blocks: {found.nit} iterations, {found.nfev} full-batch "
          f"gradients, loss {found.fun:.4f}, test accuracy {accuracy:.1%} ({seconds:.1f} s)")
    return {"accuracy": accuracy, "loss": float(found.fun), "iterations": int(found.nit)}


if __name__ == "__main__":
    if "--cluster" in sys.argv[1:]:
        from distributed import Client, LocalCluster
        with LocalCluster(n_workers=2, threads_per_worker=1) as cluster, Client(cluster):
            main()
    else:
        main()
