"""The data of data-parallel training (graphnn/nn/parallel.py), checked as `fit` checks it:
NumPy arrays as they are, dask arrays by their shapes and dtypes, then in one pass over the data
for NaN and infinite values, their labels turned into targets block by block on the workers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from graphnn.compiler.blocks import dask_modules
from graphnn.nn.errors import ModelError
from graphnn.nn.evaluation import check_finite, check_inputs, check_layout
from graphnn.nn.losses import Loss

if TYPE_CHECKING:     # annotations only: graphnn.nn.model imports the training modules
    from graphnn.nn.model import Sequential


def _targets(y: np.ndarray, loss: Loss, output_shape: tuple[int, ...],
             dtype: str) -> np.ndarray:
    return loss.targets(y, output_shape, dtype)


def _bad_rows(array: Any, da: Any) -> Any:
    """Per row, whether it holds a NaN or infinite value (False for integer labels)."""
    if array.dtype.kind not in "fc":
        return da.zeros(array.shape[0], dtype=bool, chunks=array.chunks[0])
    finite = da.isfinite(array)
    return ~(finite.all(axis=tuple(range(1, array.ndim))) if array.ndim > 1 else finite)


def _check_dask(model: Sequential, x: Any, y: Any, dask: Any, da: Any) -> None:
    """Shapes, dtypes and finiteness of dask data, in one computation."""
    if any(np.isnan(d) for d in (*x.shape, *y.shape)):
        raise ModelError("x or y has unknown chunk sizes: call .compute_chunk_sizes() on it")
    check_layout(model, x)
    if y.shape[0] != x.shape[0]:
        raise ModelError(f"x has {x.shape[0]} examples but y has {y.shape[0]}")
    bad_x, bad_y = dask.compute(_bad_rows(x, da), _bad_rows(y, da))
    for what, bad in (("x", bad_x), ("y", bad_y)):
        if bad.any():
            rows = np.flatnonzero(bad)
            raise ModelError(f"{what} holds NaN or infinite values in {len(rows)} row(s); the "
                             f"first is row {rows[0]}. Training on it would only make the loss "
                             "NaN: fix or drop those rows first")


def cluster_data(model: Sequential, x: Any, y: Any, loss: Loss,
                 validation_data: tuple[Any, Any] | None) -> tuple[Any, Any, tuple | None]:
    """(x, targets, validation data as NumPy): x and the targets stay dask arrays when x is
    one (chunked along the batch axis alone), else NumPy arrays."""
    if validation_data is not None:
        validation_data = tuple(v if isinstance(v, np.ndarray) or not hasattr(v, "compute")
                                else v.compute() for v in validation_data)
    if isinstance(x, np.ndarray) or not hasattr(x, "dask"):
        x = check_inputs(model, x)
        check_finite(x, "x")
        y = np.asarray(y.compute() if hasattr(y, "compute") else y)
        check_finite(y, "y")
        t = loss.targets(y, model.output_shape, model.dtype)
        if t.shape[0] != x.shape[0]:
            raise ModelError(f"x has {x.shape[0]} examples but y has {t.shape[0]}")
        return x, t, validation_data
    dask, da = dask_modules()
    if not isinstance(y, da.Array):
        y = da.from_array(np.asarray(y), chunks=(x.chunks[0], *((-1,) * (np.ndim(y) - 1))))
    _check_dask(model, x, y, dask, da)
    x = x.rechunk({k: -1 for k in range(1, x.ndim)})
    y = y.rechunk({0: x.chunks[0], **{k: -1 for k in range(1, y.ndim)}})
    rank = 1 + len(model.output_shape)
    if y.ndim > rank:
        raise ModelError(f"{type(loss).__name__} needs targets of shape (n, "
                         f"{', '.join(map(str, model.output_shape))}), got {y.shape}")
    t = y.map_blocks(_targets, loss, model.output_shape, model.dtype,
                     new_axis=list(range(y.ndim, rank)) or None,
                     chunks=(x.chunks[0], *((d,) for d in model.output_shape)),
                     dtype=np.dtype(model.dtype), meta=np.empty((0,) * rank, model.dtype))
    return x, t, validation_data


__all__ = ["cluster_data"]
