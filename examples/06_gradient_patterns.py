"""The lecture's patterns in gradient flow: f = 2 (x y + max(z, w)) at x = 3, y = -4, z = 2,
w = -1 (f = -20), and h = x (x + y), where x is used twice.

- add distributes: both inputs of + receive its upstream gradient, 2, unchanged;
- mul swaps: x receives 2 y = -8 and y receives 2 x = 6, each the other input times 2;
- max routes: the larger input z receives all of 2, the smaller w receives 0;
- fan-out adds: in h, x feeds both + and ×, and its gradient is the sum of what flows back
  along its two edges, 3 + (-1) = 2.

Run: python examples/06_gradient_patterns.py [DIRECTORY] [--png]
"""

import graphnn as gn
from graphnn.render.pictures import render, save_pictures

x, y, z, w = gn.input("x"), gn.input("y"), gn.input("z"), gn.input("w")
p = gn.mul(x, y, name="p")                # named nodes make the formulas read like the notes:
m = gn.maximum(z, w, name="m")            # ∂s/∂p = 1, ∂p/∂x = y, ∂m/∂z = [z > w]
s = gn.add(p, m, name="s")
f = gn.mul(2.0, s, name="f")

q = gn.add(x, y, name="q")                # x is read by q and by h: its gradient is the sum
h = gn.mul(x, q, name="h")                # of the two (x first: the drawing has no crossing)

outputs = [f]
feed = {"x": 3.0, "y": -4.0, "z": 2.0, "w": -1.0}
wrt = [x, y, z, w]
fan_out_feed = {"x": feed["x"], "y": feed["y"]}   # h reads only x and y


def pictures():
    """The slide's circuit (add distributes, mul swaps, max routes), and h, where the
    gradient of x is the sum over its two uses (fan-out adds)."""
    return {
        "06_gradient_patterns": render(f, feed=feed, grads=wrt),
        "06_gradient_patterns_fan_out": render(h, feed=fan_out_feed, grads=[x, y]),
    }


if __name__ == "__main__":
    for name, node, inputs, values in [("f", f, wrt, feed), ("h", h, [x, y], fan_out_feed)]:
        results = gn.evaluate([node, *gn.grad(node, inputs)], values)
        grads = ", ".join(f"d{name}/d{i.name} = {float(v):g}" for i, v in zip(inputs, results[1:]))
        print(f"{name} = {float(results[0]):g}; {grads}")   # f = -20; -8, 6, 2, 0. h = -3; 2, 3
    for path in save_pictures(pictures()):
        print("wrote", path)
