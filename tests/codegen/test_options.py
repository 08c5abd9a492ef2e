"""CodegenOptions (codegen/options.py): frozen, checked, and read by the steps it names."""

from __future__ import annotations

import pytest

from codegen import loops
from codegen.llvm import build_module
from codegen.options import CodegenOptions
from codegen.schedule import schedule
from tests.harness import run_docstring_examples


@pytest.mark.parametrize("fields, message", [
    ({"stage_size": -1}, "stage_size must be a non-negative int, got -1"),
    ({"parallel_min_work": 1.5}, "parallel_min_work must be a non-negative int, got 1.5"),
    ({"parallel_min_work": False}, "parallel_min_work must be a non-negative int, got False"),
])
def test_a_bad_field_is_refused_by_name(fields, message):
    with pytest.raises(ValueError, match=message):
        CodegenOptions(**fields)


def _big_loop() -> loops.Kernel:
    x, out = loops.Buffer("x", "f64", (4096,)), loops.Buffer("out", "f64", (4096,))
    return loops.Kernel("big", [x], [out], body=[loops.loop(
        4096, lambda i: loops.store(out, i, loops.exp(x[i])), name="i")])


def test_the_schedule_and_the_module_read_the_parallel_grain():
    kernel = _big_loop()                  # about 4096 * 22 units of work: below the default
    assert not schedule(kernel).body[0].parallel
    eager = CodegenOptions(parallel_min_work=1000)
    scheduled = schedule(kernel, options=eager)
    assert scheduled.body[0].parallel
    # the grain passed to the runtime: iterations per thread worth parallel_min_work
    text = str(build_module(scheduled, options=eager).module)
    default = str(build_module(scheduled).module)
    assert text != default and "graphnn_parallel_for" in text


def test_docstring_examples():
    result = run_docstring_examples("codegen.options")
    assert result.attempted > 0 and result.failed == 0



def _nested_loops() -> loops.Kernel:
    """A 3-iteration loop (a window) inside a 64-iteration one, and a 64-term reduction."""
    x = loops.Buffer("x", "f64", (64, 3))
    out, total = loops.Buffer("out", "f64", (64, 3)), loops.Buffer("total", "f64", ())
    body = [loops.loop(64, lambda i: loops.loop(3, lambda j: loops.store(
        out, (i, j), loops.exp(x[i, j]) * 2.0), name="j"), name="i"),
        loops.store(total, (), loops.reduce_sum(64, lambda r: x[r, 0]))]
    return loops.Kernel("nested", [x], [out, total], body=body)


def _latches_not_unrolled(text: str) -> int:
    """How many loop latches carry a loop id (the only one emitted: unroll disabled)."""
    return sum(line.lstrip().startswith("br") and "!llvm.loop" in line
               for line in text.splitlines())


def test_long_loops_are_not_unrolled_and_short_loops_and_reductions_are():
    kernel = _nested_loops()
    default = str(build_module(kernel).module)          # unroll_below=64: the i loop only
    assert "llvm.loop.unroll.disable" in default and _latches_not_unrolled(default) == 1
    free = str(build_module(kernel, options=CodegenOptions(unroll_below=65)).module)
    assert "llvm.loop.unroll.disable" not in free
    # a reduction is never marked: unrolling it may reorder its (reassociable) sum
    every = str(build_module(kernel, options=CodegenOptions(unroll_below=0)).module)
    assert _latches_not_unrolled(every) == 2


def test_the_unroll_limit_changes_code_not_results():
    import numpy as np

    from codegen.jit import compile_kernel
    x = np.random.default_rng(0).normal(size=(64, 3))
    results = [compile_kernel(_nested_loops(), options=CodegenOptions(unroll_below=limit))(x)
               for limit in (0, 64, 1000)]
    for result in results:
        for value, first in zip(result, results[0]):
            np.testing.assert_array_equal(value, first)
    np.testing.assert_allclose(results[0][0], np.exp(x) * 2.0, rtol=1e-15)
