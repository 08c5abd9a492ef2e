"""Full-batch sums over a dask array: `grad_sum`, for users who run their own optimizer.

Stage: calling, on dask. Input: a compiled function of (x, y, *params) whose outputs are sums
(or means) over its rows (a loss and its gradients), dask arrays x and y chunked along their
rows, the parameters as NumPy arrays. Output: the outputs summed over every block (NumPy).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from graphnn.compiler.blocks import sum_blocks


def grad_sum(f: Any, x: Any, y: Any, params: Sequence[np.ndarray],
             reduce: str = "sum") -> np.ndarray | list[np.ndarray]:
    """f(x_block, y_block, *params) for every block of the dask arrays x and y (split alike
    along their rows), summed over the blocks: with a loss written as a sum over the rows, the
    loss of the whole data set and its gradients. With reduce="mean", each block's outputs
    are weighted by its share of the rows (right for means over a block's rows). The
    parameters go whole to every block (once per worker). Computed now, with dask's current
    scheduler (a `distributed.Client` when one is active). A block size other than the
    declared batch compiles a specialization (only for graphs whose leading dimension is
    provably the batch).

    >>> import numpy as np, dask.array as da, graphnn as gn
    >>> x, y = gn.input("x", shape=(4, 2)), gn.input("y", shape=(4,))
    >>> w = gn.input("w", shape=(2,))
    >>> loss = gn.sum(gn.square(x @ w - y))
    >>> f = gn.compile([loss, *gn.grad(loss, [w])], inputs=[x, y, w])
    >>> xs = da.ones((10, 2), chunks=4); ys = da.zeros(10, chunks=4)
    >>> value, dw = gn.distributed.grad_sum(f, xs, ys, [np.ones(2)])
    >>> float(value), dw.tolist()                    # 10 rows of (1 + 1 - 0)^2; 2 * 10 * 2
    (40.0, [40.0, 40.0])
    """
    return sum_blocks(getattr(f, "function", f), [x, y], list(params), reduce)


__all__ = ["grad_sum"]
