"""Validation of NumPy arrays against a kernel's Buffer specs, before native code touches them.

Input: a ``Kernel`` and the arrays of one call. Output: the output arrays (allocated when not
given), or a ``TypeError``/``ValueError`` naming the kernel, the buffer, the expected dtype and
shape and what was passed. Checked: ndarray type, exact dtype (native byte order), shape,
C-contiguity, alignment, writable outputs, and that no output overlaps an input or another output
(the emitted code marks buffers ``noalias``). For C-contiguous arrays the byte ranges used by
``np.may_share_memory`` are exactly the memory touched, so the overlap test is exact.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from codegen import loops

NUMPY_DTYPES = {"f32": np.dtype(np.float32), "f64": np.dtype(np.float64),
                "i64": np.dtype(np.int64)}


def describe(buffer: loops.Buffer) -> str:
    return f"{buffer.dtype}{list(buffer.shape)} ({NUMPY_DTYPES[buffer.dtype].name})"


def check_array(kernel: str, role: str, buffer: loops.Buffer, array: Any) -> None:
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
    if role == "output" and not array.flags.writeable:
        raise ValueError(f"{where}, got a read-only array")


def _as_tuple(arrays: Any) -> tuple[Any, ...] | None:
    if arrays is None:
        return None
    return tuple(arrays) if isinstance(arrays, (tuple, list)) else (arrays,)


def check_call(kernel: loops.Kernel, inputs: Sequence[Any],
               out: Any = None) -> tuple[np.ndarray, ...]:
    """Validate one call's arrays; returns the outputs, allocating any not passed."""
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
    _check_overlap(kernel, inputs, outputs)
    return outputs


def _check_overlap(kernel: loops.Kernel, inputs: Sequence[np.ndarray],
                   outputs: Sequence[np.ndarray]) -> None:
    named = [("input", b.name, a) for b, a in zip(kernel.inputs, inputs, strict=True)]
    named += [("output", b.name, a) for b, a in zip(kernel.outputs, outputs, strict=True)]
    for position, (_, name, array) in enumerate(named[len(inputs):], start=len(inputs)):
        if array.size == 0:
            continue
        for role, other_name, other in named[:position]:
            if other.size and np.may_share_memory(array, other):
                raise ValueError(f"kernel {kernel.name}: output {name!r} overlaps {role} "
                                 f"{other_name!r}; outputs must not alias other arguments")
