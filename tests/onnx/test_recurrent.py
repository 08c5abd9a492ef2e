"""ONNX RNN, LSTM and GRU imported (graphnn/onnx/convert/recurrent.py): models built with
onnx.helper checked against onnxruntime (gate orders, directions, layouts, initial states,
sequence_lens, peepholes, clip, linear_before_reset), PyTorch's exports checked against
PyTorch when torch is installed, and clear refusals of what the converter does not read."""

from __future__ import annotations

import io

import numpy as np
import onnxruntime
import pytest
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator

import graphnn as gn
from graphnn.onnx import OnnxError
from tests.onnx.models import FLOAT, model

GATES = {"RNN": 1, "GRU": 3, "LSTM": 4}
T, B, I, H = 4, 3, 5, 6


def recurrent_model(op, *, direction="forward", layout=0, initial=False, lengths=None,
                    peepholes=False, opset=14, **attributes):
    """An op node over input x with W, R, B (and the optional inputs) as initializers;
    outputs Y, Y_h (and Y_c)."""
    rng = np.random.default_rng(len(op) + 7 * layout + len(direction))
    dirs, gates = (2 if direction == "bidirectional" else 1), GATES[op]
    weights = [("W", rng.normal(0, 0.5, (dirs, gates * H, I))),
               ("R", rng.normal(0, 0.5, (dirs, gates * H, H))),
               ("B", rng.normal(0, 0.5, (dirs, 2 * gates * H)))]
    names = ["x", "W", "R", "B", "", "", "", ""][:3 + (op == "LSTM") + 4]
    if lengths is not None:
        names[4] = "lens"
        weights.append(("lens", np.asarray(lengths, np.int32)))
    state = (B, dirs, H) if layout else (dirs, B, H)
    if initial:
        names[5] = "h0"
        weights.append(("h0", rng.normal(0, 1, state)))
        if op == "LSTM":
            names[6] = "c0"
            weights.append(("c0", rng.normal(0, 1, state)))
    if peepholes:
        names[7] = "P"
        weights.append(("P", rng.normal(0, 0.5, (dirs, 3 * H))))
    outs = ["Y", "Y_h"] + (["Y_c"] if op == "LSTM" else [])
    attributes = dict(direction=direction, hidden_size=H, **attributes)
    if layout:
        attributes["layout"] = 1
    while names[-1] == "":
        names.pop()
    x_shape = [B, T, I] if layout else [T, B, I]
    return model([(op, names, outs, attributes)], [("x", FLOAT, x_shape)],
                 [(o, FLOAT, [B, T, dirs, H] if layout else [T, dirs, B, H]) if o == "Y" else
                  (o, FLOAT, list(state)) for o in outs],
                 [(n, a.astype(np.float32) if a.dtype.kind == "f" else a) for n, a in weights],
                 opset=opset), x_shape


def reference_outputs(proto, feed):
    """onnxruntime's outputs; for layout 1 (batch first), which onnxruntime's CPU kernels
    refuse, the onnx package's reference evaluator's."""
    if any(a.name == "layout" and a.i == 1 for a in proto.graph.node[0].attribute):
        return ReferenceEvaluator(proto).run(None, feed)
    session = onnxruntime.InferenceSession(proto.SerializeToString(),
                                           providers=["CPUExecutionProvider"])
    return session.run(None, feed)


def check_against_onnxruntime(proto, x_shape):
    x = np.random.default_rng(1).normal(0, 1, x_shape).astype(np.float32)
    want = reference_outputs(proto, {"x": x})
    m = gn.onnx.load(proto)
    got_eval = gn.evaluate(m.outputs, {m.inputs[0]: x})
    got_compiled = m.compile()(x)
    for w, e, c in zip(want, got_eval, got_compiled, strict=True):
        np.testing.assert_allclose(e, w, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(c, w, rtol=1e-4, atol=1e-5)


CASES = [
    ("RNN", dict()),
    ("RNN", dict(direction="bidirectional", initial=True, activations=["Relu", "Tanh"])),
    ("GRU", dict()),                                     # linear_before_reset=0, ONNX's default
    ("GRU", dict(linear_before_reset=1, direction="reverse", initial=True)),
    ("GRU", dict(direction="bidirectional", layout=1, initial=True)),
    ("LSTM", dict()),
    ("LSTM", dict(direction="bidirectional", initial=True, peepholes=True)),
    ("LSTM", dict(direction="reverse", layout=1, initial=True)),
    ("LSTM", dict(direction="reverse", clip=0.5, initial=True)),    # (the reference skips clip)
    ("LSTM", dict(lengths=[4, 2, 1], direction="bidirectional")),
    ("GRU", dict(lengths=[1, 4, 3], direction="reverse", initial=True)),
    ("LSTM", dict(activations=["Sigmoid", "Softsign", "Relu"])),
]


@pytest.mark.parametrize("op,options", CASES, ids=[f"{op}-{k}" for k, (op, _) in
                                                     enumerate(CASES)])
def test_helper_built_model_matches_onnxruntime(op, options):
    check_against_onnxruntime(*recurrent_model(op, **options))


def test_sequence_lens_computed_at_run_time_masks_the_steps():
    proto, shape = recurrent_model("GRU", direction="bidirectional", lengths=[2, 4, 3])
    lens = proto.graph.initializer.pop(3)           # lens becomes a graph input
    proto.graph.input.append(helper.make_tensor_value_info("lens", TensorProto.INT32, [B]))
    x = np.random.default_rng(2).normal(0, 1, shape).astype(np.float32)
    feed = {"x": x, "lens": np.array([2, 4, 3], np.int32)}
    assert lens.name == "lens"
    want = reference_outputs(proto, feed)
    m = gn.onnx.load(proto)
    got = m.compile()(*feed.values())
    for w, g in zip(want, got, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("options,words", [
    (dict(activations=["HardSigmoid", "Tanh"]), ["activations", "HardSigmoid"]),
    (dict(activation_alpha=[0.5]), ["activation_alpha"]),
    (dict(direction="sideways"), ["direction", "sideways"]),
])
def test_unsupported_attributes_are_refused_by_name(options, words):
    proto, _ = recurrent_model("GRU", **options)
    with pytest.raises(OnnxError) as error:
        gn.onnx.load(proto)
    assert all(w in str(error.value) for w in ["(GRU)", *words])


def test_lstm_input_forget_is_refused_by_name():
    proto, _ = recurrent_model("LSTM", input_forget=1)
    with pytest.raises(OnnxError, match="input_forget"):
        gn.onnx.load(proto)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_torch_export_matches_torch(kind, bidirectional):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    net = getattr(torch.nn, kind)(I, H, num_layers=2, batch_first=True,
                                  bidirectional=bidirectional).eval()
    x = torch.randn(B, T, I)
    h0 = torch.randn(2 * (1 + bidirectional), B, H)
    args = (x, (h0, torch.randn_like(h0))) if kind == "LSTM" else (x, h0)
    with torch.no_grad():
        want = net(*args)
    buffer = io.BytesIO()
    torch.onnx.export(net, args, buffer, dynamo=False, opset_version=17)
    m = gn.onnx.load(buffer.getvalue())
    feed = [t.numpy() for t in (x, *((args[1]) if kind == "LSTM" else (h0,)))]
    got = m.compile()(*feed)
    flat = [want[0], *(want[1] if kind == "LSTM" else (want[1],))]
    for w, g in zip(flat, got, strict=True):
        np.testing.assert_allclose(g, w.numpy(), rtol=1e-4, atol=1e-5)
