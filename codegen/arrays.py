"""Validation of NumPy arrays against a kernel's Buffer specs, before native code touches them.

Input: a ``Kernel`` and the arrays of one call. Output: the output arrays (allocated when not
given) and their data addresses, or a ``TypeError``/``ValueError`` naming the kernel, the buffer,
the expected dtype and shape and what was passed. Checked: ndarray type, exact dtype (native byte
order), shape, C-contiguity, alignment, writable outputs, and that no output overlaps an input or
another output (the emitted code marks buffers ``noalias``). A C-contiguous array touches exactly
the bytes [address, address + nbytes), so comparing those ranges is an exact overlap test.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from codegen import loops

NUMPY_DTYPES = {"f32": np.dtype(np.float32), "f64": np.dtype(np.float64),
                "i32": np.dtype(np.int32), "i64": np.dtype(np.int64), "i1": np.dtype(np.bool_)}


class CheckFailed(ValueError):
    """A kernel stopped at a failed ``loops.Check`` (an index out of range); ``code`` says
    which check (the caller that made the kernel knows what it stands for)."""

    def __init__(self, kernel: str, code: int) -> None:
        super().__init__(f"kernel {kernel}: check {code} failed (an index out of range)")
        self.kernel, self.code = kernel, code


def describe(buffer: loops.Buffer) -> str:
    return f"{buffer.dtype}{list(buffer.shape)} ({NUMPY_DTYPES[buffer.dtype].name})"


def address(array: np.ndarray) -> int:
    return array.__array_interface__["data"][0]


def check_array(kernel: str, role: str, buffer: loops.Buffer, array: Any) -> None:
    """Raise unless ``array`` matches ``buffer`` (fast when it does: no message is built)."""
    if isinstance(array, np.ndarray) and array.dtype == NUMPY_DTYPES[buffer.dtype] and \
            array.shape == buffer.shape:
        flags = array.flags
        if flags.c_contiguous and flags.aligned and (flags.writeable or role != "output"):
            return
    _diagnose(kernel, role, buffer, array)


def _diagnose(kernel: str, role: str, buffer: loops.Buffer, array: Any) -> None:
    where = (f"kernel {kernel}: {role} {buffer.name!r} expects a C-contiguous "
             f"{describe(buffer)} array")
    if not isinstance(array, np.ndarray):
        raise TypeError(f"{where}, got {type(array).__name__}")
    if array.dtype != NUMPY_DTYPES[buffer.dtype]:
        raise TypeError(f"{where}, got dtype {array.dtype.str} ({array.dtype.name})")
    if array.shape != buffer.shape:
        raise ValueError(f"{where}, got shape {list(array.shape)}")
    if not array.flags.c_contiguous:
        raise ValueError(f"{where}, got a non-contiguous array (strides {array.strides}); "
                         "use np.ascontiguousarray")
    if not array.flags.aligned:
        raise ValueError(f"{where}, got a misaligned array")
    raise ValueError(f"{where}, got a read-only array")


def _as_tuple(arrays: Any) -> tuple[Any, ...] | None:
    if arrays is None:
        return None
    return tuple(arrays) if isinstance(arrays, (tuple, list)) else (arrays,)


def check_call(kernel: loops.Kernel, inputs: Sequence[Any],
               out: Any = None) -> tuple[tuple[np.ndarray, ...], list[int]]:
    """Validate one call's arrays; returns the outputs (allocating any not passed) and the data
    addresses of inputs then outputs."""
    if len(inputs) != len(kernel.inputs):
        names = ", ".join(b.name for b in kernel.inputs)
        raise TypeError(f"kernel {kernel.name} takes {len(kernel.inputs)} inputs ({names}), "
                        f"got {len(inputs)}")
    outputs = _as_tuple(out)
    if outputs is None:
        outputs = tuple(np.empty(b.shape, NUMPY_DTYPES[b.dtype]) for b in kernel.outputs)
    elif len(outputs) != len(kernel.outputs):
        names = ", ".join(b.name for b in kernel.outputs)
        raise TypeError(f"kernel {kernel.name} has {len(kernel.outputs)} outputs ({names}), "
                        f"got {len(outputs)}")
    for buffer, array in zip(kernel.inputs, inputs, strict=True):
        check_array(kernel.name, "input", buffer, array)
    for buffer, array in zip(kernel.outputs, outputs, strict=True):
        check_array(kernel.name, "output", buffer, array)
    addresses = [address(a) for a in inputs] + [address(a) for a in outputs]
    _check_overlap(kernel, inputs, outputs, addresses)
    return outputs, addresses


def _check_overlap(kernel: loops.Kernel, inputs: Sequence[np.ndarray],
                   outputs: Sequence[np.ndarray], addresses: list[int]) -> None:
    """Contiguous arrays touch exactly [address, address + nbytes): compare those ranges."""
    arrays = [*inputs, *outputs]
    names = [("input", b.name) for b in kernel.inputs]
    names += [("output", b.name) for b in kernel.outputs]
    for position in range(len(inputs), len(arrays)):
        start, size = addresses[position], arrays[position].nbytes
        for other in range(position):
            other_start, other_size = addresses[other], arrays[other].nbytes
            if size and other_size and start < other_start + other_size and \
                    other_start < start + size:
                role, other_name = names[other]
                raise ValueError(f"kernel {kernel.name}: output {names[position][1]!r} overlaps "
                                 f"{role} {other_name!r}; outputs must not alias other arguments")
