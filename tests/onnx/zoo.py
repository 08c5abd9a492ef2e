"""Imported-model workloads built with onnx.helper, as other frameworks export them: an MLP, a
small CNN and a ResNet-style network (residual blocks, a strided block with a 1x1 projection,
a depthwise-separable block), each with a symbolic batch "N" and float32 weights in
initializers. Used by tests/onnx/test_zoo.py and by `python -m benchmarks --only onnx`.

`conv_layers(model)` lists the model's convolutions by kind (1x1, 3x3, strided, depthwise)
with their input shapes, and `single_conv` makes one of them a model of its own: the
benchmark times each kind alone to show where the time goes.
"""

from __future__ import annotations

import numpy as np
from onnx import ModelProto, TensorProto, helper, numpy_helper

FLOAT = TensorProto.FLOAT


class _Builder:
    """Nodes and initializers of one model, with He-initialized random weights."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.nodes: list = []
        self.weights: list = []
        self.count = 0

    def name(self, kind: str) -> str:
        self.count += 1
        return f"{kind}{self.count}"

    def weight(self, name: str, shape: tuple[int, ...], fan_in: int) -> str:
        value = self.rng.normal(0, np.sqrt(2.0 / fan_in), shape).astype(np.float32)
        self.weights.append(numpy_helper.from_array(value, name))
        return name

    def node(self, op: str, inputs: list[str], **attributes) -> str:
        out = self.name(op.lower())
        self.nodes.append(helper.make_node(op, inputs, [out], name=out, **attributes))
        return out

    def conv(self, x: str, cin: int, cout: int, kernel: int, stride: int = 1,
             groups: int = 1, relu: bool = True) -> str:
        """Conv (padding keeping the size at stride 1) + BatchNormalization (+ Relu)."""
        name = self.name("conv")
        w = self.weight(f"{name}.weight", (cout, cin // groups, kernel, kernel),
                        cin // groups * kernel * kernel)
        pad = kernel // 2
        y = self.node("Conv", [x, w], kernel_shape=[kernel, kernel], strides=[stride] * 2,
                      pads=[pad] * 4, group=groups)
        stats = [self.rng.uniform(0.5, 1.5, cout), self.rng.normal(0, 0.1, cout),
                 self.rng.normal(0, 0.1, cout), self.rng.uniform(0.5, 1.5, cout)]
        names = []
        for part, value in zip(("scale", "bias", "mean", "var"), stats):
            names.append(f"{name}.bn.{part}")
            self.weights.append(numpy_helper.from_array(value.astype(np.float32), names[-1]))
        y = self.node("BatchNormalization", [y, *names], epsilon=1e-5)
        return self.node("Relu", [y]) if relu else y

    def dense(self, x: str, cin: int, cout: int, relu: bool) -> str:
        name = self.name("dense")
        w = self.weight(f"{name}.weight", (cout, cin), cin)
        b = self.weight(f"{name}.bias", (cout,), cin)
        y = self.node("Gemm", [x, w, b], transB=1)
        return self.node("Relu", [y]) if relu else y

    def model(self, x_shape: list, y: str, classes: int) -> ModelProto:
        graph = helper.make_graph(
            self.nodes, "zoo", [helper.make_tensor_value_info("x", FLOAT, ["N", *x_shape])],
            [helper.make_tensor_value_info(y, FLOAT, ["N", classes])], self.weights)
        return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def mlp() -> ModelProto:
    """784 -> 256 -> 128 -> 10, ReLU between."""
    b = _Builder(0)
    h = b.dense("x", 784, 256, True)
    return b.model([784], b.dense(b.dense(h, 256, 128, True), 128, 10, False), 10)


def cnn() -> ModelProto:
    """(1, 28, 28): conv 3x3 16, pool, conv 3x3 32, pool, dense 10."""
    b = _Builder(1)
    h = b.node("MaxPool", [b.conv("x", 1, 16, 3)], kernel_shape=[2, 2], strides=[2, 2])
    h = b.node("MaxPool", [b.conv(h, 16, 32, 3)], kernel_shape=[2, 2], strides=[2, 2])
    return b.model([1, 28, 28], b.dense(b.node("Flatten", [h]), 32 * 7 * 7, 10, False), 10)


def _residual(b: _Builder, x: str, cin: int, cout: int, stride: int) -> str:
    """relu(x + conv3x3(relu(conv3x3(x)))), the shortcut a strided 1x1 conv when the shape
    changes."""
    h = b.conv(b.conv(x, cin, cout, 3, stride), cout, cout, 3, relu=False)
    shortcut = x if stride == 1 and cin == cout else b.conv(x, cin, cout, 1, stride, relu=False)
    return b.node("Relu", [b.node("Add", [h, shortcut])])


def resnet() -> ModelProto:
    """(3, 32, 32): a stem conv 3x3 16, a residual block at 16, a strided one to 32 (16x16)
    with a 1x1 projection, a depthwise-separable block (depthwise 3x3 + 1x1 to 64), global
    average pooling, dense 10."""
    b = _Builder(2)
    h = _residual(b, b.conv("x", 3, 16, 3), 16, 16, 1)
    h = _residual(b, h, 16, 32, 2)
    h = b.conv(b.conv(h, 32, 32, 3, groups=32), 32, 64, 1)
    h = b.node("Flatten", [b.node("GlobalAveragePool", [h])])
    return b.model([3, 32, 32], b.dense(h, 64, 10, False), 10)


MODELS = {"mlp": mlp, "cnn": cnn, "resnet": resnet}


def conv_kind(kernel: int, stride: int, groups: int) -> str:
    """depthwise, strided, 1x1 or 3x3 (in that order of precedence)."""
    if groups > 1:
        return "depthwise"
    if stride > 1:
        return "strided"
    return "1x1" if kernel == 1 else f"{kernel}x{kernel}"


def conv_layers(model: ModelProto, batch: int) -> list[tuple[str, ModelProto]]:
    """Each Conv of the model as (kind, a model of that Conv alone at its input shape)."""
    from onnx import shape_inference
    shaped = shape_inference.infer_shapes(_with_batch(model, batch))
    shapes = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
              for v in [*shaped.graph.value_info, *shaped.graph.input]}
    weights = {w.name: w for w in model.graph.initializer}
    layers = []
    for node in model.graph.node:
        if node.op_type != "Conv":
            continue
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        kind = conv_kind(attrs["kernel_shape"][0], attrs["strides"][0], attrs["group"])
        layers.append((kind, single_conv(node, shapes[node.input[0]], weights[node.input[1]])))
    return layers


def single_conv(node, x_shape: list[int], weight) -> ModelProto:
    """One Conv node (padding kernel // 2, as the zoo's) as a model over input "x"."""
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    conv = helper.make_node("Conv", ["x", weight.name], ["y"], name=node.name, **attrs)
    stride = attrs["strides"][0]
    y_shape = [x_shape[0], weight.dims[0], *(-(-d // stride) for d in x_shape[2:])]
    graph = helper.make_graph([conv], "conv", [helper.make_tensor_value_info("x", FLOAT,
                                                                              x_shape)],
                              [helper.make_tensor_value_info("y", FLOAT, y_shape)], [weight])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _with_batch(model: ModelProto, batch: int) -> ModelProto:
    copy = ModelProto()
    copy.CopyFrom(model)
    for value in [*copy.graph.input, *copy.graph.output]:
        value.type.tensor_type.shape.dim[0].dim_value = batch
    return copy
