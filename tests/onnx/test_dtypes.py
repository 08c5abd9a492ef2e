"""ONNX and the int/bool ops (graphnn/onnx/export_dtypes.py, graphnn/onnx/convert/dtypes.py):
exported at every case's random and edge points (NaN, inf, ties, casts beyond an int's range)
and checked against onnxruntime exactly for int and bool results; take's gradient (a
scatter-add) exported; hand-built ONNX models of the converted operators imported, evaluated
and compiled, against onnx's reference evaluator; a round trip ONNX -> graphnn -> ONNX."""

from __future__ import annotations

import numpy as np
import onnxruntime
import pytest
from onnx import TensorProto
from onnx.reference import ReferenceEvaluator

import graphnn as gn
from graphnn.onnx import OnnxError
from tests.onnx.models import model
from tests.ops.cases import CASES, Case, edge_arrays
from tests.ops.cases_dtypes import dtype_cases

DTYPE_OPS = sorted(dtype_cases(Case))
INT64, BOOL, FLOAT, INT32 = TensorProto.INT64, TensorProto.BOOL, TensorProto.FLOAT, \
    TensorProto.INT32


def onnxruntime_values(outputs, inputs, feed, opset=18):
    data = gn.onnx.to_bytes(outputs, inputs=inputs, opset=opset)
    session = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])
    return session.run(None, {x.name: feed[x.name] for x in inputs})


def assert_matches(got, want, what):
    assert got.dtype == want.dtype and got.shape == want.shape, what
    if want.dtype.kind in "iub":
        np.testing.assert_array_equal(got, want, err_msg=what)
    else:
        np.testing.assert_allclose(got, want, rtol=2e-6, atol=0, err_msg=what)  # NaN == NaN


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", DTYPE_OPS)
def test_exported_op_matches_onnxruntime_at_edges(name, dtype):
    rng = np.random.default_rng(1)
    for k, case in enumerate(CASES[name]):
        for point in [case.draw(rng), *(edge_arrays(case, e) for e in case.edges)]:
            xs = [gn.input(f"in{j}", a.shape, case.dtype_of(j) or dtype)
                  for j, a in enumerate(point)]
            with np.errstate(over="ignore"):      # 1e150 in float32 is inf, on purpose
                feed = {x.name: np.asarray(a, x.dtype) for x, a in zip(xs, point)}
            y = gn.apply(name, *xs, **case.attrs)
            (got,) = onnxruntime_values([y], xs, feed)
            assert_matches(got, gn.evaluate(y, feed), f"{name} case {k} at {point}")


def test_embedding_gradient_is_a_scatter_add_in_onnx():
    table = gn.input("table", (5, 3), "float32")
    ids = gn.input("ids", (2, 3), "int64")
    c = np.arange(18, dtype=np.float32).reshape(2, 3, 3)
    loss = gn.sum(gn.take(table, ids) * c)
    (grad,) = gn.grad(loss, [table])
    feed = {"table": np.ones((5, 3), np.float32), "ids": np.array([[0, 4, 4], [-1, 2, 0]])}
    (got,) = onnxruntime_values([grad], [table, ids], feed)
    want = np.zeros((5, 3), np.float32)
    np.add.at(want, [0, 4, 4, 4, 2, 0], c.reshape(6, 3))     # -1 is row 4: three adds there
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(gn.evaluate(grad, feed), want)
    with pytest.raises(OnnxError, match="take's gradient .* opset 16"):
        gn.onnx.to_bytes([grad], inputs=[table, ids], opset=15)


def test_take_gradient_along_a_middle_axis_in_onnx():
    x = gn.input("x", (2, 4, 3), "float64")
    ids = gn.input("ids", (2, 2), "int32")
    (grad,) = gn.grad(gn.sum(gn.take(x, ids, axis=1) ** 2), [x])
    feed = {"x": np.random.default_rng(0).normal(size=(2, 4, 3)),
            "ids": np.array([[0, -1], [3, 3]], np.int32)}
    (got,) = onnxruntime_values([grad], [x, ids], feed)
    np.testing.assert_allclose(got, gn.evaluate(grad, feed), rtol=1e-14)


# -- import: each converted operator, in a model built by hand --------------------------------

I = np.array([[0, 3, -1], [2, 2, -3]], dtype=np.int64)
B1, B2 = np.array([[True, False, True]] * 2), np.array([True, True, False])
X = np.array([[1.5, np.nan, -2.0], [3.0, 3.0, -np.inf]], dtype=np.float32)
IMPORTED = {
    "And": ([("And", ["a", "b"], ["y"], {})], [("a", BOOL, [2, 3]), ("b", BOOL, [3])],
            [B1, B2], BOOL),
    "Or": ([("Or", ["a", "b"], ["y"], {})], [("a", BOOL, [2, 3]), ("b", BOOL, [3])],
           [B1, B2], BOOL),
    "Xor": ([("Xor", ["a", "b"], ["y"], {})], [("a", BOOL, [2, 3]), ("b", BOOL, [3])],
            [B1, B2], BOOL),
    "Not": ([("Not", ["a"], ["y"], {})], [("a", BOOL, [2, 3])], [B1], BOOL),
    "Greater int64": ([("Greater", ["a", "b"], ["y"], {})],
                      [("a", INT64, [2, 3]), ("b", INT64, [3])], [I, I[0]], BOOL),
    "LessOrEqual NaN": ([("LessOrEqual", ["a", "b"], ["y"], {})],
                        [("a", FLOAT, [2, 3]), ("b", FLOAT, [3])], [X, X[1]], BOOL),
    "Equal": ([("Equal", ["a", "b"], ["y"], {})], [("a", INT64, [2, 3]), ("b", INT64, [3])],
              [I, I[1]], BOOL),
    "Where": ([("Greater", ["x", "z"], ["c"], {}), ("Where", ["c", "x", "z"], ["y"], {})],
              [("x", FLOAT, [2, 3]), ("z", FLOAT, [3])], [X, X[0]], FLOAT),
    "IsNaN": ([("IsNaN", ["x"], ["y"], {})], [("x", FLOAT, [2, 3])], [X], BOOL),
    "Cast float to int32": ([("Cast", ["x"], ["y"], {"to": INT32})], [("x", FLOAT, [2, 3])],
                            [np.array([[1.9, -1.9, 0.0], [-0.0, 7.5, -3e3]], np.float32)],
                            INT32),
    "Cast bool to float": ([("Cast", ["a"], ["y"], {"to": FLOAT})], [("a", BOOL, [2, 3])],
                           [B1], FLOAT),
    "Gather embedding": ([("Gather", ["w", "i"], ["y"], {"axis": 0})],
                         [("w", FLOAT, [4, 2]), ("i", INT64, [2, 3])],
                         [np.arange(8, dtype=np.float32).reshape(4, 2), I], FLOAT),
    "Gather axis 1": ([("Gather", ["w", "i"], ["y"], {"axis": 1})],
                      [("w", FLOAT, [2, 4]), ("i", INT64, [2, 3])],
                      [np.arange(8, dtype=np.float32).reshape(2, 4), I], FLOAT),
    "OneHot axis 1": ([("OneHot", ["i", "depth", "values"], ["y"], {"axis": 1})],
                      [("i", INT64, [2, 3])], [I], FLOAT),
    "ArgMax last index": ([("ArgMax", ["x"], ["y"], {"axis": 1, "select_last_index": 1})],
                          [("x", FLOAT, [2, 3])], [np.array([[1, 5, 5], [2, 0, 2]],
                                                            np.float32)], INT64),
    "ArgMin keepdims": ([("ArgMin", ["x"], ["y"], {"axis": 0, "keepdims": 1})],
                        [("x", FLOAT, [2, 3])], [np.array([[1, 5, 5], [2, 0, 5]],
                                                          np.float32)], INT64),
    "Clip int64 upper only": ([("Clip", ["i", "", "hi"], ["y"], {})], [("i", INT64, [2, 3])],
                              [I], INT64),
}
CONSTANTS = [("depth", np.array(4, np.int64)), ("values", np.array([-1.0, 2.0], np.float32)),
             ("hi", np.array(1, np.int64))]


@pytest.mark.parametrize("label", sorted(IMPORTED))
def test_imported_operator_matches_onnx_reference(label):
    nodes, inputs, arrays, out_type = IMPORTED[label]
    used = {name for _, ins, _, _ in nodes for name in ins}
    constants = [(n, a) for n, a in CONSTANTS if n in used]
    feed = {n: a for (n, _, _), a in zip(inputs, arrays)}
    (want,) = ReferenceEvaluator(model(nodes, inputs, [("y", out_type, None)], constants)
                                 ).run(None, feed)
    m = gn.onnx.load(model(nodes, inputs, [("y", out_type, want.shape)], constants))
    (got,) = gn.evaluate(m.outputs, dict(zip(m.inputs, arrays)))
    assert_matches(got, want, label)
    (compiled,) = m.compile()(*arrays)
    assert_matches(compiled, want, f"{label}, compiled")


def test_imported_gather_index_out_of_range_is_an_error_naming_the_node():
    proto = model([("Gather", ["w", "i"], ["y"], {"axis": 0})],
                  [("w", FLOAT, [4, 2]), ("i", INT64, [3])], [("y", FLOAT, [3, 2])])
    m = gn.onnx.load(proto)
    w, bad = np.zeros((4, 2), np.float32), np.array([0, 4, 1])
    with pytest.raises(gn.InputError, match=r"take.*index 4 .* out of range .* size 4"):
        gn.evaluate(m.outputs, dict(zip(m.inputs, [w, bad])))
    with pytest.raises(gn.InputError, match="out of range"):
        m.compile()(w, bad)


def test_round_trip_of_a_masked_lookup_graph():
    table = gn.input("table", (6, 4), "float32")
    ids = gn.input("ids", (3,), "int64")
    rows = gn.take(table, ids)
    picked = gn.where(rows > 0.0, rows, gn.clip(rows, -0.5, 0.0))
    best = gn.argmax(picked, axis=1)
    hot = gn.one_hot(best, 4, "float32")
    feed = {"table": np.random.default_rng(0).normal(size=(6, 4)).astype(np.float32),
            "ids": np.array([5, 0, -2])}
    want = gn.evaluate([picked, best, hot], feed)
    m = gn.onnx.load(gn.onnx.to_bytes([picked, best, hot], inputs=[table, ids]))
    got = gn.evaluate(m.outputs, dict(zip(m.inputs, [feed["table"], feed["ids"]])))
    for g, w in zip(got, want):
        assert_matches(g, w, "round trip")
