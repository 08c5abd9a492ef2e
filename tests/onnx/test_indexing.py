"""ONNX Slice, Concat, Split, Pad, Squeeze, Unsqueeze and Tile of values computed at run time,
imported onto graphnn's indexing ops (graphnn/onnx/convert/indexing.py) and checked against
onnxruntime; graphnn's indexing ops exported and imported back with the same values and
gradients (graphnn/onnx/export_layout.py)."""

from __future__ import annotations

import numpy as np
import onnxruntime
import pytest

import graphnn as gn
from graphnn.onnx import OnnxError
from tests.onnx.models import FLOAT, model


def run_onnxruntime(data: bytes, feed: dict) -> list[np.ndarray]:
    session = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])
    return session.run(None, feed)


def ints(*values):
    return np.array(values, dtype=np.int64)


def indexing_model(opset: int = 18):
    """x (4, 6): its rows reversed from the last, every other column, joined to its first two
    columns; split into 2 and 3 columns; the first part padded with the value (a graph input),
    the second with zeros, then given a leading axis, tiled twice along columns and squeezed."""
    nodes = [
        ("Slice", ["x", "starts", "ends", "axes", "steps"], ["s"], {}),
        ("Slice", ["x", "zero", "two", "one"], ["first"], {}),
        ("Concat", ["s", "first"], ["c"], {"axis": 1}),
        ("Split", ["c", "sizes"], ["a", "b"], {"axis": 1}),
        ("Pad", ["a", "pads", "value"], ["p"], {"mode": "constant"}),
        ("Pad", ["b", "pads"], ["q"], {}),
        ("Unsqueeze", ["q", "zero"], ["u"], {}),
        ("Tile", ["u", "reps"], ["t"], {}),
        ("Squeeze", ["t", "zero"], ["y2"], {}),
        ("Identity", ["p"], ["y1"], {}),
    ]
    initializers = [("starts", ints(-1, 0)), ("ends", ints(-2 ** 63, 100)),
                    ("axes", ints(0, 1)), ("steps", ints(-1, 2)), ("zero", ints(0)),
                    ("two", ints(2)), ("one", ints(1)), ("sizes", ints(2, 3)),
                    ("pads", ints(1, 0, 0, 2)), ("reps", ints(1, 1, 2))]
    return model(nodes, [("x", FLOAT, [4, 6]), ("value", FLOAT, [])],
                 [("y1", FLOAT, [5, 4]), ("y2", FLOAT, [5, 10])], initializers, opset=opset)


def test_run_time_slices_joins_and_pads_match_onnxruntime():
    proto = indexing_model()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 6)).astype(np.float32)
    value = np.array(-7.5, dtype=np.float32)
    want = run_onnxruntime(proto.SerializeToString(), {"x": x, "value": value})
    m = gn.onnx.load(proto)
    ops = {n.op for n in gn.Graph(m.outputs).nodes}
    assert {"slice", "concat", "pad", "expand_dims", "squeeze", "tile"} <= ops
    for got, expected in zip(m.compile()(x, value), want):
        np.testing.assert_array_equal(got, expected)


def test_imported_slices_carry_gradients():
    m = gn.onnx.load(indexing_model())
    x, value = m.inputs
    loss = gn.sum(m.outputs[0] * m.outputs[0]) + gn.sum(m.outputs[1])
    dx, dvalue = gn.grad(loss, [x, value])
    xv = np.arange(24, dtype=np.float32).reshape(4, 6)
    got_dx, got_dvalue = gn.evaluate([dx, dvalue], {x: xv, value: np.float32(2.0)})
    # y1 holds x's columns 0 and 2 (squared in the loss); y2 holds columns 4, 0 and 1 twice
    expected = np.zeros((4, 6), np.float32)
    expected[:, [0, 2]] += 2 * xv[:, [0, 2]]
    expected[:, [4, 0, 1]] += 2.0
    np.testing.assert_array_equal(got_dx, expected)
    assert got_dvalue == 2 * 2.0 * 12      # y1's 12 padded entries (a row and two columns)


@pytest.mark.parametrize("mode", ["reflect", "edge", "wrap"])
def test_pad_modes_other_than_constant_are_refused_by_name(mode):
    proto = model([("Pad", ["x", "pads"], ["y"], {"mode": mode})],
                  [("x", FLOAT, [3])], [("y", FLOAT, [5])], [("pads", ints(1, 1))],
                  opset=19)
    with pytest.raises(OnnxError, match=rf"ONNX node 0 'n0_pad' \(Pad\): attribute "
                                        rf"mode='{mode}' \(graphnn pads with a constant\)"):
        gn.onnx.load(proto)


def test_negative_pads_crop():
    proto = model([("Pad", ["x", "pads"], ["y"], {})], [("x", FLOAT, [2, 5])],
                  [("y", FLOAT, [3, 3])], [("pads", ints(0, -1, 1, -1))])
    x = np.arange(10, dtype=np.float32).reshape(2, 5)
    (want,) = run_onnxruntime(proto.SerializeToString(), {"x": x})
    np.testing.assert_array_equal(gn.onnx.load(proto).compile()(x)[0], want)


def test_split_into_uneven_parts_by_count():
    # opset 18's num_outputs: parts of ceil(7 / 3) = 3, the last one smaller
    proto = model([("Split", ["x"], ["a", "b", "c"], {"axis": 0, "num_outputs": 3})],
                  [("x", FLOAT, [7])], [(n, FLOAT, [k]) for n, k in zip("abc", (3, 3, 1))])
    parts = gn.onnx.load(proto).outputs
    assert [p.shape for p in parts] == [(3,), (3,), (1,)]


def test_slice_with_an_axis_out_of_range_names_the_node():
    proto = model([("Slice", ["x", "s", "e", "a"], ["y"], {})], [("x", FLOAT, [3, 4])],
                  [("y", FLOAT, [1, 4])], [("s", ints(0)), ("e", ints(1)), ("a", ints(2))])
    with pytest.raises(OnnxError, match=r"ONNX node 0 'n0_slice' \(Slice\): an axis out of "
                                        r"range \(2 for rank 2\)"):
        gn.onnx.load(proto)


def test_indexing_ops_round_trip_with_values_and_gradients():
    x = gn.input("x", (3, 4), "float32")
    w = gn.input("w", (2, 4), "float32")
    a, b = gn.split(x[::-1, 1:], [1, 2])
    joined = gn.concat([a, w[None, 0, :3] * 2.0, b], axis=0)
    y = gn.pad(gn.flip(joined, axis=1), ((1, 0), (0, 2)), value=0.5)
    y = gn.repeat(gn.tile(gn.expand_dims(y, 0), (2, 1, 1)), 2, axis=2)
    loss = gn.sum(gn.squeeze(gn.stack([y, y * y], axis=-1)[:1, ..., 1]) * 3.0)
    m = gn.onnx.load(gn.onnx.to_bytes([y, loss], inputs=[x, w]))
    rng = np.random.default_rng(1)
    feed = [rng.standard_normal(s).astype(np.float32) for s in ((3, 4), (2, 4))]
    ours = gn.evaluate([y, loss, *gn.grad(loss, [x, w])], dict(zip(["x", "w"], feed)))
    mx, mw = m.inputs
    theirs = gn.evaluate([*m.outputs, *gn.grad(m.outputs[1], [mx, mw])], dict(zip(m.inputs,
                                                                               feed)))
    for mine, imported in zip(ours, theirs):
        np.testing.assert_allclose(mine, imported, rtol=1e-6)
    (got_y, got_loss) = run_onnxruntime(gn.onnx.to_bytes([y, loss], inputs=[x, w]),
                                        {"x": feed[0], "w": feed[1]})
    np.testing.assert_array_equal(got_y, ours[0])
    np.testing.assert_allclose(got_loss, ours[1], rtol=1e-6)
