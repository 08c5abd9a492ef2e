"""nn.step_gradient_norms: ‖∂L/∂h_t‖ per time step against BPTT written out in NumPy, the
vanishing gradient of a tanh RNN against an LSTM's on the memory task, and its errors."""

from __future__ import annotations

import numpy as np
import pytest

from graphnn import nn
from tests.nn.sequence_references import softmax


def bptt_norms(model: nn.Sequential, x: np.ndarray, labels: np.ndarray) -> list[float]:
    """‖∂L/∂h_t‖ of RNN -> Dense with mean softmax cross-entropy, by the BPTT recursion
    δ_t = ∂L/∂h_t (from the head at the last step) + (δ_(t+1) (1 - h_(t+1)²)) W_hh^T."""
    v = model.values
    h, states = np.zeros((x.shape[0], v["rnn1_w_hh"].shape[0])), []
    for t in range(x.shape[1]):
        h = np.tanh(x[:, t] @ v["rnn1_w_ih"] + v["rnn1_b_ih"] + h @ v["rnn1_w_hh"]
                    + v["rnn1_b_hh"])
        states.append(h)
    logits = h @ v["dense1_w"] + v["dense1_b"]
    delta = (softmax(logits) - np.eye(logits.shape[1])[labels]) / x.shape[0] @ v["dense1_w"].T
    norms = [float(np.linalg.norm(delta))]
    for t in range(x.shape[1] - 2, -1, -1):
        delta = (delta * (1.0 - states[t + 1] ** 2)) @ v["rnn1_w_hh"].T
        norms.append(float(np.linalg.norm(delta)))
    return norms[::-1]


def test_norms_are_those_of_backpropagation_through_time():
    model = nn.Sequential([nn.RNN(5), nn.Dense(3)], input_shape=(6, 2), dtype="float64",
                          seed=2)
    x = np.random.default_rng(0).normal(size=(4, 6, 2))
    y = np.array([0, 2, 1, 2])
    norms = nn.step_gradient_norms(model, x, y)
    assert list(norms) == [str(t) for t in range(6)]
    np.testing.assert_allclose(list(norms.values()), bptt_norms(model, x, y), rtol=1e-10)


def test_tanh_rnn_gradient_vanishes_where_the_lstm_cell_path_keeps_it():
    # the data of examples/training/09_remember_first.py: 40 steps, at initialization
    x, y = nn.datasets.remember_first(64, 40, seed=0)
    rnn = nn.Sequential([nn.RNN(16), nn.Dense(8)], input_shape=x.shape[1:], seed=0)
    lstm = nn.Sequential([nn.LSTM(16), nn.Dense(8)], input_shape=x.shape[1:], seed=0)
    lstm.values["lstm1_b_ih"][16:32] = 3.0                  # forget gates near 0.95
    ratio = {name: norms["0"] / norms["39"] for name, norms in
             (("rnn", nn.step_gradient_norms(rnn, x, y)),
              ("lstm", nn.step_gradient_norms(lstm, x, y)))}
    assert ratio["rnn"] < 1e-5 and ratio["lstm"] > 1e-2, ratio


def test_the_layer_is_chosen_by_name_and_bidirectional_layers_measure_the_forward_one():
    model = nn.Sequential([nn.GRU(3, return_sequences=True, bidirectional=True),
                           nn.LSTM(4), nn.Dense(2)], input_shape=(5, 2), seed=0)
    x, y = np.ones((3, 5, 2), "float32"), np.array([0, 1, 1])
    first, second = (nn.step_gradient_norms(model, x, y, layer=name) for name in
                     ("gru1", "lstm1"))
    assert first == nn.step_gradient_norms(model, x, y) and len(first) == len(second) == 5
    assert first != second


def test_errors_name_what_is_missing():
    x, y = np.ones((3, 5, 2), "float32"), np.array([0, 1, 1])
    model = nn.Sequential([nn.LSTM(4), nn.Dense(2)], input_shape=(5, 2))
    with pytest.raises(nn.ModelError, match="no recurrent layer 'rnn1'; the recurrent layers "
                       "are lstm1"):
        nn.step_gradient_norms(model, x, y, layer="rnn1")
    dense = nn.Sequential([nn.Flatten(), nn.Dense(2)], input_shape=(5, 2))
    with pytest.raises(nn.ModelError, match="needs a recurrent layer.*flatten1, dense1"):
        nn.step_gradient_norms(dense, x, y)
    with pytest.raises(nn.ModelError, match=r"x must have shape \(n, 5, 2\)"):
        nn.step_gradient_norms(model, np.ones((3, 4, 2), "float32"), y)
    with pytest.raises(nn.ModelError, match="x has 3 examples but y has 2"):
        nn.step_gradient_norms(model, x, y[:2])
