"""Test helpers: central differences, NaN-aware comparison, building an op on fresh inputs."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

import graphnn as gn


def assert_same(actual, expected, rtol=1e-12, atol=0.0, what=""):
    """Equal within tolerance, with NaN equal to NaN and infinities equal to themselves."""
    actual, expected = np.asarray(actual, dtype=float), np.asarray(expected, dtype=float)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, equal_nan=True,
                               err_msg=what)


def central_difference(f: Callable[[list[np.ndarray]], float], arrays: list[np.ndarray],
                       index: int, scale: float = 1e-6) -> np.ndarray:
    """d f / d arrays[index] by central differences, step scale * max(1, |x|) per element."""
    x = arrays[index]
    out = np.zeros_like(x)
    for position in np.ndindex(x.shape):
        h = scale * max(1.0, abs(float(x[position])))
        plus = [a.copy() for a in arrays]
        minus = [a.copy() for a in arrays]
        plus[index][position] += h
        minus[index][position] -= h
        out[position] = (f(plus) - f(minus)) / (2 * h)
    return out


def inputs_for(shapes: Sequence[tuple[int, ...]], dtype: str = "float64",
               prefix: str = "a", dtypes: Sequence[str | None] = ()) -> list[gn.Node]:
    """Fresh graph inputs a0, a1, ... with these shapes, of `dtype` unless `dtypes` fixes
    an operand's (an index array, a condition)."""
    return [gn.input(f"{prefix}{k}", shape=s,
                     dtype=(dtypes[k] if k < len(dtypes) else None) or dtype)
            for k, s in enumerate(shapes)]


def feed_for(nodes: Sequence[gn.Node], arrays: Sequence[np.ndarray]) -> dict[str, np.ndarray]:
    with np.errstate(over="ignore"):        # 1e300 fed to a float32 input is inf, on purpose
        return {n.name: np.asarray(a, dtype=n.dtype) for n, a in zip(nodes, arrays)}
