"""nn.MultiHeadAttention, nn.TransformerEncoderLayer, nn.LayerNorm and nn.PositionalEncoding
against NumPy implementations of their equations (values, gradients by central differences),
compiled in both float dtypes, and against torch.nn.MultiheadAttention and
TransformerEncoderLayer with copied weights."""

from __future__ import annotations

import numpy as np
import pytest

import graphnn as gn
from graphnn import nn
from tests.nn import sequence_references as ref
from tests.nn.references import check_layer
from tests.support import central_difference

try:
    import torch
except ImportError:           # the comparisons with PyTorch are skipped, the rest runs
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed: the "
                                 "comparison with torch.nn modules is skipped")

X = np.random.default_rng(1).normal(size=(2, 4, 6))
MASK = np.array([[1, 1, 1, 0], [1, 1, 0, 0]])


def model_of(layer, dtype="float64", shape=(4, 6)):
    model = nn.Sequential([layer], input_shape=shape, dtype=dtype, seed=2)
    rng = np.random.default_rng(3)
    for value in model.values.values():      # biases and norms away from 0 and 1
        value += 0.1 * rng.normal(size=value.shape).astype(value.dtype)
    return model


def attention_weights(values, name):
    return [values[f"{name}_{w}"] for w in ("w_qkv", "b_qkv", "w_out", "b_out")]


@pytest.mark.parametrize("causal", [False, True])
def test_attention_equals_the_equations_with_gradients(causal):
    layer = nn.MultiHeadAttention(2, 4, causal=causal)
    model = model_of(layer)

    def reference(x, **p):
        return ref.attention(x, *attention_weights(p, layer.name), heads=2, causal=causal)
    check_layer(model, X, reference)


def test_padding_mask_is_not_attended_to():
    rng = np.random.default_rng(4)
    weights = [rng.normal(size=s) for s in ((6, 12), (12,), (4, 4), (4,))]
    x, mask = gn.input("x", (2, 4, 6)), gn.input("mask", (2, 4), "int64")
    y = nn.multi_head_attention(x, *map(gn.constant, weights), heads=2, mask=mask)
    g = rng.normal(size=y.shape)
    value, dx = gn.evaluate([y, gn.grad(gn.sum(y * g), [x])[0]], {"x": X, "mask": MASK})
    np.testing.assert_allclose(value, ref.attention(X, *weights, 2, mask=MASK), rtol=1e-12)

    def objective(args):
        return float(np.sum(ref.attention(args[0], *weights, 2, mask=MASK) * g))
    np.testing.assert_allclose(dx, central_difference(objective, [X], 0), rtol=1e-6, atol=1e-8)
    # a padded step's keys and values reach no output but its own query's
    changed = X.copy()
    changed[1, 3] += 5.0
    again = gn.evaluate(y, {"x": changed, "mask": MASK})
    np.testing.assert_allclose(again[1, :3], value[1, :3], rtol=1e-12)


def test_layer_norm_and_positional_encoding_equal_their_equations():
    norm = nn.LayerNorm()
    check_layer(model_of(norm), X,
                lambda x, **p: ref.layer_norm(x, p["norm1_gamma"], p["norm1_beta"]))
    check_layer(model_of(nn.PositionalEncoding()), X, lambda x: x + ref.positions(4, 6))


def test_encoder_layer_equals_the_equations_with_gradients():
    layer = nn.TransformerEncoderLayer(6, 3, 8)
    check_layer(model_of(layer), X, lambda x, **p: ref.encoder(x, p, layer.name, heads=3),
                rtol=1e-5)


@pytest.mark.parametrize("dtype, rtol", [("float64", 1e-10), ("float32", 1e-4)])
@pytest.mark.parametrize("make", [lambda: nn.MultiHeadAttention(2, 6, causal=True),
                                  lambda: nn.TransformerEncoderLayer(6, 2, 8)],
                         ids=["attention", "encoder"])
def test_compiled_forward_and_gradients_equal_the_reference(make, dtype, rtol):
    model = model_of(make(), dtype)
    forward = model.build(2, training=True)
    params = [p.node for p in model.trainable]
    g = gn.constant(np.random.default_rng(5).normal(size=forward.output.shape).astype(dtype))
    outputs = [forward.output, *gn.grad(gn.sum(forward.output * g), [forward.x, *params])]
    got = gn.compile(outputs, [forward.x, *params])(X.astype(dtype),
                                                    *(model.values[p.name] for p in
                                                      model.trainable))
    expected = gn.evaluate(outputs, {"x": X.astype(dtype), **model.values})
    for k, (a, b) in enumerate(zip(got, expected)):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol, err_msg=f"output {k}")


class _MaskedModel(nn.Sequential):
    """A model that gives its attention layer a mask of the wrong shape."""

    def forward(self, x, build):
        with gn.scope(self.layers[0].name):
            return self.layers[0].forward(x, build, mask=gn.input("mask", (x.shape[0], 3)))


def test_a_mask_of_the_wrong_shape_names_the_layer():
    with pytest.raises(nn.ModelError, match=r"layer 'attention1' \(MultiHeadAttention\): the "
                                            r"padding mask must have shape \(batch, time\) = "
                                            r"\(2, 4\) like the input \(2, 4, 6\), got \(2, 3\)"):
        _MaskedModel([nn.MultiHeadAttention(2, 6)], input_shape=(4, 6))
    with pytest.raises(nn.ModelError, match=r"multi_head_attention: the padding mask"):
        x = gn.input("x", (2, 4, 6))
        nn.multi_head_attention(x, gn.input("w", (6, 18)), np.zeros(18), gn.input("o", (6, 6)),
                                np.zeros(6), 2, mask=gn.input("m", (4,)))
    with pytest.raises(nn.ModelError, match="dim must be a positive multiple of heads"):
        nn.MultiHeadAttention(3, 8)
    with pytest.raises(nn.ModelError, match=r"TransformerEncoderLayer.*\(batch, time, 8\), got "
                                            r"\(2, 4, 6\)"):
        nn.Sequential([nn.TransformerEncoderLayer(8, 2, 16)], input_shape=(4, 6))


@needs_torch
def test_attention_equals_torch_with_a_padding_mask_values_and_gradients():
    torch.manual_seed(0)
    module = torch.nn.MultiheadAttention(6, 3, batch_first=True).double()
    model = model_of(nn.MultiHeadAttention(3, 6))
    nn.load_torch_state(model, "attention1",
                        {k: v.detach().numpy() for k, v in module.state_dict().items()})
    xt = torch.from_numpy(X.copy()).requires_grad_(True)
    yt = module(xt, xt, xt, key_padding_mask=torch.from_numpy(MASK == 0),
                need_weights=False)[0]
    g = np.random.default_rng(7).normal(size=yt.shape)
    (yt * torch.from_numpy(g)).sum().backward()
    x, mask = gn.input("x", (2, 4, 6)), gn.input("mask", (2, 4), "bool")
    weights = [gn.input(n, model.values[f"attention1_{n}"].shape) for n in
               ("w_qkv", "b_qkv", "w_out", "b_out")]
    y = nn.multi_head_attention(x, *weights, heads=3, mask=mask)
    grads = gn.grad(gn.sum(y * g), [x, weights[0]])
    feed = {"x": X, "mask": MASK.astype(bool),
            **{n: model.values[f"attention1_{n}"] for n in ("w_qkv", "b_qkv", "w_out", "b_out")}}
    value, dx, dw = gn.evaluate([y, *grads], feed)
    np.testing.assert_allclose(value, yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dw, module.in_proj_weight.grad.numpy().T, rtol=1e-10,
                               atol=1e-12)


@needs_torch
def test_encoder_layer_equals_torch_pre_norm_encoder():
    torch.manual_seed(0)
    module = torch.nn.TransformerEncoderLayer(6, 2, 8, 0.0, batch_first=True,
                                              norm_first=True).double().eval()
    model = model_of(nn.TransformerEncoderLayer(6, 2, 8))
    nn.load_torch_state(model, "encoder1",
                        {k: v.detach().numpy() for k, v in module.state_dict().items()})
    expected = module(torch.from_numpy(X)).detach().numpy()
    np.testing.assert_allclose(model.predict(X), expected, rtol=1e-10, atol=1e-12)
    with pytest.raises(nn.ModelError, match=r"'encoder1'.*no 'linear2.bias'"):
        state = {k: v.detach().numpy() for k, v in module.state_dict().items()}
        del state["linear2.bias"]
        nn.load_torch_state(model, "encoder1", state)


def test_heads_are_copied_once_for_the_forward_and_backward_products():
    """q, k and v are each stored once (the bias added in the copy); the backward pass's
    products read qᵀ, kᵀ and vᵀ from those buffers with the transpose flag, and k's buffer
    serves q kᵀ too: the qkv product is read by the head copies and by nothing else."""
    from codegen import loops

    x = gn.input("x", (2, 6, 8), "float32")
    w_qkv, b_qkv = gn.input("w_qkv", (8, 24), "float32"), gn.input("b_qkv", (24,), "float32")
    y = nn.multi_head_attention(x, w_qkv, b_qkv, gn.input("w_out", (8, 8), "float32"),
                                gn.input("b_out", (8,), "float32"), heads=2)
    loss = gn.sum(y * y)
    f = gn.compile([loss, *gn.grad(loss, [x, w_qkv, b_qkv])])
    kernel = f.base.kernel.kernel
    (product,) = [s.c.name for s in kernel.body
                  if isinstance(s, loops.Gemm) and s.b.name.endswith("w_qkv") and not s.trans_b]
    copies = [n.buffer.shape for s in kernel.body for n in loops.walk(s)
              if isinstance(n, loops.Store) and any(
                  isinstance(r, loops.Load) and r.buffer.name == product
                  for r in loops.walk(n.value))]
    assert sorted(copies) == [(2, 2, 6, 4)] * 3
    plain = [n for s in kernel.body for n in loops.walk(s)
             if isinstance(n, loops.Store) and isinstance(n.value, loops.Load)
             and len(n.index) == 4 and n.value.buffer.ndim == 4]
    assert plain == []          # no head copied into another head layout (kᵀ from k)
    rng = np.random.default_rng(0)
    feed = {n.name: rng.normal(size=n.shape).astype(np.float32) * 0.5
            for n in gn.Graph([loss]).inputs}
    for found, expected in zip(f(**feed), gn.evaluate([loss, *gn.grad(loss, [x, w_qkv, b_qkv])],
                                                       feed)):
        np.testing.assert_allclose(found, expected, rtol=2e-4, atol=1e-5)
