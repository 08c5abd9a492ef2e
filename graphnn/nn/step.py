"""The compiled training step: forward pass, loss, gradients (gn.grad) and the optimizer's update,
in one native call.

Parameters, optimizer slots and running statistics stay in preallocated arrays. Two sets exist:
the current one (`model.values` and `step.slots`) is an input of the call, the other receives
the new values through `out=`; then the two swap. No array is allocated per step, and nothing is
copied back: after a call, `model.values` holds the new parameters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from graphnn.autodiff import grad
from graphnn.compiler import Function, compile
from graphnn.ir import Node, input
from graphnn.nn.errors import ModelError
from graphnn.nn.evaluation import check_inputs
from graphnn.nn.losses import Loss, get_loss
from graphnn.nn.optimizers import Optimizer, get_optimizer

if TYPE_CHECKING:     # annotations only: graphnn.nn.model imports the training modules
    from graphnn.nn.model import Parameter, Sequential


@dataclass(frozen=True)
class StepGraph:
    """The training step's graph for one batch size: inputs in call order, then outputs.

    Inputs: x, target, dropout masks, buffers (parameters, slots, running statistics), the
    optimizer's scalars. Outputs: loss, model output, the new value of each buffer (in the
    order of `buffers`)."""

    inputs: tuple[Node, ...]
    outputs: tuple[Node, ...]
    masks: tuple[tuple[Node, float], ...]
    buffers: tuple[str, ...]
    scalars: tuple[str, ...]


@dataclass(frozen=True)
class Updates:
    """An optimizer's rule applied to parameters: the new value of each parameter and slot
    (by buffer name: `dense1_w`, `dense1_w_velocity`), the slots' input nodes and the scalar
    inputs (the learning rate, Adam's corrections)."""

    new: dict[str, Node]
    slots: dict[str, Node]
    scalars: dict[str, Node]


def optimizer_updates(optimizer: Optimizer, trainable: Sequence[Parameter],
                      grads: Sequence[Node], dtype: str) -> Updates:
    """The update nodes of `optimizer` for each trainable parameter and its gradient."""
    scalars = {k: input(k, (), dtype) for k in optimizer.hyperparameters(1)}
    new: dict[str, Node] = {}
    slot_nodes: dict[str, Node] = {}
    for p, g in zip(trainable, grads):
        slots = {s: input(f"{p.name}_{s}", p.shape, dtype) for s in optimizer.slots}
        new[p.name], new_slots = optimizer.update(p.node, g, slots, scalars)
        for s, node in new_slots.items():
            slot_nodes[f"{p.name}_{s}"] = slots[s]
            new[f"{p.name}_{s}"] = node
    return Updates(new, slot_nodes, scalars)


class TrainStep:
    """One compiled optimization step of `model` on a batch: call it with (x, y), get the loss.

    `y` may be targets of the output's shape or labels the loss understands (integer classes
    for softmax cross-entropy). A new batch size compiles a new specialization once.

    >>> import numpy as np
    >>> from graphnn import nn
    >>> model = nn.Sequential([nn.Dense(3)], input_shape=(4,), seed=0)
    >>> step = nn.TrainStep(model, "softmax_cross_entropy", nn.SGD(lr=0.5))
    >>> x = np.eye(4, dtype="float32")[:3]; y = np.array([0, 1, 2])
    >>> first = step(x, y)
    >>> for _ in range(20): last = step(x, y)
    >>> last < first
    True
    """

    def __init__(self, model: Sequential, loss: str | Loss, optimizer: str | Optimizer, *,
                 seed: int = 0) -> None:
        self.model = model
        self.loss = get_loss(loss)
        self.optimizer = get_optimizer(optimizer)
        self.rng = np.random.default_rng(seed)      # dropout masks
        self.count = 0                              # steps taken (Adam's t)
        self.slots = {f"{p.name}_{s}": np.zeros(p.shape, model.dtype)
                      for p in model.trainable for s in self.optimizer.slots}
        self._spare: dict[str, np.ndarray] = {}
        self._compiled: dict[int, _Compiled] = {}
        self.output: np.ndarray | None = None       # the model output of the last batch

    def graph(self, batch: int) -> StepGraph:
        """Declare the step for `batch` examples (what is compiled; tests evaluate it too)."""
        model, dtype = self.model, self.model.dtype
        forward = model.build(batch, training=True)
        target = input("target", (batch, *model.output_shape), dtype)
        trainable = model.trainable
        weights = [p.node for p in trainable if p.decay]
        loss = self.loss(forward.output, target, weights)
        grads = self.optimizer.clip(grad(loss, [p.node for p in trainable]))
        updates = optimizer_updates(self.optimizer, trainable, grads, dtype)
        new: dict[str, Node] = {**forward.build.updates, **updates.new}
        slot_nodes, scalars = updates.slots, updates.scalars
        buffers = tuple(new)
        nodes = {**{name: model.parameters[name].node for name in model.parameters}, **slot_nodes}
        inputs = (forward.x, target, *(m for m, _ in forward.build.masks),
                  *(nodes[name] for name in buffers), *scalars.values())
        outputs = (loss, forward.output, *(new[name] for name in buffers))
        return StepGraph(inputs, outputs, tuple(forward.build.masks), buffers,
                         tuple(scalars))

    def __call__(self, x: np.ndarray, y: np.ndarray) -> float:
        """One step on the batch (x, y); returns the batch's loss before the update."""
        compiled = self._specialization(x)
        target = self.loss.targets(y, self.model.output_shape, self.model.dtype)
        if target.shape[0] != x.shape[0]:
            raise ModelError(f"x has {x.shape[0]} examples but y has {target.shape[0]}")
        self.count += 1
        for name, value in self.optimizer.hyperparameters(self.count).items():
            compiled.scalars[name][...] = value
        for (_, rate), mask in zip(compiled.graph.masks, compiled.masks):
            _fill_mask(self.rng, mask, rate)
        current = self._buffers()
        spare = [self._spare_for(name, current[name]) for name in compiled.graph.buffers]
        compiled.function(x, target, *compiled.masks,
                          *(current[name] for name in compiled.graph.buffers),
                          *compiled.scalars.values(),
                          out=[compiled.loss, compiled.output, *spare])
        self._swap(compiled.graph.buffers, current, spare)
        self.output = compiled.output
        return float(compiled.loss)

    # -- buffers ------------------------------------------------------------------------------

    def _buffers(self) -> dict[str, np.ndarray]:
        return {**self.model.values, **self.slots}

    def _spare_for(self, name: str, current: np.ndarray) -> np.ndarray:
        spare = self._spare.get(name)
        if spare is None or spare.shape != current.shape or spare is current:
            spare = self._spare[name] = np.empty_like(current)
        return spare

    def _swap(self, names, current, spare) -> None:
        for name, old, new in zip(names, (current[n] for n in names), spare):
            self._spare[name] = old
            if name in self.slots:
                self.slots[name] = new
            else:
                self.model.values[name] = new

    def _specialization(self, x: np.ndarray) -> _Compiled:
        model = self.model
        check_inputs(model, x)
        batch = x.shape[0]
        found = self._compiled.get(batch)
        if found is None:
            found = self._compiled[batch] = _Compiled.of(self.graph(batch), model)
        return found


def _fill_mask(rng: np.random.Generator, mask: np.ndarray, rate: float) -> None:
    """mask <- 1 / (1 - rate) with probability 1 - rate, else 0; in place, no allocation."""
    rng.random(out=mask, dtype=mask.dtype)
    np.greater_equal(mask, rate, out=mask, casting="unsafe")
    mask *= 1.0 / (1.0 - rate)


@dataclass
class _Compiled:
    """A compiled step for one batch size, with its own output and mask arrays."""

    graph: StepGraph
    function: Function
    loss: np.ndarray
    output: np.ndarray
    masks: list[np.ndarray]
    scalars: dict[str, np.ndarray]

    @staticmethod
    def of(graph: StepGraph, model: Sequential) -> _Compiled:
        function = compile(list(graph.outputs), list(graph.inputs), name="train_step",
                           **model.compile_options)
        dtype = model.dtype
        return _Compiled(graph, function, np.empty((), dtype),
                         np.empty(graph.outputs[1].shape, dtype),
                         [np.empty(m.shape, dtype) for m, _ in graph.masks],
                         {k: np.empty((), dtype) for k in graph.scalars})
