"""Kernel -> LLVM module: the entry function, the body function and outlined parallel loops.

Input: a verified ``loops.Kernel``. Output: a ``LoweredKernel`` holding the ``ir.Module``, the
entry symbol and the workspace layout. The calling ABI is one pointer array:

    int32_t kernel.<name>(void **args)
    args = [input_0, ..., output_0, ..., workspace, threads]

It returns 0, or the code of the first ``loops.Check`` that failed (an index out of range),
at which point the kernel stopped: the body and stage functions return that status too.

``threads`` is an integer stored in a pointer-sized slot, clamped to 1..MAX_THREADS on entry
(whatever a caller stored there, native code never sees a count it cannot use). The entry loads
every pointer and calls ``<name>.body`` whose buffer parameters are ``noalias`` (the checked
call guarantees outputs overlap nothing), so loops vectorize without runtime alias checks.
Temps are byte offsets into the workspace. A top-level ``parallel`` loop becomes
``<name>.par<N>(args, start, end)``, which runs iterations start..end, and the body calls the
runtime's ``graphnn_parallel_for`` with an array of its own buffer pointers (so LLVM sees the
call may touch them).

A long kernel (an unrolled recurrence, an imported model: thousands of statements) is split at
statement boundaries into ``<name>.stage<N>`` functions of at most about ``stage_size`` loop IR
nodes each (``codegen.options.CodegenOptions``), called in order by the body and never inlined
into it: LLVM's optimizer takes time
superlinear in the size of a function, so bounded functions make compile time linear in the
kernel's length. A statement that repeats up to its buffers (``codegen.llvm.stages``) becomes a
call of ``<name>.shared<N>(p0, p1, ..., threads)``, compiled once. Kernels below the limit
(every hand-written network we know of) stay one function, so their IR is unchanged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from llvmlite import ir

from codegen import loops
from codegen.cost import statement_size, work
from codegen.llvm import stages
from codegen.llvm.emitter import I32, I64, Emitter, i64, written_buffers
from codegen.llvm.vecmath import keep_variants
from codegen.native.gemm import clamp_threads
from codegen.options import CodegenOptions
from codegen.workspace import Layout, layout, touched

PTR = ir.PointerType()
PARALLEL_FOR = "graphnn_parallel_for"
GEMM_MODES = ("auto", "blas", "native", "loops")


@dataclass(frozen=True)
class LoweredKernel:
    module: ir.Module
    entry: str
    layout: Layout
    slots: int  # length of the args pointer array


def entry_symbol(kernel: loops.Kernel) -> str:
    return f"kernel.{kernel.name}"


def build_module(kernel: loops.Kernel, *, gemm: str = "blas",
                 options: CodegenOptions | None = None) -> LoweredKernel:
    """Lower ``kernel`` into a fresh module; the text is deterministic for a given kernel and
    options.

    ``gemm``: how Gemm statements run, "auto", "blas", "native" or "loops" (codegen.llvm.gemm).
    ``options``: the stage size and the parallel grain (default: ``CodegenOptions()``)."""
    if gemm not in GEMM_MODES:
        raise ValueError(f"gemm must be one of {GEMM_MODES}, got {gemm!r}")
    builder = _ModuleBuilder(kernel, gemm, CodegenOptions() if options is None else options)
    builder.build()
    return LoweredKernel(builder.module, entry_symbol(kernel), builder.layout,
                         builder.workspace_slot + 2)


class _ModuleBuilder:
    def __init__(self, kernel: loops.Kernel, gemm: str, options: CodegenOptions) -> None:
        self.kernel = kernel
        self.gemm = gemm
        self.options = options
        self.module = ir.Module(name=kernel.name)
        self.layout = layout(kernel)
        self.buffers = kernel.inputs + kernel.outputs
        self.workspace_slot = len(self.buffers)
        self.parallel_count = 0
        self.long = False           # split into stages, math functions called
        self.repeats: stages.Repeats | None = None
        self.shared: dict[int, ir.Function] = {}    # a function per repeated signature

    def build(self) -> None:
        body = self._region(f"{self.kernel.name}.body", [("threads", I64)])
        sizes = [statement_size(stmt) for stmt in self.kernel.body]
        self.long = sum(sizes) > self.options.stage_size
        if not self.long:       # (every hand-written network: the IR is one body function)
            self._fill(body, self.kernel.body)
        else:
            self.repeats = stages.Repeats(self.kernel.body)
            b = ir.IRBuilder(body.append_basic_block("entry"))
            split = stages.split_stages(self.kernel.body, sizes, self.options.stage_size)
            for k, stmts in enumerate(split):
                stage = self._region(f"{self.kernel.name}.stage{k}", [("threads", I64)])
                stage.attributes.add("noinline")      # inlined back, it would be one function
                self._fill(stage, stmts)
                status = b.call(stage, list(body.args))
                with b.if_then(b.icmp_signed("!=", status, ir.Constant(I32, 0)), likely=False):
                    b.ret(status)                     # a check failed: stop there
            b.ret(ir.Constant(I32, 0))
        keep_variants(self.module)      # long kernels' math, and sin and cos in any kernel
        entry = ir.Function(self.module, ir.FunctionType(I32, [PTR]), entry_symbol(self.kernel))
        entry.args[0].name = "args"
        entry.attributes.add("nounwind")
        b = ir.IRBuilder(entry.append_basic_block("entry"))
        threads = b.load(b.gep(entry.args[0], [i64(self.workspace_slot + 1)],
                               source_etype=I64), typ=I64, name="threads")
        b.ret(b.call(body, [*self._load_pointers(b, entry.args[0]), clamp_threads(b, threads)]))

    def _fill(self, fn: ir.Function, stmts: tuple[loops.Stmt, ...]) -> None:
        """Emit `stmts` as the whole body of a region function with a threads argument."""
        emitter = self._emitter(fn, threads=fn.args[-1])
        for stmt in stmts:
            repeat = self.repeats.of(stmt) if self.repeats is not None else None
            if isinstance(stmt, loops.Loop) and stmt.parallel:
                self._parallel(emitter, stmt, fn.args[-1])
            elif repeat is not None:
                number, buffers = repeat
                emitter.builder.call(self._shared(number, stmt, buffers),
                                     [*(emitter.pointers[b.name] for b in buffers), fn.args[-1]])
                emitter.invalidate(written_buffers((stmt,)))
            else:
                emitter.emit(stmt)
        emitter.builder.ret(ir.Constant(I32, 0))

    def _shared(self, number: int, stmt: loops.Stmt,
                buffers: tuple[loops.Buffer, ...]) -> ir.Function:
        """The function computing statements of one signature (`number`; `stmt` is one of
        them) on the buffers p0, p1, ... it is called with (the distinct buffers of one
        statement: noalias), defined on first use."""
        fn = self.shared.get(number)
        if fn is None:
            name = f"{self.kernel.name}.shared{len(self.shared)}"
            fn = ir.Function(self.module, ir.FunctionType(ir.VoidType(),
                                                          [PTR] * len(buffers) + [I64]), name)
            fn.linkage = "internal"
            fn.attributes.add("nounwind")
            fn.attributes.add("noinline")           # called from many places: compiled once
            for k, arg in enumerate(fn.args[:-1]):
                arg.name = f"p{k}"
                arg.add_attribute("noalias")
            fn.args[-1].name = "threads"
            b = ir.IRBuilder(fn.append_basic_block("entry"))
            pointers = {f"p{k}": arg for k, arg in enumerate(fn.args[:-1])}
            emitter = Emitter(b, pointers, self.gemm, fn.args[-1], call_math=True,
                              unroll_below=self.options.unroll_below)
            emitter.emit(stages.shape_of(stmt, buffers))
            b.ret_void()
            self.shared[number] = fn
        return fn

    def _region(self, name: str, extra: list[tuple[str, ir.Type]],
                returns: ir.Type = I32, temps: tuple[loops.Buffer, ...] = ()) -> ir.Function:
        """An internal function taking every buffer pointer (noalias), the workspace, the
        addresses of `temps` (noalias), extras; it returns the kernel's status (i32) unless
        told otherwise."""
        pointers = self.workspace_slot + 1 + len(temps)
        types = [PTR] * pointers + [t for _, t in extra]
        fn = ir.Function(self.module, ir.FunctionType(returns, types), name)
        fn.linkage = "internal"
        fn.attributes.add("nounwind")
        names = [b.name for b in self.buffers] + ["workspace"] + [t.name for t in temps] + \
            [n for n, _ in extra]
        for arg, arg_name in zip(fn.args, names, strict=True):
            arg.name = arg_name
        for arg in fn.args[:pointers]:
            arg.add_attribute("noalias")
        return fn

    def _emitter(self, fn: ir.Function, threads: ir.Value | None = None,
                 temps: tuple[loops.Buffer, ...] = ()) -> Emitter:
        b = ir.IRBuilder(fn.append_basic_block("entry"))
        pointers = _Pointers(b, fn.args[self.workspace_slot], self.layout.offsets)
        pointers.update((buf.name, fn.args[n]) for n, buf in enumerate(self.buffers))
        pointers.update((temp.name, fn.args[self.workspace_slot + 1 + n])
                        for n, temp in enumerate(temps))
        if not self.long:       # every temp's pointer up front (a stage makes the ones it uses)
            for temp in self.kernel.temps:
                pointers[temp.name]  # noqa: B018 - __missing__ emits its address
        return Emitter(b, pointers, self.gemm, threads, call_math=self.long,
                       unroll_below=self.options.unroll_below)

    def _load_pointers(self, b: ir.IRBuilder, args: ir.Value) -> list[ir.Value]:
        names = [buf.name for buf in self.buffers] + ["workspace"]
        return [b.load(b.gep(args, [i64(n)], source_etype=PTR), typ=PTR, name=name)
                for n, name in enumerate(names)]

    def _parallel(self, emitter: Emitter, stmt: loops.Loop, threads: ir.Value) -> None:
        name = f"{self.kernel.name}.par{self.parallel_count}"
        self.parallel_count += 1
        # The temps the loop touches are live together, so their bytes are disjoint
        # (codegen.workspace): passed as noalias parameters rather than offsets into one
        # workspace, they let LLVM vectorize a loop reading one at a stride and writing another
        # (a pooling's column pass, graphnn/lower/pool.py), which as offsets from one base it
        # left scalar, unable to rule out an overlap.
        used = touched(stmt)
        temps = tuple(t for t in self.kernel.temps if t.name in used)
        body = self._region(f"{name}.body", [("start", I64), ("end", I64)], ir.VoidType(),
                            temps)
        inner = self._emitter(body, temps=temps)
        inner.serial_loop(stmt, body.args[-2], body.args[-1])
        inner.builder.ret_void()

        outlined = ir.Function(self.module, ir.FunctionType(ir.VoidType(), [PTR, I64, I64]), name)
        outlined.linkage = "internal"
        outlined.attributes.add("nounwind")
        for arg, arg_name in zip(outlined.args, ("args", "start", "end"), strict=True):
            arg.name = arg_name
        b = ir.IRBuilder(outlined.append_basic_block("entry"))
        pointers = self._load_pointers(b, outlined.args[0])
        addresses = [b.gep(pointers[-1], [i64(self.layout.offsets[t.name])], inbounds=True,
                           source_etype=ir.IntType(8), name=t.name) for t in temps]
        b.call(body, [*pointers, *addresses, *outlined.args[1:]])
        b.ret_void()

        per_iteration = max(1, sum(work(s) for s in stmt.body))
        grain = max(1, math.ceil(self.options.parallel_min_work / per_iteration))
        runtime = self.module.globals.get(PARALLEL_FOR) or ir.Function(
            self.module, ir.FunctionType(ir.VoidType(), [PTR, PTR, I64, I64, I64]), PARALLEL_FOR)
        # The workers reach the buffers through a pointer array built here from this function's
        # own (noalias) parameters, not through the caller's args: storing them where the call
        # can read them tells LLVM the call may touch those buffers. Handing over the caller's
        # array instead let LLVM forward a store made before the parallel loop to a load after
        # it, as if the workers had written nothing (noalias promises every access goes through
        # pointers based on the parameter).
        b = emitter.builder
        fn = b.function
        count = self.workspace_slot + 1
        with b.goto_entry_block():
            shared = b.alloca(ir.ArrayType(PTR, count), name=f"{name}.args")
        for n in range(count):
            b.store(fn.args[n], b.gep(shared, [i64(0), ir.Constant(ir.IntType(32), n)],
                                      inbounds=True))
        b.call(runtime, [outlined, shared, i64(stmt.extent), i64(grain), threads])
        emitter.invalidate(written_buffers(stmt.body))


class _Pointers(dict):
    """Buffer name -> base pointer in one function; a temp's address (an offset into the
    workspace) is emitted in the entry block on first use."""

    def __init__(self, builder: ir.IRBuilder, workspace: ir.Value,
                 offsets: dict[str, int]) -> None:
        super().__init__()
        self.builder, self.workspace, self.offsets = builder, workspace, offsets

    def __missing__(self, name: str) -> ir.Value:
        with self.builder.goto_entry_block():
            self[name] = self.builder.gep(self.workspace, [i64(self.offsets[name])],
                                          inbounds=True, source_etype=ir.IntType(8), name=name)
        return self[name]
