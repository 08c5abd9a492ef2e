"""The ABI facts the native entry points rely on: one table, each fact with the probe that checks
it in this process.

Stage: native layer, at start-up (the first compiled function). Input: this process's CPython and
NumPy. Output: `FACTS` (struct offsets, flag bits, C-API positions, the calling convention) whose
values codegen.native.pyentry writes into its IR and codegen.native.pycall uses, and `failing()`,
the facts whose probe fails here. A native entry is made only when none fails (`supported()`,
run once per process); otherwise every call of a compiled function takes the Python path
(ctypes through codegen.jit, the same results). README.md beside this file explains each fact.

A probe checks its fact on live objects: it reads the field at the offset it states and
compares with what Python reports through its own API. It never follows a pointer it read unless
the facts it needs (`needs`) passed first, so a wrong offset is reported, not dereferenced.

>>> [fact.name for fact in FACTS][:3]
['POINTER_SIZE', 'OB_REFCNT', 'OB_TYPE']
>>> failing() == []              # on the CPython and NumPy this runs on
True
"""

from __future__ import annotations

import ctypes
import functools
import os
import sys
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Fact:
    name: str                          # the constant's name in codegen.native.pyentry
    value: int
    meaning: str                       # the C declaration it stands for
    probe: Callable[[int], bool]       # whether `value` holds here
    needs: tuple[str, ...] = ()        # facts the probe relies on (checked first)


def _word(address: int) -> int:
    return ctypes.c_void_p.from_address(address).value or 0


def _int(address: int) -> int:
    return ctypes.c_int.from_address(address).value


def _int64(address: int) -> int:
    return ctypes.c_int64.from_address(address).value


def _follow(pointer: int, size: int) -> bytes | None:
    """`size` bytes at a pointer a probe read (which may be garbage if its offset is wrong),
    or None when nothing is mapped there: read through /proc/self/mem, which reports an
    unmapped address as an error instead of faulting. Without it, only a pointer that looks
    like one (aligned, above the first 64 KiB) is read."""
    if pointer < 1 << 16 or pointer % 8:
        return None
    try:
        with open("/proc/self/mem", "rb", buffering=0) as memory:
            return os.pread(memory.fileno(), size, pointer)
    except FileNotFoundError:
        return ctypes.string_at(pointer, size)
    except OSError:
        return None


def _words(pointer: int, count: int) -> list[int] | None:
    raw = _follow(pointer, 8 * count)
    if raw is None or len(raw) != 8 * count:
        return None
    return [int.from_bytes(raw[8 * k:8 * k + 8], sys.byteorder) for k in range(count)]


# the objects the probes read: a float32 array of shape (3, 4) and a read-only array
_ARRAY = np.zeros((3, 4), np.float32)
_READ_ONLY = np.zeros(2)
_READ_ONLY.flags.writeable = False


# -- the probes, in the table's order ------------------------------------------------------------

def _pointer_size(value: int) -> bool:       # every offset below assumes 64-bit pointers
    return ctypes.sizeof(ctypes.c_void_p) == value == np.dtype(np.intp).itemsize


def _ob_refcnt(value: int) -> bool:
    """The count sys.getrefcount reports (less the reference its argument holds), one more
    for another name."""
    array = np.zeros(2)
    alone = _int64(id(array) + value)
    other = array
    return alone == 1 and _int64(id(other) + value) == sys.getrefcount(array) - 1 == 2


def _ob_type(value: int) -> bool:            # after ob_refcnt; a debug build adds two pointers
    return all(_word(id(o) + value) == id(type(o)) for o in (2.5, [], (), _ARRAY))


def _float_value(value: int) -> bool:
    number = float("2.5")                    # a float object of its own
    return ctypes.c_double.from_address(id(number) + value).value == 2.5


def _array_data(value: int) -> bool:
    array = _ARRAY
    return _word(id(array) + value) == array.ctypes.data


def _array_nd(value: int) -> bool:
    vector = np.zeros(5)
    return _int(id(_ARRAY) + value) == 2 and _int(id(vector) + value) == 1


def _array_dims(value: int) -> bool:          # a pointer to npy_intp[nd]
    return _words(_word(id(_ARRAY) + value), 2) == [3, 4]


def _array_descr(value: int) -> bool:
    return _word(id(_ARRAY) + value) == id(np.dtype(np.float32))


def _array_flags(value: int) -> bool:
    return _int(id(_ARRAY) + value) & _C_CONTIGUOUS_ALIGNED == _C_CONTIGUOUS_ALIGNED


def _contiguous_aligned(value: int) -> bool:
    """Exactly the two bits: set on a contiguous view and on a read-only array of its own (so no
    data-ownership or writeable bit), clear on a strided view and on a misaligned array."""
    flags = _VALUES["ARRAY_FLAGS"]
    misaligned = np.zeros(17, np.uint8)[1:].view(np.float64)

    def has(array: np.ndarray) -> bool:
        return _int(id(array) + flags) & value == value
    view, strided = _ARRAY[1:], _ARRAY[:, ::2]
    return has(view) and has(_READ_ONLY) and not has(strided) and not has(misaligned)


def _writeable(value: int) -> bool:
    flags = _VALUES["ARRAY_FLAGS"]
    return _int(id(_ARRAY) + flags) & value == value and \
        _int(id(_READ_ONLY) + flags) & value == 0


def _array_weakreflist(value: int) -> bool:  # NULL, or the array's first weak reference
    array = np.zeros(2)
    if _word(id(array) + value) != 0:
        return False
    reference = weakref.ref(array)
    return _word(id(array) + value) == id(reference)


def _canonical_descr(value: int) -> bool:
    # a float32 view has the one float32 descriptor; so do fresh int32, int64 and bool arrays
    views = [np.asarray(_ARRAY[:, ::2]).dtype is np.dtype(np.float32)]
    views += [np.zeros(3, t)[::2].dtype is np.dtype(t) for t in (np.int32, np.int64, np.bool_)]
    return all(views) == bool(value)


def _var_size(value: int) -> bool:
    items, pair = [1, 2, 3], (1, 2)
    return _int64(id(items) + value) == 3 and _int64(id(pair) + value) == 2


def _list_items(value: int) -> bool:          # a pointer to the item array
    items = ["a", "b"]
    return _words(_word(id(items) + value), 2) == [id(items[0]), id(items[1])]


def _tuple_items(value: int) -> bool:         # the items themselves, inline
    items = ("a", "b")
    return _word(id(items) + value) == id(items[0]) and _word(id(items) + value + 8) == id(items[1])


class MethodDef(ctypes.Structure):
    """CPython's PyMethodDef."""

    _fields_ = [("name", ctypes.c_char_p), ("meth", ctypes.c_void_p), ("flags", ctypes.c_int),
                ("doc", ctypes.c_char_p)]


_FASTCALL = ctypes.PYFUNCTYPE(ctypes.py_object, ctypes.py_object, ctypes.c_void_p,
                              ctypes.c_ssize_t, ctypes.c_void_p)


def make_builtin(method: ctypes.Structure, self: object) -> Callable:
    """A builtin function object calling `method` (a MethodDef) with `self`."""
    new = ctypes.pythonapi.PyCFunction_NewEx
    new.restype, new.argtypes = ctypes.py_object, [ctypes.c_void_p, ctypes.py_object,
                                                   ctypes.py_object]
    return new(ctypes.addressof(method), self, None)


def _fastcall_keywords(value: int) -> bool:
    """A builtin with these flags gets (self, args, nargs, kwnames) with the keyword names in
    a tuple after the positional arguments, and the names are the interned strings (the entry
    compares `out` by identity)."""
    def method(self, args, nargs, kwnames):
        names = ctypes.cast(kwnames, ctypes.py_object).value if kwnames else ()
        values = [ctypes.cast(_word(args + 8 * k), ctypes.py_object).value
                  for k in range(nargs + len(names))]
        return nargs, tuple(values), names, all(n is sys.intern(n) for n in names)
    callback = _FASTCALL(method)
    definition = MethodDef(b"probe", ctypes.cast(callback, ctypes.c_void_p), value, None)
    builtin = make_builtin(definition, None)
    return builtin(7, out=8) == (1, (7, 8), ("out",), True)


def _new_from_descr(value: int) -> bool:
    """Slot `value` of NumPy's C-API table is PyArray_NewFromDescr: called, it makes an array."""
    prototype = ctypes.PYFUNCTYPE(ctypes.py_object, ctypes.c_void_p, ctypes.py_object,
                                  ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p,
                                  ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p)
    new = prototype(_word(numpy_api() + 8 * value))
    dims = (ctypes.c_int64 * 2)(2, 5)
    descr = np.dtype(np.float64)
    ctypes.pythonapi.Py_IncRef(ctypes.py_object(descr))      # NewFromDescr steals one
    made = new(id(np.ndarray), descr, 2, ctypes.addressof(dims), None, None, 0, None)
    return isinstance(made, np.ndarray) and made.shape == (2, 5) and made.dtype == descr and \
        made.flags.c_contiguous


def numpy_api() -> int:
    """Address of NumPy's C-API function table (the _ARRAY_API capsule)."""
    try:
        from numpy._core import _multiarray_umath as umath
    except ImportError:                                   # NumPy 1.x
        from numpy.core import _multiarray_umath as umath
    return capsule_address(umath._ARRAY_API)


def capsule_address(capsule: object) -> int:
    """The pointer a PyCapsule holds."""
    name = ctypes.pythonapi.PyCapsule_GetName
    name.restype, name.argtypes = ctypes.c_char_p, [ctypes.py_object]
    pointer = ctypes.pythonapi.PyCapsule_GetPointer
    pointer.restype, pointer.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
    return pointer(capsule, name(capsule))


_C_CONTIGUOUS_ALIGNED = 0x0001 | 0x0100

# -- the table -----------------------------------------------------------------------------------

FACTS: tuple[Fact, ...] = (
    Fact("POINTER_SIZE", 8, "sizeof(void *) == sizeof(npy_intp)", _pointer_size),
    Fact("OB_REFCNT", 0, "offsetof(PyObject, ob_refcnt), read as 64 bits", _ob_refcnt,
         ("POINTER_SIZE",)),
    Fact("OB_TYPE", 8, "offsetof(PyObject, ob_type)", _ob_type, ("POINTER_SIZE",)),
    Fact("FLOAT_VALUE", 16, "offsetof(PyFloatObject, ob_fval)", _float_value, ("OB_TYPE",)),
    Fact("ARRAY_DATA", 16, "offsetof(PyArrayObject_fields, data)", _array_data, ("OB_TYPE",)),
    Fact("ARRAY_ND", 24, "offsetof(PyArrayObject_fields, nd), an int", _array_nd,
         ("ARRAY_DATA",)),
    Fact("ARRAY_DIMS", 32, "offsetof(PyArrayObject_fields, dimensions), npy_intp *",
         _array_dims, ("ARRAY_ND",)),
    Fact("ARRAY_DESCR", 56, "offsetof(PyArrayObject_fields, descr)", _array_descr,
         ("ARRAY_DATA",)),
    Fact("ARRAY_FLAGS", 64, "offsetof(PyArrayObject_fields, flags), an int", _array_flags,
         ("ARRAY_DESCR",)),
    Fact("ARRAY_WEAKREFLIST", 72, "offsetof(PyArrayObject_fields, weakreflist)",
         _array_weakreflist, ("ARRAY_FLAGS",)),
    Fact("NPY_C_CONTIGUOUS_ALIGNED", _C_CONTIGUOUS_ALIGNED,
         "NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED", _contiguous_aligned, ("ARRAY_FLAGS",)),
    Fact("NPY_WRITEABLE", 0x0400, "NPY_ARRAY_WRITEABLE", _writeable, ("ARRAY_FLAGS",)),
    Fact("CANONICAL_DESCR", 1, "arrays of a builtin dtype share its one descriptor",
         _canonical_descr),
    Fact("VAR_SIZE", 16, "offsetof(PyVarObject, ob_size)", _var_size, ("OB_TYPE",)),
    Fact("LIST_ITEMS", 24, "offsetof(PyListObject, ob_item), a PyObject **", _list_items,
         ("VAR_SIZE",)),
    Fact("TUPLE_ITEMS", 24, "offsetof(PyTupleObject, ob_item), the items inline", _tuple_items,
         ("VAR_SIZE",)),
    Fact("METH_FASTCALL_KEYWORDS", 0x0080 | 0x0002, "METH_FASTCALL | METH_KEYWORDS",
         _fastcall_keywords, ("TUPLE_ITEMS",)),
    Fact("NEW_FROM_DESCR_INDEX", 94, "PyArray_NewFromDescr's slot in NumPy's C-API table",
         _new_from_descr),
)
_VALUES = {fact.name: fact.value for fact in FACTS}

POINTER_SIZE = _VALUES["POINTER_SIZE"]
OB_REFCNT = _VALUES["OB_REFCNT"]
OB_TYPE = _VALUES["OB_TYPE"]
FLOAT_VALUE = _VALUES["FLOAT_VALUE"]
ARRAY_DATA = _VALUES["ARRAY_DATA"]
ARRAY_ND = _VALUES["ARRAY_ND"]
ARRAY_DIMS = _VALUES["ARRAY_DIMS"]
ARRAY_DESCR = _VALUES["ARRAY_DESCR"]
ARRAY_FLAGS = _VALUES["ARRAY_FLAGS"]
ARRAY_WEAKREFLIST = _VALUES["ARRAY_WEAKREFLIST"]
NPY_C_CONTIGUOUS_ALIGNED = _VALUES["NPY_C_CONTIGUOUS_ALIGNED"]
NPY_WRITEABLE = _VALUES["NPY_WRITEABLE"]
VAR_SIZE = _VALUES["VAR_SIZE"]
LIST_ITEMS = _VALUES["LIST_ITEMS"]
TUPLE_ITEMS = _VALUES["TUPLE_ITEMS"]
METH_FASTCALL_KEYWORDS = _VALUES["METH_FASTCALL_KEYWORDS"]
NEW_FROM_DESCR_INDEX = _VALUES["NEW_FROM_DESCR_INDEX"]


def failing(facts: Sequence[Fact] | None = None) -> list[str]:
    """The names of the facts (default: FACTS) that do not hold here; a fact whose `needs`
    failed is not probed and counts as failing."""
    failed: list[str] = []
    for fact in FACTS if facts is None else facts:
        if any(need in failed for need in fact.needs):
            failed.append(fact.name)
            continue
        try:
            holds = fact.probe(fact.value)
        except (AttributeError, ImportError, OSError, TypeError, ValueError,
                ctypes.ArgumentError):
            holds = False
        if not holds:
            failed.append(fact.name)
    return failed


@functools.cache
def supported() -> bool:
    """Whether every fact holds in this process (probed once): native entries are made only
    then."""
    return not failing()
