"""Native CPython entry points for compiled kernels: a call with no Python in between.

Input: a `CompiledKernel`, an `EntrySpec` (codegen.native.pyentry), the kernel's constant arrays
and a Python fallback. Output: a builtin function object (METH_FASTCALL | METH_KEYWORDS) whose C
code is our JIT'd entry: it validates the arguments itself and otherwise calls the fallback.

The entry reads fields of CPython and NumPy objects at the offsets of codegen.native.abi's table.
They are stable ABI, but every one is probed on live objects before any entry is made
(`abi.supported()`): if anything differs, no entry is made and every call takes the Python
path (the fallback), which gives the same results.
"""

from __future__ import annotations

import ctypes
import functools
import sys
from collections.abc import Callable, Sequence

import numpy as np

from codegen import jit
from codegen.native import abi, pyentry
from codegen.native.pyentry import POOL_SIZE, TABLE, EntrySpec

_NUMPY_DTYPE = {"f32": np.float32, "f64": np.float64, "i32": np.int32, "i64": np.int64,
                "i1": np.bool_}


def _function_address(name: str) -> int:
    return ctypes.cast(getattr(ctypes.pythonapi, name), ctypes.c_void_p).value


@functools.cache
def c_api() -> dict[str, int]:
    """Addresses the entry's table needs, from this process."""
    api = abi.numpy_api()
    return {
        "float_type": id(float), "array_type": id(np.ndarray),
        "new_from_descr": ctypes.c_void_p.from_address(
            api + abi.POINTER_SIZE * abi.NEW_FROM_DESCR_INDEX).value,
        "incref": _function_address("Py_IncRef"), "decref": _function_address("Py_DecRef"),
        "vectorcall": _function_address("PyObject_Vectorcall"),
        "list_new": _function_address("PyList_New"),
        "list_set_item": _function_address("PyList_SetItem"),
        "save_thread": _function_address("PyEval_SaveThread"),
        "restore_thread": _function_address("PyEval_RestoreThread"),
        "descr_f32": id(np.dtype(np.float32)), "descr_f64": id(np.dtype(np.float64)),
        "descr_i32": id(np.dtype(np.int32)), "descr_i64": id(np.dtype(np.int64)),
        "descr_i1": id(np.dtype(np.bool_)),
        "list_type": id(list), "tuple_type": id(tuple),
        # keyword names arrive interned; a name that is not this very object falls back
        "out_name": id(sys.intern("out")),
    }


def supported() -> bool:
    """Whether native entries can be made here: every ABI fact holds (probed once)."""
    return abi.supported()


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
    # the result pool (pyentry.POOL_BYTES): the table holds the arrays' one reference each
    pool = [np.empty(spec.outputs[k].shape, _NUMPY_DTYPE[spec.outputs[k].dtype])
            for k in spec.pooled for _ in range(POOL_SIZE)]
    table = np.array([values[key] for key in TABLE] + [a.ctypes.data for a in arrays] +
                     [id(a) for a in pool], dtype=np.uint64).view(_Table)
    method = abi.MethodDef(spec.symbol.encode(), address, abi.METH_FASTCALL_KEYWORDS, None)
    table.keep = (tracker, method, workspace, busy, arrays, pool, fallback, compiled)
    return NativeEntry(abi.make_builtin(method, table))
