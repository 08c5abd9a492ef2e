"""nn.Embedding on int64 tokens (values, scatter-add gradient, padding), pooling over time and
last-step selection, the per-step cross-entropy with padded steps; wrong token inputs are
refused naming the layer before native code runs."""

from __future__ import annotations

import numpy as np
import pytest

import graphnn as gn
from graphnn import nn
from tests.support import central_difference

TOKENS = np.array([[1, 4, 4, 0], [2, 3, 0, 0]])


def embedding_model(*layers, pad_id=None, dtype="float64"):
    return nn.Sequential([nn.Embedding(5, 3, pad_id=pad_id), *layers], input_shape=(4,),
                         input_dtype="int64", dtype=dtype, seed=1)


def test_embedding_rows_and_their_scatter_added_gradient():
    model = embedding_model()
    table = model.values["embedding1_table"]
    forward = model.build(2, training=True)
    g = np.random.default_rng(0).normal(size=(2, 4, 3))
    node = model.parameters["embedding1_table"].node
    out, dtable = gn.evaluate([forward.output, gn.grad(gn.sum(forward.output * g), [node])[0]],
                              {"x": TOKENS, **model.values})
    np.testing.assert_array_equal(out, table[TOKENS])
    expected = np.zeros_like(table)
    np.add.at(expected, TOKENS, g)                  # token 4 and 0 repeat: their rows add up
    np.testing.assert_allclose(dtable, expected, rtol=1e-12)
    np.testing.assert_allclose(model.predict(TOKENS), table[TOKENS], rtol=1e-12)


def test_pooling_over_time_leaves_padding_out_and_last_step_selects():
    model = embedding_model(nn.GlobalAveragePool1D(), pad_id=0)
    table = model.values["embedding1_table"]
    expected = np.stack([table[[1, 4, 4]].mean(0), table[[2, 3]].mean(0)])
    np.testing.assert_allclose(model.predict(TOKENS), expected, rtol=1e-12)
    plain = embedding_model(nn.GlobalAveragePool1D())
    np.testing.assert_allclose(plain.predict(TOKENS), table[TOKENS].mean(1), rtol=1e-12)
    last = embedding_model(nn.LastStep())
    np.testing.assert_array_equal(last.predict(TOKENS), table[TOKENS[:, -1]])


def test_padding_reaches_attention_from_the_embedding():
    model = embedding_model(nn.MultiHeadAttention(1, 3), nn.GlobalAveragePool1D(), pad_id=0)
    before = model.predict(TOKENS)
    model.values["embedding1_table"][0] += 10.0      # the padding id's row: nobody sees it
    a = model.predict(TOKENS)
    np.testing.assert_allclose(a, before, rtol=1e-12)
    other = TOKENS.copy()
    other[1, 2:] = 4                                 # real tokens instead of padding
    assert not np.allclose(model.predict(other)[1], a[1])


def test_sequence_cross_entropy_is_the_mean_over_real_steps_with_its_gradient():
    rng = np.random.default_rng(2)
    logits = rng.normal(size=(2, 3, 4))
    labels = np.array([[0, 3, -1], [2, -1, -1]])
    target = nn.sequence_labels(labels, 3, 4, "float64")
    z = gn.input("z", (2, 3, 4))
    loss = nn.SoftmaxCrossEntropy().data_loss(z, gn.constant(target))

    def reference(args):
        logp = args[0] - np.log(np.exp(args[0]).sum(-1, keepdims=True))
        n, t = np.nonzero(labels >= 0)
        return float(-logp[n, t, labels[n, t]].mean())
    value, dz = gn.evaluate([loss, gn.grad(loss, [z])[0]], {"z": logits})
    assert float(value) == pytest.approx(reference([logits]), rel=1e-12)
    np.testing.assert_allclose(dz, central_difference(reference, [logits], 0), rtol=1e-6,
                               atol=1e-9)
    # an explicit mask gives the same as the -1 labels
    masked = nn.sequence_cross_entropy(z, gn.constant(nn.sequence_labels(np.maximum(labels, 0),
                                                                         3, 4, "float64")),
                                       mask=gn.constant((labels >= 0).astype(float)))
    assert float(gn.evaluate(masked, {"z": logits})) == pytest.approx(float(value), rel=1e-12)
    per_example = gn.evaluate(nn.SoftmaxCrossEntropy().per_example(z, gn.constant(target)),
                              {"z": logits})
    assert per_example.shape == (2,)
    with pytest.raises(nn.ModelError, match=r"mask must have shape \(batch, time\) = \(2, 3\)"):
        nn.sequence_cross_entropy(z, gn.constant(target), mask=gn.input("m", (2, 4)))
    with pytest.raises(nn.ModelError, match=r"label 4 is outside 0..3 .*-1 marks padding"):
        nn.sequence_labels(np.array([[4, 0, 0]]), 3, 4)


def test_float_tokens_and_ids_outside_the_vocabulary_name_the_layer():
    with pytest.raises(nn.ModelError, match=r"layer 'embedding1' \(Embedding\): takes integer "
                                            r"token ids, got float32 input"):
        nn.Sequential([nn.Embedding(5, 3)], input_shape=(4,))
    model = embedding_model(nn.LastStep())
    with pytest.raises(nn.ModelError, match=r"layer 'embedding1' \(Embedding\): token id 5 at "
                                            r"x\[1, 2\] is outside the vocabulary \[0, 5\)"):
        model.predict(np.array([[1, 2, 3, 4], [1, 2, 5, 0]]))
    with pytest.raises(nn.ModelError, match=r"token id -1 at x\[0, 0\]"):
        model.fit(np.array([[-1, 2, 3, 4]]), np.array([0]), loss="mse", optimizer="sgd")
    with pytest.raises(nn.ModelError, match=r"x is float64 but the model takes int64"):
        model.predict(TOKENS.astype(float))
    with pytest.raises(nn.ModelError, match=r"shape \(n, 4\).*got \(2, 5\).*'embedding1'"):
        model.predict(np.zeros((2, 5), "int64"))
    with pytest.raises(nn.ModelError, match="input_dtype must be one of"):
        nn.Sequential([nn.Embedding(5, 3)], input_shape=(4,), input_dtype="int8")
    with pytest.raises(nn.ModelError, match=r"PositionalEncoding.*\(batch, time, features\)"):
        nn.Sequential([nn.PositionalEncoding()], input_shape=(4,))
