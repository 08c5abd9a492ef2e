"""Every op of the registry, exported: a shared library holding one function per op (its first
case row of tests/ops/cases.py), loaded with ctypes, gives the results of the same function
compiled for Python, at a random point and at the case's edge values (NaN, inf, ties), in
float64 and float32. One library per dtype keeps this to two builds of a few seconds; the
attribute variants of each op run through the same kernels (tests/compiler/test_ops_compiled.py
checks them all against the reference).

The Python side is compiled with gemm="native", the matrix product an export uses, so both
run the same kernels: the results must agree to the last bit, NaN with NaN.
"""

from __future__ import annotations

import numpy as np
import pytest

import graphnn as gn
from graphnn.compiler.export import export_library
from tests.codegen.aot_support import call, load, needs_cc
from tests.compiler.test_ops_compiled import IDS, ROWS, points_of
from tests.support import feed_for, inputs_for

FIRST = [(row, label) for row, label in zip(ROWS, IDS) if row[1] == 0]     # one per op


@pytest.fixture(scope="module", params=["float64", "float32"])
def exported(request, tmp_path_factory):
    """(dtype, library, [(function name, compiled function, row), ...])."""
    dtype = request.param
    functions = []
    for k, ((name, row, case), _) in enumerate(FIRST):
        nodes = inputs_for(case.shapes, dtype, dtypes=case.dtypes)
        out = gn.apply(name, *nodes, **case.attrs)
        functions.append((f"op{k}", gn.compile(out, nodes, gemm="native", name=f"op{k}"),
                          (name, row, case)))
    path = tmp_path_factory.mktemp("ops") / f"ops_{dtype}.so"
    export_library([(n, f) for n, f, _ in functions], path)
    return dtype, load(path), functions


@needs_cc
def test_every_op_is_exported_and_agrees(exported):
    dtype, library, functions = exported
    assert {row[0] for _, _, row in functions} == {name for name, _, _ in ROWS}
    for (symbol, function, (_, row, case)), (_, label) in zip(functions, FIRST):
        for point in points_of(case, row):
            if [p.shape for p in point] != list(case.shapes):
                continue        # an edge case of other shapes (test_ops_compiled has it)
            nodes = inputs_for(case.shapes, dtype, dtypes=case.dtypes)
            arrays = list(feed_for(nodes, point).values())
            with np.errstate(all="ignore"):
                want = function(*arrays)
            got = np.zeros(want.shape, dtype=want.dtype)
            assert call(library, symbol, *arrays, got) == 0, label
            np.testing.assert_array_equal(got, want, err_msg=f"{label} {dtype} at {point}")
