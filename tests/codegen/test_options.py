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
