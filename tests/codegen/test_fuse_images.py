"""codegen.fuse_images: runs of image loops fused where legal, results unchanged, temps shrunk
to one region per slot; and every case where fusing would be wrong left alone."""

from __future__ import annotations

import numpy as np
import pytest

import graphnn as gn
from codegen import loops
from codegen.fuse_images import fuse_images
from codegen.native.runtime import available_cores
from codegen.options import CodegenOptions
from codegen.workspace import layout
from graphnn.compiler.plans import make_plan
from graphnn.options import CompileOptions
from tests.codegen.support import compiled
from tests.harness import run_docstring_examples

N, W = 4, 8          # images, elements per image of the hand-written kernels


def image_loop(body, slots: int = 2) -> loops.Stmt:
    """`parallel for t in 0..slots { for k in 0..N/slots { body(image, t) } }`: a
    convolution's loop over images (graphnn/lower/conv_common.py Images)."""
    per = N // slots
    return loops.loop(slots, lambda t: loops.loop(per, lambda k: body(t * per + k, t),
                                                  name="k"), name="t", parallel=True)


def doubled(x: loops.Buffer, y: loops.Buffer) -> loops.Stmt:
    return image_loop(lambda n, t: loops.loop(W, lambda j: loops.store(
        y, (n, j), x[n, j] * 2.0), name="j"))


def buffers(*names: str, shape=(N, W)) -> list[loops.Buffer]:
    return [loops.Buffer(name, "f32", shape) for name in names]


def top_level_loops(kernel: loops.Kernel) -> int:
    return sum(isinstance(s, loops.Loop) for s in kernel.body)


def run(kernel: loops.Kernel, *arrays: np.ndarray) -> np.ndarray:
    return compiled(kernel)(*arrays)


def test_docstring_examples_run():
    result = run_docstring_examples("codegen.fuse_images")
    assert result.attempted > 0 and result.failed == 0


def test_an_elementwise_pass_joins_the_image_loop_and_its_temp_shrinks_to_the_slots():
    x, z = buffers("x", "z")
    (y,) = buffers("y")
    relu = loops.loop(N * W, lambda e: loops.store(z, (e,), loops.fmax(y.flat[e], 0.0)),
                      name="e", parallel=True)
    kernel = loops.Kernel("chain", [x], [z], [y], [doubled(x, y), relu])
    fused = fuse_images(kernel)
    assert top_level_loops(fused) == 1
    assert fused.temps[0].shape == (2 * W,)            # one image's region per slot
    xs = np.random.default_rng(0).standard_normal((N, W)).astype(np.float32)
    np.testing.assert_array_equal(run(fused, xs), run(kernel, xs))
    np.testing.assert_array_equal(run(fused, xs), np.maximum(2 * xs, 0))


def test_a_second_image_loop_and_a_per_plane_pass_join_with_their_own_variables_renamed():
    """Two slotted loops of the same shape, then a pass over N x 2 planes whose inner loop is
    named like the run's image variable: all one loop, the inner k renamed apart."""
    x, out = buffers("x", "out", shape=(N, 2, W // 2))
    y, z = buffers("y", "z", shape=(N, 2, W // 2))
    first = image_loop(lambda n, t: loops.loop_nest((2, W // 2), lambda c, j: loops.store(
        y, (n, c, j), x[n, c, j] + 1.0), names=("c", "j")))
    second = image_loop(lambda n, t: loops.loop_nest((2, W // 2), lambda c, j: loops.store(
        z, (n, c, j), y[n, 1 - c, j] * 3.0), names=("c", "j")))     # the image's other plane
    planes = loops.loop(N * 2, lambda p: loops.loop(W // 2, lambda k: loops.store(
        out, (p * (W // 2) + k,), z.flat[p * (W // 2) + k] - y.flat[p * (W // 2) + k]),
        name="k"), name="p", parallel=True)
    kernel = loops.Kernel("three", [x], [out], [y, z], [first, second, planes])
    fused = fuse_images(kernel)
    assert top_level_loops(fused) == 1 and "for k2 in" in str(fused)
    xs = np.random.default_rng(1).standard_normal((N, 2, W // 2)).astype(np.float32)
    np.testing.assert_array_equal(run(fused, xs), run(kernel, xs))


def test_a_reduction_named_like_the_image_variables_is_left_alone():
    """substitute() does not rename what a reduction binds: such a member stays unfused."""
    x, z = buffers("x", "z")
    (y,) = buffers("y")
    k = loops.Var("k")
    weighted = loops.loop(N * W, lambda e: loops.store(z, (e,), loops.Reduce(
        "sum", k, 3, y.flat[e] * loops.cast(k, "f32"))), name="e", parallel=True)
    kernel = loops.Kernel("reduced_k", [x], [z], [y], [doubled(x, y), weighted])
    assert fuse_images(kernel) is kernel


def test_an_independent_statement_moves_before_the_run():
    """The next convolution zeroing its scratch touches nothing the run does: it moves ahead
    and the loops after it still join."""
    x, z = buffers("x", "z")
    (y,) = buffers("y")
    scratch = loops.Buffer("scratch", "f32", (2, W))
    clear = loops.loop(2 * W, lambda e: loops.store(scratch, (e,), 0.0), name="e")
    second = image_loop(lambda n, t: [
        loops.loop(W, lambda j: loops.store(scratch, (t, j), y[n, j] + scratch[t, j]),
                   name="j"),
        loops.loop(W, lambda j: loops.store(z, (n, j), scratch[t, j]), name="j")])
    kernel = loops.Kernel("moved", [x], [z], [y, scratch], [doubled(x, y), clear, second])
    fused = fuse_images(kernel)
    assert [type(s).__name__ for s in fused.body] == ["Loop", "Loop"]
    assert fused.body[0].extent == 2 * W and not fused.body[0].parallel   # the clear, first
    xs = np.random.default_rng(2).standard_normal((N, W)).astype(np.float32)
    np.testing.assert_array_equal(run(fused, xs), run(kernel, xs))


def test_the_batchs_last_images_fuse_in_a_second_loop():
    """Five images on two slots: images 0-3 in the slotted loop, image 4 in the rest loop
    after it (graphnn/lower/conv_common.py Images); a pass over all five joins both."""
    x, z = buffers("x", "z", shape=(5, W))
    (y,) = buffers("y", shape=(5, W))
    main = loops.loop(2, lambda t: loops.loop(2, lambda k: loops.loop(W, lambda j: loops.store(
        y, (t * 2 + k, j), x[t * 2 + k, j] * 2.0), name="j"), name="k"), name="t",
        parallel=True)
    rest = loops.loop(1, lambda t: loops.loop(W, lambda j: loops.store(
        y, (t + 4, j), x[t + 4, j] * 2.0), name="j"), name="t", parallel=True)
    relu = loops.loop(5 * W, lambda e: loops.store(z, (e,), loops.fmax(y.flat[e], 0.0)),
                      name="e", parallel=True)
    kernel = loops.Kernel("rest", [x], [z], [y], [main, rest, relu])
    fused = fuse_images(kernel)
    assert top_level_loops(fused) == 2
    assert all("max(" in str(s) for s in fused.body)      # the pass is in both loops
    assert fused.temps[0].shape == (2 * W,)
    xs = np.random.default_rng(4).standard_normal((5, W)).astype(np.float32)
    np.testing.assert_array_equal(run(fused, xs), run(kernel, xs))
    # a loop after the slotted one that rewrites its first image is no rest loop
    again = loops.loop(1, lambda t: loops.loop(W, lambda j: loops.store(
        y, (t, j), x[t + 4, j] * 3.0), name="j"), name="t", parallel=True)
    other = loops.Kernel("not_rest", [x], [z], [y], [main, again, relu])
    assert fuse_images(other) is other


def five_images(name: str, buffer: loops.Buffer, value) -> tuple[loops.Stmt, loops.Stmt]:
    """A slotted loop over images 0-3 on two slots and its rest loop over image 4, storing
    value(image, j) into buffer[image, j]."""
    main = loops.loop(2, lambda t: loops.loop(2, lambda k: loops.loop(W, lambda j: loops.store(
        buffer, (t * 2 + k, j), value(t * 2 + k, j)), name="j"), name="k"), name="t",
        parallel=True)
    rest = loops.loop(1, lambda t: loops.loop(W, lambda j: loops.store(
        buffer, (t + 4, j), value(t + 4, j)), name="j"), name="t", parallel=True)
    return main, rest


def test_a_main_part_never_runs_before_an_earlier_rest_part_it_conflicts_with():
    """Fused, the whole main loop runs before the rest loop. The second pair writes q at the
    next image (its slots' own business in the main loop), and the first pair's rest loop
    reads q at image 4, which the second pair's main loop writes: no fusion."""
    x, y, q = buffers("x", "y", "q", shape=(5, W))
    clear = loops.loop(5 * W, lambda e: loops.store(q, (e,), 0.0), name="e")
    first = (five_images("first", y, lambda n, j: x[n, j] * 2.0)[0],
             five_images("first", y, lambda n, j: x[n, j] * 2.0 + q[n, j])[1])
    second_main = loops.loop(2, lambda t: loops.loop(2, lambda k: loops.loop(
        W, lambda j: loops.store(q, (t * 2 + k + 1, j), y[t * 2 + k, j] + 1.0), name="j"),
        name="k"), name="t", parallel=True)
    second_rest = loops.loop(1, lambda t: loops.loop(W, lambda j: loops.store(
        q, (t + 4, j), y[t + 4, j] + 1.0), name="j"), name="t", parallel=True)
    kernel = loops.Kernel("across", [x], [y, q], [], [clear, *first, second_main, second_rest])
    fused = fuse_images(kernel)
    xs = np.random.default_rng(5).standard_normal((5, W)).astype(np.float32)
    for got, want in zip(run(fused, xs), run(kernel, xs), strict=True):
        np.testing.assert_array_equal(got, want)


def test_a_statement_that_is_no_loop_after_a_slotted_pair_ends_the_run():
    x, y, z = buffers("x", "y", "z", shape=(5, W))
    flag = loops.Buffer("flag", "f32", (1,))
    first = five_images("first", y, lambda n, j: x[n, j] * 2.0)
    second = five_images("second", z, lambda n, j: y[n, j] + 1.0)[0]
    kernel = loops.Kernel("no_loop", [x], [y, z, flag], [],
                          [*first, second, loops.store(flag, (0,), 1.0)])
    assert fuse_images(kernel) is kernel


def test_a_products_beta_source_and_its_output_keep_their_size():
    """A Gemm reads its beta source at its output's offsets: contracting the output alone
    would read the source at the slot's offset instead of the image's."""
    m, k, n = 2, 3, 4
    x = loops.Buffer("x", "f32", (N, m, k))
    w = loops.Buffer("w", "f32", (k, n))
    source = loops.Buffer("source", "f32", (N, m, n))
    y, z = loops.Buffer("y", "f32", (N * m * n,)), loops.Buffer("z", "f32", (N * m * n,))
    product = image_loop(lambda i, t: loops.Gemm(
        y, x, w, m, n, k, beta=1.0, source=source, a_offset=i * (m * k), c_offset=i * (m * n)))
    relu = loops.loop(N * m * n, lambda e: loops.store(z, (e,), loops.fmax(y.flat[e], 0.0)),
                      name="e", parallel=True)
    kernel = loops.Kernel("beta_source", [x, w, source], [z], [y], [product, relu])
    fused = fuse_images(kernel)
    assert top_level_loops(fused) == 1 and fused.temps[0].shape == y.shape
    rng = np.random.default_rng(6)
    arrays = [rng.standard_normal(b.shape).astype(np.float32) for b in (x, w, source)]
    np.testing.assert_array_equal(run(fused, *arrays), run(kernel, *arrays))


@pytest.mark.parametrize("case", ["next image", "whole batch", "serial sum", "check",
                                  "reads scratch"])
def test_what_would_change_results_is_not_fused(case):
    x, z = buffers("x", "z")
    (y,) = buffers("y")
    producer = doubled(x, y)
    if case == "next image":        # reads image n + 1 of what the run wrote
        consumer = loops.loop(N, lambda n: loops.loop(W, lambda j: loops.store(
            z, (n, j), y[(n + 1) % N, j]), name="j"), name="n", parallel=True)
    elif case == "whole batch":     # each image's result needs every image
        consumer = loops.loop(N, lambda n: loops.loop(W, lambda j: loops.store(
            z, (n, j), loops.reduce_sum(N, lambda m: y[m, j])), name="j"), name="n")
    elif case == "serial sum":      # a running total across images, in a serial loop
        total = loops.Buffer("total", "f32", (W,))
        consumer = loops.loop(N, lambda n: loops.loop(W, lambda j: [
            loops.accumulate(total, (j,), y[n, j]),
            loops.store(z, (n, j), total[j])], name="j"), name="n")
    elif case == "check":           # a check returns from the kernel: order matters
        consumer = loops.loop(N, lambda n: [loops.check(loops.lt(n, N), 1), loops.loop(
            W, lambda j: loops.store(z, (n, j), y[n, j]), name="j")], name="n")
    else:                           # reads the producer's per-slot scratch
        scratch = loops.Buffer("scratch", "f32", (2, W))
        producer = image_loop(lambda n, t: [
            loops.loop(W, lambda j: loops.store(scratch, (t, j), x[n, j]), name="j"),
            loops.loop(W, lambda j: loops.store(y, (n, j), scratch[t, j]), name="j")])
        consumer = loops.loop(N, lambda n: loops.loop(W, lambda j: loops.store(
            z, (n, j), y[n, j] + scratch[n % 2, j]), name="j"), name="n", parallel=True)
    temps = sorted({b for s in (producer, consumer) for b in _buffers(s)} - {"x", "z"})
    kernel = loops.Kernel(case.replace(" ", "_"), [x], [z],
                          [_buffer(name, (producer, consumer)) for name in temps],
                          [producer, consumer])
    assert fuse_images(kernel) is kernel


def _buffers(stmt: loops.Stmt) -> set[str]:
    return {n.buffer.name for n in loops.walk(stmt)
            if isinstance(n, (loops.Load, loops.Store, loops.Accumulate))}


def _buffer(name: str, stmts) -> loops.Buffer:
    return next(n.buffer for s in stmts for n in loops.walk(s)
                if isinstance(n, (loops.Load, loops.Store, loops.Accumulate))
                and n.buffer.name == name)


# -- through graphnn: a CNN and a residual block at several batches ------------------------------


def cnn(batch: int, stride: int = 1, residual: bool = False):
    rng = np.random.default_rng(3)
    x = gn.input("x", shape=(batch, 3, 16, 16), dtype="float32")
    w1 = gn.constant(rng.standard_normal((8, 3, 3, 3)).astype(np.float32))
    w2 = gn.constant(rng.standard_normal((8, 8, 3, 3)).astype(np.float32))
    b1 = gn.constant(rng.standard_normal((8, 1, 1)).astype(np.float32))
    h = gn.relu(gn.conv2d(x, w1, padding=1, stride=stride) + b1)
    y = gn.conv2d(h, w2, padding=1)
    y = gn.relu(y + h) if residual else gn.max_pool2d(gn.relu(y), 2)
    return x, gn.mean(y, axis=(2, 3)), rng.standard_normal((batch, 3, 16, 16)).astype(np.float32)


def options(fuse: bool) -> CompileOptions:
    return CompileOptions(codegen=CodegenOptions(fuse_images=fuse))


@pytest.mark.parametrize("batch,stride,residual", [(8, 1, False), (7, 1, False), (1, 1, False),
                                                   (6, 2, False), (8, 1, True)])
def test_fused_networks_compute_the_same_values(batch, stride, residual):
    # the final mean's sum may be vectorized in one and not the other: last bits only
    x, y, xs = cnn(batch, stride, residual)
    fused = gn.compile(y, [x], options=options(True))(xs)
    plain = gn.compile(y, [x], options=options(False))(xs)
    np.testing.assert_allclose(fused, plain, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(fused, gn.evaluate(y, {x: xs}), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("batch", [8, 7])
def test_a_fused_cnn_is_one_image_loop_with_a_smaller_workspace(batch):
    """One loop over the images through both convolutions, the pooling and the mean; when
    the cores do not divide the batch, a second one over the last images (Images' rest)."""
    cores = available_cores()
    if cores == 1:
        pytest.skip("one core: the images run one after the other, in no parallel loop")
    x, y, _ = cnn(batch)
    plans = {fuse: make_plan(gn.compile(y, [x], options=options(fuse)).graph, "f", True,
                             options(fuse)) for fuse in (True, False)}
    parallel = [s for s in plans[True].kernel.body if isinstance(s, loops.Loop) and s.parallel]
    slots = min(batch, cores)
    assert len(parallel) == (1 if batch % slots == 0 else 2)
    for loop in parallel:
        assert sum(isinstance(n, loops.DirectConv) for n in loops.walk(loop)) == 2
    before = {t.name: t for t in plans[False].kernel.temps}
    # every whole-batch intermediate now holds one image per slot
    for temp in plans[True].kernel.temps:
        if before[temp.name].shape[0] == batch:
            assert temp.size == before[temp.name].size // batch * slots
    assert layout(plans[True].kernel).size < layout(plans[False].kernel).size


def test_a_parallel_loop_gets_the_temps_it_touches_as_noalias_parameters():
    """What lets LLVM vectorize a pass reading one temp at a stride and writing another."""
    if available_cores() == 1:
        pytest.skip("one core: the images run one after the other, in no parallel loop")
    x, y, _ = cnn(8)
    text = gn.compile(y, [x]).llvm_ir
    header = next(line for line in text.splitlines() if line.startswith("define") and
                  ".par0.body" in line)
    temps = {t.name for t in make_plan(gn.compile(y, [x]).graph, "f", True).kernel.temps}
    for name in temps:
        assert f'ptr noalias %"{name}"' in header
