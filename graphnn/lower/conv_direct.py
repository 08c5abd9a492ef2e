"""conv2d and conv2d_grad_input as direct loops over a zero-padded copy of each image.

Stage: lowering (graph -> loop IR). Both compute, for image n,

    out[n, o, i, j] = sum_{c, p, q} xpad[n, base(o) + c, i*sh + p*dh, j*sw + q*dw] * W(o, c, p, q)

over a scratch copy of the image with its padding written as zeros, so the loops read it
without a bounds check and LLVM vectorizes them along the output row j (the KH KW taps
unrolled, each a fused multiply-add). The compute rule's clamped and masked loads do not
vectorize, and im2col + Gemm writes KH KW copies of the image and, with few output channels,
wastes part of each register tile of the Gemm. Two forms:

- `shallow` (each output sums few terms: a depthwise convolution, one input channel): one
  store per output, the sum over (c, p, q) in it.
- `blocked` (stride 1, deep): the outputs start at zero and, for each input channel c, every
  output row accumulates c's KH KW taps for two output channels at once, which share the
  loads of the input rows (more channels per body spill the broadcast weights; measured),
  the taps summed as a written-out tree of additions (`Direct.taps_tree`).

A transposed convolution (conv2d_grad_input at stride 1) is the convolution of g with the
weights flipped and their in and out channels swapped, padded by the kernel's span minus the
forward padding: `transposed` describes it so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from codegen import loops
from graphnn.lower.conv_common import Geometry, Images, offset, padded_copy, times

# output channels per loop body of `blocked`: two, measured best on AVX-512 (four spill)
_BLOCK = 2
# `blocked` needs rows at least this long to fill vectors (16 floats are one AVX-512 register)
MIN_ROW = 16


@dataclass(frozen=True)
class Direct:
    """A convolution as the direct loops read it: `source` (N, C, H, W) into `out`
    (N, O, OH, OW), in `groups` groups of `per_group` output channels, each reading `taps`
    = (Cg, KH, KW) of its group's input channels through `weight(o, c, p, q)`."""

    source: object
    out: loops.Buffer
    weight: Callable
    taps: tuple[int, int, int]
    padding: tuple[tuple[int, int], tuple[int, int]]
    stride: tuple[int, int]
    dilation: tuple[int, int]
    groups: int

    @staticmethod
    def forward(out, x, w, geometry: Geometry) -> Direct:
        return Direct(x, out, lambda o, c, p, q: w[o, c, p, q], tuple(w.shape[1:]),
                      geometry.padding, geometry.stride, geometry.dilation, geometry.groups)

    @staticmethod
    def transposed(dx, g, w, geometry: Geometry) -> Direct | None:
        """conv2d_grad_input at stride 1 as a convolution of g (None when its padding would
        be negative: a forward padding wider than the kernel's span)."""
        kh, kw = w.shape[2:]
        (dh, dw), ((top, bottom), (left, right)) = geometry.dilation, geometry.padding
        span_h, span_w = dh * (kh - 1), dw * (kw - 1)
        padding = ((span_h - top, span_h - bottom), (span_w - left, span_w - right))
        if geometry.stride != (1, 1) or min(min(padding[0]), min(padding[1])) < 0:
            return None
        per_in, per_out = w.shape[1], w.shape[0] // geometry.groups

        def weight(c, o, p, q):   # dx channel c reads g channel base + o: w[base + o, c % Cg]
            if geometry.groups == 1:
                return w[o, c, kh - 1 - p, kw - 1 - q]
            return w[(c // per_in) * per_out + o, c % per_in, kh - 1 - p, kw - 1 - q]
        return Direct(g, dx, weight, (per_out, kh, kw), padding, (1, 1), geometry.dilation,
                      geometry.groups)

    @property
    def per_group(self) -> int:
        return self.out.shape[1] // self.groups

    def blockable(self) -> bool:
        """Whether `blocked` suits: stride 1 (a strided row is a gather), rows that fill a
        vector, more than one tap, whole blocks of output channels per group."""
        return self.stride == (1, 1) and self.out.shape[3] >= MIN_ROW and \
            self.taps[1] * self.taps[2] > 1 and self.per_group % _BLOCK == 0

    def padded(self, lowering) -> tuple[Images, loops.Buffer]:
        (top, bottom), (left, right) = self.padding
        channels, height, width = self.source.shape[1:]
        images = Images(lowering, self.out.shape[0], self.out.dtype,
                        [(channels, height + top + bottom, width + left + right)])
        return images, images.buffers[0]

    def fill(self, xp: loops.Buffer, n, slot) -> list[loops.Stmt]:
        return padded_copy(xp, self.source, n, slot, self.padding)

    def base(self, o) -> loops.Expr | int:
        """The first input channel of output channel o's group."""
        return 0 if self.groups == 1 else (o // self.per_group) * self.taps[0]

    def taps_sum(self, xp, slot, o, c, i, j) -> loops.Expr:
        """sum over (p, q) of xpad[base(o) + c, i*sh + p*dh, j*sw + q*dw] W(o, c, p, q)."""
        (sh, sw), (dh, dw) = self.stride, self.dilation
        channel = self.base(o) + c if self.groups > 1 else c
        return loops.reduce_sum(self.taps[1], lambda p: loops.reduce_sum(
            self.taps[2], lambda q: xp[slot, channel, times(i, sh) + times(p, dh),
                                       times(j, sw) + times(q, dw)] * self.weight(o, c, p, q)))

    def taps_tree(self, xp, slot, o, c, i, j) -> loops.Expr:
        """taps_sum as a balanced tree of additions of the KH KW products, written out: a
        Reduce starts its sum at 0.0, and LLVM keeps those additions of zero (dropping them
        would need no-signed-zeros), six of the 26 additions per two channels' 3x3 taps."""
        (sh, sw), (dh, dw) = self.stride, self.dilation
        channel = self.base(o) + c if self.groups > 1 else c
        terms = [xp[slot, channel, offset(times(i, sh), p * dh), offset(times(j, sw), q * dw)] *
                 self.weight(o, c, p, q)
                 for p in range(self.taps[1]) for q in range(self.taps[2])]
        while len(terms) > 1:
            terms = [terms[k] + terms[k + 1] if k + 1 < len(terms) else terms[k]
                     for k in range(0, len(terms), 2)]
        return terms[0]


def shallow(lowering, conv: Direct) -> list[loops.Stmt]:
    """One store per output, summing its (c, p, q) terms (the compute rule's order)."""
    images, xp = conv.padded(lowering)
    _, channels_out, oh, ow = conv.out.shape

    def image(n, slot):
        def body(o, i, j):
            return loops.store(conv.out, (n, o, i, j), loops.reduce_sum(
                conv.taps[0], lambda c: conv.taps_sum(xp, slot, o, c, i, j)))
        return [*conv.fill(xp, n, slot),
                loops.loop_nest((channels_out, oh, ow), body, names=("o", "i", "j"))]
    return images.each(image)


def blocked(lowering, conv: Direct) -> list[loops.Stmt]:
    """Per block of output channels: zeros, then each input channel's taps accumulated."""
    images, xp = conv.padded(lowering)
    _, channels_out, oh, ow = conv.out.shape

    def image(n, slot):
        def outputs(block):
            first = times(block, _BLOCK)
            zero = loops.loop_nest((_BLOCK, oh, ow), lambda r, i, j: loops.store(
                conv.out, (n, first + r, i, j), 0.0), names=("r", "i", "j"))

            def row(c, i, j):      # the block's channels are in one group: base(first)
                return [loops.accumulate(conv.out, (n, first + r, i, j),
                                         conv.taps_tree(xp, slot, first + r, c, i, j))
                        for r in range(_BLOCK)]
            return [zero, loops.loop_nest((conv.taps[0], oh, ow), row, names=("c", "i", "j"))]
        return [*conv.fill(xp, n, slot), loops.loop(channels_out // _BLOCK, outputs, name="ob")]
    return images.each(image)
