"""Saving and loading a model's parameters as .npz files: one array per parameter, under its
name (`dense1_w`), running statistics included. Never pickle: files are written with
`np.savez` from plain numeric arrays and read with `allow_pickle=False`, so loading a file
cannot run code.

Loading checks the file against the model first (every name present, nothing extra, shapes and
dtypes equal) and changes nothing unless everything fits.
"""

from __future__ import annotations

import math
import os
import zipfile
import zlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
from numpy.lib import format as npy_format

from graphnn.nn.errors import ParameterFileError

if TYPE_CHECKING:     # annotations only: graphnn.nn.model imports the training modules
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


def _describe(array: np.ndarray | Header) -> str:
    return f"{array.dtype} {tuple(array.shape)}"


def check_arrays(model: Sequential, arrays: Mapping[str, Any], source: str) -> None:
    """Raise ParameterFileError naming the first parameter of `arrays` that does not fit the
    model (missing, unexpected, or of another shape or dtype). The values need only a shape
    and a dtype: the headers of a file's members are checked before their data is read."""
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
        found = arrays[name]
        if not isinstance(found, (np.ndarray, Header)):
            found = np.asarray(found)
        if found.shape != value.shape or found.dtype != value.dtype:
            raise ParameterFileError(f"parameter {name!r}: the model expects {_describe(value)}, "
                                     f"{source} has {_describe(found)}")


class _Damaged(ValueError):
    """A member whose header does not describe a plain array of exactly its size."""


class Header(NamedTuple):
    """What an .npy member's header declares, read before its data."""

    shape: tuple[int, ...]
    dtype: np.dtype


# what reading a damaged archive raises: zipfile's errors (a bad CRC, no central directory;
# RuntimeError for a member flagged as encrypted, NotImplementedError for an unknown
# compression), zlib's, a short read, and NumPy's ValueError for a header it cannot parse
_DAMAGE = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError,
           RuntimeError)
_HEADER_READERS = {(1, 0): npy_format.read_array_header_1_0,
                   (2, 0): npy_format.read_array_header_2_0}


def _header(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> Header:
    """The member's declared shape and dtype, after checking that it holds exactly the bytes
    they call for (a header declaring 2**40 floats in a small file is caught here, before
    anything is allocated)."""
    with archive.open(info) as member:
        version = npy_format.read_magic(member)
        if version not in _HEADER_READERS:
            raise _Damaged(f"member {info.filename!r} has .npy format version {version}")
        shape, _, dtype = _HEADER_READERS[version](member)
        start = member.tell()
    if dtype.hasobject:
        raise _Damaged(f"member {info.filename!r} holds Python objects (loading them would "
                       "need pickle)")
    size = math.prod(shape) * dtype.itemsize
    if info.file_size != start + size:
        raise _Damaged(f"member {info.filename!r} declares {_describe(Header(shape, dtype))} "
                       f"({size} bytes) but holds {info.file_size - start} bytes")
    return Header(tuple(shape), dtype)


def _read(model: Sequential, source: str) -> dict[str, np.ndarray]:
    """The arrays of the archive at `source`, each member's header checked against its size
    and the model before its data is read."""
    with open(source, "rb") as handle:
        if handle.read(6) == npy_format.MAGIC_PREFIX:
            raise ParameterFileError(f"{source} holds a single array, not an .npz archive of "
                                     "named parameters (write one with model.save)")
    with zipfile.ZipFile(source) as archive:
        members = {info.filename.removesuffix(".npy"): info for info in archive.infolist()}
        check_arrays(model, {name: _header(archive, info) for name, info in members.items()},
                     source)
        arrays = {}
        for name, info in members.items():
            with archive.open(info) as member:
                arrays[name] = npy_format.read_array(member, allow_pickle=False)
        return arrays


def load(model: Sequential, path: str | os.PathLike) -> None:
    """Read parameters saved by `save` into `model` (same architecture), after checking them.

    A file that is missing, damaged (truncated, bit-flipped, empty), not an .npz archive, or
    that does not fit the model raises ParameterFileError naming it, and changes nothing.
    """
    source = os.fspath(path)
    if not os.path.exists(source) and os.path.exists(source + ".npz"):
        source += ".npz"            # np.savez added the suffix
    if not os.path.isfile(source):
        raise ParameterFileError(f"no parameter file at {source}")
    try:
        arrays = _read(model, source)
    except ParameterFileError:
        raise                       # the file is sound but does not fit the model
    except _DAMAGE as error:
        problem = str(error) if isinstance(error, _Damaged) else \
            f"{type(error).__name__}: {error}".rstrip(": ")
        raise ParameterFileError(f"{source} is not a plain-array .npz file that model.save "
                                 f"wrote, or it is damaged ({problem}); the model is "
                                 "unchanged") from None
    model.set_parameters(arrays, source)
