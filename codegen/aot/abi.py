"""The C ABI of exported functions: what one exported function is (`Entry`), its arguments, its
symbols and its return codes.

Input: a scheduled ``loops.Kernel`` with a description of its arguments (the graph side makes
both). Output: nothing but checked records; ``codegen.aot.wrapper`` emits the functions,
``codegen.aot.header`` the C header, ``codegen.aot.library`` the object file or library.

For an entry named NAME the library defines exactly these symbols (every other one is local):

    int NAME(const T *in..., T *out...)                      0 or an error code below
    int NAME_with_workspace(void *ws, const T *in..., T *out...)
    int NAME_batch(int64_t batch, const T *in..., T *out...)           (when `batch` is set)
    int NAME_batch_with_workspace(void *ws, int64_t batch, const T *in..., T *out...)
    int NAME_set_threads(int threads)
    const char *NAME_version(void)

>>> from codegen import loops
>>> x = loops.Buffer("x", "f32", (4, 3)); y = loops.Buffer("y", "f32", (4, 3))
>>> k = loops.Kernel("k", [x], [y], body=[loops.loop_nest((4, 3), lambda i, j:
...     loops.store(y, (i, j), x[i, j] * 2.0))])
>>> e = Entry("twice", k, (Argument("x", "f32", (4, 3), "input x", batched=True),),
...           (Argument("y", "f32", (4, 3), "output 0", batched=True),), version="0" * 64,
...           batch=4)
>>> e.symbols
('twice', 'twice_with_workspace', 'twice_batch', 'twice_batch_with_workspace', \
'twice_set_threads', 'twice_version')
>>> e.inputs[0].row_bytes, e.batch_workspace_bytes
(12, 128)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from codegen import loops
from codegen.options import CodegenOptions
from codegen.workspace import ALIGNMENT, layout

# (suffix of the macro GRAPHNN_<suffix>, value, meaning): the return codes of every entry point
ERRORS: tuple[tuple[str, int, str], ...] = (
    ("OK", 0, "success"),
    ("ERROR_NULL", 1, "a buffer or workspace pointer is NULL (NAME_batch: a batched buffer may "
                      "be NULL only when batch is 0)"),
    ("ERROR_MISALIGNED", 2, "a buffer is not aligned to its element size, or a workspace to "
                            "64 bytes"),
    ("ERROR_OVERLAP", 3, "an output overlaps an input, another output or the workspace"),
    ("ERROR_NO_MEMORY", 4, "NAME or NAME_batch could not allocate its workspace"),
    ("ERROR_BATCH", 5, "batch is negative, or so large that a buffer's size in bytes would not "
                       "fit in int64_t"),
    ("ERROR_THREADS", 6, "NAME_set_threads: a count below 1"),
    ("ERROR_INDEX", 7, "an index (take, gather) is out of range; the outputs may be partly "
                       "written"),
)
CODES = {suffix: value for suffix, value, _ in ERRORS}
DEFAULT_THREADS = 1          # an exported function runs on the calling thread until told
# a bool element is one byte holding 0 or 1 (NumPy's bool), as uint8_t
C_TYPES = {"f32": "float", "f64": "double", "i32": "int32_t", "i64": "int64_t", "i1": "uint8_t"}
ITEMSIZE = {"f32": 4, "f64": 8, "i32": 4, "i64": 8, "i1": 1}
# C keywords, the header's own parameter names and common C library macros: never a parameter
# or function name
C_RESERVED = frozenset("""auto break case char const continue default do double else enum
extern float for goto if inline int long register restrict return short signed sizeof static
struct switch typedef union unsigned void volatile while _Bool _Complex _Imaginary alignas
alignof bool false true nullptr static_assert thread_local typeof ws batch int64_t errno NULL
EOF stdin stdout stderr assert offsetof INFINITY NAN""".split())


class AbiError(ValueError):
    """An entry that cannot be exported as described (bad names, a kernel that does not match)."""


def c_identifier(name: str) -> bool:
    """Whether `name` is an ASCII C identifier that is no keyword."""
    return (name.isascii() and name.isidentifier() and name not in C_RESERVED
            and not name.startswith("__"))


def aligned(size: int) -> int:
    return -(-size // ALIGNMENT) * ALIGNMENT


@dataclass(frozen=True)
class Argument:
    """One buffer of the C call: a dense row-major array of `shape` and `dtype`."""

    name: str                    # the C parameter name
    dtype: str                   # "f32", "f64", "i32", "i64" or "i1" (bool)
    shape: tuple[int, ...]
    label: str                   # what it is, for the header's comment
    batched: bool = False        # its leading axis is the batch of NAME_batch

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return self.size * ITEMSIZE[self.dtype]

    @property
    def row_bytes(self) -> int:
        """Bytes per example along the leading axis (the batch of NAME_batch)."""
        return math.prod(self.shape[1:]) * ITEMSIZE[self.dtype]

    @property
    def c_type(self) -> str:
        return C_TYPES[self.dtype]


@dataclass(frozen=True)
class Entry:
    """One exported function: a kernel and the C view of its arguments.

    `constants` are the kernel's inputs after `inputs`, baked into the library as read-only
    data. `sources` says where each output comes from: ("kernel", k), the kernel's output k
    (written in place at its first mention, copied at later ones); ("input", i), a copy of
    input i; ("constant", c), a copy of `output_constants[c]`; empty: output k is the kernel's
    output k. With `batch` (the declared batch size), NAME_batch runs the kernel over consecutive
    chunks of `batch` rows of every batched argument, the last chunk through the workspace
    (the graph side sets it only for graphs whose rows are independent); `no_batch` says why
    there is none otherwise. `version` is the graph's text hash; `text` its text form; `options`
    how its kernel is emitted (the compiled function's)."""

    name: str
    kernel: loops.Kernel
    inputs: tuple[Argument, ...]
    outputs: tuple[Argument, ...]
    version: str
    constants: tuple[np.ndarray, ...] = ()
    batch: int | None = None
    no_batch: str = ""
    text: str = ""
    sources: tuple[tuple[str, int], ...] = ()
    output_constants: tuple[np.ndarray, ...] = ()
    options: CodegenOptions = field(default_factory=CodegenOptions)

    def __post_init__(self) -> None:
        if not self.sources:
            object.__setattr__(self, "sources", tuple(("kernel", k)
                                                      for k in range(len(self.outputs))))
        _check_entry(self)

    @property
    def symbols(self) -> tuple[str, ...]:
        """Every symbol the entry defines, in the header's order."""
        batch = (f"{self.name}_batch", f"{self.name}_batch_with_workspace") \
            if self.batch is not None else ()
        return (self.name, f"{self.name}_with_workspace", *batch,
                f"{self.name}_set_threads", f"{self.name}_version")

    @property
    def arguments(self) -> tuple[Argument, ...]:
        return self.inputs + self.outputs

    @property
    def workspace_bytes(self) -> int:
        """Scratch memory of one call of NAME (NAME_with_workspace's `ws`)."""
        return aligned(layout(self.kernel).size)

    @property
    def staging(self) -> list[tuple[Argument, int]]:
        """(batched argument, offset in the batch workspace) of the last chunk's copies."""
        offset, places = self.workspace_bytes, []
        for argument in self.arguments:
            if argument.batched:
                places.append((argument, offset))
                offset += aligned(argument.nbytes)
        return places

    @property
    def batch_workspace_bytes(self) -> int:
        """Scratch memory of one call of NAME_batch: the kernel's, and one chunk of every
        batched argument."""
        return self.workspace_bytes + sum(aligned(a.nbytes) for a, _ in self.staging)

    @property
    def max_batch(self) -> int:
        """The largest batch whose buffers' sizes in bytes fit in int64_t."""
        widest = max((a.row_bytes for a in self.arguments if a.batched), default=1)
        return (2**63 - 1) // max(widest, 1)


def _check_entry(entry: Entry) -> None:
    if not c_identifier(entry.name):
        raise AbiError(f"the exported name must be an ASCII C identifier that is no C keyword, "
                       f"got {entry.name!r}")
    names = [a.name for a in entry.arguments]
    for name in names:
        if not c_identifier(name):
            raise AbiError(f"{entry.name}: parameter name {name!r} is no C identifier")
    if len(set(names)) != len(names):
        raise AbiError(f"{entry.name}: parameter names repeat: {names}")
    kernel = entry.kernel
    expected = [(a.dtype, a.shape) for a in entry.inputs] + \
        [(loops.normalize_dtype(c.dtype), c.shape) for c in entry.constants]
    if expected != [(b.dtype, b.shape) for b in kernel.inputs] or \
            [_source(entry, k) for k in range(len(entry.outputs))] != \
            [(a.dtype, a.shape) for a in entry.outputs] or \
            {w for kind, w in entry.sources if kind == "kernel"} != \
            set(range(len(kernel.outputs))):
        raise AbiError(f"{entry.name}: the arguments do not match kernel {kernel.name}'s buffers")
    if entry.batch is not None:
        batched = [a for a in entry.arguments if a.batched]
        if entry.batch < 1 or not any(a.batched for a in entry.outputs) or \
                any(not a.shape or a.shape[0] != entry.batch for a in batched):
            raise AbiError(f"{entry.name}: batch {entry.batch} needs batched outputs whose "
                           "leading dimension is the batch")


def _source(entry: Entry, k: int) -> tuple[str, tuple[int, ...]] | None:
    """(dtype, shape) of what output k is copied or computed from."""
    kind, where = entry.sources[k]
    if kind == "kernel" and where < len(entry.kernel.outputs):
        buffer = entry.kernel.outputs[where]
        return buffer.dtype, buffer.shape
    if kind == "input" and where < len(entry.inputs):
        return entry.inputs[where].dtype, entry.inputs[where].shape
    if kind == "constant" and where < len(entry.output_constants):
        value = entry.output_constants[where]
        return loops.normalize_dtype(value.dtype), value.shape
    return None
