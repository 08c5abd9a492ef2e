"""A CPython entry point for a compiled kernel, in LLVM IR: the whole call validated natively.

Input: an `EntrySpec` (which Python arguments feed which kernel inputs, the outputs to
allocate). Output: LLVM IR text for one function with CPython's METH_FASTCALL | METH_KEYWORDS
signature,

    PyObject *entry(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)

that checks every argument (exact ndarray type, the canonical dtype descriptor of float32,
float64, int32, int64 or bool, dimensions, C-contiguous and aligned flags; or an exact Python
float for a 0-d float input), allocates the outputs with NumPy's PyArray_NewFromDescr (or checks
the arrays given as `out=`), runs the kernel (releasing the GIL for large kernels) and returns
the array (or a list of them). Anything else (other keywords, another shape, a subclass, an int,
a non-contiguous array) goes to a Python fallback, which gives the same result or the proper
error. So native code runs only on arguments it validated itself. A kernel that returns a
nonzero status (a failed index check: the values of an index array are only known once it
runs) releases what the entry allocated and goes to the fallback too, which runs the call
again on the Python path and raises the error naming the input and the index.

`self` is a NumPy array of process-specific addresses (`TABLE`): type objects, dtype
descriptors, C-API functions, the kernel, the fallback. The IR holds no address, so its object
code is cached on disk like any kernel.

The IR is written as text, not through llvmlite's IR builder: an entry is a few hundred lines
of straight-line checks, and printing them through the builder's objects cost 15-30 ms per
compiled function, against about 1 ms this way. It is compiled without optimization passes
(codegen.jit's quick settings): it is already what the optimizer would leave, loads and
compares in a row.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# The layout of CPython and NumPy objects: codegen.native.abi's table, each fact probed there
# before any entry is made
from codegen.native.abi import (
    ARRAY_DATA,
    ARRAY_DESCR,
    ARRAY_DIMS,
    ARRAY_FLAGS,
    ARRAY_ND,
    ARRAY_WEAKREFLIST,
    FLOAT_VALUE,
    LIST_ITEMS,
    NPY_C_CONTIGUOUS_ALIGNED,
    NPY_WRITEABLE,
    OB_REFCNT,
    OB_TYPE,
    POINTER_SIZE,
    TUPLE_ITEMS,
    VAR_SIZE,
)

# slots of the address table passed as `self`; the constants' addresses follow them
TABLE = ("float_type", "array_type", "new_from_descr", "incref", "decref", "vectorcall",
         "list_new", "list_set_item", "save_thread", "restore_thread", "kernel", "fallback",
         "workspace", "threads", "busy", "descr_f32", "descr_f64", "list_type", "tuple_type",
         "out_name", "descr_i32", "descr_i64", "descr_i1")
# Result pooling: an output of at most POOL_BYTES gets POOL_SIZE arrays, made once (pycall) and
# held by the table; a call returns one the caller has let go of (its only reference is the
# pool's) instead of allocating. Allocating a small array through NumPy's C API costs about 60
# ns, most of a small function's call; a large one costs its page faults (the kernel zeroes
# every page a fresh mmap'd array touches: about 1.5 ms for 80 MB, more than an elementwise
# pass over it), which a reused array has already paid. Two arrays per output cover
# `r = f(x)` in a loop (the previous result is still held while the next call runs); beyond
# that, calls allocate. The price: after a call, up to POOL_SIZE results per output stay
# allocated with the function (np.empty reserves address space; pages count once touched).
POOL_BYTES = 64 << 20
POOL_SIZE = 2
_SIZE = {"f32": 4, "f64": 8, "i32": 4, "i64": 8, "i1": 1}
_LLVM = {"f32": "float", "f64": "double"}


@dataclass(frozen=True)
class Argument:
    dtype: str                       # "f32", "f64", "i32", "i64" or "i1" (bool)
    shape: tuple[int, ...]


@dataclass(frozen=True)
class EntrySpec:
    name: str
    arguments: tuple[Argument, ...]  # the Python arguments, the kernel's first inputs
    constants: int                   # further kernel inputs, addresses in the table after TABLE
    outputs: tuple[Argument, ...]    # the kernel outputs, allocated per call
    single: bool                     # return the one output itself, not a list
    release_gil: bool                # worth releasing the GIL (and guarding the workspace)
    out_keyword: bool = True         # out= passes output arrays (False: an argument is so named,
                                     # and every keyword goes to the fallback)

    @property
    def symbol(self) -> str:
        return f"entry.{self.name}"

    @property
    def pooled(self) -> tuple[int, ...]:
        """The outputs whose results come from the pool (see POOL_BYTES), in order; their
        arrays' addresses follow the constants' in the table, POOL_SIZE per output."""
        return tuple(k for k, output in enumerate(self.outputs)
                     if _SIZE[output.dtype] * math.prod(output.shape) <= POOL_BYTES)


def entry_ir(spec: EntrySpec) -> str:
    """The LLVM IR text of the entry point (deterministic for a given spec)."""
    return _Entry(spec).text()


class _Entry:
    """Writes the function line by line. Values are numbered %v0, %v1, ...; blocks are named
    for the check that leads into them."""

    def __init__(self, spec: EntrySpec) -> None:
        self.spec = spec
        self.lines: list[str] = []
        self.globals: list[str] = []
        self.count = 0
        self.labels = 0
        self.current = "entry"                  # the block being written (for phi nodes)
        self.words: dict[str, str] = {}
        self.first_output = len(spec.arguments) + spec.constants
        self.slots = self.first_output + len(spec.outputs) + 2

    # -- writing --------------------------------------------------------------------------------

    def value(self, instruction: str) -> str:
        name = f"%v{self.count}"
        self.count += 1
        self.lines.append(f"  {name} = {instruction}")
        return name

    def emit(self, instruction: str) -> None:
        self.lines.append(f"  {instruction}")

    def label(self, hint: str) -> str:
        self.labels += 1
        return f"{hint}.{self.labels}"

    def start(self, label: str) -> None:
        self.lines.append(f"{label}:")
        self.current = label

    def field(self, pointer: str, offset: int, kind: str) -> str:
        address = self.value(f"getelementptr inbounds i8, ptr {pointer}, i64 {offset}")
        return self.value(f"load {kind}, ptr {address}")

    def check(self, condition: str, hint: str, otherwise: str = "fallback") -> None:
        """Continue when condition holds; otherwise go to block `otherwise` (by default the
        Python fallback)."""
        passed = self.label(hint)
        self.emit(f"br i1 {condition}, label %{passed}, label %{otherwise}")
        self.start(passed)

    def compare(self, predicate: str, kind: str, left: str, right: str | int) -> str:
        return self.value(f"icmp {predicate} {kind} {left}, {right}")

    def call(self, word: str, result: str, arguments: str) -> str | None:
        """Call the C function whose address is table word `word`."""
        callee = self.value(f"inttoptr i64 {self.words[word]} to ptr")
        if result == "void":
            self.emit(f"call void {callee}({arguments})")
            return None
        return self.value(f"call {result} {callee}({arguments})")

    def slot(self, index: int) -> str:
        return self.value(f"getelementptr inbounds ptr, ptr %argv, i64 {index}")

    def set_slot(self, index: int, pointer: str) -> None:
        self.emit(f"store ptr {pointer}, ptr {self.slot(index)}")

    # -- the function ----------------------------------------------------------------------------

    def text(self) -> str:
        spec = self.spec
        self.start("entry")
        self.emit(f"%argv = alloca ptr, i64 {self.slots}")
        for k, argument in enumerate(spec.arguments):
            if not argument.shape and argument.dtype in _LLVM:
                self.emit(f"%scalar{k} = alloca {_LLVM[argument.dtype]}")
        table_address = self.value("getelementptr inbounds i8, ptr %self, i64 "
                                   f"{ARRAY_DATA}")
        self.lines.append(f"  %table = load ptr, ptr {table_address}")
        for k, word in enumerate(TABLE):        # every word once, up front (plain loads)
            address = self.value(f"getelementptr inbounds i64, ptr %table, i64 {k}")
            self.words[word] = self.value(f"load i64, ptr {address}")
        self.check(self.compare("eq", "i64", "%nargs", len(spec.arguments)), "count_ok")
        for position, argument in enumerate(spec.arguments):
            self.argument(position, argument)
        for k in range(spec.constants):
            address = self.value(f"getelementptr inbounds i64, ptr %table, i64 {len(TABLE) + k}")
            self.set_slot(len(spec.arguments) + k, self.value(f"load ptr, ptr {address}"))
        self.set_slot(self.first_output + len(spec.outputs),
                      self.value(f"inttoptr i64 {self.words['workspace']} to ptr"))
        self.set_slot(self.first_output + len(spec.outputs) + 1,
                      self.value(f"inttoptr i64 {self.words['threads']} to ptr"))
        given = self.compare("ne", "ptr", "%kwnames", "null")
        keywords = "out_given" if spec.out_keyword else "fallback"
        self.emit(f"br i1 {given}, label %{keywords}, label %out_fresh")
        self.start("out_fresh")
        arrays = self.allocate_outputs()
        self.run_kernel(arrays)
        self.finish(arrays)
        if spec.out_keyword:
            self.start("out_given")
            arrays = self.given_outputs()
            self.run_kernel([])                   # borrowed: nothing to release on the way out
            for array in arrays:                  # the result holds new references to them
                self.call("incref", "void", f"ptr {array}")
            self.finish(arrays)
        self.start("fallback")
        fallback = self.value(f"inttoptr i64 {self.words['fallback']} to ptr")
        result = self.call("vectorcall", "ptr", f"ptr {fallback}, ptr %args, i64 %nargs, "
                                                "ptr %kwnames")
        self.emit(f"ret ptr {result}")
        header = (f"define ptr @\"{spec.symbol}\"(ptr %self, ptr %args, i64 %nargs, "
                  "ptr %kwnames) nounwind {")
        return "\n".join([*self.globals, header, *self.lines, "}", ""])

    def argument(self, position: int, argument: Argument) -> None:
        address = self.value(f"getelementptr inbounds ptr, ptr %args, i64 {position}")
        obj = self.value(f"load ptr, ptr {address}")
        kind = self.field(obj, OB_TYPE, "i64")
        if argument.shape or argument.dtype not in _LLVM:   # (a Python int or bool: fallback)
            self.check(self.compare("eq", "i64", kind, self.words["array_type"]), "array")
            self.array(position, argument, obj)
            return
        # a 0-d input: an exact Python float (converted as NumPy would), or a 0-d array
        is_float = self.compare("eq", "i64", kind, self.words["float_type"])
        number, other, done = self.label("float"), self.label("not_float"), self.label("scalar")
        self.emit(f"br i1 {is_float}, label %{number}, label %{other}")
        self.start(number)
        value = self.field(obj, FLOAT_VALUE, "double")
        if argument.dtype == "f32":
            value = self.value(f"fptrunc double {value} to float")
        self.emit(f"store {_LLVM[argument.dtype]} {value}, ptr %scalar{position}")
        self.set_slot(position, f"%scalar{position}")
        self.emit(f"br label %{done}")
        self.start(other)
        self.check(self.compare("eq", "i64", kind, self.words["array_type"]), "array")
        self.array(position, argument, obj)
        self.emit(f"br label %{done}")
        self.start(done)

    def array(self, slot: int, argument: Argument, obj: str, writable: bool = False) -> None:
        self.valid(argument, obj, writable, "fallback")
        self.set_slot(slot, self.field(obj, ARRAY_DATA, "ptr"))

    def valid(self, argument: Argument, obj: str, writable: bool, otherwise: str) -> None:
        """Continue when the array `obj` has the argument's dtype and shape and is C-contiguous
        and aligned (and writable); otherwise go to block `otherwise`."""
        descr = self.field(obj, ARRAY_DESCR, "i64")
        self.check(self.compare("eq", "i64", descr, self.words[f"descr_{argument.dtype}"]),
                   "dtype", otherwise)
        nd = self.field(obj, ARRAY_ND, "i32")
        self.check(self.compare("eq", "i32", nd, len(argument.shape)), "ndim", otherwise)
        if argument.shape:
            dims = self.field(obj, ARRAY_DIMS, "ptr")
            for axis, size in enumerate(argument.shape):
                extent = self.field(dims, POINTER_SIZE * axis, "i64")
                self.check(self.compare("eq", "i64", extent, size), "dim", otherwise)
        wanted = NPY_C_CONTIGUOUS_ALIGNED | (NPY_WRITEABLE if writable else 0)
        flags = self.value(f"and i32 {self.field(obj, ARRAY_FLAGS, 'i32')}, {wanted}")
        self.check(self.compare("eq", "i32", flags, wanted), "layout", otherwise)

    def allocate_outputs(self) -> list[str]:
        arrays: list[str] = []
        pooled = self.spec.pooled
        for k, output in enumerate(self.spec.outputs):
            array = self.from_pool(k, output, pooled.index(k), arrays) if k in pooled else \
                self.new_array(k, output, arrays)
            arrays.append(array)
            self.set_slot(self.first_output + k, self.field(array, ARRAY_DATA, "ptr"))
        return arrays

    def from_pool(self, k: int, output: Argument, position: int, arrays: list[str]) -> str:
        """A pooled array of output k that nobody else holds (its reference count is the
        pool's one, no weak reference watches it, and it still has the output's dtype, shape
        and layout, which its last holder may have changed), with a new reference; else a new
        array."""
        done, incoming = self.label("result"), []
        first = len(TABLE) + self.spec.constants + POOL_SIZE * position
        for index in range(first, first + POOL_SIZE):
            address = self.value(f"getelementptr inbounds i64, ptr %table, i64 {index}")
            obj = self.value(f"load ptr, ptr {address}")
            taken = self.label("pool_taken")
            self.check(self.compare("eq", "i64", self.field(obj, OB_REFCNT, "i64"), 1),
                       "pool_free", taken)
            self.check(self.compare("eq", "i64", self.field(obj, ARRAY_WEAKREFLIST, "i64"), 0),
                       "pool_unwatched", taken)
            self.valid(output, obj, True, taken)
            self.call("incref", "void", f"ptr {obj}")
            incoming.append((obj, self.current))
            self.emit(f"br label %{done}")
            self.start(taken)
        incoming.append((self.new_array(k, output, arrays), self.current))
        self.emit(f"br label %{done}")
        self.start(done)
        return self.value("phi ptr " + ", ".join(f"[ {v}, %{b} ]" for v, b in incoming))

    def new_array(self, k: int, output: Argument, arrays: list[str]) -> str:
        """A new array for output k (on failure, `arrays` are released and NULL returned with
        NumPy's error set)."""
        rank = max(1, len(output.shape))
        values = ", ".join(f"i64 {d}" for d in output.shape or (0,))
        self.globals.append(f"@dims{k} = private unnamed_addr constant [{rank} x i64] "
                            f"[{values}]")
        descr = self.value(f"inttoptr i64 {self.words[f'descr_{output.dtype}']} to ptr")
        self.call("incref", "void", f"ptr {descr}")    # NewFromDescr steals a reference
        array_type = self.value(f"inttoptr i64 {self.words['array_type']} to ptr")
        array = self.call("new_from_descr", "ptr", (
            f"ptr {array_type}, ptr {descr}, i32 {len(output.shape)}, ptr @dims{k}, "
            "ptr null, ptr null, i32 0, ptr null"))
        self.fail_unless(self.compare("ne", "ptr", array, "null"), arrays, "allocated")
        return array

    def given_outputs(self) -> list[str]:
        """out=[arrays]: the one keyword, a list or tuple of exact, C-contiguous, aligned,
        writable arrays of each output's dtype and shape, overlapping no input array and no
        other output (else the fallback, which raises the error)."""
        spec = self.spec
        self.check(self.compare("eq", "i64", self.field("%kwnames", VAR_SIZE, "i64"), 1),
                   "one_keyword")
        name = self.field("%kwnames", TUPLE_ITEMS, "i64")
        self.check(self.compare("eq", "i64", name, self.words["out_name"]), "keyword_is_out")
        address = self.value(f"getelementptr inbounds ptr, ptr %args, i64 "
                             f"{len(spec.arguments)}")
        out = self.value(f"load ptr, ptr {address}")
        kind = self.field(out, OB_TYPE, "i64")
        is_list = self.compare("eq", "i64", kind, self.words["list_type"])
        is_tuple = self.compare("eq", "i64", kind, self.words["tuple_type"])
        self.check(self.value(f"or i1 {is_list}, {is_tuple}"), "out_sequence")
        size = self.field(out, VAR_SIZE, "i64")
        self.check(self.compare("eq", "i64", size, len(spec.outputs)), "out_count")
        list_items = self.field(out, LIST_ITEMS, "ptr")
        tuple_items = self.value(f"getelementptr inbounds i8, ptr {out}, i64 {TUPLE_ITEMS}")
        items = self.value(f"select i1 {is_list}, ptr {list_items}, ptr {tuple_items}")
        arrays = []
        for k, output in enumerate(spec.outputs):
            array = self.field(items, POINTER_SIZE * k, "ptr")
            self.check(self.compare("eq", "i64", self.field(array, OB_TYPE, "i64"),
                                    self.words["array_type"]), "out_array")
            self.array(self.first_output + k, output, array, writable=True)
            arrays.append(array)
        self.disjoint()
        return arrays

    def disjoint(self) -> None:
        """No output's bytes overlap an input array's or another output's (the kernel's
        buffers are noalias). A Python float input lives in this function's frame: it can
        overlap nothing, and a 0-d array input is checked like any other."""
        spec = self.spec
        spans = [(slot, a) for slot, a in enumerate(spec.arguments)] + \
            [(self.first_output + k, o) for k, o in enumerate(spec.outputs)]
        bounds = []
        for slot, tensor in spans:
            start = self.value(f"ptrtoint ptr {self.field('%argv', POINTER_SIZE * slot, 'ptr')} "
                               "to i64")
            end = self.value(f"add i64 {start}, {_SIZE[tensor.dtype] * math.prod(tensor.shape)}")
            bounds.append((start, end))
        for k in range(len(spec.outputs)):
            mine = len(spec.arguments) + k
            out_start, out_end = bounds[mine]
            for start, end in bounds[:mine]:
                before = self.compare("ule", "i64", out_end, start)
                after = self.compare("ule", "i64", end, out_start)
                self.check(self.value(f"or i1 {before}, {after}"), "apart")

    def fail_unless(self, condition: str, arrays: list[str], hint: str,
                    fallback: bool = False) -> None:
        """Continue when condition holds; otherwise release `arrays` and return NULL (a Python
        error is set) or, with fallback=True, go to the Python fallback."""
        passed, failed = self.label(hint), self.label(f"not_{hint}")
        self.emit(f"br i1 {condition}, label %{passed}, label %{failed}")
        self.start(failed)
        for array in arrays:
            self.call("decref", "void", f"ptr {array}")
        self.emit("br label %fallback" if fallback else "ret ptr null")
        self.start(passed)

    def run_kernel(self, arrays: list[str]) -> None:
        kernel = self.value(f"inttoptr i64 {self.words['kernel']} to ptr")
        if not self.spec.release_gil:
            status = self.value(f"call i32 {kernel}(ptr %argv)")
            self.succeeded(status, arrays)
            return
        # the workspace is shared: a second thread arriving while it is in use takes the
        # Python path, which has a workspace per thread
        busy = self.value(f"inttoptr i64 {self.words['busy']} to ptr")
        swapped = self.value(f"cmpxchg ptr {busy}, i64 0, i64 1 acquire monotonic")
        self.fail_unless(self.value(f"extractvalue {{ i64, i1 }} {swapped}, 1"), arrays,
                         "workspace_free", fallback=True)
        state = self.call("save_thread", "ptr", "")
        status = self.value(f"call i32 {kernel}(ptr %argv)")
        self.call("restore_thread", "void", f"ptr {state}")
        self.emit(f"store atomic i64 0, ptr {busy} release, align 8")
        self.succeeded(status, arrays)

    def succeeded(self, status: str, arrays: list[str]) -> None:
        """Continue when the kernel returned 0; otherwise (a failed check) release `arrays`
        and let the fallback run the call again and raise the error."""
        self.fail_unless(self.compare("eq", "i32", status, 0), arrays, "checked",
                         fallback=True)

    def finish(self, arrays: list[str]) -> None:
        if self.spec.single:
            self.emit(f"ret ptr {arrays[0]}")
            return
        result = self.call("list_new", "ptr", f"i64 {len(arrays)}")
        self.fail_unless(self.compare("ne", "ptr", result, "null"), arrays, "list_allocated")
        for k, array in enumerate(arrays):          # PyList_SetItem steals the reference
            self.call("list_set_item", "i32", f"ptr {result}, i64 {k}, ptr {array}")
        self.emit(f"ret ptr {result}")
