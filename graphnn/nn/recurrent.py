"""Recurrent layers: RNN, LSTM and GRU, unrolled over the fixed number of time steps.

A recurrent net over T steps is, in graphnn, its unrolled graph: the same weights applied at
every step, the state carried from one step's nodes to the next. Backpropagation through time
is then plain reverse mode (`gn.grad`) over that graph, and the whole sequence compiles into
one native call. Inputs are batch first, (batch, time, features).

The equations and the gate order are PyTorch's (`torch.nn.RNN`, `LSTM`, `GRU`), so weights move
between the two (`graphnn.nn.torch_weights`). Weights are stored for `x @ w` (PyTorch's
transposed): `w_ih` (features, gates * units), `w_hh` (units, gates * units), and two biases
`b_ih`, `b_hh` (gates * units,), the gates side by side in PyTorch's order. The input
projection `x @ w_ih + b_ih` of all steps is one matrix product before the loop.

The functions `rnn`, `lstm` and `gru` work on plain nodes (weights given as nodes); the layers
declare the weights as model parameters and call them.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from graphnn.ir import Node, apply, scope
from graphnn.nn.model import Build, Layer
from graphnn.nn.sequence import need_sequence
from graphnn.ops import broadcast_to, concat, sigmoid, stack, tanh

GATES = {"rnn": 1, "lstm": 4, "gru": 3}
State = tuple[Node, ...]          # (h,) or, for the LSTM, (h, c)


def _rnn_cell(xp: Node, state: State, w_hh: Node, b_hh: Node, activation: str) -> State:
    """h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh)  (xp holds the input part)."""
    (h,) = state
    return (apply(activation, xp + h @ w_hh + b_hh),)


def _gate(z: Node, k: int, units: int) -> Node:
    """The k-th block of `units` columns: one gate's pre-activation."""
    return z[:, k * units:(k + 1) * units]


def _lstm_cell(xp: Node, state: State, w_hh: Node, b_hh: Node, activation: str) -> State:
    """Gates in PyTorch's order i, f, g, o:
    i = σ(.), f = σ(.), g = tanh(.), o = σ(.) of x W_i*^T + b_i* + h W_h*^T + b_h*;
    c' = f * c + i * g;  h' = o * tanh(c')."""
    h, c = state
    units = h.shape[-1]
    z = xp + h @ w_hh + b_hh
    i, f, o = (sigmoid(_gate(z, k, units)) for k in (0, 1, 3))
    c = f * c + i * tanh(_gate(z, 2, units))
    return o * tanh(c), c


def _gru_cell(xp: Node, state: State, w_hh: Node, b_hh: Node, activation: str) -> State:
    """Gates in PyTorch's order r, z, n:
    r = σ(x W_ir^T + b_ir + h W_hr^T + b_hr),  z = σ(x W_iz^T + b_iz + h W_hz^T + b_hz),
    n = tanh(x W_in^T + b_in + r * (h W_hn^T + b_hn)),  h' = (1 - z) * n + z * h."""
    (h,) = state
    units = h.shape[-1]
    hp = h @ w_hh + b_hh                  # the reset gate scales the hidden part of n only
    r = sigmoid(_gate(xp, 0, units) + _gate(hp, 0, units))
    z = sigmoid(_gate(xp, 1, units) + _gate(hp, 1, units))
    n = tanh(_gate(xp, 2, units) + r * _gate(hp, 2, units))
    return (n + z * (h - n),)            # (1 - z) n + z h, one multiplication fewer


CELLS: dict[str, Callable[..., State]] = {"rnn": _rnn_cell, "lstm": _lstm_cell, "gru": _gru_cell}


def unroll(kind: str, x: Node, w_ih: Node, w_hh: Node, b_ih: Node, b_hh: Node,
           state: State, *, reverse: bool = False,
           activation: str = "tanh") -> tuple[list[Node], State]:
    """Apply the `kind` cell ("rnn", "lstm", "gru") over the time axis of x (batch, time,
    features) from `state`: (each step's h, in time order; the final state). With `reverse`,
    steps run from the last time step to the first. Each step's nodes are in the scope
    `step<t>` (t counted in time order), so a drawing groups them per time step."""
    xp = x @ w_ih + b_ih                  # every step's input projection in one product
    cell = CELLS[kind]
    outputs: dict[int, Node] = {}
    steps = range(x.shape[1] - 1, -1, -1) if reverse else range(x.shape[1])
    for t in steps:
        with scope(f"step{t}"):
            state = cell(xp[:, t, :], state, w_hh, b_hh, activation)
        outputs[t] = state[0]
    return [outputs[t] for t in range(x.shape[1])], state


def _zeros_state(kind: str, x: Node, units: int) -> State:
    zero = broadcast_to(np.zeros((), x.dtype), (x.shape[0], units))
    return (zero, zero) if kind == "lstm" else (zero,)


def rnn(x: Node, w_ih: Node, w_hh: Node, b_ih: Node, b_hh: Node, h0: Node | None = None, *,
        activation: str = "tanh", reverse: bool = False) -> tuple[Node, Node]:
    """An Elman RNN on nodes: h_t = act(x_t W_ih^T + b_ih + h_(t-1) W_hh^T + b_hh), h_0 = h0
    (zeros if None). Returns (every h_t as (batch, time, units), the last h).

    >>> import numpy as np, graphnn as gn
    >>> x = gn.input("x", (2, 5, 3))
    >>> w_ih, w_hh = gn.input("w_ih", (3, 4)), gn.input("w_hh", (4, 4))
    >>> seq, last = rnn(x, w_ih, w_hh, np.zeros(4), np.zeros(4))
    >>> seq.shape, last.shape
    ((2, 5, 4), (2, 4))
    """
    state = (h0,) if h0 is not None else _zeros_state("rnn", x, w_hh.shape[0])
    outputs, (h,) = unroll("rnn", x, w_ih, w_hh, b_ih, b_hh, state, reverse=reverse,
                           activation=activation)
    return stack(outputs, axis=1), h


def lstm(x: Node, w_ih: Node, w_hh: Node, b_ih: Node, b_hh: Node, h0: Node | None = None,
         c0: Node | None = None, *, reverse: bool = False) -> tuple[Node, tuple[Node, Node]]:
    """An LSTM on nodes (PyTorch's equations and gate order i, f, g, o; see `_lstm_cell`).
    Returns (every h_t as (batch, time, units), (last h, last c)); h0, c0 default to zeros.

    >>> import numpy as np, graphnn as gn
    >>> x = gn.input("x", (2, 5, 3))
    >>> w_ih, w_hh = gn.input("w_ih", (3, 16)), gn.input("w_hh", (4, 16))
    >>> seq, (h, c) = lstm(x, w_ih, w_hh, np.zeros(16), np.zeros(16))
    >>> seq.shape, c.shape
    ((2, 5, 4), (2, 4))
    """
    zeros = _zeros_state("lstm", x, w_hh.shape[0])
    state = (h0 if h0 is not None else zeros[0], c0 if c0 is not None else zeros[1])
    outputs, (h, c) = unroll("lstm", x, w_ih, w_hh, b_ih, b_hh, state, reverse=reverse)
    return stack(outputs, axis=1), (h, c)


def gru(x: Node, w_ih: Node, w_hh: Node, b_ih: Node, b_hh: Node, h0: Node | None = None, *,
        reverse: bool = False) -> tuple[Node, Node]:
    """A GRU on nodes (PyTorch's equations and gate order r, z, n; see `_gru_cell`).
    Returns (every h_t as (batch, time, units), the last h); h0 defaults to zeros.

    >>> import numpy as np, graphnn as gn
    >>> x = gn.input("x", (2, 5, 3))
    >>> seq, h = gru(x, gn.input("w_ih", (3, 12)), gn.input("w_hh", (4, 12)), np.zeros(12),
    ...              np.zeros(12))
    >>> h.shape
    (2, 4)
    """
    state = (h0,) if h0 is not None else _zeros_state("gru", x, w_hh.shape[0])
    outputs, (h,) = unroll("gru", x, w_ih, w_hh, b_ih, b_hh, state, reverse=reverse)
    return stack(outputs, axis=1), h


def _uniform_by_units(rng, shape, fan_in, fan_out, dtype):
    """PyTorch's recurrent initialization: U(-k, k), k = 1 / sqrt(units) (fan_in is units)."""
    bound = 1.0 / math.sqrt(fan_in)
    return rng.uniform(-bound, bound, shape).astype(dtype)


class _Recurrent(Layer):
    """The recurrent layers' common part: parameters per direction, initial state, output."""

    kind = "rnn"
    activation = "tanh"

    def __init__(self, units: int, *, return_sequences: bool = False,
                 bidirectional: bool = False, initial_state: str = "zeros",
                 name: str | None = None) -> None:
        super().__init__(name)
        self.units = int(units)
        if self.units < 1:
            raise self.error(f"units must be at least 1, got {units}")
        if initial_state not in ("zeros", "learned"):
            raise self.error(f"initial_state must be 'zeros' or 'learned', got {initial_state!r}")
        self.return_sequences = bool(return_sequences)
        self.bidirectional = bool(bidirectional)
        self.initial_state = initial_state

    @property
    def directions(self) -> tuple[str, ...]:
        """Parameter-name suffixes of the directions: "" (forward), "_reverse" (PyTorch's)."""
        return ("", "_reverse") if self.bidirectional else ("",)

    def forward(self, x: Node, build: Build) -> Node:
        need_sequence(self, x)
        if x.dtype not in ("float32", "float64"):
            raise self.error(f"expects float input, got {x.dtype}; put nn.Embedding first "
                             "for token ids")
        sequences, finals = [], []
        for suffix in self.directions:
            sequence, h = self._direction(x, build, suffix)
            sequences.append(sequence)
            finals.append(h)
        # both directions side by side, forward first (PyTorch's output layout); the final
        # state of the reverse direction is the one after it read time step 0 (h_n)
        result = sequences if self.return_sequences else finals
        return result[0] if len(result) == 1 else concat(result, axis=-1)

    def _direction(self, x: Node, build: Build, suffix: str) -> tuple[Node, Node]:
        gates = GATES[self.kind] * self.units
        fans = (self.units, self.units)

        def param(name, shape):
            return build.parameter(self, name + suffix, shape, _uniform_by_units, fans,
                                   decay=name.startswith("w"))
        w_ih, w_hh = param("w_ih", (x.shape[2], gates)), param("w_hh", (self.units, gates))
        b_ih, b_hh = param("b_ih", (gates,)), param("b_hh", (gates,))
        state = self._state(x, build, suffix)
        outputs, final = unroll(self.kind, x, w_ih, w_hh, b_ih, b_hh, state,
                                reverse=suffix == "_reverse", activation=self.activation)
        if not suffix:
            build.states[self.name] = outputs
        return stack(outputs, axis=1), final[0]

    def _state(self, x: Node, build: Build, suffix: str) -> State:
        """Zeros, or learned vectors (`h0`, and `c0` for the LSTM) shared by every example."""
        if self.initial_state == "zeros":
            return _zeros_state(self.kind, x, self.units)
        names = ("h0", "c0") if self.kind == "lstm" else ("h0",)
        shape = (x.shape[0], self.units)
        return tuple(broadcast_to(build.parameter(self, name + suffix, (self.units,), "zeros",
                                                  decay=False), shape) for name in names)

    def describe(self) -> str:
        extra = ", return_sequences" * self.return_sequences + \
            ", bidirectional" * self.bidirectional
        return f"{self.units}{extra}"


class RNN(_Recurrent):
    """Elman RNN over (batch, time, features), as `torch.nn.RNN` (batch_first=True):

        h_t = act(x_t W_ih^T + b_ih + h_(t-1) W_hh^T + b_hh),   act = tanh (or "relu")

    Output: the last h (batch, units), or every h_t (batch, time, units) with
    `return_sequences=True`; with `bidirectional=True` a second RNN reads the sequence
    backwards and the two are concatenated on the last axis (forward first; the reverse one's
    last h is the one after it read step 0). `initial_state="learned"` trains h_0 (zeros by
    default). Parameters: w_ih (features, units), w_hh (units, units), b_ih, b_hh (units,),
    and `*_reverse` for the second direction; initialized U(-k, k), k = 1/sqrt(units).

    >>> from graphnn import nn
    >>> model = nn.Sequential([nn.RNN(4, return_sequences=True)], input_shape=(6, 3))
    >>> model.output_shape, model.values["rnn1_w_hh"].shape
    ((6, 4), (4, 4))
    """

    kind = "rnn"

    def __init__(self, units: int, activation: str = "tanh", **options) -> None:
        super().__init__(units, **options)
        if activation not in ("tanh", "relu"):
            raise self.error(f"activation must be 'tanh' or 'relu' (PyTorch's choices), got "
                             f"{activation!r}")
        self.activation = activation


class LSTM(_Recurrent):
    """Long short-term memory over (batch, time, features), as `torch.nn.LSTM`
    (batch_first=True). Gates in PyTorch's order i, f, g, o (columns of w_ih, w_hh, b_ih,
    b_hh in blocks of `units`):

        i = σ(x W_ii^T + b_ii + h W_hi^T + b_hi)      f = σ(x W_if^T + b_if + h W_hf^T + b_hf)
        g = tanh(x W_ig^T + b_ig + h W_hg^T + b_hg)   o = σ(x W_io^T + b_io + h W_ho^T + b_ho)
        c_t = f * c_(t-1) + i * g                      h_t = o * tanh(c_t)

    Output, bidirectional and initial state as `nn.RNN`. Parameters: w_ih (features,
    4 units), w_hh (units, 4 units), b_ih, b_hh (4 units,).

    >>> from graphnn import nn
    >>> nn.Sequential([nn.LSTM(5, bidirectional=True)], input_shape=(4, 2)).output_shape
    (10,)
    """

    kind = "lstm"


class GRU(_Recurrent):
    """Gated recurrent unit over (batch, time, features), as `torch.nn.GRU`
    (batch_first=True). Gates in PyTorch's order r, z, n:

        r = σ(x W_ir^T + b_ir + h W_hr^T + b_hr)      z = σ(x W_iz^T + b_iz + h W_hz^T + b_hz)
        n = tanh(x W_in^T + b_in + r * (h W_hn^T + b_hn))
        h_t = (1 - z) * n + z * h_(t-1)

    Output, bidirectional and initial state as `nn.RNN`. Parameters: w_ih (features,
    3 units), w_hh (units, 3 units), b_ih, b_hh (3 units,).

    >>> from graphnn import nn
    >>> nn.Sequential([nn.GRU(5)], input_shape=(4, 2)).values["gru1_w_ih"].shape
    (2, 15)
    """

    kind = "gru"
