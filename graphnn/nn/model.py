"""Models: layers in order, their parameters (graph inputs with values), and the forward graph.

A model is declared once; `build(batch, training)` declares its forward pass as graph nodes for
one batch size and mode (dropout and batch normalization differ between training and
evaluation). Parameters are graph inputs named `<layer>_<parameter>` (`dense1_w`); their
values live in `model.values`, created from a seeded RNG when the layer first sees its input
shape, so the same seed gives the same network.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from graphnn.errors import did_you_mean, where
from graphnn.ir import Node, input, scope
from graphnn.nn.errors import ModelError
from graphnn.nn.init import Initializer, initializer

DTYPES = ("float32", "float64")
INPUT_DTYPES = (*DTYPES, "int32", "int64")     # integer inputs: token ids for nn.Embedding


@dataclass(frozen=True)
class Parameter:
    """One named array of a model: a graph input whose value lives in `model.values`.

    `trainable` arrays are updated by the optimizer from their gradient; the others (batch
    normalization's running statistics) by their layer's own rule. `decay` ones take part in
    L2 weight decay (weights do, biases and normalization parameters do not).
    """

    name: str
    node: Node
    layer: str
    trainable: bool = True
    decay: bool = True

    @property
    def shape(self) -> tuple[int, ...]:
        return self.node.shape


@dataclass
class Build:
    """One forward pass being declared: its batch size, its mode, and what its layers asked for
    besides parameters (dropout masks fed each step, new values of running statistics)."""

    model: Sequential
    batch: int
    training: bool
    masks: list[tuple[Node, float]] = field(default_factory=list)   # (input, drop rate)
    updates: dict[str, Node] = field(default_factory=dict)          # parameter name -> new value
    # (batch, time) 1.0 for real steps and 0.0 for padding, set by nn.Embedding(pad_id=...) and
    # read by the layers after it (attention, pooling) so that padded steps are left out
    padding: Node | None = None
    shapes: dict[str, tuple] = field(default_factory=dict)          # layer name -> output shape
    # recurrent layer name -> its hidden state at each time step (forward direction, in time
    # order), for teaching views such as nn.step_gradient_norms
    states: dict[str, list[Node]] = field(default_factory=dict)

    @property
    def dtype(self) -> str:
        return self.model.dtype

    def parameter(self, layer: Layer, name: str, shape: tuple[int, ...],
                  init: str | Initializer, fans: tuple[int, int] = (1, 1), *,
                  trainable: bool = True, decay: bool = True) -> Node:
        """The graph input of `layer`'s parameter `name`, created and initialized on first use."""
        return self.model.declare(layer, name, tuple(shape), init, fans, trainable, decay)

    def mask(self, layer: Layer, shape: tuple[int, ...], rate: float, part: str = "") -> Node:
        """A dropout mask input (0 or 1 / (1 - rate) per element), fed anew at every step;
        `part` tells apart the masks of one layer that has several (`encoder1_mask_attention`)."""
        node = input(f"{layer.name}_mask{'_' * bool(part)}{part}", shape, self.dtype)
        self.masks.append((node, rate))
        return node

    def update(self, parameter: str, value: Node) -> None:
        """Give a non-trainable parameter its value after this step (running statistics)."""
        self.updates[parameter] = value


@dataclass(frozen=True)
class Forward:
    """A declared forward pass: the data input `x` (batch first), the output, and its Build."""

    x: Node
    output: Node
    build: Build


class Layer(ABC):
    """A step of a model. Subclasses set `kind` (the prefix of automatic names: dense1, conv2)
    and implement `forward`, declaring parameters through the Build."""

    kind = "layer"

    def __init__(self, name: str | None = None) -> None:
        self.name = name

    @abstractmethod
    def forward(self, x: Node, build: Build) -> Node:
        """The layer's output for input x (batch first)."""

    def describe(self) -> str:
        """Short text for `model.summary()`: the layer's settings."""
        return ""

    def check_data(self, x: np.ndarray) -> None:
        """Raise a ModelError if `x`, a batch of the model's inputs, cannot be fed to this
        layer as the model's first layer (token ids out of range). Checked in Python before
        native code runs; most layers accept any array of the right shape and dtype."""
        return None

    def error(self, message: str) -> ModelError:
        """A ModelError naming this layer, and the user's line that declared it while it has
        no name yet (Sequential names layers: dense1, conv2)."""
        if self.name is None:
            return ModelError(f"{type(self).__name__} layer: {message}{where()}")
        return ModelError(f"layer {self.name!r} ({type(self).__name__}): {message}")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.describe()})"


class Sequential:
    """Layers applied in order to inputs of shape `(batch, *input_shape)`.

    Parameters are created and initialized when the model is declared, from `seed`.
    `compile_options` are passed to `gn.compile` for every function compiled for the model
    (training steps, predictions, evaluations): `threads`, `gemm`, `cpu`. For a network that is
    not a chain, subclass and override `forward`. `input_dtype` is the dtype of the data input
    x (the model's `dtype` unless given): "int64" (or "int32") for token ids fed to
    `nn.Embedding`.

    >>> from graphnn import nn
    >>> model = nn.Sequential([nn.Dense(16, "relu"), nn.Dense(3)], input_shape=(4,), seed=0)
    >>> [(p.name, p.shape) for p in model.parameters.values()]
    [('dense1_w', (4, 16)), ('dense1_b', (16,)), ('dense2_w', (16, 3)), ('dense2_b', (3,))]
    >>> model.output_shape
    (3,)
    """

    def __init__(self, layers: Sequence[Layer], input_shape: Sequence[int] | int, *,
                 dtype: str = "float32", seed: int = 0, name: str = "model",
                 compile_options: Mapping[str, Any] | None = None,
                 input_dtype: str | None = None) -> None:
        if dtype not in DTYPES:
            raise ModelError(f"dtype must be 'float32' or 'float64', got {dtype!r}"
                             f"{did_you_mean(dtype, DTYPES)}")
        if input_dtype is not None and input_dtype not in INPUT_DTYPES:
            raise ModelError(f"input_dtype must be one of {', '.join(INPUT_DTYPES)}, got "
                             f"{input_dtype!r}{did_you_mean(str(input_dtype), INPUT_DTYPES)}")
        self.layers = list(layers)
        self.input_shape = (input_shape,) if isinstance(input_shape, int) else \
            tuple(int(d) for d in input_shape)
        self.dtype = dtype
        self.input_dtype = input_dtype or dtype
        self.seed = seed
        self.name = name
        self.parameters: dict[str, Parameter] = {}
        self.values: dict[str, np.ndarray] = {}
        self.compiled: dict[Any, Any] = {}        # compiled functions, by purpose and batch
        self.compile_options = dict(compile_options or {})
        self._rng = np.random.default_rng(seed)
        self._name_layers()
        # declare both modes once, so every parameter exists (in a fixed order) from the start
        self.output_shape = self.build(2, training=True).output.shape[1:]
        self.build(2, training=False)

    def _name_layers(self) -> None:
        counts: dict[str, int] = {}
        seen: set[str] = set()
        for k, layer in enumerate(self.layers):
            if not isinstance(layer, Layer):
                raise ModelError(f"layers[{k}] is a {type(layer).__name__}, not a layer")
            counts[layer.kind] = counts.get(layer.kind, 0) + 1
            if layer.name is None:
                layer.name = f"{layer.kind}{counts[layer.kind]}"
            if not layer.name.isidentifier() or layer.name in seen:
                problem = "is used twice" if layer.name in seen else "is not an identifier"
                raise ModelError(f"layer name {layer.name!r} {problem}; names become parts "
                                 "of parameter names (dense1_w)")
            seen.add(layer.name)

    # -- declaring --------------------------------------------------------------------------

    def forward(self, x: Node, build: Build) -> Node:
        """The layers applied in order, each under its name as a graph scope."""
        for layer in self.layers:
            with scope(layer.name):
                x = layer.forward(x, build)
            build.shapes[layer.name] = x.shape[1:]
        return x

    def build(self, batch: int, training: bool) -> Forward:
        """Declare the forward pass for `batch` examples, in training or evaluation mode."""
        x = input("x", (batch, *self.input_shape), self.input_dtype)
        build = Build(self, batch, training)
        return Forward(x, self.forward(x, build), build)

    def declare(self, layer: Layer, name: str, shape: tuple[int, ...],
                init: str | Initializer, fans: tuple[int, int], trainable: bool,
                decay: bool) -> Node:
        """The input node of a parameter; created with its initial value the first time."""
        full = f"{layer.name}_{name}"
        found = self.parameters.get(full)
        if found is not None:
            if found.shape != shape:
                raise layer.error(f"parameter {full!r} was declared with shape {found.shape} "
                                  f"and is now asked for with shape {shape}")
            return found.node
        value = np.asarray(initializer(init)(self._rng, shape, fans[0], fans[1], self.dtype))
        if value.shape != shape or value.dtype != np.dtype(self.dtype):
            raise layer.error(f"the initializer of {full!r} returned a {value.dtype} array of "
                              f"shape {value.shape}; expected {self.dtype} {shape}")
        self.parameters[full] = Parameter(full, input(full, shape, self.dtype), layer.name,
                                          trainable, decay)
        self.values[full] = np.array(value, order="C")
        return self.parameters[full].node

    @property
    def trainable(self) -> list[Parameter]:
        """The parameters the optimizer updates, in declaration order."""
        return [p for p in self.parameters.values() if p.trainable]

    def check_data(self, x: np.ndarray) -> None:
        """What the first layer requires of the data beyond shape and dtype (`Layer.check_data`:
        token ids within the vocabulary), checked before any native code runs on it."""
        if self.layers:
            self.layers[0].check_data(x)

    # -- values -----------------------------------------------------------------------------

    def get_parameters(self) -> dict[str, np.ndarray]:
        """Copies of every parameter's current value (`values` holds the live arrays, which a
        training step may reuse)."""
        return {name: value.copy() for name, value in self.values.items()}

    def set_parameters(self, arrays: Mapping[str, np.ndarray], source: str = "arrays") -> None:
        """Copy values into the model's arrays, checking names, shapes and dtypes first."""
        from graphnn.nn.saving import check_arrays
        check_arrays(self, arrays, source)
        for name, value in arrays.items():
            np.copyto(self.values[name], value)

    # -- using ------------------------------------------------------------------------------

    def predict(self, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """The model's output for every example of x (evaluation mode, compiled)."""
        from graphnn.nn.evaluation import predict
        return predict(self, x, batch_size)

    def evaluate(self, x: np.ndarray, y: np.ndarray, loss: Any,
                 batch_size: int = 256) -> tuple[float, float | None]:
        """(mean loss, accuracy) over the examples (accuracy None for regression losses)."""
        from graphnn.nn.evaluation import evaluate
        return evaluate(self, x, y, loss, batch_size)

    def fit(self, x: np.ndarray, y: np.ndarray, **options: Any) -> Any:
        """Train on (x, y); see `graphnn.nn.fit` for the options. Returns the History."""
        from graphnn.nn.fit import fit
        return fit(self, x, y, **options)

    def save(self, path: str) -> None:
        """Write every parameter to a .npz file (no pickle)."""
        from graphnn.nn.saving import save
        save(self, path)

    def load(self, path: str) -> None:
        """Read parameters saved from a model of the same architecture."""
        from graphnn.nn.saving import load
        load(self, path)

    def save_onnx(self, path: str, batch: int | None = None, opset: int | None = None) -> Any:
        """Write the inference graph as an ONNX model, the parameters as its initializers
        (input "x", output "y", each layer's output named after the layer), for any batch size
        (a symbolic "batch" dimension) or for `batch` examples; see docs/onnx.md. Returns the
        path."""
        from graphnn.onnx.exporter import DEFAULT_OPSET, save_model
        return save_model(self, path, batch=batch, opset=opset or DEFAULT_OPSET)

    def summary(self) -> str:
        """A table of layers, output shapes and parameter counts."""
        lines = [f"{'layer':<12} {'type':<24} {'output':<18} {'parameters':>10}"]
        shapes = self.build(1, training=False).build.shapes
        for layer in self.layers:
            count = sum(int(np.prod(p.shape)) for p in self.parameters.values()
                        if p.layer == layer.name and p.trainable)
            kind = f"{type(layer).__name__}({layer.describe()})"
            lines.append(f"{layer.name:<12} {kind:<24} {str(shapes.get(layer.name, '?')):<18} "
                         f"{count:>10}")
        total = sum(int(np.prod(p.shape)) for p in self.trainable)
        lines.append(f"{'total':<56} {total:>10}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<Sequential {self.name}: {len(self.layers)} layers, input {self.input_shape}>"

