"""An unrolled RNN, as a lecture on backpropagation through time draws it: four time steps of
h_t = tanh(x_t W_ih + b_ih + h_(t-1) W_hh + b_hh) from h_0 = 0, loss = sum(h_4 * h_4).

Written twice, as users build it: with `nn.rnn` on input nodes (`loss`), and as the graph of an
`nn.Sequential([nn.RNN(3)])` model (`model_loss`). Each time step is a cluster `step<t>`; the
input projection x W_ih + b_ih of all steps is one product before them, and the same W_hh
enters every step, so dL/dW_hh adds the four steps' hᵀ @ g.

Run: python examples/07_rnn.py [DIRECTORY] [--png]
"""

import numpy as np

import graphnn as gn
from graphnn import nn
from graphnn.render.pictures import render, save_pictures

STEPS, FEATURES, UNITS = 4, 2, 3
x = gn.input("x", shape=(1, STEPS, FEATURES))
W_ih, W_hh = gn.input("W_ih", shape=(FEATURES, UNITS)), gn.input("W_hh", shape=(UNITS, UNITS))
b_ih, b_hh = gn.input("b_ih", shape=(UNITS,)), gn.input("b_hh", shape=(UNITS,))
_, h = nn.rnn(x, W_ih, W_hh, b_ih, b_hh)
loss = gn.sum(h * h, name="loss")

rng = np.random.default_rng(0)
outputs = [loss]
feed = {"x": rng.normal(size=(1, STEPS, FEATURES)), "W_ih": rng.normal(size=(2, 3)) * 0.5,
        "W_hh": rng.normal(size=(3, 3)) * 0.5, "b_ih": np.zeros(3), "b_hh": np.zeros(3)}
wrt = [W_ih, W_hh]

# the same network as a model: its parameters are inputs named rnn1_w_ih, rnn1_w_hh, ...
model = nn.Sequential([nn.RNN(UNITS)], input_shape=(STEPS, FEATURES), dtype="float64", seed=0)
forward = model.build(1, training=False)
model_loss = gn.sum(forward.output * forward.output, name="loss")
model_feed = {"x": feed["x"], **model.values}
model_wrt = [p.node for p in model.trainable]


def pictures():
    """The unrolled RNN with values and the chain rule (use layout="slide" for a slide)."""
    return {"07_rnn": render(loss, feed=feed, grads=wrt)}


if __name__ == "__main__":
    loss_value, d_ih, d_hh = gn.evaluate([loss, *gn.grad(loss, wrt)], feed)
    model_value = gn.evaluate([model_loss], model_feed)[0]
    print(f"loss = {float(loss_value):.4f} (nn.rnn), {float(model_value):.4f} (nn.RNN model)")
    with np.printoptions(precision=3, suppress=True):
        print(f"dL/dW_ih, the input projection shared by the {STEPS} steps:\n{d_ih}")
        print(f"dL/dW_hh, the sum of the {STEPS} steps' h_(t-1)ᵀ @ g:\n{d_hh}")
    for path in save_pictures(pictures()):
        print("wrote", path)
