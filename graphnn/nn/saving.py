"""Saving and loading a model's parameters as .npz files: one array per parameter, under its
name (`dense1_w`), running statistics included. Never pickle: files are written with
`np.savez` from plain numeric arrays and read with `allow_pickle=False`, so loading a file
cannot run code.

Loading checks the file against the model first (every name present, nothing extra, shapes and
dtypes equal) and changes nothing unless everything fits.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np

from graphnn.nn.errors import ParameterFileError
from graphnn.nn.model import Sequential


def save(model: Sequential, path: str | os.PathLike) -> None:
    """Write every parameter of `model` to `path` (.npz; the suffix is added if missing).

    >>> import tempfile, os
    >>> from graphnn import nn
    >>> model = nn.Sequential([nn.Dense(2)], input_shape=(3,), seed=1)
    >>> path = os.path.join(tempfile.mkdtemp(), "model.npz")
    >>> model.save(path)
    >>> other = nn.Sequential([nn.Dense(2)], input_shape=(3,), seed=2)
    >>> other.load(path)
    >>> bool((other.values["dense1_w"] == model.values["dense1_w"]).all())
    True
    """
    np.savez(path, **{name: np.asarray(value) for name, value in model.values.items()})


def _describe(array: np.ndarray) -> str:
    return f"{array.dtype} {tuple(array.shape)}"


def check_arrays(model: Sequential, arrays: Mapping[str, np.ndarray], source: str) -> None:
    """Raise ParameterFileError naming the first parameter of `arrays` that does not fit the
    model (missing, unexpected, or of another shape or dtype)."""
    missing = [name for name in model.values if name not in arrays]
    if missing:
        raise ParameterFileError(
            f"{source} has no parameter {missing[0]!r} (expected {model.dtype} "
            f"{model.parameters[missing[0]].shape}); it holds {sorted(arrays)}. Was it saved "
            "from a model of another architecture?")
    extra = [name for name in arrays if name not in model.values]
    if extra:
        raise ParameterFileError(f"{source} has parameter {extra[0]!r}, which the model does "
                                 f"not have (the model's are {list(model.values)})")
    for name, value in model.values.items():
        found = np.asarray(arrays[name])
        if found.shape != value.shape or found.dtype != value.dtype:
            raise ParameterFileError(f"parameter {name!r}: the model expects {_describe(value)}, "
                                     f"{source} has {_describe(found)}")


def load(model: Sequential, path: str | os.PathLike) -> None:
    """Read parameters saved by `save` into `model` (same architecture), after checking them."""
    source = os.fspath(path)
    if not os.path.exists(source) and os.path.exists(source + ".npz"):
        source += ".npz"            # np.savez added the suffix
    try:
        loaded = np.load(source, allow_pickle=False)
        arrays = {name: loaded[name] for name in loaded.files} \
            if isinstance(loaded, np.lib.npyio.NpzFile) else None
    except ValueError as error:     # an object array would need pickle
        raise ParameterFileError(f"{source} is not a plain-array .npz file: {error}") from None
    if arrays is None:
        raise ParameterFileError(f"{source} holds a single array, not an .npz archive of named "
                                 "parameters (write one with model.save)")
    loaded.close()
    model.set_parameters(arrays, source)
