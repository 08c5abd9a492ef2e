"""Gradient norms per time step of a recurrent layer: the vanishing gradient, measured.

Backpropagation through time multiplies the cotangent of h_t by one Jacobian ∂h_(t+1)/∂h_t
per step it travels back. For a tanh RNN their product shrinks geometrically (each factor is
diag(1 - h²) W_hh^T, typically of norm below 1), so ‖∂L/∂h_t‖ falls as t moves away from the
loss; an LSTM's cell path c_t = f * c_(t-1) + i * g passes it on scaled by the forget gates
only, and keeps it when they are near 1. `step_gradient_norms` measures ‖∂L/∂h_t‖ for every t
of a model's recurrent layer on a batch (evaluated by the NumPy interpreter: exact, and small
batches suffice); `graphnn.render.plots.plot_gradient_norms(..., axis="time step")` draws it.
"""

from __future__ import annotations

import numpy as np

from graphnn.ir import input
from graphnn.nn.errors import ModelError
from graphnn.nn.evaluation import check_inputs
from graphnn.nn.losses import Loss, get_loss
from graphnn.nn.model import Sequential
from graphnn.render.plots import gradient_norms


def step_gradient_norms(model: Sequential, x: np.ndarray, y: np.ndarray,
                        loss: str | Loss = "softmax_cross_entropy",
                        layer: str | None = None) -> dict[str, float]:
    """‖∂L/∂h_t‖ for each time step t of the recurrent layer `layer` (the model's first one by
    default), L the mean data loss of the batch (x, y) at the model's current parameters. Keys
    are the steps "0", "1", ... in time order; the norm is over the whole batch's h_t. Only the
    forward direction of a bidirectional layer is measured.

    >>> import numpy as np
    >>> from graphnn import nn
    >>> model = nn.Sequential([nn.RNN(4), nn.Dense(2)], input_shape=(3, 2), seed=0)
    >>> x, y = np.ones((5, 3, 2), "float32"), np.array([0, 1, 0, 1, 1])
    >>> norms = step_gradient_norms(model, x, y)
    >>> list(norms), norms["0"] < norms["2"]
    (['0', '1', '2'], True)
    """
    loss = get_loss(loss)
    x = check_inputs(model, x)
    target = loss.targets(y, model.output_shape, model.dtype)
    if target.shape[0] != x.shape[0]:
        raise ModelError(f"x has {x.shape[0]} examples but y has {target.shape[0]}")
    forward = model.build(x.shape[0], training=False)
    states = forward.build.states
    if not states:
        raise ModelError("step_gradient_norms needs a recurrent layer (RNN, LSTM, GRU); the "
                         f"model's layers are {', '.join(l.name for l in model.layers)}")
    name = next(iter(states)) if layer is None else layer
    if name not in states:
        raise ModelError(f"no recurrent layer {name!r}; the recurrent layers are "
                         f"{', '.join(states)}")
    goal = input("target", target.shape, model.dtype)
    feed = {"x": x, "target": target, **model.values}
    groups = {str(t): h for t, h in enumerate(states[name])}
    return gradient_norms(loss.data_loss(forward.output, goal), groups, feed)
