"""conv2d and conv2d_grad_input as direct loops over a zero-padded copy of each image.

Stage: lowering (graph -> loop IR). Both compute, for image n,

    out[n, o, i, j] = sum_{c, p, q} xpad[n, base(o) + c, i*sh + p*dh, j*sw + q*dw] * W(o, c, p, q)

over a scratch copy of the image with its padding written as zeros, so the loops read it
without a bounds check and LLVM vectorizes them along the output row j (the KH KW taps
unrolled, a fused multiply-add each). The compute rule's clamped and masked loads do not
vectorize, and im2col + Gemm writes KH KW copies of the image and, with few output channels,
wastes part of each register tile of the Gemm. Three forms:

- `tiled` (rows of MIN_TILE_ROW outputs or more; a shallow convolution with
  MIN_TILE_CHANNELS output channels per group): a DirectConv statement per image and group,
  our micro-kernel (codegen.native.dconv) holding a tile of output channels x a row's
  positions in registers over every (input channel, tap) pair, which it reads through a
  constant table of offsets into the padded copy (`tap_offsets`). When a row is not whole
  vectors (14, 7 positions) and the output channels fill the lanes better, over enough
  terms (`across_channels`), the statement's lanes hold output channels instead
  (codegen.native.dconv_lanes: positions counted across rows, the weights gathered
  transposed once per call); rows shorter than a vector take that form too.
- `shallow` (each output sums few terms: a depthwise convolution, one input channel): one
  store per output, the sum over (c, p, q) in it.
- `blocked` (deep): the outputs start at zero and, for each input channel c, every output
  row accumulates c's KH KW taps for two output channels at once, which share the loads of
  the input rows (more channels per body spill the broadcast weights; measured), the taps
  summed as a chain of fused multiply-adds (`Direct.taps_sum`).

In the loop forms, rows that are not whole vectors (14 or 28 outputs) run along the flattened
padded image instead (`Direct.flat`): one long vectorized loop per channel, the few positions
past each row's end computed and dropped. A strided convolution whose stride divides the
image reads the copy split into its stride phases (`Direct.padded`), where every tap is a
stride-1 read. A conv2d's epilogue (its bias add and ReLU, graphnn/lower/conv.py
`epilogues`) is applied per image or block of channels while they are in cache (`finish`).
The copy is zeroed once per call (`Direct.clear`); each image writes only its own positions.

A transposed convolution (conv2d_grad_input at stride 1) is the convolution of g with the
weights flipped and their in and out channels swapped, padded by the kernel's span minus the
forward padding: `transposed` describes it so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from codegen import loops
from graphnn.lower.conv_common import Geometry, Images, finished, offset, padded_copy, times

# output channels per loop body of `blocked`: two, measured best on AVX-512 (four spill)
_BLOCK = 2
# rows whose length is a multiple of this fill whole vectors (16 floats are one AVX-512
# register, two AVX2 ones); other rows run along the flattened padded image (`Direct.flat`)
MIN_ROW = 16
# the narrowest output row `tiled` takes: half of AVX2's 16-float tile
MIN_TILE_ROW = 8
# output channels per group from which a shallow convolution (9 terms per output: one input
# channel) runs in tiles rather than one loop per channel: an MNIST CNN's first convolution
# (1 -> 16, 28x28, batch 32) took 0.127 ms against 0.154, the conv benchmark's small case
# (1 -> 8, forward and gradients) 1.39-1.64 ms against 2.07-2.12 (Zen 3, one thread)
MIN_TILE_CHANNELS = 8
# the depth (terms per output) from which `tiled` may hold output channels in the lanes
# (`across_channels`): its tiles' transposed stores cost some 3-5 % of a tile at 144
MIN_CHANNEL_DEPTH = 32


@dataclass(frozen=True)
class _InPlace:
    """W(o, c, p, q) = w[o, c, p, q]: a conv2d's weights (a buffer, or a reshape of one read
    in place: the same bytes), which `tiled` reads by offsets."""

    weights: object

    def __call__(self, o, c, p, q) -> loops.Expr:
        return self.weights[o, c, p, q]

    @property
    def buffer(self) -> loops.Buffer:
        return getattr(self.weights, "buffer", self.weights)


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
        return Direct(x, out, _InPlace(w), tuple(w.shape[1:]), geometry.padding,
                      geometry.stride, geometry.dilation, geometry.groups)

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
        """Whether `blocked` suits: outputs that fill a vector, more than one tap, whole
        blocks of output channels per group."""
        return self.out.shape[2] * self.out.shape[3] >= MIN_ROW and \
            self.taps[1] * self.taps[2] > 1 and self.per_group % _BLOCK == 0 and \
            (self.stride == (1, 1) or self.phased)

    @property
    def phased(self) -> bool:
        """Whether the padded copy is split into phases (`padded`): when strided and the
        stride divides the image's height and width (whole rows and columns of phases,
        `_phase_copy`); other strided convolutions read the copy at the stride."""
        return self.stride != (1, 1) and self.source.shape[2] % self.stride[0] == 0 and \
            self.source.shape[3] % self.stride[1] == 0

    def native(self, shallow: bool = False) -> bool:
        """Whether `tiled` suits: a convolution of more than one tap read at stride 1 (or in
        phases) whose rows fill at least an AVX2 vector (a tile computes whole vectors along
        a row), or of any rows when its lanes hold output channels (`across_channels`); a
        `shallow` one (few terms per output) when it has MIN_TILE_CHANNELS output channels
        per group to fill a tile's height."""
        if self.taps[1] * self.taps[2] == 1 or not (self.stride == (1, 1) or self.phased):
            return False
        if not shallow and across_channels(self):   # any row: the lanes hold channels
            return True
        return self.out.shape[3] >= MIN_TILE_ROW and \
            (not shallow or self.per_group >= MIN_TILE_CHANNELS)

    def tap_offsets(self, xp: loops.Buffer) -> tuple[int, ...]:
        """Where each (input channel, tap) pair of a group reads the padded copy `xp`,
        relative to the output position (i, j) at i Wp + j: k = (c KH + p) KW + q."""
        (sh, sw), (dh, dw) = self.stride if self.phased else (1, 1), self.dilation
        plane, width = xp.shape[2] * xp.shape[3], xp.shape[3]
        return tuple((c * sh * sw + (p * dh % sh) * sw + q * dw % sw) * plane +
                     p * dh // sh * width + q * dw // sw
                     for c in range(self.taps[0]) for p in range(self.taps[1])
                     for q in range(self.taps[2]))

    def padded(self, lowering, slack: bool = False) -> tuple[Images, loops.Buffer]:
        """The scratch of the zero-padded images: (C, Hp, Wp) per image at stride 1; at
        stride (sh, sw) its sh sw phases, (C sh sw, Hp / sh, Wp / sw), phase (a, b) of
        channel c holding xpad[c, sh u + a, sw v + b] at (u, v), so every tap reads a phase
        at stride 1 (rows of contiguous loads instead of gathers)."""
        (top, bottom), (left, right) = self.padding
        (sh, sw) = self.stride if self.phased else (1, 1)
        channels, height, width = self.source.shape[1:]
        extra = 1 if self.flat else 0   # a zero row under the image: the flat reads of the
        #                                 last rows' dropped positions stay inside the copy
        rows, cols = -(-(height + top + bottom) // sh), -(-(width + left + right) // sw)
        if slack:   # zero rows under each plane, so that the last one holds the DirectConv's
            #         reads past its last output (loops.CONV_SLACK)
            (dh, dw), (_, kh, kw) = self.dilation, self.taps
            reach = (kh - 1) * dh // sh * cols + (kw - 1) * dw // sw + \
                (self.out.shape[2] - 1) * cols + self.out.shape[3] + \
                loops.CONV_SLACK[self.out.dtype]
            extra = max(extra, -(-reach // cols) - rows)
        shape = (channels * sh * sw, rows + extra, cols)
        images = Images(lowering, self.out.shape[0], self.out.dtype, [shape])
        return images, images.buffers[0]

    @staticmethod
    def clear(xp: loops.Buffer) -> loops.Stmt:
        """Zeros in every slot of the padded copy, once per call: `fill` writes only the
        image's positions, so the padding (and the slack) stays zero from image to image
        (zeroing each image's whole copy again took a pass over it per image)."""
        return loops.loop(xp.size, lambda e: loops.store(xp, (e,), 0.0), name="e")

    def fill(self, xp: loops.Buffer, n, slot) -> list[loops.Stmt]:
        """Image n into slot `slot` of the padded copy (cleared before: `clear`)."""
        if not self.phased:
            return padded_copy(xp, self.source, n, slot, self.padding)[1:]
        return [self._phase_copy(xp, n, slot)]

    def _phase_copy(self, xp, n, slot) -> loops.Stmt:
        """The image into its phases: source rows and columns taken sh and sw at a time,
        (sh kr + er, sw k + e) into phase ((er + top) % sh, (e + left) % sw) at
        (kr + (er + top) // sh, k + (e + left) // sw): sh sw stores per body, whose loads
        are one interleaved group LLVM reads with whole vectors (one nest per phase, reading
        the source at stride sw, was unrolled along rows of 16 and vectorized across them
        with gathers and scatters: the strided 3x3 took 2x longer)."""
        (sh, sw), ((top, _), (left, _)) = self.stride, self.padding
        channels, height, width = self.source.shape[1:]

        def body(c, kr, k):
            return [loops.store(xp, (slot, offset(times(c, sh * sw), (er + top) % sh * sw +
                                                  (e + left) % sw),
                                     offset(kr, (er + top) // sh), offset(k, (e + left) // sw)),
                                self.source[n, c, offset(times(kr, sh), er),
                                            offset(times(k, sw), e)])
                    for er in range(sh) for e in range(sw)]
        return loops.loop_nest((channels, height // sh, width // sw), body,
                               names=("c", "u", "v"))

    def base(self, o) -> loops.Expr | int:
        """The first input channel of output channel o's group."""
        return 0 if self.groups == 1 else (o // self.per_group) * self.taps[0]

    @property
    def flat(self) -> bool:
        """Whether the loops run along the flattened padded image rather than along output
        rows: at stride 1 when a row is not whole vectors (14 or 28 outputs: LLVM then runs
        part of each row in narrow vectors or scalars). Output (i, j) is then position
        f = i Wp + j of the padded width Wp, and tap (p, q) reads f + p dh Wp + q dw; the
        Wp - OW positions per row past the output are computed and dropped."""
        return self.out.shape[3] % MIN_ROW != 0 and (self.stride == (1, 1) or self.phased)

    def reader(self, xp: loops.Buffer, slot, i, j=None) -> Callable:
        """read(channel, p, q): the input under tap (p, q) of output (i, j), or of flat
        position i when `flat`."""
        (sh, sw), (dh, dw) = self.stride, self.dilation
        if self.stride != (1, 1) and not self.phased:       # rows read at the stride
            return lambda channel, p, q: xp[slot, channel, offset(times(i, sh), p * dh),
                                            offset(times(j, sw), q * dw)]

        def phase(channel, p, q):   # the channel of xp holding tap (p, q)'s phase
            return offset(times(channel, sh * sw), (p * dh % sh) * sw + q * dw % sw)
        if j is not None:
            return lambda channel, p, q: xp[slot, phase(channel, p, q),
                                            offset(i, p * dh // sh), offset(j, q * dw // sw)]
        plane, width = xp.shape[2] * xp.shape[3], xp.shape[3]
        return lambda channel, p, q: xp.flat[offset(times(slot, xp.size // xp.shape[0]),
                                                    times(phase(channel, p, q), plane), i,
                                                    p * dh // sh * width + q * dw // sw)]

    def taps_sum(self, read, o, c) -> loops.Expr:
        """sum over (p, q) of read(base(o) + c, p, q) W(o, c, p, q), written out as a chain of
        fused multiply-adds (`loops.muladd`), the first tap a product: a Reduce starts its sum
        at 0.0, and LLVM keeps those additions of zero (dropping them would need no-signed-
        zeros). A chain fuses every term's product and sum, where the balanced tree of
        additions this was fused only the leaves: the 3x3 16->16 convolution at batch 32 ran in
        0.66 ms instead of 0.85 with AVX-512 code and 1.56 instead of 2.23 with AVX2 code (one
        thread, 4 December 2026). Every term still rounds once per tap, in tap order."""
        channel = self.base(o) + c if self.groups > 1 else c
        taps = [(p, q) for p in range(self.taps[1]) for q in range(self.taps[2])]
        (p, q), rest = taps[0], taps[1:]
        total = read(channel, p, q) * self.weight(o, c, p, q)
        for p, q in rest:
            total = loops.muladd(read(channel, p, q), self.weight(o, c, p, q), total)
        return total

    def total(self, read, o) -> loops.Expr:
        """The sum over every (c, p, q) of output channel o."""
        if self.taps[0] == 1:       # one input channel per group: no Reduce over it
            return self.taps_sum(read, o, 0)
        return loops.reduce_sum(self.taps[0], lambda c: self.taps_sum(read, o, c))


def shallow(lowering, conv: Direct, finish=None) -> list[loops.Stmt]:
    """One store per output, summing its (c, p, q) terms; what is stored is
    `finish(value, n, o)` (a conv2d's epilogue) when given."""
    images, xp = conv.padded(lowering)
    _, channels_out, oh, ow = conv.out.shape
    finish = finish or (lambda value, n, o: value)
    if conv.flat:
        row = lowering.scratch(conv.out.dtype, (images.slots, oh * xp.shape[3]))

    def image(n, slot):
        def body(o, i, j):
            return loops.store(conv.out, (n, o, i, j), finish(
                conv.total(conv.reader(xp, slot, i, j), o), n, o))

        def channel(o):   # the sums at every flat position into a row, then copied out
            return [loops.loop(row.shape[1], lambda f: loops.store(row, (slot, f), finish(
                        conv.total(conv.reader(xp, slot, f), o), n, o)), name="f"),
                    _copy(conv.out, (n, o), row, (slot,), xp.shape[3])]
        if conv.flat:
            return [*conv.fill(xp, n, slot), loops.loop(channels_out, channel, name="o")]
        return [*conv.fill(xp, n, slot),
                loops.loop_nest((channels_out, oh, ow), body, names=("o", "i", "j"))]
    return [conv.clear(xp), *images.each(image)]


def across_channels(conv: Direct, pooled: bool = False) -> bool:
    """Whether `tiled` holds output channels in the vector lanes (the DirectConv's
    lanes="channels", codegen.native.dconv_lanes) rather than positions of a row: when the
    rows are not whole vectors (`flat`: 14 of 16 lanes used on a 14x14 image, 7 of 16 on a
    7x7 one) and the channels waste fewer (half a vector of 8 at most), over a depth of at
    least MIN_CHANNEL_DEPTH terms (a tile's outputs are stored transposed, which a shallow
    convolution's few terms do not pay for), or of any depth when it `pooled` (2x2
    windows: a quarter of the stores, and no pass of the pooling)."""
    (cg, kh, kw), lanes = conv.taps, 8
    used_by_positions = conv.out.shape[3] / (-(-conv.out.shape[3] // MIN_ROW) * MIN_ROW)
    used_by_channels = conv.per_group / (-(-conv.per_group // lanes) * lanes)
    return conv.flat and (pooled or cg * kh * kw >= MIN_CHANNEL_DEPTH) and \
        used_by_channels > used_by_positions


def tiled(lowering, conv: Direct, finish=None, pool=None) -> list[loops.Stmt]:
    """Per image (and group): one DirectConv, our micro-kernel with a tile of output
    channels x positions in registers over every (input channel, tap), then `finish` (a
    conv2d's epilogue) over the image while it is in cache. Positions of a row in the lanes
    (codegen.native.dconv): the weights are read in place when laid out (o, c, p, q) as the
    statement reads them (a conv2d's), else first gathered so, once per call (a transposed
    convolution's flipped, swapped weights). Output channels in the lanes
    (`across_channels`, codegen.native.dconv_lanes): the weights gathered transposed, a
    row of each group's channels per (c, p, q), padded to loops.channel_row with zeros.
    With `pool` (the buffer of a 2x2 max pooling, the convolution's only reader:
    lower.conv.pooled), the kernel stores each window's maximum there instead
    (lanes="pool2x2")."""
    images, xp = conv.padded(lowering, slack=True)
    _, channels_out, oh, ow = conv.out.shape
    per_group, (cg, kh, kw) = conv.per_group, conv.taps
    depth = cg * kh * kw
    steps: list[loops.Stmt] = []
    weights = getattr(conv.weight, "buffer", None)
    lanes = "channels" if across_channels(conv, pooled=pool is not None) else "positions"
    if pool is not None:
        assert lanes == "channels" and conv.groups == 1, "lower.conv.pooled chose otherwise"
    if lanes == "channels":
        ldw = loops.channel_row(per_group, conv.out.dtype)
        weights = lowering.scratch(conv.out.dtype, (conv.groups, depth, ldw))
        steps.append(loops.loop_nest((conv.groups, per_group, cg, kh, kw),
                                     lambda g, o, c, p, q: loops.store(
            weights, (g, (c * kh + p) * kw + q, o), conv.weight(g * per_group + o, c, p, q)),
            names=("wg", "wo", "wc", "wp", "wq")))
        if ldw > per_group:
            steps.append(loops.loop_nest((conv.groups, depth, ldw - per_group),
                                         lambda g, k, o: loops.store(
                weights, (g, k, offset(o, per_group)), 0.0), names=("wg", "wk", "wo")))
    elif weights is None:
        ldw = depth
        weights = lowering.scratch(conv.out.dtype, (channels_out, depth))
        steps.append(loops.loop_nest((channels_out, cg, kh, kw), lambda o, c, p, q: loops.store(
            weights, (o, (c * kh + p) * kw + q), conv.weight(o, c, p, q)),
            names=("wo", "wc", "wp", "wq")))
    else:
        ldw = depth
    taps = conv.tap_offsets(xp)
    group_input = cg * xp.shape[1] // conv.source.shape[1] * xp.shape[2] * xp.shape[3]
    group_weights = depth * (ldw if lanes == "channels" else per_group)

    def image(n, slot):
        if pool is not None:
            ph, pw = pool.shape[2:]
            return [*conv.fill(xp, n, slot), loops.DirectConv(
                pool, weights, xp, taps, per_group, ph, pw, ldw, xp.shape[3], ph * pw, pw,
                out_offset=times(n, channels_out * ph * pw), x_offset=Images.offset(xp, slot),
                lanes="pool2x2")]

        def group(g):
            return loops.DirectConv(
                conv.out, weights, xp, taps, per_group, oh, ow, ldw, xp.shape[3], oh * ow, ow,
                out_offset=offset(times(n, channels_out * oh * ow), times(g, per_group * oh * ow)),
                w_offset=times(g, group_weights),
                x_offset=offset(Images.offset(xp, slot), times(g, group_input)), lanes=lanes)
        groups = group(0) if conv.groups == 1 else loops.loop(conv.groups, group, name="g")
        return [*conv.fill(xp, n, slot), groups, *finished(conv.out, n, finish)]
    return [*steps, conv.clear(xp), *images.each(image)]


def _copy(out: loops.Buffer, at: tuple, sums: loops.Buffer, row: tuple,
          width: int) -> loops.Stmt:
    """out[at][i, j] = sums[row][i * width + j]: the outputs of one channel out of its flat
    sums over the padded width."""
    oh, ow = out.shape[2:]
    return loops.loop_nest((oh, ow), lambda i, j: loops.store(
        out, (*at, i, j), sums[(*row, i * width + j)]), names=("i", "j"))


def blocked(lowering, conv: Direct, finish=None) -> list[loops.Stmt]:
    """Per block of output channels: zeros, then each input channel's taps accumulated, then
    `finish` (a conv2d's epilogue) over the block while it is in cache."""
    images, xp = conv.padded(lowering)
    _, channels_out, oh, ow = conv.out.shape
    if conv.flat:
        sums = lowering.scratch(conv.out.dtype, (images.slots, _BLOCK, oh * xp.shape[3]))

    def image(n, slot):
        def outputs(block):
            first = times(block, _BLOCK)
            if conv.flat:
                return _flat_block(conv, sums, xp, n, slot, first, finish)
            zero = loops.loop_nest((_BLOCK, oh, ow), lambda r, i, j: loops.store(
                conv.out, (n, first + r, i, j), 0.0), names=("r", "i", "j"))

            def row(c, i, j):      # the block's channels are in one group: base(first)
                read = conv.reader(xp, slot, i, j)
                return [loops.accumulate(conv.out, (n, first + r, i, j),
                                         conv.taps_sum(read, first + r, c))
                        for r in range(_BLOCK)]
            return [zero, loops.loop_nest((conv.taps[0], oh, ow), row, names=("c", "i", "j")),
                    *finished(conv.out, n, finish, first, _BLOCK)]
        return [*conv.fill(xp, n, slot), loops.loop(channels_out // _BLOCK, outputs, name="ob")]
    return [conv.clear(xp), *images.each(image)]


def _flat_block(conv: Direct, sums, xp, n, slot, first, finish) -> list[loops.Stmt]:
    """blocked along the flattened padded image: the block's sums at every flat position,
    finished there (flat loops vectorize; see conv_common.finished), then copied out."""
    size = sums.shape[2]
    zero = loops.loop_nest((_BLOCK, size), lambda r, f: loops.store(sums, (slot, r, f), 0.0),
                           names=("r", "f"))

    def position(c, f):
        read = conv.reader(xp, slot, f)
        return [loops.accumulate(sums, (slot, r, f), conv.taps_sum(read, first + r, c))
                for r in range(_BLOCK)]
    steps = [zero, loops.loop_nest((conv.taps[0], size), position, names=("c", "f"))]
    if finish is not None:
        steps.append(loops.loop_nest((_BLOCK, size), lambda r, f: loops.store(
            sums, (slot, r, f), finish(sums[slot, r, f], n, first + r)), names=("r", "f")))
    return [*steps, loops.loop(_BLOCK, lambda r: _copy(conv.out, (n, first + r), sums,
                                                       (slot, r), xp.shape[3]), name="r")]
