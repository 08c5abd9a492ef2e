"""The ABI table (codegen/native/abi.py): every fact's probe holds here and fails for a wrong
value; a fact whose probe fails means no native entry (the portable path); the entry's IR takes
its offsets from the table."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from codegen import loops
from codegen.jit import compile_kernel
from codegen.native import abi, pycall, pyentry
from tests.harness import run_docstring_examples

pytestmark = pytest.mark.skipif(not abi.supported(), reason="object layouts differ here")
# probes that call into CPython or NumPy with the fact's value: a wrong one would call the
# wrong thing rather than read a wrong field, so they are not tried with wrong values
CALLING = {"METH_FASTCALL_KEYWORDS", "NEW_FROM_DESCR_INDEX"}


def _with(name: str, value: int) -> tuple[abi.Fact, ...]:
    return tuple(dataclasses.replace(f, value=value) if f.name == name else f
                 for f in abi.FACTS)


def test_every_fact_holds_here():
    assert abi.failing() == []
    assert len({f.name for f in abi.FACTS}) == len(abi.FACTS)


@pytest.mark.parametrize("fact", [f for f in abi.FACTS if f.name not in CALLING],
                         ids=lambda f: f.name)
def test_a_wrong_value_fails_its_probe(fact):
    wrong = [fact.value ^ 1] if fact.name == "CANONICAL_DESCR" else \
        [fact.value + d for d in (-8, 8, 16) if fact.value + d >= 0]
    for value in wrong:
        failed = abi.failing(_with(fact.name, value))
        assert fact.name in failed, f"{fact.name} = {value} passed its probe"


def test_facts_that_need_a_failing_one_are_not_probed():
    failed = abi.failing(_with("ARRAY_DATA", abi.ARRAY_DATA + 8))
    # nd, the dimensions, the descriptor and the flags are read from the array only once its
    # data pointer was found where the table says
    assert {"ARRAY_DATA", "ARRAY_ND", "ARRAY_DIMS", "ARRAY_DESCR", "ARRAY_FLAGS"} <= set(failed)
    assert "FLOAT_VALUE" not in failed and "VAR_SIZE" not in failed


def test_the_entry_reads_the_fields_the_table_names():
    spec = pyentry.EntrySpec("probe", (pyentry.Argument("f64", (2, 3)),), 0,
                             (pyentry.Argument("f64", (2, 3)),), single=True, release_gil=False)
    text = pyentry.entry_ir(spec)
    fields = {int(line.rsplit(" ", 1)[1]) for line in text.splitlines()
              if "getelementptr inbounds i8, ptr %v" in line}
    assert {abi.OB_TYPE, abi.ARRAY_DATA, abi.ARRAY_ND, abi.ARRAY_DIMS, abi.ARRAY_DESCR,
            abi.ARRAY_FLAGS} <= fields


def _double() -> loops.Kernel:
    x, y = loops.Buffer("x", "f64", (3,)), loops.Buffer("y", "f64", (3,))
    return loops.Kernel("double_abi", [x], [y],
                        body=[loops.loop(3, lambda i: loops.store(y, i, x[i] * 2.0))])


@pytest.fixture
def fresh_probes():
    """supported() is probed once per process: forget the answer before and after a test."""
    abi.supported.cache_clear()
    yield
    abi.supported.cache_clear()


def test_a_failing_probe_means_no_native_entry(monkeypatch, fresh_probes):
    # the portable path on a CPython whose float layout differs: no entry, the fallback serves
    monkeypatch.setattr(abi, "FACTS", _with("FLOAT_VALUE", abi.FLOAT_VALUE + 8))
    assert not pycall.supported()
    spec = pyentry.EntrySpec("double_abi", (pyentry.Argument("f64", (3,)),), 0,
                             (pyentry.Argument("f64", (3,)),), single=True, release_gil=False)
    compiled = compile_kernel(_double())
    assert pycall.native_entry(compiled, spec, [], compiled) is None
    np.testing.assert_array_equal(compiled(np.arange(3.0)), [0.0, 2.0, 4.0])
    monkeypatch.undo()
    abi.supported.cache_clear()
    assert pycall.native_entry(compiled, spec, [], compiled) is not None


def test_docstring_examples():
    result = run_docstring_examples("codegen.native.abi")
    assert result.attempted > 0 and result.failed == 0


def test_the_readme_lists_every_fact():
    readme = (Path(__file__).parents[3] / "codegen" / "native" / "README.md").read_text(
        encoding="utf-8")
    missing = [f.name for f in abi.FACTS
               if not any(f"| `{f.name}` | {v} |" in readme for v in (f.value, hex(f.value)))]
    assert not missing, f"codegen/native/README.md does not give the value of {missing}"
