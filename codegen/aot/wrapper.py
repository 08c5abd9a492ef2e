"""The C entry points of exported functions, in LLVM IR (llvmlite's builder).

Input: ``abi.Entry`` records and the symbol of each entry's kernel (``int32_t kernel.K(void
**args)``, codegen.llvm.module: 0, or the code of a failed index check). Output: IR text
defining, per entry, the functions
``abi.Entry.symbols`` lists, with the constants and the version string as read-only data.

Every entry point validates before any kernel runs: no NULL pointer where a buffer has
elements, each buffer aligned to its element size (a workspace to 64 bytes), no output
overlapping another argument or the workspace (the kernel's buffer parameters are noalias), a
batch within 0..max_batch; the first failing check's code (abi.ERRORS) is returned. An index
out of range, found by the kernel itself, returns ERROR_INDEX (the outputs may be partly
written: indices computed inside the graph are known only as it runs). NAME
allocates its workspace per call (aligned_alloc, freed before it returns) when the kernel has
one; the *_with_workspace variants take the caller's. The thread count of an entry is one
word read and written atomically (relaxed: it orders nothing else).

NAME_batch runs the kernel over chunks of `batch` rows of the caller's buffers in place; the
last, partial chunk is copied into the workspace (zero-padded to a whole chunk: the padding's
results are computed and dropped, as the rows are independent), computed there, and its rows
copied out.
"""

from __future__ import annotations

from collections.abc import Sequence

from llvmlite import ir

from codegen.aot.abi import CODES, DEFAULT_THREADS, ITEMSIZE, Argument, Entry
from codegen.native.runtime import MAX_THREADS

I1, I8, I32, I64 = ir.IntType(1), ir.IntType(8), ir.IntType(32), ir.IntType(64)
PTR = ir.PointerType()
RESET = "graphnn_parallel_reset"
GEMM_ALLOC = "graphnn.gemm_alloc"    # the allocator of the GEMM's packing buffers


def wrapper_ir(entries: Sequence[Entry], kernels: dict[str, str], pool: bool,
               products: bool = False) -> str:
    """IR text of every entry's C functions; `kernels` maps an entry's name to its kernel's
    symbol; with `pool`, the library has the thread pool, reset in a forked child; with
    `products`, the GEMM's allocator GEMM_ALLOC."""
    module = ir.Module(name="graphnn_export")
    for entry in entries:
        _Api(module, entry, kernels[entry.name]).build()
    if pool:
        _reset_after_fork(module)
    if products:
        _gemm_alloc(module)
    return str(module)


def _gemm_alloc(module: ir.Module) -> None:
    """GEMM_ALLOC: aligned_alloc, or abort() when it fails. A matrix product cannot report a
    failure to its caller midway, and it must not write through a NULL pointer."""
    alloc = _declare(module, "aligned_alloc", PTR, [I64, I64])
    fn = ir.Function(module, ir.FunctionType(PTR, [I64, I64]), GEMM_ALLOC)
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    found = b.call(alloc, list(fn.args))
    with b.if_then(b.icmp_unsigned("==", found, ir.Constant(PTR, None)), likely=False):
        b.call(_declare(module, "abort", ir.VoidType(), []), [])
        b.unreachable()
    b.ret(found)


def _i64(value: int) -> ir.Constant:
    return ir.Constant(I64, value)


def _code(name: str) -> ir.Constant:
    return ir.Constant(I32, CODES[name])


def _declare(module: ir.Module, name: str, ret: ir.Type, args: list[ir.Type]) -> ir.Function:
    found = module.globals.get(name)
    return found if found is not None else ir.Function(module, ir.FunctionType(ret, args), name)


def _data(module: ir.Module, name: str, payload: bytes, align: int) -> ir.GlobalVariable:
    """Read-only bytes, local to the library."""
    data = ir.GlobalVariable(module, ir.ArrayType(I8, len(payload)), name)
    data.initializer = ir.Constant(data.value_type, bytearray(payload))
    data.global_constant = True
    data.linkage = "private"
    data.align = align
    return data


class _Api:
    """The entry points of one entry."""

    def __init__(self, module: ir.Module, entry: Entry, kernel: str) -> None:
        self.module, self.entry = module, entry
        self.kernel = _declare(module, kernel, I32, [PTR])
        self.threads = ir.GlobalVariable(module, I64, f"{entry.name}.threads")
        self.threads.initializer = _i64(DEFAULT_THREADS)
        self.threads.linkage = "internal"
        self.constants = [_data(module, f"{entry.name}.c{k}", c.tobytes(), 64)
                          for k, c in enumerate(entry.constants)]
        self.output_constants = [_data(module, f"{entry.name}.out{k}", c.tobytes(), 64)
                                 for k, c in enumerate(entry.output_constants)]
        self.version = _data(module, f"{entry.name}.version", entry.version.encode() + b"\0", 1)
        self.alloc = _declare(module, "aligned_alloc", PTR, [I64, I64])
        self.free = _declare(module, "free", ir.VoidType(), [PTR])
        self.memcpy = _declare(module, "llvm.memcpy.p0.p0.i64", ir.VoidType(),
                               [PTR, PTR, I64, I1])
        self.memset = _declare(module, "llvm.memset.p0.i64", ir.VoidType(), [PTR, I8, I64, I1])

    def build(self) -> None:
        e = self.entry
        self.run = self._run()
        self._plain(e.name, with_workspace=False)
        self._plain(f"{e.name}_with_workspace", with_workspace=True)
        if e.batch is not None:
            self.chunks = self._chunks()
            self._batched(f"{e.name}_batch", with_workspace=False)
            self._batched(f"{e.name}_batch_with_workspace", with_workspace=True)
        self._set_threads()
        self._version()

    # -- functions -----------------------------------------------------------------------------

    def _function(self, name: str, returns: ir.Type, extra: list[tuple[str, ir.Type]],
                  internal: bool = False) -> tuple[ir.Function, ir.IRBuilder]:
        """A function of `extra` parameters, then one pointer per argument of the entry."""
        params = extra + [(a.name, PTR) for a in self.entry.arguments]
        fn = ir.Function(self.module, ir.FunctionType(returns, [t for _, t in params]), name)
        fn.attributes.add("nounwind")
        for arg, (arg_name, _) in zip(fn.args, params):
            arg.name = arg_name
        if internal:
            fn.linkage = "internal"
        return fn, ir.IRBuilder(fn.append_basic_block("entry"))

    def _run(self) -> ir.Function:
        """run(ws, buffers...): the kernel's pointer array, the kernel, then the outputs that
        are copies (of an input, a constant, or an output given twice)."""
        e = self.entry
        fn, b = self._function(f"{e.name}.run", I32, [("ws", PTR)], True)
        ins, outs = fn.args[1:1 + len(e.inputs)], fn.args[1 + len(e.inputs):]
        first: dict[int, int] = {}          # kernel output -> the output it is written to
        for k, (kind, where) in enumerate(e.sources):
            if kind == "kernel":
                first.setdefault(where, k)
        slots = [*ins, *self.constants, *(outs[first[k]] for k in sorted(first)), fn.args[0]]
        array = b.alloca(ir.ArrayType(PTR, len(slots) + 1), name="args")
        for n, value in enumerate(slots):
            b.store(value, b.gep(array, [_i64(0), _i64(n)], inbounds=True))
        threads = b.load_atomic(self.threads, "monotonic", 8)
        b.store(threads, b.gep(array, [_i64(0), _i64(len(slots))], inbounds=True))
        status = b.call(self.kernel, [array])
        with b.if_then(b.icmp_signed("!=", status, ir.Constant(I32, 0)), likely=False):
            b.ret(_code("ERROR_INDEX"))
        for k, (kind, where) in enumerate(e.sources):
            source = ins[where] if kind == "input" else self.output_constants[where] \
                if kind == "constant" else outs[first[where]] if first[where] != k else None
            if source is not None:
                b.call(self.memcpy, [outs[k], source, _i64(e.outputs[k].nbytes),
                                     ir.Constant(I1, 0)])
        b.ret(_code("OK"))
        return fn

    def _plain(self, name: str, with_workspace: bool) -> None:
        extra = [("ws", PTR)] if with_workspace else []
        fn, b = self._function(name, I32, extra)
        buffers = list(fn.args[len(extra):])
        size = self.entry.workspace_bytes
        sizes = [_i64(a.nbytes) for a in self.entry.arguments]
        workspace = (fn.args[0], _i64(size)) if with_workspace else None
        _Checks(b, self.entry, buffers, sizes, workspace).returns_on_failure()
        self._call(b, size, fn.args[0] if with_workspace else None,
                   lambda ws: b.call(self.run, [ws, *buffers]))

    def _batched(self, name: str, with_workspace: bool) -> None:
        extra = [("ws", PTR)] if with_workspace else []
        fn, b = self._function(name, I32, extra + [("batch", I64)])
        batch = fn.args[len(extra)]
        buffers = list(fn.args[len(extra) + 1:])
        bad = b.or_(b.icmp_signed("<", batch, _i64(0)),
                    b.icmp_signed(">", batch, _i64(self.entry.max_batch)))
        with b.if_then(bad, likely=False):
            b.ret(_code("ERROR_BATCH"))
        sizes = [b.mul(batch, _i64(a.row_bytes)) if a.batched else _i64(a.nbytes)
                 for a in self.entry.arguments]
        size = self.entry.batch_workspace_bytes
        workspace = (fn.args[0], _i64(size)) if with_workspace else None
        _Checks(b, self.entry, buffers, sizes, workspace).returns_on_failure()
        with b.if_then(b.icmp_signed("==", batch, _i64(0))):
            b.ret(_code("OK"))
        self._call(b, size, fn.args[0] if with_workspace else None,
                   lambda ws: b.call(self.chunks, [ws, batch, *buffers]))

    def _call(self, b: ir.IRBuilder, size: int, given: ir.Value | None, call) -> None:
        """Return `call(ws)`'s code, run on the caller's workspace `given` or on one allocated
        for the call."""
        if given is not None:
            b.ret(call(given))
        elif size == 0:
            b.ret(call(ir.Constant(PTR, None)))
        else:
            ws = b.call(self.alloc, [_i64(64), _i64(size)], name="ws")
            with b.if_then(b.icmp_unsigned("==", ws, ir.Constant(PTR, None)), likely=False):
                b.ret(_code("ERROR_NO_MEMORY"))
            status = call(ws)
            b.call(self.free, [ws])
            b.ret(status)

    def _chunks(self) -> ir.Function:
        """chunks(ws, batch, buffers...): whole chunks in place, then the rest through `ws`."""
        e = self.entry
        fn, b = self._function(f"{e.name}.chunks", I32, [("ws", PTR), ("batch", I64)], True)
        ws, batch, buffers = fn.args[0], fn.args[1], list(fn.args[2:])
        chunk = _i64(e.batch)
        full = b.udiv(batch, chunk, name="full")
        with _counted(b, fn, full, "chunk") as c:
            first = b.mul(c, chunk)
            status = b.call(self.run, [ws, *self._rows(b, buffers, first)])
            with b.if_then(b.icmp_signed("!=", status, _code("OK")), likely=False):
                b.ret(status)
        tail = b.urem(batch, chunk, name="tail")
        with b.if_then(b.icmp_unsigned("!=", tail, _i64(0))):
            first = b.mul(full, chunk)
            staged = list(buffers)
            memcpy, memset, no = self.memcpy, self.memset, ir.Constant(I1, 0)
            for argument, offset in e.staging:
                k = e.arguments.index(argument)
                staged[k] = b.gep(ws, [_i64(offset)], source_etype=I8)
                if k < len(e.inputs):
                    used = b.mul(tail, _i64(argument.row_bytes))
                    b.call(memcpy, [staged[k], self._row(b, buffers[k], argument, first),
                                    used, no])
                    b.call(memset, [b.gep(staged[k], [used], source_etype=I8),
                                    ir.Constant(I8, 0), b.sub(_i64(argument.nbytes), used), no])
            status = b.call(self.run, [ws, *staged])
            with b.if_then(b.icmp_signed("!=", status, _code("OK")), likely=False):
                b.ret(status)
            for argument, _ in e.staging[sum(a.batched for a in e.inputs):]:
                k = e.arguments.index(argument)
                b.call(memcpy, [self._row(b, buffers[k], argument, first), staged[k],
                                b.mul(tail, _i64(argument.row_bytes)), no])
        b.ret(_code("OK"))
        return fn

    def _rows(self, b: ir.IRBuilder, buffers: list, first: ir.Value) -> list[ir.Value]:
        return [self._row(b, p, a, first) if a.batched else p
                for p, a in zip(buffers, self.entry.arguments)]

    @staticmethod
    def _row(b: ir.IRBuilder, pointer: ir.Value, argument: Argument, row: ir.Value) -> ir.Value:
        return b.gep(pointer, [b.mul(row, _i64(argument.row_bytes))], source_etype=I8)

    def _set_threads(self) -> None:
        fn = ir.Function(self.module, ir.FunctionType(I32, [I32]),
                         f"{self.entry.name}_set_threads")
        fn.args[0].name = "threads"
        b = ir.IRBuilder(fn.append_basic_block("entry"))
        count = fn.args[0]
        with b.if_then(b.icmp_signed("<", count, ir.Constant(I32, 1)), likely=False):
            b.ret(_code("ERROR_THREADS"))
        most = ir.Constant(I32, MAX_THREADS)
        count = b.select(b.icmp_signed(">", count, most), most, count)
        b.store_atomic(b.sext(count, I64), self.threads, "monotonic", 8)
        b.ret(_code("OK"))

    def _version(self) -> None:
        fn = ir.Function(self.module, ir.FunctionType(PTR, []), f"{self.entry.name}_version")
        b = ir.IRBuilder(fn.append_basic_block("entry"))
        b.ret(b.gep(self.version, [_i64(0), _i64(0)], inbounds=True))


class _Checks:
    """The argument checks of one entry point, as values computed before any branch."""

    def __init__(self, b: ir.IRBuilder, entry: Entry, buffers: list, sizes: list,
                 workspace: tuple[ir.Value, ir.Value] | None) -> None:
        self.b = b
        self.regions = [(p, n, ITEMSIZE[a.dtype], k >= len(entry.inputs))
                        for k, (p, n, a) in enumerate(zip(buffers, sizes, entry.arguments))]
        if workspace is not None and workspace[1].constant > 0:
            self.regions.append((*workspace, 64, True))

    def returns_on_failure(self) -> None:
        """Return the first failing check's code from the function being built."""
        b = self.b
        for name, failed in (("ERROR_NULL", self._null()), ("ERROR_MISALIGNED",
                                                               self._misaligned()),
                             ("ERROR_OVERLAP", self._overlap())):
            with b.if_then(failed, likely=False):
                b.ret(_code(name))

    def _any(self, conditions: list[ir.Value]) -> ir.Value:
        found = ir.Constant(I1, 0)
        for condition in conditions:
            found = self.b.or_(found, condition)
        return found

    def _null(self) -> ir.Value:
        b, null = self.b, ir.Constant(PTR, None)
        return self._any([b.and_(b.icmp_unsigned("==", p, null),
                                 b.icmp_signed(">", n, _i64(0)))
                          for p, n, _, _ in self.regions])

    def _misaligned(self) -> ir.Value:
        b = self.b
        return self._any([b.icmp_unsigned("!=", b.and_(b.ptrtoint(p, I64), _i64(align - 1)),
                                          _i64(0))
                          for p, _, align, _ in self.regions if align > 1])

    def _overlap(self) -> ir.Value:
        """Some written region (an output, the workspace) shares a byte with another region:
        [p, p + n) and [q, q + m) with n, m > 0 overlap iff q - n < p < q + m, that is iff
        p - q + n - 1 < n + m - 1 as unsigned numbers (one comparison per pair)."""
        b, found = self.b, []
        starts = [b.ptrtoint(p, I64) for p, _, _, _ in self.regions]
        for k, (_, n, _, written) in enumerate(self.regions):
            for j, (_, m, _, other_written) in enumerate(self.regions):
                if not written or (other_written and j < k) or j == k or \
                        _zero(n) or _zero(m):
                    continue
                shifted = b.add(b.sub(starts[k], starts[j]), b.sub(n, _i64(1)))
                overlap = b.icmp_unsigned("<", shifted, b.sub(b.add(n, m), _i64(1)))
                if not isinstance(n, ir.Constant) or not isinstance(m, ir.Constant):
                    overlap = b.and_(overlap, b.and_(b.icmp_signed(">", n, _i64(0)),
                                                     b.icmp_signed(">", m, _i64(0))))
                found.append(overlap)
        return self._any(found)


def _zero(size: ir.Value) -> bool:
    return isinstance(size, ir.Constant) and size.constant == 0


class _counted:
    """``with _counted(b, fn, n, "i") as i:`` a loop over i in 0..n (n >= 0)."""

    def __init__(self, b: ir.IRBuilder, fn: ir.Function, count: ir.Value, name: str) -> None:
        self.b, self.fn, self.count, self.name = b, fn, count, name

    def __enter__(self) -> ir.Value:
        b = self.b
        self.before = b.block
        self.head = self.fn.append_basic_block(f"{self.name}.head")
        self.body = self.fn.append_basic_block(f"{self.name}.body")
        self.end = self.fn.append_basic_block(f"{self.name}.end")
        b.branch(self.head)
        b.position_at_start(self.head)
        self.index = b.phi(I64, self.name)
        self.index.add_incoming(_i64(0), self.before)
        b.cbranch(b.icmp_unsigned("<", self.index, self.count), self.body, self.end)
        b.position_at_start(self.body)
        return self.index

    def __exit__(self, *exc: object) -> None:
        b = self.b
        following = b.add(self.index, _i64(1))
        self.index.add_incoming(following, b.block)
        b.branch(self.head)
        b.position_at_start(self.end)


def _reset_after_fork(module: ir.Module) -> None:
    """A constructor registering the pool's reset for forked children (pthread_atfork)."""
    atfork = _declare(module, "pthread_atfork", I32, [PTR, PTR, PTR])
    reset = _declare(module, RESET, ir.VoidType(), [])
    init = ir.Function(module, ir.FunctionType(ir.VoidType(), []), "graphnn.export.init")
    init.linkage = "internal"
    b = ir.IRBuilder(init.append_basic_block("entry"))
    null = ir.Constant(PTR, None)
    b.call(atfork, [null, null, reset])
    b.ret_void()
    entry = ir.LiteralStructType([I32, PTR, PTR])
    ctors = ir.GlobalVariable(module, ir.ArrayType(entry, 1), "llvm.global_ctors")
    ctors.linkage = "appending"
    ctors.initializer = ir.Constant(ir.ArrayType(entry, 1), [ir.Constant(entry, [
        ir.Constant(I32, 65535), init, null])])
