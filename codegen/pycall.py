"""Native CPython entry points for compiled kernels: a call with no Python in between.

Input: a `CompiledKernel`, an `EntrySpec` (codegen.pyentry), the kernel's constant arrays and a
Python fallback. Output: a builtin function object (METH_FASTCALL) whose C code is our JIT'd
entry: it validates the arguments itself and otherwise calls the fallback. This module and
codegen.jit are the only ones that touch ctypes.

The entry reads a few fields of CPython and NumPy objects (ob_type, a float's value, an
ndarray's data, nd, dimensions, descr and flags). They are stable ABI, but `supported()` checks
them on live objects before any entry is made: if anything differs, no entry is made and every
call takes the Python path.
"""

from __future__ import annotations

import ctypes
import functools
import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from codegen import jit, pyentry
from codegen.pyentry import TABLE, EntrySpec

METH_FASTCALL_KEYWORDS = 0x0080 | 0x0002
NEW_FROM_DESCR_INDEX = 94         # PyArray_NewFromDescr in NumPy's C-API table (fixed since 1.0)


class _MethodDef(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("meth", ctypes.c_void_p), ("flags", ctypes.c_int),
                ("doc", ctypes.c_char_p)]


def _read(address: int, kind: Any) -> Any:
    return kind.from_address(address).value


def _function_address(name: str) -> int:
    return ctypes.cast(getattr(ctypes.pythonapi, name), ctypes.c_void_p).value


def _numpy_api() -> int:
    """Address of NumPy's C-API function table (the _ARRAY_API capsule)."""
    try:
        from numpy._core import _multiarray_umath as umath
    except ImportError:                                   # NumPy 1.x
        from numpy.core import _multiarray_umath as umath
    return jit._capsule_address(umath._ARRAY_API)


@functools.cache
def c_api() -> dict[str, int]:
    """Addresses the entry's table needs, from this process."""
    api = _numpy_api()
    return {
        "float_type": id(float), "array_type": id(np.ndarray),
        "new_from_descr": _read(api + 8 * NEW_FROM_DESCR_INDEX, ctypes.c_void_p),
        "incref": _function_address("Py_IncRef"), "decref": _function_address("Py_DecRef"),
        "vectorcall": _function_address("PyObject_Vectorcall"),
        "list_new": _function_address("PyList_New"),
        "list_set_item": _function_address("PyList_SetItem"),
        "save_thread": _function_address("PyEval_SaveThread"),
        "restore_thread": _function_address("PyEval_RestoreThread"),
        "descr_f32": id(np.dtype(np.float32)), "descr_f64": id(np.dtype(np.float64)),
        "list_type": id(list), "tuple_type": id(tuple),
        # keyword names arrive interned; a name that is not this very object falls back
        "out_name": id(sys.intern("out")),
    }


@functools.cache
def supported() -> bool:
    """Whether the object layouts the entry reads are the ones it expects, here and now."""
    try:
        array = np.zeros((3, 4), np.float32)
        base = id(array)
        dims = _read(base + pyentry.ARRAY_DIMS, ctypes.c_void_p)
        checks = [
            _read(base + pyentry.OB_TYPE, ctypes.c_void_p) == id(np.ndarray),
            _read(base + pyentry.ARRAY_DATA, ctypes.c_void_p) == array.ctypes.data,
            _read(base + pyentry.ARRAY_ND, ctypes.c_int) == 2,
            [_read(dims + 8 * k, ctypes.c_int64) for k in range(2)] == [3, 4],
            _read(base + pyentry.ARRAY_DESCR, ctypes.c_void_p) == id(np.dtype(np.float32)),
            _read(base + pyentry.ARRAY_FLAGS, ctypes.c_int) & 0x0101 == 0x0101,
            np.asarray(array[:, ::2]).dtype is np.dtype(np.float32),   # canonical descrs
            _read(id(2.5) + pyentry.FLOAT_VALUE, ctypes.c_double) == 2.5,
            _new_from_descr_works(),
        ]
        return all(checks)
    except (AttributeError, ImportError, OSError, ValueError):
        return False


def _new_from_descr_works() -> bool:
    prototype = ctypes.PYFUNCTYPE(ctypes.py_object, ctypes.c_void_p, ctypes.py_object,
                                  ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p,
                                  ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p)
    new = prototype(c_api()["new_from_descr"])
    dims = (ctypes.c_int64 * 2)(2, 5)
    descr = np.dtype(np.float64)
    ctypes.pythonapi.Py_IncRef(ctypes.py_object(descr))      # NewFromDescr steals one
    made = new(id(np.ndarray), descr, 2, ctypes.addressof(dims), None, None, 0, None)
    return made.shape == (2, 5) and made.dtype == descr and made.flags.c_contiguous


class _Table(np.ndarray):
    """The entry's `self`: the address table, which also holds everything the entry's code
    reads (a subclass, so it can carry them: the builtin function keeps it alive, and with it
    the method definition, the code, the workspace and the constants)."""

    keep: tuple = ()


class NativeEntry:
    """The builtin function object; it keeps everything it needs alive by itself."""

    def __init__(self, function: Callable) -> None:
        self.function = function


def native_entry(compiled: jit.CompiledKernel, spec: EntrySpec,
                 constants: Sequence[np.ndarray], fallback: Callable) -> NativeEntry | None:
    """A builtin function running `compiled` per `spec`, or None where unsupported."""
    if not supported():
        return None
    tracker = jit.link_entry(f"entry {spec!r}", lambda: pyentry.entry_ir(spec), spec.symbol,
                             compiled.target, level="none")
    address = tracker[spec.symbol]
    workspace = jit.Workspace(compiled.workspace_bytes)
    busy = np.zeros(1, np.int64)
    # compiled.threads went through runtime.thread_count (1..MAX_THREADS), and the kernel's
    # entry clamps it again; a call with threads= is not native (the fallback validates it)
    values = {**c_api(), "kernel": compiled.function_address, "fallback": id(fallback),
              "workspace": workspace.address, "threads": compiled.threads,
              "busy": busy.ctypes.data}
    arrays = [np.ascontiguousarray(c) for c in constants]
    table = np.array([values[key] for key in TABLE] + [a.ctypes.data for a in arrays],
                     dtype=np.uint64).view(_Table)
    method = _MethodDef(spec.symbol.encode(), address, METH_FASTCALL_KEYWORDS, None)
    table.keep = (tracker, method, workspace, busy, arrays, fallback, compiled)
    new = ctypes.pythonapi.PyCFunction_NewEx
    new.restype, new.argtypes = ctypes.py_object, [ctypes.c_void_p, ctypes.py_object,
                                                   ctypes.py_object]
    return NativeEntry(new(ctypes.addressof(method), table, None))
