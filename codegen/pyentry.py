"""A CPython entry point for a compiled kernel, in LLVM IR: the whole call validated natively.

Input: an `EntrySpec` (which Python arguments feed which kernel inputs, the outputs to
allocate). Output: LLVM IR text for one function with CPython's METH_FASTCALL | METH_KEYWORDS
signature,

    PyObject *entry(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)

that checks every argument (exact ndarray type, the canonical dtype descriptor, dimensions,
C-contiguous and aligned flags; or an exact Python float for a 0-d input), allocates the outputs
with NumPy's PyArray_NewFromDescr, runs the kernel (releasing the GIL for large kernels) and
returns the array (or a list of them). Anything else (keywords, another shape, a subclass, an
int, a non-contiguous array) goes to a Python fallback, which gives the same result or the
proper error. So native code runs only on arguments it validated itself.

`self` is a NumPy array of process-specific addresses (`TABLE`): type objects, dtype
descriptors, C-API functions, the kernel, the fallback. The IR holds no address, so its object
code is cached on disk like any kernel.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from llvmlite import ir

I8, I32, I64 = ir.IntType(8), ir.IntType(32), ir.IntType(64)
F32, F64 = ir.FloatType(), ir.DoubleType()
PTR = ir.PointerType()

# Layout of CPython and NumPy objects (stable ABI fields, checked at run time by codegen.jit)
OB_TYPE = 8                    # PyObject.ob_type
FLOAT_VALUE = 16               # PyFloatObject.ob_fval
ARRAY_DATA, ARRAY_ND, ARRAY_DIMS, ARRAY_DESCR, ARRAY_FLAGS = 16, 24, 32, 56, 64
NPY_C_CONTIGUOUS_ALIGNED = 0x0001 | 0x0100

# slots of the address table passed as `self`
TABLE = ("float_type", "array_type", "new_from_descr", "incref", "decref", "vectorcall",
         "list_new", "list_set_item", "save_thread", "restore_thread", "kernel", "fallback",
         "workspace", "threads", "busy", "descr_f32", "descr_f64", "list_type", "tuple_type",
         "out_name")
VAR_SIZE, ITEMS = 16, 24        # PyVarObject.ob_size; a list's ob_item pointer, a tuple's items
NPY_WRITEABLE = 0x0400


@dataclass(frozen=True)
class Argument:
    dtype: str                       # "f32" or "f64"
    shape: tuple[int, ...]


@dataclass(frozen=True)
class EntrySpec:
    name: str
    arguments: tuple[Argument, ...]  # the Python arguments, the kernel's first inputs
    constants: int                   # further kernel inputs, addresses in the table after TABLE
    outputs: tuple[Argument, ...]    # the kernel outputs, allocated per call
    single: bool                     # return the one output itself, not a list
    release_gil: bool                # worth releasing the GIL (and guarding the workspace)

    @property
    def symbol(self) -> str:
        return f"entry.{self.name}"


def entry_ir(spec: EntrySpec) -> str:
    """The LLVM IR text of the entry point (deterministic for a given spec)."""
    module = ir.Module(name=spec.symbol)
    function = ir.Function(module, ir.FunctionType(PTR, [PTR, PTR, I64, PTR]), spec.symbol)
    _Entry(module, function, spec).build()
    return str(module)


class _Entry:
    def __init__(self, module: ir.Module, function: ir.Function, spec: EntrySpec) -> None:
        self.module, self.function, self.spec = module, function, spec
        self.self_, self.args, self.nargs, self.kwnames = function.args
        self.builder = ir.IRBuilder(function.append_basic_block("entry"))
        self.fallback = function.append_basic_block("fallback")
        self.slots = len(spec.arguments) + spec.constants + len(spec.outputs) + 2

    # -- helpers ---------------------------------------------------------------------------------

    def field(self, pointer: ir.Value, offset: int, kind: ir.Type) -> ir.Value:
        address = self.builder.gep(pointer, [ir.Constant(I64, offset)], source_etype=I8)
        return self.builder.load(address, typ=kind)

    def table(self, key: str | int) -> ir.Value:
        index = TABLE.index(key) if isinstance(key, str) else key
        address = self.builder.gep(self.table_base, [ir.Constant(I64, index)], source_etype=I64)
        return self.builder.load(address, typ=I64)

    def pointer(self, key: str | int) -> ir.Value:
        return self.builder.inttoptr(self.table(key), PTR)

    def call(self, key: str, result: ir.Type, arguments: list[ir.Value]) -> ir.Value:
        """Call the C function whose address is in the table (a typed function pointer tells
        llvmlite the signature; LLVM itself sees an opaque pointer)."""
        kind = ir.FunctionType(result, [a.type for a in arguments])
        callee = self.builder.inttoptr(self.table(key), kind.as_pointer())
        return self.builder.call(callee, arguments)

    def check(self, condition: ir.Value, name: str) -> None:
        """Continue when condition holds; otherwise go to the Python fallback."""
        passed = self.function.append_basic_block(name)
        self.builder.cbranch(condition, passed, self.fallback)
        self.builder.position_at_start(passed)

    # -- the function ----------------------------------------------------------------------------

    def build(self) -> None:
        b = self.builder
        self.table_base = self.field(self.self_, ARRAY_DATA, PTR)
        self.argv = b.alloca(PTR, self.slots, name="argv")
        count = ir.Constant(I64, len(self.spec.arguments))
        self.check(b.icmp_signed("==", self.nargs, count), "count_ok")
        for position, argument in enumerate(self.spec.arguments):
            self.argument(position, argument)
        for k in range(self.spec.constants):
            self.set_slot(len(self.spec.arguments) + k, self.pointer(len(TABLE) + k))
        given = self.function.append_basic_block("out_given")
        fresh = self.function.append_basic_block("out_fresh")
        b.cbranch(b.icmp_unsigned("!=", self.kwnames, ir.Constant(PTR, None)), given, fresh)
        b.position_at_start(fresh)
        arrays = self.allocate_outputs()
        self.run_kernel(arrays)
        self.finish(arrays)
        b.position_at_start(given)
        arrays = self.given_outputs()
        self.run_kernel([])                   # borrowed: nothing to release on the way out
        for array in arrays:                  # the result holds new references to them
            self.call("incref", ir.VoidType(), [array])
        self.finish(arrays)
        self.build_fallback()

    def set_slot(self, slot: int, value: ir.Value) -> None:
        address = self.builder.gep(self.argv, [ir.Constant(I64, slot)], source_etype=PTR)
        self.builder.store(value, address)

    def argument(self, position: int, argument: Argument) -> None:
        b = self.builder
        address = b.gep(self.args, [ir.Constant(I64, position)], source_etype=PTR)
        obj = b.load(address, typ=PTR)
        kind = self.field(obj, OB_TYPE, I64)
        if not argument.shape:
            self.scalar_or_array(position, argument, obj, kind)
            return
        self.check(b.icmp_unsigned("==", kind, self.table("array_type")), f"a{position}_array")
        self.array(position, argument, obj)

    def scalar_or_array(self, position: int, argument: Argument, obj, kind) -> None:
        """A 0-d input: an exact Python float (converted as NumPy would), or a 0-d array."""
        b = self.builder
        value = b.alloca(F32 if argument.dtype == "f32" else F64, name=f"scalar{position}")
        is_float = b.icmp_unsigned("==", kind, self.table("float_type"))
        with b.if_else(is_float) as (then, otherwise):
            with then:
                number = self.field(obj, FLOAT_VALUE, F64)
                b.store(b.fptrunc(number, F32) if argument.dtype == "f32" else number, value)
                self.set_slot(position, value)
            with otherwise:
                self.check(b.icmp_unsigned("==", kind, self.table("array_type")),
                           f"a{position}_array")
                self.array(position, argument, obj)

    def array(self, position: int, argument: Argument, obj, writable: bool = False) -> None:
        b = self.builder
        descr = self.field(obj, ARRAY_DESCR, I64)
        self.check(b.icmp_unsigned("==", descr, self.table(f"descr_{argument.dtype}")),
                   f"a{position}_dtype")
        nd = self.field(obj, ARRAY_ND, I32)
        self.check(b.icmp_signed("==", nd, ir.Constant(I32, len(argument.shape))),
                   f"a{position}_ndim")
        dims = self.field(obj, ARRAY_DIMS, PTR)
        for axis, size in enumerate(argument.shape):
            address = b.gep(dims, [ir.Constant(I64, axis)], source_etype=I64)
            self.check(b.icmp_signed("==", b.load(address, typ=I64), ir.Constant(I64, size)),
                       f"a{position}_dim{axis}")
        wanted = NPY_C_CONTIGUOUS_ALIGNED | (NPY_WRITEABLE if writable else 0)
        flags = b.and_(self.field(obj, ARRAY_FLAGS, I32), ir.Constant(I32, wanted))
        self.check(b.icmp_signed("==", flags, ir.Constant(I32, wanted)), f"a{position}_layout")
        self.set_slot(position, self.field(obj, ARRAY_DATA, PTR))

    def allocate_outputs(self) -> list[ir.Value]:
        b = self.builder
        first = len(self.spec.arguments) + self.spec.constants
        arrays: list[ir.Value] = []
        for k, output in enumerate(self.spec.outputs):
            dims = ir.GlobalVariable(self.module, ir.ArrayType(I64, max(1, len(output.shape))),
                                     f"dims{k}")
            dims.global_constant = True
            dims.initializer = ir.Constant(dims.value_type, list(output.shape) or [0])
            descr = self.pointer(f"descr_{output.dtype}")
            self.call("incref", ir.VoidType(), [descr])        # NewFromDescr steals a reference
            array = self.call("new_from_descr", PTR, [
                self.pointer("array_type"), descr, ir.Constant(I32, len(output.shape)), dims,
                ir.Constant(PTR, None), ir.Constant(PTR, None), ir.Constant(I32, 0),
                ir.Constant(PTR, None)])
            self.fail_unless(b.icmp_unsigned("!=", array, ir.Constant(PTR, None)), arrays,
                             f"out{k}_allocated")
            arrays.append(array)
            self.set_slot(first + k, self.field(array, ARRAY_DATA, PTR))
        self.set_slot(first + len(self.spec.outputs), self.pointer("workspace"))
        self.set_slot(first + len(self.spec.outputs) + 1, self.pointer("threads"))
        return arrays

    def given_outputs(self) -> list[ir.Value]:
        """out=[arrays]: the one keyword, a list or tuple of exact, C-contiguous, aligned,
        writable arrays of each output's dtype and shape, overlapping no input array and no
        other output (else the fallback, which raises the error)."""
        b = self.builder
        names = self.kwnames                                  # a tuple of keyword names
        self.check(b.icmp_signed("==", self.field(names, VAR_SIZE, I64), ir.Constant(I64, 1)),
                   "one_keyword")
        self.check(b.icmp_unsigned("==", self.field(names, ITEMS, I64), self.table("out_name")),
                   "keyword_is_out")
        slot = b.gep(self.args, [ir.Constant(I64, len(self.spec.arguments))], source_etype=PTR)
        out = b.load(slot, typ=PTR)
        kind = self.field(out, OB_TYPE, I64)
        is_list = b.icmp_unsigned("==", kind, self.table("list_type"))
        is_tuple = b.icmp_unsigned("==", kind, self.table("tuple_type"))
        self.check(b.or_(is_list, is_tuple), "out_sequence")
        count = ir.Constant(I64, len(self.spec.outputs))
        self.check(b.icmp_signed("==", self.field(out, VAR_SIZE, I64), count), "out_count")
        items = b.select(is_list, self.field(out, ITEMS, PTR),
                         b.gep(out, [ir.Constant(I64, ITEMS)], source_etype=I8))
        first = len(self.spec.arguments) + self.spec.constants
        arrays = []
        for k, output in enumerate(self.spec.outputs):
            address = b.gep(items, [ir.Constant(I64, k)], source_etype=PTR)
            array = b.load(address, typ=PTR)
            self.check(b.icmp_unsigned("==", self.field(array, OB_TYPE, I64),
                                       self.table("array_type")), f"out{k}_array")
            self.array(first + k, output, array, writable=True)
            arrays.append(array)
        self.set_slot(first + len(self.spec.outputs), self.pointer("workspace"))
        self.set_slot(first + len(self.spec.outputs) + 1, self.pointer("threads"))
        self.disjoint(first)
        return arrays

    def disjoint(self, first: int) -> None:
        """No output's bytes overlap an input array's or another output's (the kernel's
        buffers are noalias). Scalar inputs live on this function's stack: no overlap."""
        b = self.builder
        spans = [(slot, argument) for slot, argument in enumerate(self.spec.arguments)
                 if argument.shape] + [(first + k, output)
                                       for k, output in enumerate(self.spec.outputs)]
        size = {"f32": 4, "f64": 8}

        def bounds(slot, argument):
            address = b.gep(self.argv, [ir.Constant(I64, slot)], source_etype=PTR)
            start = b.ptrtoint(b.load(address, typ=PTR), I64)
            nbytes = ir.Constant(I64, size[argument.dtype] * math.prod(argument.shape))
            return start, b.add(start, nbytes)
        for k in range(len(self.spec.outputs)):
            out_start, out_end = bounds(*spans[len(spans) - len(self.spec.outputs) + k])
            for other in spans[:len(spans) - len(self.spec.outputs) + k]:
                start, end = bounds(*other)
                apart = b.or_(b.icmp_unsigned("<=", out_end, start),
                              b.icmp_unsigned("<=", end, out_start))
                self.check(apart, f"out{k}_apart")

    def fail_unless(self, condition: ir.Value, arrays: list[ir.Value], name: str,
                    fallback: bool = False) -> None:
        """Continue when condition holds; otherwise release `arrays` and return NULL (a Python
        error is set) or, with fallback=True, go to the Python fallback."""
        b = self.builder
        passed = self.function.append_basic_block(name)
        failed = self.function.append_basic_block(name + "_failed")
        b.cbranch(condition, passed, failed)
        b.position_at_start(failed)
        for array in arrays:
            self.call("decref", ir.VoidType(), [array])
        if fallback:
            b.branch(self.fallback)
        else:
            b.ret(ir.Constant(PTR, None))
        b.position_at_start(passed)

    def run_kernel(self, arrays: list[ir.Value]) -> None:
        b = self.builder
        if not self.spec.release_gil:
            self.call("kernel", ir.VoidType(), [self.argv])
            return
        # the workspace is shared: a second thread arriving while it is in use takes the
        # Python path, which has a workspace per thread
        busy = b.inttoptr(self.table("busy"), I64.as_pointer())   # typed: store_atomic needs it
        swapped = b.cmpxchg(busy, ir.Constant(I64, 0), ir.Constant(I64, 1), "acquire",
                            "monotonic")
        self.fail_unless(b.extract_value(swapped, 1), arrays, "workspace_free", fallback=True)
        state = self.call("save_thread", PTR, [])
        self.call("kernel", ir.VoidType(), [self.argv])
        self.call("restore_thread", ir.VoidType(), [state])
        b.store_atomic(ir.Constant(I64, 0), busy, "release", 8)

    def finish(self, arrays: list[ir.Value]) -> None:
        b = self.builder
        if self.spec.single:
            b.ret(arrays[0])
            return
        result = self.call("list_new", PTR, [ir.Constant(I64, len(arrays))])
        self.fail_unless(b.icmp_unsigned("!=", result, ir.Constant(PTR, None)), arrays,
                         "list_allocated")
        for k, array in enumerate(arrays):          # PyList_SetItem steals the reference
            self.call("list_set_item", I32, [result, ir.Constant(I64, k), array])
        b.ret(result)

    def build_fallback(self) -> None:
        self.builder.position_at_start(self.fallback)
        result = self.call("vectorcall", PTR, [self.pointer("fallback"), self.args, self.nargs,
                                               self.kwnames])
        self.builder.ret(result)
