"""NumPy references for the sequence layers, written from the textbook equations (loops over
time steps and heads, plain numpy), independently of graphnn. Weights are in graphnn's layout
(x @ w), gates side by side in PyTorch's order; parameters are passed as the model's values
dict (keys `<layer>_<name>`)."""

from __future__ import annotations

import numpy as np


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def rnn_step(x, state, w_ih, w_hh, b_ih, b_hh, activation=np.tanh):
    (h,) = state
    return (activation(x @ w_ih + b_ih + h @ w_hh + b_hh),)


def lstm_step(x, state, w_ih, w_hh, b_ih, b_hh):
    h, c = state
    u = h.shape[-1]
    z = x @ w_ih + b_ih + h @ w_hh + b_hh
    i, f, g, o = z[:, :u], z[:, u:2 * u], z[:, 2 * u:3 * u], z[:, 3 * u:]
    c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
    return sigmoid(o) * np.tanh(c), c


def gru_step(x, state, w_ih, w_hh, b_ih, b_hh):
    (h,) = state
    u = h.shape[-1]
    a, b = x @ w_ih + b_ih, h @ w_hh + b_hh
    r = sigmoid(a[:, :u] + b[:, :u])
    z = sigmoid(a[:, u:2 * u] + b[:, u:2 * u])
    n = np.tanh(a[:, 2 * u:] + r * b[:, 2 * u:])
    return ((1.0 - z) * n + z * h,)


STEPS = {"rnn": rnn_step, "lstm": lstm_step, "gru": gru_step}


def recurrent(kind, x, weights, state, reverse=False):
    """(every h_t (batch, time, units), final state) of the `kind` cell over x."""
    times = range(x.shape[1])[::-1] if reverse else range(x.shape[1])
    hs = [None] * x.shape[1]
    for t in times:
        state = STEPS[kind](x[:, t], state, *weights)
        hs[t] = state[0]
    return np.stack(hs, axis=1), state


def recurrent_layer(kind, name, units, return_sequences, bidirectional, x, params,
                    learned=False):
    """The output of nn.RNN/LSTM/GRU `name` for x, from its parameters."""
    outputs = []
    for suffix in ("", "_reverse") if bidirectional else ("",):
        weights = [params[f"{name}_{w}{suffix}"] for w in ("w_ih", "w_hh", "b_ih", "b_hh")]
        parts = ("h0", "c0") if kind == "lstm" else ("h0",)
        state = tuple(np.broadcast_to(params[f"{name}_{p}{suffix}"], (x.shape[0], units))
                      if learned else np.zeros((x.shape[0], units)) for p in parts)
        hs, final = recurrent(kind, x, weights, state, reverse=bool(suffix))
        outputs.append(hs if return_sequences else final[0])
    return np.concatenate(outputs, axis=-1)


def softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def attention(x, w_qkv, b_qkv, w_out, b_out, heads, mask=None, causal=False):
    """Multi-head self-attention, one head and one example at a time."""
    batch, time, _ = x.shape
    dim = w_out.shape[0]
    d = dim // heads
    qkv = x @ w_qkv + b_qkv
    out = np.zeros((batch, time, dim))
    for n in range(batch):
        for head in range(heads):
            cols = slice(head * d, (head + 1) * d)
            q, k, v = (qkv[n, :, j * dim:(j + 1) * dim][:, cols] for j in range(3))
            scores = q @ k.T / np.sqrt(d)
            allowed = np.ones((time, time), bool)
            if causal:
                allowed &= np.tril(np.ones((time, time), bool))
            if mask is not None:
                allowed &= mask[n][None, :].astype(bool)
            scores = np.where(allowed, scores, -np.inf)
            out[n, :, cols] = softmax(scores) @ v
    return out @ w_out + b_out


def layer_norm(x, gamma, beta, eps=1e-5):
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return gamma * (x - mean) / np.sqrt(var + eps) + beta


def encoder(x, p, name, heads, activation=lambda z: np.maximum(z, 0.0), mask=None):
    """The pre-norm encoder layer: h = x + attn(norm1(x)); y = h + ff(norm2(h))."""
    def get(key):
        return p[f"{name}_{key}"]
    a = attention(layer_norm(x, get("norm1_gamma"), get("norm1_beta")), get("attention_w_qkv"),
                  get("attention_b_qkv"), get("attention_w_out"), get("attention_b_out"),
                  heads, mask)
    h = x + a
    z = activation(layer_norm(h, get("norm2_gamma"), get("norm2_beta")) @ get("linear1_w")
                   + get("linear1_b"))
    return h + z @ get("linear2_w") + get("linear2_b")


def positions(time, dim):
    """PE[t, 2i] = sin(t / 10000^(2i/dim)), PE[t, 2i+1] = cos(same), element by element."""
    table = np.zeros((time, dim))
    for t in range(time):
        for j in range(dim):
            angle = t / 10000 ** ((j - j % 2) / dim)
            table[t, j] = np.sin(angle) if j % 2 == 0 else np.cos(angle)
    return table
