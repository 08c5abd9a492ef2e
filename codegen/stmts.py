"""Buffers, statements and kernels of the loop IR.

Input: expressions from ``codegen.exprs``. Output: a ``Kernel``, checked by ``codegen.verify`` as
it is built (bound variables, dtypes, buffer roles, index bounds), so a kernel that exists is one
the emitter can lower without reading or writing outside its buffers.
"""

from __future__ import annotations

from typing import Any

from codegen.exprs import (
    BUFFER_DTYPES,
    FLOAT_DTYPES,
    Expr,
    Load,
    Node,
    Var,
    _node,
    check_index,
    lift,
    normalize_dtype,
)


@_node
class Buffer(Node):
    """A row-major contiguous array; ``buf[i, j]`` is a Load, ``buf.flat[k]`` a flat Load."""

    name: str
    dtype: str
    shape: tuple[int, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "dtype", normalize_dtype(self.dtype))
        if self.dtype not in BUFFER_DTYPES:
            raise TypeError(f"buffer {self.name}: dtype must be one of {BUFFER_DTYPES}")
        shape = tuple(self.shape) if isinstance(self.shape, (tuple, list)) else (self.shape,)
        if not all(isinstance(d, int) and d >= 0 for d in shape):
            raise TypeError(f"buffer {self.name}: shape must be non-negative ints, got {shape}")
        object.__setattr__(self, "shape", shape)
        self._cache_hash()

    @property
    def size(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __getitem__(self, index: Any) -> Load:
        return Load(self, as_index(index))

    @property
    def flat(self) -> _FlatView:
        return _FlatView(self)


class _FlatView:
    def __init__(self, buffer: Buffer) -> None:
        self.buffer = buffer

    def __getitem__(self, index: Any) -> Load:
        return Load(self.buffer, (lift(index, "i64"),))


def as_index(index: Any) -> tuple[Expr, ...]:
    """Normalize ``i``, ``(i, 2)`` or ``()`` to a tuple of i64 expressions."""
    items = index if isinstance(index, tuple) else (index,)
    return tuple(lift(i, "i64") for i in items)


class Stmt(Node):
    """A statement of a kernel body."""

    def __post_init__(self) -> None:
        self._cache_hash()


@_node
class Store(Stmt):
    """``buffer[index] = value``."""

    buffer: Buffer
    index: tuple[Expr, ...]
    value: Expr

    def __post_init__(self) -> None:
        _normalize_write(self)
        super().__post_init__()


def _normalize_write(s: Store | Accumulate) -> None:
    object.__setattr__(s, "index", as_index(s.index))
    object.__setattr__(s, "value", lift(s.value, s.buffer.dtype))
    check_index(s.buffer, s.index)
    if s.value.dtype != s.buffer.dtype:
        raise TypeError(f"cannot store {s.value.dtype} value into {s.buffer.name} "
                        f"({s.buffer.dtype}): {s.value}")


ACCUMULATE_KINDS = ("sum", "max", "min")


@_node
class Accumulate(Stmt):
    """``buffer[index] += value`` (kind "sum"), or max=/min= with NaN propagation."""

    buffer: Buffer
    index: tuple[Expr, ...]
    value: Expr
    kind: str = "sum"

    def __post_init__(self) -> None:
        if self.kind not in ACCUMULATE_KINDS:
            raise TypeError(f"Accumulate kind must be one of {ACCUMULATE_KINDS}: {self.kind!r}")
        _normalize_write(self)
        super().__post_init__()


@_node
class Check(Stmt):
    """``if not cond: return code``: the kernel stops at once and returns ``code`` (1 or more)
    to its caller, which raises the error the code stands for (an index out of range). Never
    inside a parallel loop (``codegen.verify``): an outlined loop body cannot return."""

    cond: Expr
    code: int

    def __post_init__(self) -> None:
        if not isinstance(self.cond, Expr) or self.cond.dtype != "i1":
            raise TypeError(f"check: the condition must be an i1 expression, got {self.cond}")
        if isinstance(self.code, bool) or not isinstance(self.code, int) or \
                not 1 <= self.code < 2**31:
            raise TypeError(f"check: the code must be an int in [1, 2**31), got {self.code!r}")
        super().__post_init__()


@_node
class Loop(Stmt):
    """``for var in 0..extent { body }``; parallel loops split iterations across threads."""

    var: Var
    extent: int
    body: tuple[Stmt, ...]
    parallel: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.var, str):
            object.__setattr__(self, "var", Var(self.var))
        body = self.body if isinstance(self.body, (tuple, list)) else (self.body,)
        object.__setattr__(self, "body", tuple(body))
        if not all(isinstance(s, Stmt) for s in self.body):
            raise TypeError(f"loop {self.var.name}: body must hold statements, got {self.body}")
        if not isinstance(self.extent, int) or self.extent < 0:
            raise TypeError(f"loop {self.var.name}: extent must be a non-negative int")
        super().__post_init__()


# A prepacked B (Gemm.packed_b) has its columns padded to a multiple of PACK_WIDTH, whatever the
# target's register tile (whose width divides it: 32 float32 columns on AVX-512, 16 on AVX2),
# and is cut into panels one cache line wide (`pack_strip`: 16 float32 or 8 float64 columns),
# so a packed constant is the same on every x86 target and every tile reads whole lines: an
# AVX2 tile reads one panel, an AVX-512 one two side by side. (Panels 32 wide, an AVX2 tile
# read half of each line and used half of L1's sets: products 6-7 % slower on a Zen 3.)
PACK_WIDTH = 32


def pack_strip(dtype: str) -> int:
    """Columns of a prepacked B's panel: one 64-byte cache line of the dtype.

    >>> pack_strip("f32"), pack_strip("f64")
    (16, 8)
    """
    return 64 // (4 if normalize_dtype(dtype) == "f32" else 8)


def packed_size(k: int, n: int) -> int:
    """Elements of a k x n operand packed for Gemm.packed_b: rows padded to whole panels."""
    return k * -(-n // PACK_WIDTH) * PACK_WIDTH


@_node
class Gemm(Stmt):
    """Row-major matrix product on element offsets (a batched matmul is a Loop around a Gemm).

    ``c[c_offset + i*ldc + j] = alpha * sum_k opA(i, k) * opB(k, j) + beta * c[...]`` for
    i < m, j < n, k < k, where ``opA(i, k) = a[a_offset + i*lda + k]`` (``a[a_offset + k*lda + i]``
    when ``trans_a``) and likewise for b. As in BLAS, ``beta == 0`` means c is not read, so NaN in
    uninitialized memory does not leak. Leading dimensions default to the dense row length.

    The epilogue, applied as the result is stored (no pass of its own): with ``source`` the beta
    term reads ``source`` (laid out as c: same offset and ldc) instead of c; ``bias[j]`` is added
    to column j; ``relu`` stores max(value, 0) as the loop IR's FMax does (NaN stays NaN).
    ``packed_b``: a kernel input holding op(b) (k x n, b_offset 0) in the panel layout of
    ``codegen.native.gemm.pack_b`` (at least ``packed_size(k, n)`` elements), which our GEMM
    reads instead of packing b on every call; BLAS and plain loops read b.
    """

    c: Buffer
    a: Buffer
    b: Buffer
    m: int
    n: int
    k: int
    trans_a: bool = False
    trans_b: bool = False
    alpha: float = 1.0
    beta: float = 0.0
    a_offset: Expr = 0  # type: ignore[assignment]
    b_offset: Expr = 0  # type: ignore[assignment]
    c_offset: Expr = 0  # type: ignore[assignment]
    lda: int = -1
    ldb: int = -1
    ldc: int = -1
    source: Buffer | None = None
    bias: Buffer | None = None
    relu: bool = False
    packed_b: Buffer | None = None

    def __post_init__(self) -> None:
        for name in ("a_offset", "b_offset", "c_offset"):
            object.__setattr__(self, name, lift(getattr(self, name), "i64"))
        dense = {"lda": self.m if self.trans_a else self.k,
                 "ldb": self.k if self.trans_b else self.n, "ldc": self.n}
        for name, cols in dense.items():
            if getattr(self, name) == -1:
                object.__setattr__(self, name, max(cols, 1))
            elif getattr(self, name) < max(cols, 1):
                raise TypeError(f"gemm into {self.c.name}: {name}={getattr(self, name)} is "
                                f"smaller than the row length {cols}")
        object.__setattr__(self, "alpha", float(self.alpha))
        object.__setattr__(self, "beta", float(self.beta))
        self._check_types()
        super().__post_init__()

    def _check_types(self) -> None:
        extra = [x for x in (self.source, self.bias, self.packed_b) if x is not None]
        dtypes = {self.a.dtype, self.b.dtype, self.c.dtype, *(x.dtype for x in extra)}
        if len(dtypes) != 1 or self.c.dtype not in FLOAT_DTYPES:
            raise TypeError(f"gemm into {self.c.name}: a, b, c must share one float dtype, got "
                            f"{self.a.dtype}, {self.b.dtype}, {self.c.dtype}")
        if self.c.name in (self.a.name, self.b.name, *(x.name for x in extra)):
            raise TypeError(f"gemm into {self.c.name}: the output must not also be an operand")
        if self.packed_b is not None and self.packed_b.size < packed_size(self.k, self.n):
            raise TypeError(f"gemm into {self.c.name}: packed_b {self.packed_b.name} holds "
                            f"{self.packed_b.size} elements, fewer than the packed {self.k}x"
                            f"{self.n} operand's {packed_size(self.k, self.n)}")
        if self.bias is not None and self.bias.size < self.n:
            raise TypeError(f"gemm into {self.c.name}: bias {self.bias.name} is shorter than "
                            f"n = {self.n}")
        for name in ("m", "n", "k", "lda", "ldb", "ldc"):
            value = getattr(self, name)
            if not isinstance(value, int) or not 0 <= value < 2**31:  # BLAS takes 32-bit ints
                raise TypeError(f"gemm into {self.c.name}: {name} must be an int in [0, 2**31)")
        for name in ("a_offset", "b_offset", "c_offset"):
            if getattr(self, name).dtype != "i64":
                raise TypeError(f"gemm into {self.c.name}: {name} must be an i64 expression")

    @property
    def operands(self) -> tuple[Buffer, ...]:
        """Every buffer the product reads (c too when beta != 0 and there is no source)."""
        return tuple(x for x in (self.a, self.b, self.source, self.bias, self.packed_b)
                     if x is not None)

    def rows_cols(self, operand: str) -> tuple[int, int]:
        """Rows and columns of the stored (untransposed) operand "a", "b" or "c"."""
        if operand == "a":
            return (self.k, self.m) if self.trans_a else (self.m, self.k)
        if operand == "b":
            return (self.n, self.k) if self.trans_b else (self.k, self.n)
        return (self.m, self.n)


# elements a DirectConv's image must hold past the last one its outputs read: the widest tile
# of any target (two 512-bit vectors, 32 float32 or 16 float64 positions) reads that far past a
# row's end, its lanes beyond the row dropped (codegen.native.dconv)
CONV_SLACK = {"f32": 32, "f64": 16}
# a DirectConv with lanes="channels" reads the transposed weights' rows in whole vectors of
# output channels: up to its channels rounded up to the widest vector (64 bytes)
CHANNEL_PAD = {"f32": 16, "f64": 8}


def channel_row(outs: int, dtype: str) -> int:
    """The elements of a transposed weights' row that a lanes="channels" DirectConv of
    `outs` channels reads: `outs` rounded up to CHANNEL_PAD.

    >>> channel_row(32, "f32"), channel_row(10, "f32"), channel_row(10, "f64")
    (32, 16, 16)
    """
    return -(-outs // CHANNEL_PAD[dtype]) * CHANNEL_PAD[dtype]


@_node
class DirectConv(Stmt):
    """A convolution of one image at unit stride, as a product with its implicit im2col matrix:

    ``out[out_offset + o*out_stride + i*out_row + j] =
    sum_k w[w_offset + o*ldw + k] * x[x_offset + taps[k] + i*row_stride + j]``

    for o < outs, i < rows, j < cols, k < len(taps). ``taps[k]`` is where the k-th (input
    channel, tap) pair's input lies relative to the output position in ``x``, an image with
    its padding written out (or its stride phases: every tap reads contiguous memory). ``x``
    must hold ``CONV_SLACK`` readable elements past the last one the outputs read (a tile
    reads whole vectors past a row's end). Lowered to our micro-kernel
    (codegen.native.dconv) or, with gemm="loops", plain loops.

    With ``lanes="channels"`` the weights are stored transposed, ``w[w_offset + k*ldw + o]``,
    ``ldw`` at least ``outs`` rounded up to ``CHANNEL_PAD`` (the lanes past ``outs`` read
    those elements and are dropped), and each channel's outputs are one run
    (``out_row == cols``): the micro-kernel holding output channels in its lanes
    (codegen.native.dconv_lanes), for rows that are not whole vectors. It reads no slack.
    ``lanes="pool2x2"`` is that kernel storing the maximum of each 2x2 window of the
    convolution instead: ``out[out_offset + o*out_stride + i*cols + j]`` = NumPy's maximum
    over r, s < 2 of the sum above at position (2i + r, 2j + s), `rows` x `cols` being the
    pooled outputs (a convolution read only by a 2x2 max pooling, lower.conv.pooled).
    """

    out: Buffer
    w: Buffer
    x: Buffer
    taps: tuple[int, ...]
    outs: int
    rows: int
    cols: int
    ldw: int
    row_stride: int
    out_stride: int
    out_row: int
    out_offset: Expr = 0  # type: ignore[assignment]
    w_offset: Expr = 0  # type: ignore[assignment]
    x_offset: Expr = 0  # type: ignore[assignment]
    lanes: str = "positions"

    def __post_init__(self) -> None:
        for name in ("out_offset", "w_offset", "x_offset"):
            object.__setattr__(self, name, lift(getattr(self, name), "i64"))
        object.__setattr__(self, "taps", tuple(self.taps))
        where = f"direct conv into {self.out.name}"
        if len({self.out.dtype, self.w.dtype, self.x.dtype}) != 1 or \
                self.out.dtype not in FLOAT_DTYPES:
            raise TypeError(f"{where}: out, w, x must share one float dtype, got "
                            f"{self.out.dtype}, {self.w.dtype}, {self.x.dtype}")
        if self.out.name in (self.w.name, self.x.name):
            raise TypeError(f"{where}: the output must not also be an operand")
        for name in ("outs", "rows", "cols", "ldw", "row_stride", "out_stride", "out_row"):
            value = getattr(self, name)
            if not isinstance(value, int) or not 0 <= value < 2**31:
                raise TypeError(f"{where}: {name} must be an int in [0, 2**31)")
        if not all(isinstance(t, int) and 0 <= t < 2**62 for t in self.taps):
            raise TypeError(f"{where}: taps must be non-negative ints")
        if self.lanes not in ("positions", "channels", "pool2x2"):
            raise TypeError(f"{where}: lanes must be 'positions', 'channels' or 'pool2x2', "
                            f"got {self.lanes!r}")
        if self.lanes == "positions" and self.ldw < len(self.taps):
            raise TypeError(f"{where}: ldw={self.ldw} is smaller than the depth "
                            f"{len(self.taps)}")
        if self.lanes != "positions":
            if self.ldw < channel_row(self.outs, self.out.dtype):
                raise TypeError(f"{where}: ldw={self.ldw} is smaller than its "
                                f"{self.outs} channels rounded up to "
                                f"{CHANNEL_PAD[self.out.dtype]}")
            if self.out_row != self.cols:
                raise TypeError(f"{where}: with lanes={self.lanes!r} a channel's outputs "
                                f"are one run: out_row={self.out_row} must equal "
                                f"cols={self.cols}")
        super().__post_init__()

    @property
    def operands(self) -> tuple[Buffer, ...]:
        return (self.w, self.x)

    @property
    def offsets(self) -> tuple[Expr, ...]:
        return (self.out_offset, self.w_offset, self.x_offset)

    @property
    def empty(self) -> bool:
        return self.outs * self.rows * self.cols == 0

    def extents(self) -> dict[str, tuple[Expr, int]]:
        """Per buffer ("out", "w", "x"): its offset and the last element past it the statement
        touches (x's CONV_SLACK included); only meaningful when not `empty`."""
        last_tap = max(self.taps, default=0)
        step = 2 if self.lanes == "pool2x2" else 1     # a pooled output's last position
        reach = last_tap + (step * self.rows - 1) * self.row_stride + step * self.cols - 1
        if self.lanes != "positions":
            w_last = (max(len(self.taps), 1) - 1) * self.ldw + \
                channel_row(self.outs, self.w.dtype) - 1
        else:
            w_last = (self.outs - 1) * self.ldw + max(len(self.taps), 1) - 1
            reach += CONV_SLACK[self.x.dtype]
        return {"out": (self.out_offset, (self.outs - 1) * self.out_stride +
                        (self.rows - 1) * self.out_row + self.cols - 1),
                "w": (self.w_offset, w_last), "x": (self.x_offset, reach)}


@_node
class Kernel(Node):
    """A function over named buffers: ``inputs`` are read, ``outputs`` and ``temps`` written.

    Temps live in one workspace the caller passes; codegen assigns their offsets. Building a
    Kernel runs ``codegen.verify.check_kernel``, which raises ``KernelError`` naming the fault.
    """

    name: str
    inputs: tuple[Buffer, ...]
    outputs: tuple[Buffer, ...]
    temps: tuple[Buffer, ...] = ()
    body: tuple[Stmt, ...] = ()

    def __post_init__(self) -> None:
        for name in ("inputs", "outputs", "temps", "body"):
            value = getattr(self, name)
            object.__setattr__(self, name, tuple(value) if isinstance(value, (list, tuple))
                               else (value,))
        from codegen.verify import check_kernel

        check_kernel(self)
        self._cache_hash()

    @property
    def buffers(self) -> tuple[Buffer, ...]:
        return self.inputs + self.outputs + self.temps
