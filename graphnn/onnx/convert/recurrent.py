"""The recurrent ONNX operators RNN, LSTM and GRU, unrolled over the static number of steps.

graphnn graphs have static shapes, so a recurrence over T steps is its unrolled graph (as
graphnn.nn.recurrent does for the layers): the input projection of every step is one matrix
product, then each step adds the hidden part and applies the gates. The equations are ONNX's,
which differ from PyTorch's (and graphnn.nn's) in three places, so the steps are written here:

- gate order: ONNX's LSTM stacks the gates i, o, f, c (PyTorch i, f, g, o) and its GRU z, r, h
  (PyTorch r, z, n) in W (num_directions, gates * hidden, input), R and B (Wb then Rb);
- GRU's linear_before_reset=0 (ONNX's default) resets the state before the recurrent product:
  h~ = g(x Wh + (r * H) Rh + Rbh + Wbh); with 1 it is PyTorch's g(x Wh + r * (H Rh + Rbh) + Wbh);
- the activations are attributes (f, g, h per direction) and `clip` bounds every gate's
  pre-activation; LSTM has peepholes P (i, o, f) on the cell state.

Directions forward, reverse and bidirectional (both, stacked on Y's direction axis); layout 0
(time first) and 1 (batch first); initial states; sequence_lens (a batch entry's steps beyond
its length keep its state and output zeros, as ONNX says; the reverse direction starts at the
entry's last step). Refused by name: activations that take activation_alpha/beta, LSTM's
input_forget.
"""

from __future__ import annotations

import numpy as np

from graphnn import ops
from graphnn.ir import Node, scope
from graphnn.onnx.registry import converter

# activation functions without parameters (those that take activation_alpha/beta are refused)
ACTIVATIONS = {"Sigmoid": ops.sigmoid, "Tanh": ops.tanh, "Relu": ops.relu,
               "Softsign": ops.softsign, "Softplus": ops.softplus}
# name: (gates, default activations per direction)
KINDS = {"RNN": (1, ("Tanh",)), "GRU": (3, ("Sigmoid", "Tanh")),
         "LSTM": (4, ("Sigmoid", "Tanh", "Tanh"))}
# activation_alpha and activation_beta are not read: a node that sets them is refused by name
COMMON = ("activations", "clip", "direction", "hidden_size", "layout")
OPSETS = (7, None)


class _Step:
    """What every step of one direction shares: the gate activations, the clip, the recurrent
    weight R^T (hidden, gates * hidden) and bias Rb, and for the LSTM the peepholes."""

    def __init__(self, kind, activations, clip, r, rb, peepholes=None, reset_after=False):
        self.kind, self.act, self.clip = kind, activations, clip
        self.r, self.rb, self.peepholes, self.reset_after = r, rb, peepholes, reset_after
        self.hidden = r.shape[0]

    def gate(self, z: Node, k: int) -> Node:
        """Block k of `hidden` columns: one gate."""
        return z[:, k * self.hidden:(k + 1) * self.hidden]

    def apply(self, f, z: Node) -> Node:
        """An activation of a pre-activation, clipped to [-clip, clip] when clip is set."""
        return f(z if self.clip is None else ops.clip(z, -self.clip, self.clip))

    def __call__(self, xw: Node, state: tuple[Node, ...]) -> tuple[Node, ...]:
        return getattr(self, self.kind.lower())(xw, state)

    def rnn(self, xw, state):
        (h,) = state
        return (self.apply(self.act[0], xw + h @ self.r + self.rb),)

    def lstm(self, xw, state):
        # i = f(.. + Pi c), o = f(.. + Po c'), f = f(.. + Pf c), c~ = g(..): order i, o, f, c
        h, c = state
        z = xw + h @ self.r + self.rb
        f, g, act_h = self.act
        p = self.peepholes
        zi, zf = self.gate(z, 0), self.gate(z, 2)
        if p is not None:
            zi, zf = zi + p[0] * c, zf + p[2] * c
        c = self.apply(f, zf) * c + self.apply(f, zi) * self.apply(g, self.gate(z, 3))
        zo = self.gate(z, 1) if p is None else self.gate(z, 1) + p[1] * c
        return self.apply(f, zo) * act_h(c), c

    def gru(self, xw, state):
        # z = f(x Wz + H Rz + ..), r = f(x Wr + H Rr + ..), gates in order z, r, h
        (h,) = state
        f, g = self.act
        # ONNX's default needs only the z and r columns of H R here (its h gate multiplies
        # r * H by Rh below); PyTorch's form uses all three
        cut = None if self.reset_after else 2 * self.hidden
        hr = h @ self.r[:, :cut] + self.rb[:cut]
        z = self.apply(f, self.gate(xw, 0) + self.gate(hr, 0))
        r = self.apply(f, self.gate(xw, 1) + self.gate(hr, 1))
        if self.reset_after:                   # PyTorch's form: r scales H Rh + Rbh
            hidden = r * self.gate(hr, 2)
        else:                                  # ONNX's default: r scales H before Rh
            hidden = (r * h) @ self.r[:, 2 * self.hidden:] + self.rb[2 * self.hidden:]
        candidate = self.apply(g, self.gate(xw, 2) + hidden)
        return (candidate + z * (h - candidate),)    # (1 - z) h~ + z H


def _activations(ctx, kind: str, names, directions: int) -> list[list]:
    """The activation functions of each direction (ONNX lists f, g, h for every direction)."""
    per = len(KINDS[kind][1])
    names = list(names) if names else list(KINDS[kind][1]) * directions
    if len(names) == per and directions == 2:
        names = names * 2
    if len(names) == 2 * per and directions == 1:      # RNN's schema default: Tanh, Tanh
        names = names[:per]
    if len(names) != per * directions:
        raise ctx.unsupported(f"{len(names)} activations where {per * directions} are "
                              f"expected ({per} per direction)")
    for name in names:
        if name not in ACTIVATIONS:
            raise ctx.attribute_error("activations", tuple(names),
                                      f"graphnn reads {', '.join(ACTIVATIONS)}: {name} is not "
                                      "one of them")
    return [[ACTIVATIONS[n] for n in names[d * per:(d + 1) * per]] for d in range(directions)]


def _mask(ctx, lengths, steps: int, t: int, like: Node) -> Node | None:
    """(batch, 1) bool: which batch entries are still running at step t (None: all are)."""
    if lengths is None:
        return None
    if isinstance(lengths, np.ndarray):
        if (lengths >= steps).all():
            return None
        return ctx.node((lengths > t).reshape(-1, 1))
    t = ctx.node(np.array(t, dtype=lengths.dtype))
    return ops.reshape(ops.greater(lengths, t), (like.shape[1], 1))


def _direction(ctx, step: _Step, xw: Node, state, lengths, reverse: bool):
    """Run one direction over xw (time, batch, gates * hidden): (every h in time order, the
    final state)."""
    steps = xw.shape[0]
    outputs: dict[int, Node] = {}
    order = range(steps - 1, -1, -1) if reverse else range(steps)
    for t in order:
        with scope(f"step{t}"):
            new = step(xw[t], state)
            mask = _mask(ctx, lengths, steps, t, xw)
            if mask is None:
                state, outputs[t] = new, new[0]
            else:                       # an entry past its length keeps its state, outputs 0
                state = tuple(ops.where(mask, n, s) for n, s in zip(new, state))
                outputs[t] = ops.where(mask, new[0], ctx.node(np.zeros(new[0].shape, new[0].dtype)))
    return [outputs[t] for t in range(steps)], state


def _recurrence(ctx, kind, x, w, r, b, lengths, initial, peepholes, attributes,
                reset_after=False):
    """The operator's outputs (Y, Y_h[, Y_c]) in the node's layout."""
    gates = KINDS[kind][0]
    direction, layout, clip = (attributes["direction"] or "forward",
                               attributes["layout"] or 0, attributes["clip"])
    if direction not in ("forward", "reverse", "bidirectional"):
        raise ctx.attribute_error("direction", direction, "forward, reverse or bidirectional")
    directions = 2 if direction == "bidirectional" else 1
    x = ops.transpose(x, (1, 0, 2)) if layout == 1 else x          # (time, batch, input)
    steps, batch, _ = x.shape
    w, r = ctx.node(w, like=x), ctx.node(r, like=x)
    hidden = r.shape[-1]
    if attributes["hidden_size"] not in (None, hidden):
        raise ctx.unsupported(f"hidden_size={attributes['hidden_size']} but R is {r.shape}")
    b = ctx.node(b if b is not None else np.zeros((directions, 2 * gates * hidden)), like=x)
    acts = _activations(ctx, kind, attributes["activations"], directions)
    if layout == 1:                      # initial states come (batch, directions, hidden)
        initial = [v if v is None else ops.transpose(ctx.node(v, like=x), (1, 0, 2))
                   for v in initial]
    ys, finals = [], []
    for d in range(directions):
        reverse = direction == "reverse" or d == 1
        with scope("reverse" if reverse else "forward"):
            wb, rb = b[d, :gates * hidden], b[d, gates * hidden:]
            xw = x @ ops.transpose(w[d]) + wb          # every step's input part at once
            p = None if peepholes is None else ctx.node(peepholes, like=x)[d]
            p = None if p is None else [p[k * hidden:(k + 1) * hidden] for k in range(3)]
            step = _Step(kind, acts[d], clip, ops.transpose(r[d]), rb, p, reset_after)
            state = tuple(ctx.node(v, like=x)[d] if v is not None else
                          ctx.node(np.zeros((batch, hidden), x.dtype))
                          for v in initial)
            y, final = _direction(ctx, step, xw, state, lengths, reverse)
        ys.append(ops.stack(y, axis=0))                          # (time, batch, hidden)
        finals.append(final)
    y = ops.stack(ys, axis=1)                                     # (time, dirs, batch, hidden)
    last = [ops.stack([f[k] for f in finals], axis=0) for k in range(len(initial))]
    if layout == 1:
        y, last = ops.transpose(y, (2, 0, 1, 3)), [ops.transpose(v, (1, 0, 2)) for v in last]
    return (y, *last)[:max(1, len(ctx.outputs))]


@converter("RNN", attributes=COMMON, opsets=OPSETS)
def rnn(ctx, x, w, r, b=None, sequence_lens=None, initial_h=None, **attributes):
    return _recurrence(ctx, "RNN", x, w, r, b, sequence_lens, [initial_h],
                       None, attributes)


@converter("GRU", attributes=COMMON + ("linear_before_reset",), opsets=OPSETS)
def gru(ctx, x, w, r, b=None, sequence_lens=None, initial_h=None, *, linear_before_reset,
        **attributes):
    return _recurrence(ctx, "GRU", x, w, r, b, sequence_lens, [initial_h],
                       None, attributes, reset_after=bool(linear_before_reset))


@converter("LSTM", attributes=COMMON + ("input_forget",), opsets=OPSETS)
def lstm(ctx, x, w, r, b=None, sequence_lens=None, initial_h=None, initial_c=None, p=None, *,
         input_forget, **attributes):
    if input_forget:
        raise ctx.attribute_error("input_forget", input_forget,
                                  "graphnn's LSTM has independent input and forget gates")
    return _recurrence(ctx, "LSTM", x, w, r, b, sequence_lens,
                       [initial_h, initial_c], p, attributes)
