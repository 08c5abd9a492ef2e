"""fit trains each kind of sequence model (recurrent, bidirectional, attention, per-step
outputs with padding) on small generated tasks: the loss falls, and the whole step stays one
compiled call per batch size."""

from __future__ import annotations

import numpy as np
import pytest

from graphnn import nn

RNG = np.random.default_rng(0)


def sum_sign_task(n=96, steps=5):
    """x (n, steps, 2); the label is whether the first feature sums to more than 0."""
    x = RNG.normal(size=(n, steps, 2)).astype("float32")
    return x, (x[:, :, 0].sum(axis=1) > 0).astype("int64")


def falls(history, factor):
    return history.loss[-1] < factor * history.loss[0]


@pytest.mark.parametrize("recurrent", [
    lambda: nn.RNN(8), lambda: nn.LSTM(8), lambda: nn.GRU(8),
    lambda: nn.LSTM(6, bidirectional=True)], ids=["rnn", "lstm", "gru", "bilstm"])
def test_recurrent_classifier_trains(recurrent):
    x, y = sum_sign_task()
    model = nn.Sequential([recurrent(), nn.Dense(2)], input_shape=(5, 2), seed=0)
    step = nn.TrainStep(model, "softmax_cross_entropy", nn.Adam(lr=0.03, clip_norm=1.0))
    history = model.fit(x, y, loss="softmax_cross_entropy", optimizer=step.optimizer,
                        step=step, epochs=8, batch_size=32, progress=False)
    assert falls(history, 0.6), history.loss
    assert history.accuracy[-1] > 0.8
    # forward through the unrolled net, loss, BPTT and the clipped update: one function
    assert list(step._compiled) == [32] and step.count == 8 * 3


def test_transformer_classifier_with_padding_trains():
    # tokens 1..5 with padding 0 at the end; the label is whether token 3 occurs
    tokens = RNG.integers(1, 6, size=(128, 6))
    lengths = RNG.integers(3, 7, size=128)
    tokens[np.arange(6)[None, :] >= lengths[:, None]] = 0
    labels = (tokens == 3).any(axis=1).astype("int64")
    model = nn.Sequential([nn.Embedding(6, 8, pad_id=0), nn.PositionalEncoding(),
                           nn.TransformerEncoderLayer(8, 2, 16, dropout=0.1),
                           nn.GlobalAveragePool1D(), nn.Dense(2)],
                          input_shape=(6,), input_dtype="int64", seed=0)
    history = model.fit(tokens, labels, loss="softmax_cross_entropy",
                        optimizer=nn.Adam(lr=0.02), epochs=10, batch_size=32, progress=False)
    assert falls(history, 0.6), history.loss
    assert model.evaluate(tokens, labels, "softmax_cross_entropy")[1] > 0.85


def test_per_step_outputs_with_padded_labels_train():
    # at each step, predict the token of the step before (step 0 and padding: label -1)
    tokens = RNG.integers(1, 5, size=(96, 5))
    labels = np.full((96, 5), -1)
    labels[:, 1:] = tokens[:, :-1]
    labels[:48, 4] = -1                                 # half the examples are padded at the end
    model = nn.Sequential([nn.Embedding(5, 6), nn.GRU(12, return_sequences=True),
                           nn.Dense(5, per_step=True)],
                          input_shape=(5,), input_dtype="int64", seed=0)
    assert model.output_shape == (5, 5)
    history = model.fit(tokens, labels, loss="softmax_cross_entropy",
                        optimizer=nn.Adam(lr=0.05), epochs=10, batch_size=32, progress=False)
    assert falls(history, 0.3), history.loss
    assert history.accuracy[-1] > 0.9                  # per-step accuracy over real steps
    loss, accuracy = model.evaluate(tokens, labels, "softmax_cross_entropy")
    assert accuracy > 0.9 and loss < history.loss[0]
