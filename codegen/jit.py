"""Kernel -> native code: verify, optimize, cache, JIT-link, and call with NumPy arrays.

Input: a ``loops.Kernel``. Output: a ``CompiledKernel``. Steps: ``codegen.llvm`` emits LLVM IR;
llvmlite parses and verifies it and runs the new pass manager at a fixed level (speed level 3, loop
and SLP vectorization) for a ``Target`` (codegen.llvm.target: this CPU unless told otherwise, e.g.
``Target.named("x86-64-v3")`` for AVX2 code on an AVX-512 machine); the target machine emits a PIC
object file, which the disk cache (``codegen.cache``) stores under a hash of the loop IR, the
options (``codegen.options.CodegenOptions``, by its repr), codegen's source, the target's CPU name
and features, llvmlite version and these settings; a cached object is checked
(``codegen.objectfile``) before the linker sees it, and one that fails the check or the link is
evicted and rebuilt; ORC links the object into its own JIT library, resolving libc and libm from the
process and ``blas_sgemm``/``blas_dgemm`` from SciPy's Cython BLAS capsules. Code is linked only for
a target this CPU can run (``Target.check_runs_here``). This module and codegen.native (the
CPython entry points and their ABI probes) are the only ones that touch ctypes.

>>> import numpy as np
>>> from codegen import loops
>>> x = loops.Buffer("x", "f64", (3,)); y = loops.Buffer("y", "f64", (3,))
>>> k = loops.Kernel("double", [x], [y], body=[loops.loop(3, lambda i: loops.store(y, i,
...     x[i] * 2.0))])
>>> compile_kernel(k)(np.array([1.0, 2.0, 3.0]))
array([2., 4., 6.])
"""

from __future__ import annotations

import ctypes
import functools
import importlib.util
import itertools
import os
import sys
import threading
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import llvmlite
import llvmlite.binding as llvm
import numpy as np

from codegen import cache, loops, objectfile
from codegen.arrays import CheckFailed, address, check_call
from codegen.cpu_caches import CacheSizes, host_sizes
from codegen.llvm.gemm import runs_native
from codegen.llvm.module import GEMM_MODES, PARALLEL_FOR, build_module, entry_symbol
from codegen.llvm.target import Target
from codegen.native import dconv as native_dconv
from codegen.native import dconv_lanes as native_dconv_lanes
from codegen.native import gemm as native_gemm
from codegen.native.abi import capsule_address
from codegen.native.runtime import futex_syscall, runtime_ir, thread_count
from codegen.options import CodegenOptions
from codegen.workspace import layout

# How a module is compiled (each string is part of its cache key):
LEVELS = {
    # kernels with loops: LLVM's full pipeline, vectorizers on, best instruction selection
    # (without the loop unroller a third less compile time, but the direct convolution loses
    # its fully unrolled 3x3 windows: 1.5-2x slower, measured)
    "full": "speed_level=3 loop_vectorization slp_vectorization opt=3 reloc=pic",
    # graphnn's GEMM (codegen.native.gemm): its micro-kernel is already written out as vector
    # FMAs over the register tile, so the unroller only copied the depth loop around it, and
    # speed level 3 and the SLP vectorizer had nothing to add (only the packing loops are left
    # to the loop vectorizer): the micro-kernel's module compiles in 75 ms instead of 145, the
    # products run as fast (320-440 GFLOP/s on 2 Zen 5 cores, within the noise)
    "gemm": "speed_level=2 loop_vectorization no_unroll opt=3 reloc=pic",
    # straight-line kernels (no loop, reduction or product: nothing to vectorize): registers
    # for locals and local simplification, then the fast instruction selector; bit-identical
    # results (the same instructions in the same order), 4 ms instead of 20 ms
    "light": "sroa instcombine simplifycfg opt=0 reloc=pic",
    # glue (the CPython entry, the thread pool): already what the optimizer would leave;
    # 7 ms instead of 80 ms for an entry, at the same cost per call
    "none": "no passes opt=0 reloc=pic",
}
_OPTIMIZED = ("full", "gemm")      # the levels whose instruction selection is -O3
# Undefined symbols generated code may leave to the process besides a caller's imports: PIC
# code's GOT base, the C library functions codegen.native.runtime and codegen.native.gemm call,
# and those LLVM calls for memory intrinsics and for math intrinsics a CPU lacks instructions
# for (llvm.pow always; floor, rint, fma, minnum, maxnum, sqrt without SSE4.1, FMA, AVX).
PROCESS_SYMBOLS = frozenset({
    "_GLOBAL_OFFSET_TABLE_", "memset", "memcpy", "memmove", "aligned_alloc", "free", "syscall",
    "pthread_create", "pthread_detach",
    *(f"{name}{suffix}" for name in ("pow", "floor", "rint", "fma", "fmin", "fmax", "sqrt")
      for suffix in ("", "f")),
})
_LOCK = threading.RLock()  # llvmlite's JIT objects are not documented as thread-safe
_LIBRARY_IDS = itertools.count()
_RUNTIME_OBJECTS: list[Any] = []  # the parallel runtime's JIT library, kept for good
# int32_t kernel(void **args), called with the integer address of a ctypes pointer array: an
# int argument converts faster than a ctypes array object (see BoundKernel.run). It returns 0,
# or the code of the loops.Check that failed.
KernelFunction = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_void_p)


@functools.cache
def target_machine(target: Target, opt: int = 3) -> llvm.TargetMachine:
    """The target machine generating code for `target` at code generation level `opt` (0
    selects LLVM's fast instruction selector)."""
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    machine = llvm.Target.from_triple(llvm.get_process_triple())
    return machine.create_target_machine(cpu=target.cpu, features=target.features, opt=opt,
                                         reloc="pic", codemodel="jitdefault")


def host() -> str:
    """This CPU as code generation sees it: its name and features (a cache-key part)."""
    target = Target.host()
    return f"{target.cpu} {target.features}"


@functools.cache
def _lljit() -> llvm.LLJIT:
    # ORC only links objects here (they are compiled by target_machine beforehand): one JIT
    # for this process serves code built for any target this CPU runs
    return llvm.create_lljit_compiler(target_machine(Target.host()))


def optimize(ir_text: str, target: Target, level: str = "full") -> llvm.ModuleRef:
    """Parse, verify and optimize LLVM IR text for `target` at one of the `LEVELS`."""
    tm = target_machine(target)
    module = llvm.parse_assembly(ir_text)
    module.triple = llvm.get_process_triple()
    module.data_layout = str(tm.target_data)
    module.verify()
    for function in module.functions:
        if not function.is_declaration:
            # Nothing unwinds through generated code: with every function nounwind, LLVM emits
            # no .eh_frame, which the runtime linker would hand to the process's unwinder
            # unchecked (codegen.objectfile refuses objects that carry one).
            function.add_function_attribute("nounwind")
    if level in _OPTIMIZED:
        options = llvm.create_pipeline_tuning_options(speed_level=2 if level == "gemm" else 3)
        options.loop_vectorization = True
        options.slp_vectorization = level != "gemm"
        options.loop_unrolling = level == "full"
        builder = llvm.create_pass_builder(tm, options)
        builder.getModulePassManager().run(module, builder)
    elif level == "light":
        builder = llvm.create_pass_builder(tm, llvm.create_pipeline_tuning_options(0))
        passes = llvm.create_new_function_pass_manager()
        passes.add_sroa_pass()
        passes.add_instruction_combine_pass()
        passes.add_simplify_cfg_pass()
        for function in module.functions:
            if not function.is_declaration:
                passes.run(function, builder)
    return module


def emit(ir_text: str, target: Target, level: str = "full", key: str | None = None) -> bytes:
    """Object code for LLVM IR text, for `target` (any, runnable here or not), at one of the
    `LEVELS`. Given the cache `key` the object will be stored under, the key is written into it
    (``objectfile.KEY_SYMBOL``): the object says which entry it was made for."""
    if key is not None:
        ir_text += f'\n@"{objectfile.KEY_SYMBOL}" = constant [64 x i8] c"{key}"\n'
    return target_machine(target, 3 if level in _OPTIMIZED else 0).emit_object(
        optimize(ir_text, target, level))


def _link(data: bytes, name: str, exports: list[str],
          imports: dict[str, int]) -> llvm.ResourceTracker:
    builder = llvm.JITLibraryBuilder().add_object_img(data).add_current_process()
    for symbol, location in imports.items():
        builder.import_symbol(symbol, location)
    for symbol in exports:
        builder.export_symbol(symbol)
    return builder.link(_lljit(), f"{name}#{next(_LIBRARY_IDS)}")


def _cached_link(kind: str, key: str, build: Callable[[str], bytes], name: str,
                 exports: list[str], imports: dict[str, int]) -> tuple[llvm.ResourceTracker, bool]:
    """Link the object cached under `kind` and `key`, else `build(key)` it, link it and cache
    it; (tracker, whether it came from the cache). The linker never sees a cached object that
    fails codegen.objectfile's check (its shape, its symbols, the key written into it), and one
    that fails the check or the link is evicted and rebuilt, never left there to fail again.
    Call with _LOCK held."""
    allowed = PROCESS_SYMBOLS | imports.keys()
    data = cache.load(kind, key) if objectfile.supported() else None
    if data is not None:
        try:
            objectfile.check(data, exports, allowed, key)
            return _link(data, name, exports, imports), True
        except (objectfile.ObjectFileError, RuntimeError):
            cache.evict(kind, key)
    data = build(key)
    tracker = _link(data, name, exports, imports)
    if objectfile.supported():
        try:
            objectfile.check(data, exports, allowed, key)
        except objectfile.ObjectFileError as error:   # LLVM emitted something new: say so
            warnings.warn(f"graphnn: object code of {name} not cached: {error}",
                          cache.CacheWarning, stacklevel=2)
        else:
            cache.store(kind, key, data)
    return tracker, False


def _link_generated(description: str, build: Callable[[], str], name: str,
                    exports: list[str], imports: dict[str, int], target: Target,
                    level: str = "full") -> llvm.ResourceTracker:
    """Link a generated module (the runtime, a GEMM, an entry point) for `target` through the
    cache, under `description` and codegen's source version: a hit skips building the IR text
    (tens of ms of Python for big modules)."""
    key = cache.cache_key([description, codegen_version(), target.cpu, target.features,
                           llvmlite.__version__, LEVELS[level]])
    with _LOCK:
        return _cached_link("generated", key, lambda k: emit(build(), target, level, k), name,
                            exports, imports)[0]


def link_entry(description: str, build: Callable[[], str], symbol: str, target: Target,
               level: str = "full") -> llvm.ResourceTracker:
    """Compile (through the cache) and link a generated module with no imports, for `target`
    (which this CPU must run)."""
    target.check_runs_here()
    return _link_generated(description, build, symbol, [symbol], {}, target, level)


@functools.cache
def _blas_symbols() -> dict[str, int]:
    """SciPy's Fortran sgemm/dgemm, from its cython_blas capsules. The extension is loaded by
    itself: importing scipy.linalg for it would cost 0.5 s, this about 0.17 s."""
    blas = sys.modules.get("scipy.linalg.cython_blas") or _load_cython_blas()
    return {f"blas_{p}gemm": capsule_address(blas.__pyx_capi__[f"{p}gemm"]) for p in "sd"}


def _load_cython_blas() -> Any:
    name = "scipy.linalg.cython_blas"
    scipy_spec = importlib.util.find_spec("scipy")
    if scipy_spec is None or scipy_spec.origin is None:
        raise ImportError("gemm='blas' needs SciPy (pip install scipy), or use gemm='native'")
    folder = Path(scipy_spec.origin).parent / "linalg"
    found = sorted(folder.glob("cython_blas*.so")) + sorted(folder.glob("cython_blas*.pyd"))
    if not found:
        import scipy.linalg.cython_blas as blas  # an unusual layout: the plain import
        return blas
    spec = importlib.util.spec_from_file_location(name, found[0])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules[name] = module
    return module


@functools.cache
def _parallel_symbols() -> dict[str, int]:
    """The parallel-for runtime, compiled (or loaded from the cache) once per process, for this
    CPU: one thread pool serves the kernels of every target."""
    # glue too: the pool's hand-off costs the same compiled either way (measured, 200k-element
    # loop on 2 threads), and quick compilation takes 40 ms less on a process's first kernel
    # the futex syscall (None: the serial runtime) picks the runtime's text, so it is in the key
    tracker = _link_generated(f"graphnn runtime futex={futex_syscall()}", runtime_ir,
                              "graphnn_runtime",
                              [PARALLEL_FOR, "graphnn_parallel_reset"], {}, Target.host(),
                              level="none")
    reset = ctypes.CFUNCTYPE(None)(tracker["graphnn_parallel_reset"])
    _RUNTIME_OBJECTS.extend([tracker, reset])
    os.register_at_fork(after_in_child=reset)  # a forked child has none of the pool's threads
    return {PARALLEL_FOR: tracker[PARALLEL_FOR]}


def gemm_symbol(name: str, target: Target, caches: CacheSizes) -> int:
    """Address of one layout's entry of our GEMM (codegen.native.gemm), generated for the
    target's vector width and blocked for `caches` (codegen.cpu_caches): the module of its
    dtype holds every layout, compiled or loaded from the cache the first time this process
    needs one."""
    dtype = name.split("_")[-2]
    return _gemm_module(dtype, target, caches)[name]


@functools.cache
def _gemm_module(dtype: str, target: Target, caches: CacheSizes) -> dict[str, int]:
    """Every layout's entry of our GEMM for `dtype`, the target and the caches: symbol to
    address."""
    target.check_runs_here()
    names = [native_gemm.symbol(dtype, a, b) for a, b in native_gemm.VARIANTS]
    block = native_gemm.blocking(dtype, target.vector_bits, caches)
    tracker = _link_generated(
        f"graphnn_gemm_{dtype} {target.vector_bits} {block}", functools.partial(
            native_gemm.gemm_ir, dtype, target.vector_bits, caches=caches),
        f"graphnn_gemm_{dtype}", names, _parallel_symbols(), target, level="gemm")
    _RUNTIME_OBJECTS.append(tracker)
    return {name: tracker[name] for name in names}


@functools.cache
def _dconv_module(dtype: str, target: Target) -> int:
    """Address of our direct convolution's micro-kernel (codegen.native.dconv) for `dtype`,
    generated for the target's vector width, compiled or loaded from the cache the first time
    this process needs it."""
    target.check_runs_here()
    name = native_dconv.symbol(dtype)
    tracker = _link_generated(
        f"{name} {target.vector_bits} {native_dconv.tile_shape(target.vector_bits)} "
        f"{native_dconv.narrow_shape(target.vector_bits)}",
        functools.partial(native_dconv.dconv_ir, dtype, target.vector_bits), name, [name],
        {}, target, level="gemm")
    _RUNTIME_OBJECTS.append(tracker)
    return tracker[name]


@functools.cache
def _dconv_lanes_module(dtype: str, target: Target, pooled: bool = False) -> int:
    """Address of the direct convolution's micro-kernel with output channels in the lanes
    (codegen.native.dconv_lanes; `pooled`: its 2x2 max pooling variant), as
    `_dconv_module`."""
    target.check_runs_here()
    name = native_dconv_lanes.symbol(dtype, pooled)
    shape = (native_dconv_lanes.pooled_shape if pooled else native_dconv_lanes.tile_shape)(
        target.vector_bits)
    tracker = _link_generated(
        f"{name} {target.vector_bits} {shape}",
        functools.partial(native_dconv_lanes.dconv_lanes_ir, dtype, target.vector_bits,
                          None, pooled), name, [name], {}, target, level="gemm")
    _RUNTIME_OBJECTS.append(tracker)
    return tracker[name]


def compile_kernel(kernel: loops.Kernel, *, blas: bool = True, gemm: str | None = None,
                   threads: int | None = None, target: Target | None = None,
                   options: CodegenOptions | None = None) -> CompiledKernel:
    """Compile ``kernel`` to native code (through the disk cache).

    ``gemm`` chooses how ``Gemm`` statements run: "blas" (SciPy's BLAS), "native" (our packed
    micro-kernel, codegen.native.gemm, single-threaded inside parallel loops), "auto" (native,
    a single row as plain loops: ``codegen.llvm.gemm.runs_native``) or "loops" (plain loops);
    without it, ``blas``
    picks "blas" or "loops". ``threads`` is the default thread count of parallel loops and
    native GEMM (None: every core the process may use, ``runtime.available_cores()``; see
    ``runtime.thread_count``), overridable per call. ``target`` is the CPU the code is built
    for (None: ``Target.host()``); one this CPU cannot run raises ``UnsupportedTarget``.
    ``options`` sets how the module is built (stage size, parallel grain; None: the defaults).

    The cache key is the loop IR with the options, codegen's own source and the target: a
    cached kernel is linked without building its LLVM IR at all (``llvm_ir`` is made on demand).
    """
    mode = gemm or ("blas" if blas else "loops")
    if mode not in GEMM_MODES:
        raise ValueError(f"gemm must be one of {GEMM_MODES}, got {mode!r}")
    count = thread_count(threads)
    target = Target.host() if target is None else target
    target.check_runs_here()
    options = CodegenOptions() if options is None else options
    nodes = _nodes(kernel)
    level = _level(nodes)
    key = _kernel_key(kernel, nodes, mode, target, options)
    symbol = entry_symbol(kernel)
    with _LOCK:
        imports = _kernel_imports(kernel, nodes, mode, target,
                                  options.cache_sizes(host_sizes()))
        tracker, cached = _cached_link(
            "kernel", key, lambda k: emit(str(build_module(
                kernel, gemm=mode, options=options).module), target, level, k),
            kernel.name, [symbol], imports)
    return CompiledKernel(kernel, mode, tracker, count, cached, target, options)


def kernel_key(kernel: loops.Kernel, gemm: str, target: Target, options: CodegenOptions) -> str:
    """The object cache key of a kernel compiled with these settings: its loop IR, the gemm
    mode (when it has a Gemm or a DirectConv), the options' repr (every field, so a new one
    cannot be left out), codegen's source, the target and llvmlite's version and optimization
    level."""
    return _kernel_key(kernel, _nodes(kernel), gemm, target, options)


def _kernel_key(kernel: loops.Kernel, nodes: list[loops.Node], gemm: str, target: Target,
                options: CodegenOptions) -> str:
    has_gemm = any(isinstance(n, (loops.Gemm, loops.DirectConv)) for n in nodes)
    return cache.cache_key([str(kernel), gemm if has_gemm else "", repr(options),
                            codegen_version(), target.cpu, target.features,
                            llvmlite.__version__, LEVELS[_level(nodes)]])


def kernel_level(kernel: loops.Kernel) -> str:
    """"full" for kernels with loops, reductions or products; "light" for straight-line ones."""
    return _level(_nodes(kernel))


def _nodes(kernel: loops.Kernel) -> list[loops.Node]:
    """Every node of the kernel's body (one walk, shared by the questions asked of it)."""
    return [n for stmt in kernel.body for n in loops.walk(stmt)]


def _level(nodes: list[loops.Node]) -> str:
    repeats = (loops.Loop, loops.Reduce, loops.Gemm, loops.DirectConv)
    return "full" if any(isinstance(n, repeats) for n in nodes) else "light"


@functools.cache
def codegen_version() -> str:
    """A stamp of codegen's source (the package and its subpackages): the LLVM IR emitted for
    a kernel follows from it."""
    return cache.source_stamp(Path(__file__).parent)


def _kernel_imports(kernel: loops.Kernel, nodes: list[loops.Node], mode: str,
                    target: Target, caches: CacheSizes) -> dict[str, int]:
    """Addresses of the runtime symbols the kernel's code (its `nodes`) may call, our GEMM's
    blocked for `caches`."""
    imports: dict[str, int] = {}
    for g in (n for n in nodes if isinstance(n, loops.Gemm)):
        if mode == "blas":
            imports.update(_blas_symbols())
        elif runs_native(mode, g):
            name = native_gemm.symbol(g.c.dtype, g.trans_a, g.trans_b)
            imports[name] = gemm_symbol(name, target, caches)
    if mode != "loops":
        convs = [n for n in nodes if isinstance(n, loops.DirectConv)]
        for dtype in sorted({n.out.dtype for n in convs if n.lanes == "positions"}):
            imports[native_dconv.symbol(dtype)] = _dconv_module(dtype, target)
        for dtype, pooled in sorted({(n.out.dtype, n.lanes == "pool2x2") for n in convs
                                     if n.lanes != "positions"}):
            imports[native_dconv_lanes.symbol(dtype, pooled)] = _dconv_lanes_module(
                dtype, target, pooled)
    if any(isinstance(n, loops.Loop) and n.parallel for n in nodes):
        imports.update(_parallel_symbols())
    return imports


class Workspace:
    """A 64-byte aligned scratch buffer of fixed size."""

    def __init__(self, size: int) -> None:
        self.raw = np.empty(size + 64, np.uint8)
        start = -address(self.raw) % 64
        self.address = address(self.raw) + start


class CompiledKernel:
    """A kernel compiled to native code.

    ``ck(*inputs, out=None, threads=None)`` validates every array and runs; ``ck.bind(...)``
    validates once and returns a ``BoundKernel`` whose call costs a fraction of a microsecond.
    ``loop_ir``, ``llvm_ir``, ``optimized_ir`` and ``assembly`` show each compilation stage.
    """

    def __init__(self, kernel: loops.Kernel, gemm: str, tracker: llvm.ResourceTracker,
                 threads: int, from_cache: bool, target: Target,
                 options: CodegenOptions | None = None) -> None:
        self.kernel = kernel
        self.name = kernel.name
        self.gemm = gemm
        self.options = CodegenOptions() if options is None else options
        self.threads = thread_count(threads)
        self.target = target
        self.from_cache = from_cache
        self.workspace_bytes = layout(kernel).size
        self._slots = len(kernel.inputs) + len(kernel.outputs) + 2   # + workspace, threads
        self._tracker = tracker  # the JIT library lives as long as this object
        self._function = KernelFunction(tracker[entry_symbol(kernel)])
        self._local = threading.local()  # one workspace per calling thread

    @functools.cached_property
    def llvm_ir(self) -> str:
        """The LLVM IR as emitted, before optimization (built on demand)."""
        return str(build_module(self.kernel, gemm=self.gemm, options=self.options).module)

    @property
    def function_address(self) -> int:
        """Address of the native ``int32_t kernel(void **args)``."""
        return ctypes.cast(self._function, ctypes.c_void_p).value

    @property
    def loop_ir(self) -> str:
        return str(self.kernel)

    @functools.cached_property
    def optimized_ir(self) -> str:
        with _LOCK:
            return str(optimize(self.llvm_ir, self.target, kernel_level(self.kernel)))

    @functools.cached_property
    def assembly(self) -> str:
        level = kernel_level(self.kernel)
        with _LOCK:
            return target_machine(self.target, 3 if level in _OPTIMIZED else 0).emit_assembly(
                optimize(self.llvm_ir, self.target, level))

    def _workspace(self) -> Workspace:
        workspace = getattr(self._local, "workspace", None)
        if workspace is None:
            workspace = self._local.workspace = Workspace(self.workspace_bytes)
        return workspace

    def _arguments(self, addresses: list[int], workspace: Workspace,
                   threads: int) -> ctypes.Array[ctypes.c_void_p]:
        return (ctypes.c_void_p * self._slots)(*addresses, workspace.address, threads)

    def __call__(self, *inputs: np.ndarray, out: Any = None,
                 threads: int | None = None) -> np.ndarray | tuple[np.ndarray, ...]:
        """Validate the arrays, run, and return the output (a tuple if several); a failed
        check of the kernel (an index out of range) raises ``CheckFailed`` with its code."""
        outputs, addresses = check_call(self.kernel, inputs, out)
        count = self.threads if threads is None else thread_count(threads)
        arguments = self._arguments(addresses, self._workspace(), count)
        status = self._function(ctypes.addressof(arguments))
        if status:
            raise CheckFailed(self.name, status)
        return outputs[0] if len(outputs) == 1 else outputs

    def bind(self, *inputs: np.ndarray, out: Any = None, threads: int | None = None) -> BoundKernel:
        """Validate once and pre-build the argument array; see ``BoundKernel``."""
        outputs, addresses = check_call(self.kernel, inputs, out)
        workspace = Workspace(self.workspace_bytes)
        count = self.threads if threads is None else thread_count(threads)
        return BoundKernel(self, inputs, outputs, workspace,
                           self._arguments(addresses, workspace, count))

    def __repr__(self) -> str:
        return f"<CompiledKernel {self.name}{' (cached)' if self.from_cache else ''}>"


class BoundKernel:
    """A compiled kernel fixed to validated arrays: ``bound()`` runs it with no checks.

    The arrays are kept alive here; refill ``inputs`` in place (``x[...] = new``) and read
    ``outputs`` after each call. ``bound.run()`` is the same call without returning the outputs,
    the cheapest way to run native code from Python (one ctypes call with an int argument); it
    returns the kernel's status (0, or the code of a failed check). Not for concurrent use from
    several threads (one workspace).
    """

    def __init__(self, compiled: CompiledKernel, inputs: tuple[np.ndarray, ...],
                 outputs: tuple[np.ndarray, ...], workspace: Workspace,
                 arguments: ctypes.Array[ctypes.c_void_p]) -> None:
        self.compiled = compiled
        self.inputs = inputs
        self.outputs = outputs
        self._workspace = workspace
        self._arguments = arguments
        self.run = functools.partial(compiled._function, ctypes.addressof(arguments))

    @property
    def threads(self) -> int:
        return int(self._arguments[len(self._arguments) - 1] or 0)

    @threads.setter
    def threads(self, count: int | None) -> None:
        """Set the thread count of later calls (None: the compiled kernel's)."""
        self._arguments[len(self._arguments) - 1] = \
            self.compiled.threads if count is None else thread_count(count)

    def __call__(self) -> tuple[np.ndarray, ...]:
        status = self.run()
        if status:
            raise CheckFailed(self.compiled.name, status)
        return self.outputs
