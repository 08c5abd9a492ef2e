"""What the convolution lowerings share: a conv node's geometry, and the loop over images
with one slot of scratch per core.

Stage: lowering (graph -> loop IR), used by graphnn/lower/conv.py (im2col + Gemm) and
graphnn/lower/conv_direct.py (direct loops).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from codegen import loops
from codegen.native.runtime import available_cores
from graphnn.ir import Node


@dataclass(frozen=True)
class Geometry:
    """A conv node's attributes, as the lowering reads them."""

    stride: tuple[int, int]
    padding: tuple[tuple[int, int], tuple[int, int]]
    dilation: tuple[int, int]
    groups: int

    @staticmethod
    def of(node: Node) -> Geometry:
        attrs = node.attrs
        return Geometry(attrs["stride"], attrs["padding"], attrs["dilation"], attrs["groups"])

    def rows(self, i, p) -> loops.Expr:
        """The input row of output row i's tap p (outside the input in the padding)."""
        return times(i, self.stride[0]) + times(p, self.dilation[0]) - self.padding[0][0]

    def cols(self, j, q) -> loops.Expr:
        return times(j, self.stride[1]) + times(q, self.dilation[1]) - self.padding[1][0]

    def groups_loop(self, body) -> loops.Stmt:
        """body(k) for every group k (body(0) alone when there is one)."""
        return body(0) if self.groups == 1 else loops.loop(self.groups, body, name="group")


def times(index: loops.Expr, factor: int) -> loops.Expr:
    return index if factor == 1 else index * factor


def offset(*terms) -> loops.Expr | int:
    """The sum of the terms that are not the literal 0 (one group, slot 0: no `+ 0` in the IR)."""
    kept = [t for t in terms if not (isinstance(t, int) and t == 0)]
    return sum(kept[1:], kept[0]) if kept else 0


class Images:
    """The loop over images, each using one *slot* of scratch (its columns, its partial
    weight gradient). With the images in parallel there is one slot per core, and each slot's
    images run one after the other on that core: the scratch of a slot stays in the core's
    cache while the next image reuses it (a slot per image measured 2-4 ms slower on a 0.9
    GFLOP convolution, every image's columns going out to memory). Images run one after the
    other, sharing one slot (and multi-threaded Gemms), when there is one image or core, or
    when the slots would not fit `CompileOptions.conv_parallel_scratch` bytes.

    The batch splits into `slots` runs of `per` images, then `rest` single images, one slot
    each: `for t in 0..slots (parallel) { for k in 0..per { image t*per + k in slot t } }`,
    then `for t in 0..rest (parallel) { image slots*per + t in slot t }`. Two images in flight
    at once never share a slot, whatever thread count the call uses."""

    def __init__(self, lowering, batch: int, dtype: str, sizes: list[tuple[int, ...]]) -> None:
        itemsize = 4 if loops.normalize_dtype(dtype) == "f32" else 8
        cores = min(batch, available_cores())
        total = cores * sum(math.prod(shape) for shape in sizes) * itemsize
        self.parallel = cores > 1 and total <= lowering.options.conv_parallel_scratch
        self.slots = cores if self.parallel else 1
        self.batch = batch
        self.buffers = [lowering.scratch(dtype, (self.slots,) + shape) for shape in sizes]

    @staticmethod
    def offset(buffer: loops.Buffer, slot) -> loops.Expr | int:
        return slot * math.prod(buffer.shape[1:])

    def each(self, body) -> list[loops.Stmt]:
        """Statements running body(n, slot) for every image n."""
        if not self.parallel:
            return [loops.loop(self.batch, lambda n: body(n, 0), name="n")]
        per, rest = divmod(self.batch, self.slots)
        steps = []
        if per:
            steps.append(loops.loop(self.slots, lambda t: loops.loop(
                per, lambda k: body(times(t, per) + k, t), name="k"), name="t", parallel=True))
        if rest:
            steps.append(loops.loop(rest, lambda t: body(t + self.slots * per, t), name="t",
                                    parallel=True))
        return steps


def padded_copy(xp: loops.Buffer, source, n, slot, padding) -> list[loops.Stmt]:
    """xp[slot] = image n of source with its padding ((top, bottom), (left, right)): zeros,
    then the image inside them (two nests without bounds checks, which vectorize)."""
    (top, _), (left, _) = padding
    return [loops.loop_nest(xp.shape[1:], lambda c, h, v: loops.store(
                xp, (slot, c, h, v), 0.0), names=("c", "h", "w")),
            loops.loop_nest(source.shape[1:], lambda c, h, v: loops.store(
                xp, (slot, c, h + top, v + left), source[n, c, h, v]), names=("c", "h", "w"))]


def finished(out: loops.Buffer, n, finish, first=0, count: int | None = None) -> list[loops.Stmt]:
    """out[n, o] = finish(out[n, o], n, o) in place for `count` channels o from `first` (all
    by default): a conv2d's epilogue (Lowering.finish) run over an image or a block of
    channels just computed, still in cache. Each channel is one flat loop: a nest over short
    rows is unrolled along the row by LLVM and vectorized across rows with gathers and
    scatters (measured 2.5x slower on the ResNet stem). None when finish is None."""
    if finish is None:
        return []
    plane = out.shape[2] * out.shape[3]

    def body(r, e):
        o = offset(first, r)
        index = (offset(times(n, out.shape[1] * plane), times(o, plane), e),)
        return loops.store(out, index, finish(out.flat[index[0]], n, o))
    return [loops.loop_nest((out.shape[1] if count is None else count, plane), body,
                            names=("o", "e"))]
