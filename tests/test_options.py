"""CompileOptions (graphnn/options.py): one frozen, hashable object that gn.compile hands to every
stage, a bad field a clear error, the environment read when the options are made."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import graphnn as gn
from codegen.aot import object_code
from codegen.llvm import Target
from codegen.options import CodegenOptions
from graphnn.compiler.export import make_entry
from graphnn.options import CompileOptions
from tests.harness import run_docstring_examples


def test_options_are_frozen_hashable_and_compare_by_value():
    options = CompileOptions(fold_limit=3, codegen=CodegenOptions(stage_size=9))
    assert options == CompileOptions(fold_limit=3, codegen=CodegenOptions(stage_size=9))
    assert hash(options) == hash(CompileOptions(fold_limit=3,
                                                codegen=CodegenOptions(stage_size=9)))
    assert options != CompileOptions()
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.fold_limit = 4


@pytest.mark.parametrize("fields, message", [
    ({"fold_limit": -1}, "fold_limit must be a non-negative int, got -1"),
    ({"max_group_cost": 2.5}, "max_group_cost must be a non-negative int, got 2.5"),
    ({"max_rounds": True}, "max_rounds must be a non-negative int, got True"),
    ({"check_passes": "yes"}, "check_passes must be True or False, got 'yes'"),
    ({"codegen": {"stage_size": 3}}, "codegen must be a codegen.options.CodegenOptions"),
])
def test_a_bad_field_is_a_graphnn_error_naming_it(fields, message):
    with pytest.raises(gn.OpError, match=message):
        CompileOptions(**fields)


def test_compile_refuses_options_that_are_not_compile_options():
    with pytest.raises(gn.OpError, match="options must be a gn.CompileOptions, got dict"):
        gn.compile(gn.input("x") * 2.0, options={"fold_limit": 3})


def test_the_environment_is_read_when_options_are_made(monkeypatch):
    monkeypatch.setenv("GRAPHNN_CHECK_PASSES", "0")
    assert CompileOptions().check_passes is False
    monkeypatch.setenv("GRAPHNN_CHECK_PASSES", "1")
    assert CompileOptions().check_passes is True
    assert CompileOptions(check_passes=False).check_passes is False


def test_the_function_keeps_its_options_for_every_batch_size():
    # conv_min_depth beyond any convolution: the compute rule's direct loops, in the declared
    # specialization and in one made later for another batch size (the padded direct loops
    # off, which would take this convolution at any depth: graphnn/lower/conv.py)
    options = CompileOptions(conv_min_depth=10**9, conv_direct=False)
    x = gn.input("x", shape=(2, 3, 6, 6))
    w = gn.input("w", shape=(4, 3, 3, 3))
    f = gn.compile(gn.sum(gn.conv2d(x, w)), [x, w], options=options)
    assert f.options is options
    im2col = gn.compile(gn.sum(gn.conv2d(x, w)), options=CompileOptions(conv_direct=False))
    assert "gemm" not in f.loop_ir and "gemm" in im2col.loop_ir
    rng = np.random.default_rng(0)
    xv, wv = rng.normal(size=(5, 3, 6, 6)), rng.normal(size=(4, 3, 3, 3))
    want = gn.evaluate(gn.sum(gn.conv2d(gn.input("x", shape=xv.shape), w)), {"x": xv, "w": wv})
    np.testing.assert_allclose(f(xv, wv), want, rtol=1e-12)
    rebatched = f._specializations[((5, 3, 6, 6), (4, 3, 3, 3))]
    assert rebatched.options is options and "gemm" not in rebatched.kernel.loop_ir


def _chain() -> gn.Node:
    x = gn.input("x", shape=(4,))
    chain = x
    for _ in range(40):
        chain = gn.tanh(chain * 1.5)
    return chain


# small loops (max_inline_cost, max_group_cost), in small LLVM functions (stage_size)
STAGED = CompileOptions(max_inline_cost=10, max_group_cost=10,
                        codegen=CodegenOptions(stage_size=50))


def test_each_stage_reads_its_settings_from_the_options():
    x = gn.input("x", shape=(4, 4))
    c = gn.constant(np.arange(4.0))
    grown = gn.Graph(x * (gn.reshape(c, (4, 1)) + c))     # 16 elements folded from 4
    assert "add" not in str(gn.optimize(grown))
    assert "add" in str(gn.optimize(grown, options=CompileOptions(fold_limit=0)))
    chain, staged = _chain(), STAGED
    assert ".stage1" in gn.compile(chain, options=staged).llvm_ir
    assert ".stage" not in gn.compile(chain).llvm_ir
    gil = gn.compile(chain, options=CompileOptions(release_gil_elements=0))
    assert gil.base.entry_spec(True).release_gil
    assert not gn.compile(chain).base.entry_spec(True).release_gil


def test_docstring_examples():
    result = run_docstring_examples("graphnn.options")
    assert result.attempted > 0 and result.failed == 0


def test_an_exported_function_is_built_with_its_options():
    f = gn.compile(_chain(), options=STAGED)
    entry = make_entry(f.graph, f.base.plan, "chain", False, f.options)
    assert entry.options == STAGED.codegen
    unstaged = dataclasses.replace(entry, options=CodegenOptions())
    target = Target.host()
    assert object_code([entry], target) != object_code([unstaged], target)
