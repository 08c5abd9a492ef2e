"""`gn.compile`: a graph as a native function called with NumPy arrays.

Stage: compilation. Input: output nodes (forward values and gradients together). Output: a
`Function` that validates its arguments (names, dtypes, shapes, layout) before native code runs,
specializes itself per batch size, and returns arrays owned by the caller; when calls with the
declared shapes can enter native code directly, the Function inside a `NativeFunction`.
"""

from __future__ import annotations

import abc
import functools
import hashlib
import math
import os
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from codegen.aot import Exported
from codegen.arrays import CheckFailed
from codegen.jit import CompiledKernel, compile_kernel
from codegen.llvm import GEMM_MODES, Target
from codegen.native.pycall import NativeEntry, native_entry
from codegen.native.pyentry import Argument, EntrySpec
from codegen.native.runtime import thread_count
from graphnn.compiler.export import export_function
from graphnn.compiler.plans import plan
from graphnn.compiler.rebatch import batch_change, rebatch
from graphnn.compiler.shipping import Shipped, cpu_setting, decode, encode
from graphnn.errors import InputError, OpError, did_you_mean
from graphnn.evaluate import NUMBERS, convert, evaluate
from graphnn.graph import Graph
from graphnn.ir import DTYPES, Node, identifier
from graphnn.options import CompileOptions
from graphnn.passes import optimize as optimize_graph

_NUMPY = {name: np.dtype(name) for name in DTYPES}
_LOOP_DTYPE = {"float32": "f32", "float64": "f64", "int32": "i32", "int64": "i64", "bool": "i1"}
CALL_OPTIONS = ("out", "threads")  # keywords of a call that are not inputs (unless one is named so)


class Specialization:
    """One compiled kernel for one set of input shapes, and how to assemble its results.

    `graph` is the graph as declared for these shapes; the kernel comes from its plan
    (graphnn.compiler.plans: optimized, lowered, scheduled with `options`; from the disk cache
    when the same graph was compiled before)."""

    def __init__(self, graph: Graph, name: str, gemm: str, threads: int | None,
                 optimize: bool, target: Target, options: CompileOptions) -> None:
        self.declared = graph
        self.optimize = optimize
        self.options = options
        self.plan = plan(graph, name, optimize, options)
        self.kernel: CompiledKernel = compile_kernel(self.plan.kernel, gemm=gemm,
                                                     threads=threads, target=target,
                                                     options=options.codegen)

    @functools.cached_property
    def graph(self) -> Graph:
        """The graph the kernel was lowered from (optimized unless optimize=False); made on
        demand, since a plan from the cache skips optimizing."""
        return optimize_graph(self.declared, options=self.options) if self.optimize \
            else self.declared

    def entry_spec(self, single: bool) -> EntrySpec | None:
        """The native entry's description, when every graph output is its own kernel output
        (outputs that are inputs, constants or repeats are assembled by the Python path)."""
        if not self.plan.outputs or \
                self.plan.sources != tuple(("kernel", k) for k in range(len(self.plan.sources))):
            return None
        arguments = tuple(Argument(_LOOP_DTYPE[n.dtype], n.shape) for n in self.declared.inputs)
        outputs = tuple(Argument(_LOOP_DTYPE[dtype], shape) for dtype, shape in self.plan.outputs)
        touched = sum(math.prod(a.shape) for a in arguments + outputs)
        return EntrySpec(self.plan.kernel.name, arguments, len(self.plan.constants), outputs,
                         single, release_gil=touched >= self.options.release_gil_elements,
                         out_keyword="out" not in (n.name for n in self.declared.inputs))

    def run(self, arrays: list[np.ndarray], out: list[np.ndarray] | None,
            threads: int | None) -> list[np.ndarray]:
        kernel_out = None
        taken: set[int] = set()
        if out is not None:
            kernel_out = [None] * len(self.plan.outputs)
            for (kind, where), array in zip(self.plan.sources, out):
                if kind == "kernel" and where not in taken:
                    kernel_out[where] = array
                    taken.add(where)
            kernel_out = [a if a is not None else np.empty(shape, dtype)
                          for a, (dtype, shape) in zip(kernel_out, self.plan.outputs)]
        try:
            results = self.kernel(*arrays, *self.plan.constants, out=kernel_out,
                                  threads=threads) if self.plan.outputs else ()
        except CheckFailed as failed:
            raise self._index_error(arrays, failed) from None
        results = results if isinstance(results, tuple) else (results,)
        return self._assemble(results, arrays, out)

    def _index_error(self, arrays: list[np.ndarray], failed: CheckFailed) -> InputError:
        """The error of a call whose kernel found an index out of range: the one the
        reference evaluation gives on these arguments (naming the op, the input and the
        index), which runs only now, on the error path."""
        try:
            evaluate(self.declared, dict(zip(self.declared.inputs, arrays)))
        except InputError as error:
            return error
        return InputError(f"an index is out of range (check {failed.code} of kernel "
                          f"{failed.kernel})")

    def _assemble(self, results, arrays, out) -> list[np.ndarray]:
        values, used = [], set()
        for k, (kind, where) in enumerate(self.plan.sources):
            source = results[where] if kind == "kernel" else \
                arrays[where] if kind == "input" else where
            owned = kind == "kernel" and where not in used
            used.add(where) if kind == "kernel" else None
            if out is not None:
                if out[k] is not source:
                    np.copyto(out[k], source)
                values.append(out[k])
            else:
                values.append(source if owned else np.array(source, copy=True))
        return values


class Function(metaclass=abc.ABCMeta):  # noqa: B024 (ABCMeta to register NativeFunction)
    """A compiled graph. Call it with one array per input, by position (in the graph's input
    order) or by name; Python numbers are accepted for scalar inputs. Any identifier names an
    input: a keyword naming an input feeds it, even `out`, `threads` or `self` (`f.call` keeps
    the options apart from the inputs).

    Every argument is checked (dtype, shape, C-contiguity: other layouts are copied) before
    native code runs. The leading (batch) dimension may differ from the declared one where it
    is provably the batch (compiler/rebatch.py): the function compiles a specialization per
    batch size and keeps it. Results are arrays nobody else holds (or the arrays passed as
    `out=`): a result (up to 64 MiB) may be an array the function returned earlier and
    its caller has since let go of, reused instead of allocated; an array anyone still holds is
    never written again. Safe to call from several threads at once.
    """

    def __init__(self, graph: Graph, single: bool, *, gemm: str = "auto",
                 threads: int | None = None, optimize: bool = True,
                 target: Target | None = None, options: CompileOptions | None = None) -> None:
        self.graph = graph
        self.single = single
        self.gemm = gemm
        self.threads = threads
        self.optimize = optimize
        self.target = Target.host() if target is None else target
        self.options = CompileOptions() if options is None else options
        self._lock = threading.Lock()
        self._names = tuple(n.name for n in graph.inputs)
        declared = tuple(n.shape for n in graph.inputs)
        self._specializations = {declared: self._build(graph)}
        self._native = self._native_entry(self._specializations[declared])

    def _native_entry(self, specialization: Specialization) -> NativeEntry | None:
        """The native code that validates calls with the declared shapes and runs them
        (codegen.native.pycall), falling back on `call_python` for every other call; None when
        there is none (`NativeFunction.around` makes it the call of what `gn.compile` returns)."""
        spec = specialization.entry_spec(self.single)
        return None if spec is None else native_entry(
            specialization.kernel, spec, specialization.plan.constants, self.call_python)

    def _build(self, graph: Graph) -> Specialization:
        # optimized after specializing: folding fixes the graph to its shapes (a `size` node
        # becomes a number), so the declared graph, not the optimized one, is what rebatches
        return Specialization(graph, self.graph.name, self.gemm, self.threads, self.optimize,
                              self.target, self.options)

    # -- introspection --------------------------------------------------------------------------

    @property
    def base(self) -> Specialization:
        return self._specializations[tuple(n.shape for n in self.graph.inputs)]

    @property
    def loop_ir(self) -> str:
        """The loop IR of the kernel for the declared shapes."""
        return self.base.kernel.loop_ir

    @property
    def llvm_ir(self) -> str:
        """The LLVM IR as emitted, before LLVM's optimizer."""
        return self.base.kernel.llvm_ir

    @property
    def optimized_llvm_ir(self) -> str:
        """The LLVM IR after LLVM's optimization pipeline (vectorized loops and all)."""
        return self.base.kernel.optimized_ir

    @property
    def assembly(self) -> str:
        """The machine code for the function's target CPU (`cpu=` of `compile`), as assembly
        text."""
        return self.base.kernel.assembly

    # -- calling --------------------------------------------------------------------------------

    def call_python(self, /, *args: Any, **kwargs: Any) -> np.ndarray | list[np.ndarray]:
        """`f(*arrays, out=None, threads=None, **by_name)`, validated and assembled in Python
        (any arguments, any batch size). A keyword that names an input feeds that input, so an
        input named `out` or `threads` takes the place of the option (`f.call` passes both)."""
        options = {key: kwargs.pop(key) for key in CALL_OPTIONS
                   if key in kwargs and key not in self._names}
        return self._call(args, kwargs, **options)

    __call__ = call_python

    def call(self, arguments: Sequence[Any] | Mapping[str, Any] = (), *, out: Any = None,
             threads: int | None = None) -> np.ndarray | list[np.ndarray]:
        """The call with the inputs in one sequence (by position) or mapping (by name), apart
        from the options: `out=` and `threads=` for a function with an input of that name.

        >>> import numpy as np, graphnn as gn
        >>> out = gn.input("out", shape=(2,))
        >>> f = gn.compile(out * 2.0)
        >>> f(out=np.ones(2))
        array([2., 2.])
        >>> result = np.empty(2)
        >>> f.call({"out": np.ones(2)}, out=result) is result, result
        (True, array([2., 2.]))
        """
        if isinstance(arguments, Mapping):
            return self._call((), dict(arguments), out, threads)
        if isinstance(arguments, (list, tuple)):
            return self._call(tuple(arguments), {}, out, threads)
        raise InputError(f"call takes the inputs as a list or tuple (by position) or a mapping "
                         f"(by name), got {_describe(arguments)}")

    def _call(self, args: Sequence[Any], kwargs: dict[str, Any], out: Any = None,
              threads: int | None = None) -> np.ndarray | list[np.ndarray]:
        if threads is not None:
            threads = _option(thread_count, threads, InputError)
        arrays = self._arguments(args, kwargs)
        shapes = tuple(a.shape for a in arrays)
        specialization = self._specialization(shapes)
        outputs = self._outputs(out, specialization.declared)
        if outputs is not None:
            arrays = _apart_from(outputs, arrays)
        values = specialization.run(arrays, outputs, threads)
        return values[0] if self.single else values

    def _specialization(self, shapes: tuple) -> Specialization:
        found = self._specializations.get(shapes)
        if found is None:
            batch_change(self.graph.inputs, shapes)          # a clear error before any work
            with self._lock:
                found = self._specializations.get(shapes)
                if found is None:
                    # only a provable batch re-specializes (compiler/rebatch.py); every
                    # other shape is refused with the error gn.evaluate gives
                    found = self._build(rebatch(self.graph, shapes))
                    self._specializations[shapes] = found
        return found

    def _arguments(self, args: Sequence[Any], kwargs: Mapping[str, Any]) -> list[np.ndarray]:
        inputs = self.graph.inputs
        if len(args) > len(inputs):
            raise InputError(f"{self.graph.name} takes {len(inputs)} inputs "
                             f"({', '.join(n.name for n in inputs)}), got {len(args)}")
        values: dict[str, Any] = {n.name: a for n, a in zip(inputs, args)}
        for key, value in kwargs.items():
            key = identifier(key) if isinstance(key, str) else key
            if key not in self._names:
                options = [o for o in CALL_OPTIONS if o not in self._names]
                raise InputError(f"{self.graph.name} has no input {key!r} (inputs: "
                                 f"{', '.join(self._names)})"
                                 f"{did_you_mean(key, [*self._names, *options])}")
            if key in values:
                raise InputError(f"input {key!r} is given twice (by position and by name)")
            values[key] = value
        missing = [n for n in inputs if n.name not in values]
        if missing:
            node = missing[0]
            raise InputError(f"missing input {node.name!r}: a {node.dtype} array of shape "
                             f"{node.shape}")
        return [_array(node, values[node.name]) for node in inputs]

    def _outputs(self, out: Any, graph: Graph) -> list[np.ndarray] | None:
        if out is None:
            return None
        arrays = [out] if isinstance(out, np.ndarray) else list(out)
        if len(arrays) != len(graph.outputs):
            raise InputError(f"out= needs {len(graph.outputs)} arrays, got {len(arrays)}")
        for k, (node, array) in enumerate(zip(graph.outputs, arrays)):
            if not isinstance(array, np.ndarray) or array.dtype != _NUMPY[node.dtype] or \
                    array.shape != node.shape or not array.flags.c_contiguous or \
                    not array.flags.aligned or not array.flags.writeable:
                raise InputError(f"{_out_label(k, node)} must be a writable, aligned, "
                                 f"C-contiguous {node.dtype} array of shape {node.shape}, got "
                                 f"{_describe(array)}")
            for j in range(k):
                if np.may_share_memory(arrays[j], array):
                    raise InputError(f"{_out_label(k, node)} overlaps "
                                     f"{_out_label(j, graph.outputs[j])}: each output needs "
                                     f"memory of its own")
        return arrays

    def export(self, path: str | os.PathLike, name: str | None = None,
               cpu: str | Target = "host", batch: Sequence[str] | bool | None = None
               ) -> Exported:
        """Write the function for the declared shapes as C: `path` ending in .o (an object
        file) or .so (a shared library, linked with the system's C compiler) and NAME.h
        beside it, callable with no Python. `name` prefixes every symbol (default: the
        compile name, or "graphnn_fn" for the default "f"); `cpu` is "host" or an x86-64
        level ("x86-64-v2", "-v3", "-v4") for a library that runs on every CPU of that
        level; `batch` names the batched inputs of NAME_batch (None: inferred where the rows
        are independent; False: none). docs/export.md describes the C interface.

        >>> import os, tempfile, graphnn as gn
        >>> x = gn.input("x", shape=(3,))
        >>> f = gn.compile(gn.tanh(x), name="squash")
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     exported = f.export(os.path.join(folder, "squash.o"))
        ...     header = exported.header.read_text()
        >>> exported.symbols
        ('squash', 'squash_set_threads', 'squash_version', 'squash_with_workspace')
        >>> "int squash(const double *x, double *out_0);" in header
        True
        """
        return export_function(self, path, name, cpu, batch)

    def map_blocks(self, x: Any, *args: Any) -> Any:
        """The function applied to every block of the dask array `x` (chunked along its
        leading, batch axis), as a dask array (a list of them for several outputs). Each
        further argument is a dask array with the same rows (split alike) or an array or
        number given whole to every block (weights). Each block size compiles its own
        specialization (only where the graph's leading dimension is provably the batch:
        compiler/rebatch.py). Needs dask; works with any dask scheduler, a
        `distributed.Client` included (the function travels pickled: see `__reduce__`).

        >>> import numpy as np, dask.array as da, graphnn as gn
        >>> x = gn.input("x", shape=(4, 3)); w = gn.input("w", shape=(3, 2))
        >>> f = gn.compile(gn.relu(x @ w))
        >>> xs = da.ones((10, 3), chunks=4)             # blocks of 4, 4 and 2 rows
        >>> ys = f.map_blocks(xs, np.ones((3, 2)))
        >>> ys.chunks, float(ys.sum().compute())
        (((4, 4, 2), (2,)), 60.0)
        """
        from graphnn.compiler.blocks import map_blocks
        return map_blocks(self, x, *args)

    # -- pickling: the graph as data and the compile settings, never machine code ------------

    @functools.cached_property
    def _shipped(self) -> bytes:
        return encode(Shipped(self.graph, self.single, self.graph.name, self.gemm, self.threads,
                              self.optimize, cpu_setting(self.target), self.options))

    def __reduce__(self) -> tuple:
        """Pickled as its graph (data: graphnn/graphdata.py) and compile settings
        (graphnn/compiler/shipping.py); unpickling compiles it again, through the disk cache,
        for the receiver's CPU when it was compiled for the host.

        >>> import pickle, numpy as np, graphnn as gn
        >>> f = gn.compile(gn.tanh(gn.input("x", shape=(2,))))
        >>> g = pickle.loads(pickle.dumps(f))
        >>> g(np.zeros(2)), g.graph.outputs == f.graph.outputs
        (array([0., 0.]), True)
        """
        return rebuild, (self._shipped, False)

    def __dask_tokenize__(self) -> tuple[str, str]:
        return "graphnn.Function", hashlib.sha256(self._shipped).hexdigest()

    def __repr__(self) -> str:
        names = ", ".join(n.name for n in self.graph.inputs)
        return f"<compiled {self.graph.name}({names}): {len(self.graph.outputs)} outputs>"


class NativeFunction:
    """What `gn.compile` returns when calls with the declared shapes can enter native code
    directly: the compiled `Function` (`.function`), called through its native entry.

    The entry is a builtin function (codegen.pycall) that validates the arguments in native
    code and falls back on the Function's Python path otherwise. Python looks `__call__` up on
    an object's type and does not bind a builtin found there, so with the builtin as the class
    attribute `f(x)` calls it with no Python frame in between. That needs a class per entry: a
    small subclass of this one, made by `around`. Every other attribute is the Function's.

    >>> import numpy as np, graphnn as gn
    >>> f = gn.compile(gn.input("x", shape=(2,)) * 2.0)
    >>> isinstance(f, gn.Function), f(np.ones(2))
    (True, array([2., 2.]))
    """

    __slots__ = ("function",)

    def __init__(self, function: Function) -> None:
        self.function = function

    @staticmethod
    def around(function: Function) -> Function | NativeFunction:
        """`function`, called through its native entry when it has one."""
        native = function._native
        if native is None:
            return function
        entry = type("NativeFunction", (NativeFunction,),
                     {"__slots__": (), "__call__": native.function,
                      "__doc__": NativeFunction.__doc__})
        return entry(function)

    def __getattr__(self, name: str) -> Any:
        if name == "function":          # not set yet (copy, pickle): no endless lookup
            raise AttributeError(name)
        return getattr(self.function, name)

    def __dir__(self) -> list[str]:
        return sorted(set(dir(self.function)) | {"function"})

    def __repr__(self) -> str:
        return repr(self.function)

    def __reduce__(self) -> tuple:
        return rebuild, (self.function._shipped, True)

    def __dask_tokenize__(self) -> tuple[str, str]:
        return self.function.__dask_tokenize__()


Function.register(NativeFunction)


@functools.lru_cache(maxsize=32)
def rebuild(shipped: bytes, native: bool) -> Function | NativeFunction:
    """A pickled compiled function (`Function.__reduce__`), compiled again from its graph and
    settings; the same bytes unpickled again in this process give the same function (kept
    for the last 32), so a task that receives a function many times compiles it once."""
    found = decode(shipped)
    graph = found.graph
    made = compile(graph.outputs[0] if found.single else list(graph.outputs), list(graph.inputs),
                   optimize=found.optimize, gemm=found.gemm, threads=found.threads,
                   name=found.name, cpu=found.cpu, options=found.options)
    return made if native or not isinstance(made, NativeFunction) else made.function


def _describe(value: Any) -> str:
    if isinstance(value, np.ndarray):
        flags = value.flags
        layout = "".join(f" {word}" for word, bad in [
            ("read-only", not flags.writeable), ("misaligned", not flags.aligned),
            ("non-contiguous", not flags.c_contiguous)] if bad)
        words = f"{layout} {value.dtype} array of shape {value.shape}"
        return ("an" if words[1] in "aeiou" else "a") + words
    return f"a {type(value).__name__}"


def _out_label(k: int, node: Node) -> str:
    return f"out[{k}] (output {node.name!r})" if node.name else f"out[{k}] (the {node.op} output)"


def _apart_from(outputs: list[np.ndarray], arrays: list[np.ndarray]) -> list[np.ndarray]:
    """The inputs, with a copy of each one that shares memory with an out= array: the kernel
    may write an output before it has read all of an input (as NumPy's ufuncs, it copies an
    overlapping operand rather than refuse it). `x = f(x, out=x)` updates x in place."""
    return [np.array(a, copy=True) if any(np.may_share_memory(a, o) for o in outputs) else a
            for a in arrays]


def _array(node: Node, value: Any) -> np.ndarray:
    """One argument as a C-contiguous array of the input's dtype, or an InputError."""
    expected = f"a {node.dtype} array of shape {node.shape}"
    if isinstance(value, np.ndarray):
        if value.dtype != _NUMPY[node.dtype]:
            raise InputError(f"input {node.name!r} expects {expected}, got {_describe(value)}; "
                             f"convert it with .astype({node.dtype!r})")
        if value.flags.c_contiguous and value.flags.aligned:
            return value
        return np.array(value, order="C", copy=True)  # a fresh array is aligned (and 0-d stays)
    if isinstance(value, NUMBERS):
        return convert(node, value)                     # a new array, C-contiguous
    raise InputError(f"input {node.name!r} expects {expected}, got {_describe(value)}")


def compile(outputs: Node | Sequence[Node], inputs: Sequence[Node] | None = None, *,  # noqa: A001
            optimize: bool = True, gemm: str = "auto", threads: int | None = None,
            name: str = "f", cpu: str | Target = "host",
            options: CompileOptions | None = None) -> Function | NativeFunction:
    """Compile output nodes (values and gradients together) to native code through LLVM.

    `inputs` fixes the call order (default: every input reached, as `Graph` orders them). The
    graph is optimized first (`gn.optimize`) unless `optimize=False`. `threads` is how many
    cores parallel loops and matrix products use (None: all; counts above 64 use 64). `gemm`
    chooses how matrix products run: "auto" (the default: graphnn's own packed micro-kernel,
    one per thread inside the per-image parallel loops of convolutions, and plain loops for
    one row), "blas" (SciPy's BLAS), "native" (graphnn's micro-kernel everywhere, on
    graphnn's thread pool) or "loops" (plain loops, for checking). docs/performance.md
    compares them. `name` names the native symbols (an ASCII identifier). `cpu` is the CPU
    the code is generated for: "host" (this one, every instruction it has), an x86-64 level
    ("x86-64-v2", "x86-64-v3": AVX2 and FMA, "x86-64-v4": AVX-512) or a
    `codegen.llvm.Target`; a CPU this machine cannot run is refused here. `options` (a
    `gn.CompileOptions`, default: a new one) holds every other setting of the optimizer,
    lowering and code generation (none changes a result); the function keeps it as
    `f.options`.

    >>> import numpy as np, graphnn as gn
    >>> x = gn.input("x", shape=(3,))
    >>> f = gn.compile([gn.sum(x * x), gn.grad(gn.sum(x * x), x)])
    >>> value, grad = f(np.array([1.0, 2.0, 3.0]))
    >>> float(value), grad.tolist()
    (14.0, [2.0, 4.0, 6.0])
    """
    single = isinstance(outputs, Node)
    if not single and not isinstance(outputs, (list, tuple)):
        raise OpError(f"compile takes a node or a list of nodes, got {type(outputs).__name__}")
    threads, target = _checked_options(name, gemm, threads, cpu)
    if options is None:
        options = CompileOptions()
    elif not isinstance(options, CompileOptions):
        raise OpError(f"compile: options must be a gn.CompileOptions, got "
                      f"{type(options).__name__}")
    graph = Graph(outputs, inputs, name=name)
    return NativeFunction.around(Function(graph, single, gemm=gemm, threads=threads,
                                          optimize=optimize, target=target, options=options))


def _checked_options(name: Any, gemm: Any, threads: Any, cpu: Any) -> tuple[int | None, Target]:
    """The options that reach native code, checked: (the thread count, the target)."""
    if not isinstance(name, str) or not name.isidentifier():   # it names native symbols
        raise OpError(f"compile: name must be a Python identifier (it names the native "
                      f"function), got {name!r}")
    if not isinstance(gemm, str) or gemm not in GEMM_MODES:
        raise OpError(f"gemm must be one of {', '.join(GEMM_MODES)}, got {gemm!r}")
    if threads is not None:
        threads = _option(thread_count, threads, OpError)
    return threads, _option(_runnable_target, cpu, OpError)


def _runnable_target(cpu: str | Target) -> Target:
    target = cpu if isinstance(cpu, Target) else Target.named(cpu)
    target.check_runs_here()
    return target


def _option(check: Any, value: Any, error: type[Exception]) -> Any:
    """`check(value)`, its TypeError or ValueError raised as `error` (a graphnn error)."""
    try:
        return check(value)
    except (TypeError, ValueError) as problem:
        raise error(str(problem)) from None
