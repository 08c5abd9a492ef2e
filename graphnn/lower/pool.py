"""Pooling whose windows tile the input, lowered as passes along contiguous memory.

Stage: lowering (lower.kernel calls `pool_stage` for max_pool2d, avg_pool2d and their
gradients; lower.storage asks `tiles`). Input: the node, its operands (buffers, or a cheap
elementwise producer, a bias and ReLU, read inside the first pass). Output: loop-IR
statements, or None where the op's compute rule stays (overlapping windows, padding, an input
the windows do not tile exactly).

Why: the compute rule's loop runs along an output row, OW elements (14 after a 28x28 image):
too short for a 16-lane vector, so LLVM unrolls it and vectorizes the loop around it with
gathers and scatters (182 us for a 32x16x28x28 float32 max pooling on AVX-512, where a ReLU
pass over the same input takes 35). Here each pass with arithmetic runs along a whole image
plane, and the pass along short rows is a copy of contiguous runs, which LLVM packs into
vector moves.

With windows KH x KW tiling an H x W plane (stride = kernel, H = OH KH, W = OW KW), the
forward poolings run, over each plane (row-major):

    cols[e] = reduce_q x[e KW + q]          (e < H OW: every row's windows, KW columns each)
    rows[d] = reduce_r cols[d + r OW]       (d < (H - KH + 1) OW)
    out[m, j] = rows[m KH OW + j]           (m < OH: the rows where windows start)

Max pooling reduces with max (avg: sum, then / KH KW). The column pass reads x at a stride of
KW, which LLVM vectorizes with shuffles once it knows the scratch buffers do not overlap
(codegen.llvm.module passes a parallel loop's temps as noalias parameters): it halves the
elements the later passes touch (the MNIST CNN at batch 32 on Zen 3: its two poolings went
from 250 us to about 140, perf samples). The gradient of max pooling runs the reductions at
every input element d, cols[d] = reduce_q x[d + q] and rows[d] = reduce_r cols[d + r W],
rows[d] being the window's result wherever a window starts:

    top = out spread over each window (a copy);  ties = the same two passes summing
    [x = top];  shares = g / ties at the window starts;  dx = [x = top] shares (spread)

avg_pool2d_grad is one spreading copy of g / KH KW. Every pass computes what the compute
rule computes, in the same order within a window (max is order-free, NaN included; the tie
count is small integers, exact), so results are identical: a window with NaN gives NaN,
ties split evenly.
"""

from __future__ import annotations

from collections.abc import Callable

from codegen import loops
from graphnn.ir import Node
from graphnn.ops.pool import NO_PADDING

Reader = Callable[[loops.Expr, loops.Expr], loops.Expr]   # (plane, offset) -> element


# Output rows from this length on stay with the compute rule, whose loop along the row LLVM
# then vectorizes well: each pass here streams the whole tensor through memory. Measured
# (float32, AVX-512, relu then 2x2 max pooling): rows of 14 and 16 outputs 1.2-2.3x faster
# here, 28 from 0.8x to 1.1x, 56 1.3-1.7x slower (16x64x112x112: 8.1 ms against 4.8).
_SHORT_ROW = 24


def tiles(node: Node) -> bool:
    """Whether the node is a pooling this module lowers: windows that tile its 4-D float
    input exactly (stride = kernel, no padding, the height and width multiples of it) into
    output rows shorter than _SHORT_ROW."""
    if node.op not in _STAGES:
        return False
    attrs = node.attrs
    (kh, kw), (_, _, height, width) = attrs["kernel"], _input_shape(node)
    return tuple(attrs["stride"]) == (kh, kw) and attrs["padding"] == NO_PADDING and \
        height % kh == 0 and width % kw == 0 and width // kw < _SHORT_ROW and \
        node.dtype in ("float32", "float64")


def _input_shape(node: Node) -> tuple[int, ...]:
    """The shape of the pooling's input: its first operand's, or a gradient's own."""
    return node.shape if node.op == "avg_pool2d_grad" else node.inputs[0].shape


def pool_stage(lowering, node: Node) -> list[loops.Stmt] | None:
    """The passes computing `node` into its buffer (module docstring), or None where the
    op's compute rule lowers it."""
    if not tiles(node):
        return None
    return _STAGES[node.op](lowering, node)


# -- reading operands plane by plane -------------------------------------------------------------


def plane_reader(lowering, source: Node) -> Reader:
    """read(plane, offset): element `offset` (row-major) of image plane `plane` (n C + c) of
    a 4-D operand, as a flat load of its buffer or (an inlined elementwise producer: a bias
    and ReLU) as `_element`."""
    channels, size = source.shape[1], source.shape[2] * source.shape[3]
    buffer = lowering.buffer_of(source)
    if buffer is not None:
        return lambda plane, offset: buffer.flat[plane * size + offset]
    return lambda plane, offset: _element(lowering, source, plane // channels,
                                          plane % channels, offset, plane * size + offset)


def _flat_reader(lowering, source: Node) -> Callable[[loops.Expr], loops.Expr]:
    """read(i): element i (row-major over the whole operand) of a 4-D operand."""
    buffer = lowering.buffer_of(source)
    if buffer is not None:
        return lambda i: buffer.flat[i]
    channels, size = source.shape[1], source.shape[2] * source.shape[3]
    return lambda i: _element(lowering, source, i // (channels * size),
                              i // size % channels, i % size, i)


def _element(lowering, source: Node, n, c, offset, flat) -> loops.Expr:
    """source[n, c, h, w] at `offset` = h W + w of its plane (`flat` over the whole array),
    built by lowering at a symbolic (n, c, h, w); each of its loads at exactly that index (an
    operand of the same shape) becomes a flat load, so a pass along the plane stays
    contiguous. Any other use of h and w (a broadcast's index) reads them from the offset."""
    h, w = loops.Var("%h"), loops.Var("%w")
    value = _flat_loads(lowering.element(source, (n, c, h, w)), (n, c), source.shape, flat)
    width = source.shape[3]
    return loops.substitute(value, {"%h": offset // width, "%w": offset % width})


def _flat_loads(value: loops.Expr, plane_index: tuple, shape: tuple, flat) -> loops.Expr:
    """value with its loads buf[n, c, %h, %w] of buffers of `shape` read as buf.flat[flat]."""
    memo: dict[int, loops.Node] = {}

    def at_element(load: loops.Load) -> bool:
        # (a dimension of size 1, one image or one channel, is indexed by the literal 0)
        index = load.index
        return load.buffer.shape == shape and len(index) == 4 and \
            all(a is b or (size == 1 and isinstance(a, loops.Const) and a.value == 0)
                for a, b, size in zip(index[:2], plane_index, shape)) and \
            [getattr(e, "name", None) for e in index[2:]] == ["%h", "%w"]

    def rewrite(node: loops.Node) -> loops.Recursive:
        if id(node) not in memo:
            new = yield from loops.rebuild(node, rewrite)
            if isinstance(new, loops.Load) and at_element(new):
                new = new.buffer.flat[flat]
            memo[id(node)] = new
        return memo[id(node)]
    return loops.iterate(rewrite(value))


# -- passes ------------------------------------------------------------------------------------


def _planes(lowering, planes: int, extent: int, body) -> loops.Stmt:
    """for plane in 0..planes { for e in 0..extent { body(plane, e) } }, parallel over the
    planes when there is enough work."""
    parallel = planes > 1 and planes * extent >= lowering.options.parallel_elements
    return loops.loop_nest((planes, extent), body, names=("plane", "e"), parallel=parallel)


def _decimate(lowering, target: loops.Buffer, source: loops.Buffer, node: Node) -> loops.Stmt:
    """target (pooled-shaped) = source (input-shaped) at each window's first element: a copy
    along short rows, which LLVM vectorizes (it unrolls the row and packs its moves; with
    arithmetic in it, LLVM vectorizes the loop around the row instead, with gathers)."""
    planes, height, width, kh, kw, ow = _geometry(node)
    return _planes(lowering, planes * (height // kh), ow, lambda m, j: loops.store(
        target, (m * ow + j,), source.flat[m * kh * width + j * kw]))


def _spread(lowering, target: loops.Buffer, read: Callable, node: Node) -> loops.Stmt:
    """target (input-shaped) = each element of `read` (pooled-shaped, flat index -> element)
    over its window: a copy, window row by window row."""
    planes, height, width, kh, kw, ow = _geometry(node)
    rows = planes * (height // kh)
    parallel = rows * kh * width >= lowering.options.parallel_elements
    return loops.loop_nest((rows, kh, width), lambda m, r, w: loops.store(
        target, ((m * kh + r) * width + w,), read(m * ow + w // kw)), names=("row", "r", "w"),
        parallel=parallel)


def _geometry(node: Node) -> tuple[int, int, int, int, int, int]:
    """planes (N C), the input's height and width, the window's height and width, the
    output's width."""
    (kh, kw), (n, c, height, width) = node.attrs["kernel"], _input_shape(node)
    return n * c, height, width, kh, kw, width // kw


def _window_passes(lowering, node: Node, target: loops.Buffer, element: Callable,
                   reduce: Callable, finish: Callable = lambda v: v) -> list[loops.Stmt]:
    """target[d] = finish(reduce over the window starting at input element d of element(p, d)),
    valid where a window starts (every d of a row but the last KW - 1, every row but the last
    KH - 1): one contiguous pass over the KW columns from d, one over KH such rows."""
    planes, height, width, kh, kw, _ = _geometry(node)
    size = height * width
    cols = lowering.scratch(target.dtype, (planes, size))
    return [
        _planes(lowering, planes, size - kw + 1, lambda p, d: loops.store(
            cols, (p, d), reduce(kw, lambda q: element(p, d + q)))),
        _planes(lowering, planes, size - (kh - 1) * width, lambda p, d: loops.store(
            target, (p, d), finish(reduce(kh, lambda r: cols[p, d + r * width])))),
    ]


def _pooled_passes(lowering, node: Node, element: Reader, reduce: Callable,
                   finish: Callable = lambda v: v) -> list[loops.Stmt]:
    """The pooling's output: finish(reduce over each window of element(p, d)), in three
    passes (module docstring): across each window's KW columns, stepping KW at a time; down
    its KH rows; then a copy of the rows where windows start."""
    planes, height, width, kh, kw, ow = _geometry(node)
    size = height * ow                     # one plane reduced across columns
    cols = lowering.scratch(node.dtype, (planes, size))
    rows = lowering.scratch(node.dtype, (planes, size))
    out = lowering.buffer_of(node)
    return [
        _planes(lowering, planes, size, lambda p, e: loops.store(
            cols, (p, e), reduce(kw, lambda q: element(p, e * kw + q)))),
        _planes(lowering, planes, size - (kh - 1) * ow, lambda p, d: loops.store(
            rows, (p, d), finish(reduce(kh, lambda r: cols[p, d + r * ow])))),
        _planes(lowering, planes * (height // kh), ow, lambda m, j: loops.store(
            out, (m * ow + j,), rows.flat[m * kh * ow + j])),
    ]


def _max_pool2d_stage(lowering, node: Node) -> list[loops.Stmt]:
    return _pooled_passes(lowering, node, plane_reader(lowering, node.inputs[0]),
                          loops.reduce_max)


def _max_pool2d_grad_stage(lowering, node: Node) -> list[loops.Stmt]:
    planes, height, width, kh, _, ow = _geometry(node)
    dtype, size, pooled = node.dtype, height * width, planes * (height // kh) * ow
    read_x = plane_reader(lowering, node.inputs[0])
    read_out, read_g = (_flat_reader(lowering, i) for i in node.inputs[1:])
    top = lowering.scratch(dtype, (planes, size))       # each element's window maximum
    ties = lowering.scratch(dtype, (planes, size))      # then each element's share of g
    shares = lowering.scratch(dtype, (pooled,))

    def is_max(p, d):
        return loops.cast(loops.eq(read_x(p, d), top[p, d]), dtype)
    return [
        _spread(lowering, top, read_out, node),
        *_window_passes(lowering, node, ties, is_max, loops.reduce_sum),
        _decimate(lowering, shares, ties, node),
        loops.loop(pooled, lambda i: loops.store(shares, i, read_g(i) / shares[i]),
                   parallel=pooled >= lowering.options.parallel_elements),
        _spread(lowering, ties, lambda i: shares[i], node),
        _planes(lowering, planes, size, lambda p, d: loops.store(
            lowering.buffer_of(node), (p * size + d,), is_max(p, d) * ties[p, d])),
    ]


def _avg_pool2d_stage(lowering, node: Node) -> list[loops.Stmt]:
    # the window's sum in the compute rule's order (over q within each row, then the rows)
    kh, kw = node.attrs["kernel"]
    area = float(kh * kw)
    return _pooled_passes(lowering, node, plane_reader(lowering, node.inputs[0]),
                          loops.reduce_sum, lambda v: v / area)


def _avg_pool2d_grad_stage(lowering, node: Node) -> list[loops.Stmt]:
    # each window's g / (KH KW) over its elements: one spreading copy
    kh, kw = node.attrs["kernel"]
    read = _flat_reader(lowering, node.inputs[0])
    area = float(kh * kw)
    return [_spread(lowering, lowering.buffer_of(node), lambda i: read(i) / area, node)]


_STAGES = {"max_pool2d": _max_pool2d_stage, "max_pool2d_grad": _max_pool2d_grad_stage,
           "avg_pool2d": _avg_pool2d_stage, "avg_pool2d_grad": _avg_pool2d_grad_stage}
