"""Backpropagation as a sequence of steps: the frames of a step-through, and their words.

Stage: rendering. Input: a scene and its `Numbers` (values, gradients, edge flows). Output:
`Frame`s, forward then backward, each saying which numbers of the drawing are shown by then,
which node or edge is the current step, and the step as a formula in words.

- The inputs' values are given: they appear together in the first frame.
- Forward: one op node per frame, in topological order: "q = x + y = -2 + 5 = 3".
- Backward: the seed ∂f/∂f = 1, then one edge per frame, consumers in reverse topological
  order and each consumer's operands in order: the gradient flowing along that edge is the
  upstream gradient times the local derivative, "∂f/∂q = z = -4; upstream 1 × local -4 = -4".
  A node used more than once receives one such frame per use, and the words add up its
  gradient as it accumulates; its sum appears on the drawing with its last use.

The arithmetic in the words is right as written: a product (or sum) is shown with as many
decimals as make the numbers shown multiply (or add) to the result shown. 0.2 × -2 is -0.4,
so a flow of -0.393 reads "upstream 0.1966 × local -2 = -0.3932", never "0.2 × -2 = -0.39".
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from graphnn.ir import Node
from graphnn.render import labels
from graphnn.render.annotate import Numbers
from graphnn.render.scene import Edge, Scene
from graphnn.render.style import Item
from graphnn.render.symbols import derivative, fold, substitute, symbol


@dataclass(frozen=True)
class Frame:
    """One step: `phase` is "inputs", "forward", "seed" or "backward"; `node` the display
    name of the node whose value or gradient appears; `shown` every number drawn by now;
    `focus` the DOT ids of the current node or edge; `words` the step as a formula."""

    index: int
    phase: str
    node: str
    words: str
    shown: frozenset[Item]
    focus: frozenset[str]


class _Words:
    """Numbers and formulas of one scene as text."""

    def __init__(self, scene: Scene, numbers: Numbers, digits: int, output: str) -> None:
        self.scene, self.numbers, self.digits, self.output = scene, numbers, digits, output

    def number(self, value: object, digits: int | None = None) -> str:
        """A scalar as the lecture says it: -4, 0.2, 0.73 (no trailing zeros)."""
        text = labels.format_number(float(np.asarray(value)),
                                    self.digits if digits is None else digits)
        if "." in text and "e" not in text:
            text = text.rstrip("0").rstrip(".")
        return "0" if text in ("-0", "") else text

    def arithmetic(self, operands: Sequence[object], combine: Callable[[list[float]], float],
                   result: object) -> tuple[list[str], str]:
        """Operands and result as text that reads right (labels.readable_arithmetic)."""
        return labels.readable_arithmetic([float(np.asarray(v)) for v in operands], combine,
                                          float(np.asarray(result)), self.number, self.digits)

    def value(self, node: Node) -> str:
        value = self.numbers.values[node]
        if node.shape == ():
            return self.number(value)
        first = labels.value_lines(value, self.digits)[0]
        return f"{labels.shape_text(node.shape)} {first}"

    def name(self, node: Node) -> str:
        return self.scene.names.get(node, node.op)

    def forward(self, node: Node) -> str:
        """"q = x + y = -2 + 5 = 3" for a scalar gate; "h = relu(add): [4×5] mean ..." else."""
        shown = [(i, k) for k, i in enumerate(node.inputs)
                 if not (fold(node) and k == fold(node).position)]
        names = [self.name(i) for i, _ in shown]
        scalar = node.shape == () and all(i.shape == () for i, _ in shown)
        # a negative operand after the first in parentheses: 3 × (-4)
        values = [self.number(self.numbers.values[i]) if scalar else self.name(i)
                  for i, _ in shown]
        values = values[:1] + [_operand(v) for v in values[1:]]
        expression = self.expression(node, names)
        if not scalar:
            return f"{self.name(node)} = {expression}: {self.value(node)}"
        evaluated = self.expression(node, values)
        return f"{self.name(node)} = {expression} = {evaluated} = {self.value(node)}"

    @staticmethod
    def expression(node: Node, operands: list[str]) -> str:
        folded = fold(node)
        if folded:
            if "x" in folded.symbol:
                return substitute(folded.symbol, {"x": operands[0]})
            return f"{operands[0]} {folded.symbol[0]} {_operand(folded.symbol[1:])}"
        if node.opdef.labels.written and len(operands) == 1:
            return substitute(node.opdef.labels.written, {"x": operands[0]})    # -(z)
        if node.opdef.labels.infix and len(operands) == 2:
            return f"{operands[0]} {node.opdef.symbol} {operands[1]}"
        return f"{symbol(node)}({', '.join(operands)})"

    def backward(self, edge: Edge, earlier: list[Edge], uses: int) -> str:
        """The gradient flowing along one edge; for a source used more than once, its sum
        over this use and the `earlier` ones."""
        key = (edge.consumer, edge.position)
        text = derivative(edge.consumer, edge.position, self.scene.names,
                          gradient_of=self.output)
        source = self.name(edge.source)
        gradient = f"∂{self.output}/∂{source}"
        if key not in self.numbers.local:
            flow = labels.value_lines(self.numbers.flow[key], self.digits)[0]
            words = (f"{text.symbol} = {text.formula} with g = ∂{self.output}/"
                     f"∂{self.name(edge.consumer)}; this use gives {flow}")
        else:
            (up, local), down = self.arithmetic(
                [self.numbers.grads[edge.consumer], self.numbers.local[key]], math.prod,
                self.numbers.flow[key])
            head = f"{text.symbol} = {text.formula}"
            head += "" if text.formula == local else f" = {local}"
            words = f"{head}; upstream {up} × local {local} = {down}"
            if uses < 2 and text.symbol != gradient:
                words += f" = {gradient}"
        if uses < 2:
            return words
        flows = [self.numbers.flow[(e.consumer, e.position)] for e in [*earlier, edge]]
        so_far = "in all" if len(flows) == uses else "so far"
        if edge.source.shape != ():
            return f"{words}; {source} is used {uses} times: {len(flows)} summed {so_far}"
        values = [float(np.asarray(f)) for f in flows]
        shown, total = self.arithmetic(values, sum, sum(values))
        sum_text = f"{' + '.join(_operand(t) for t in shown)} = {total}" if len(flows) > 1 \
            else total
        return f"{words}; {source} is used {uses} times: {gradient} {so_far} = {sum_text}"

    def uses(self, node: Node) -> list[Edge]:
        """The drawn edges leaving `node` that carry gradient to it."""
        return [e for e in self.scene.fan_out(node)
                if (e.consumer, e.position) in self.numbers.flow]


def _operand(text: str) -> str:
    return f"({text})" if text.startswith("-") else text


def frames(scene: Scene, numbers: Numbers, digits: int = 2, output: str = "f") -> list[Frame]:
    """The step-through of a scene with values (and gradients, when numbers has them)."""
    words = _Words(scene, numbers, digits, output)
    ids = scene.ids
    shown: set[Item] = set()
    result: list[Frame] = []

    def add(phase: str, node: Node, text: str, new: list[Item], focus: set[str]) -> None:
        shown.update(new)
        result.append(Frame(len(result), phase, words.name(node), text, frozenset(shown),
                            frozenset(focus)))

    drawn = [n for n in scene.drawn if n in numbers.values]
    leaves = [n for n in drawn if not n.inputs]
    given = ", ".join(f"{words.name(n)} = {words.value(n)}" for n in leaves if n.op == "input")
    if leaves:
        add("inputs", leaves[0], f"given: {given}" if given else "given: the constants",
            [("value", n) for n in leaves], {ids[n] for n in leaves if n.op == "input"})
    for node in drawn:
        if node.inputs:
            add("forward", node, words.forward(node), [("value", node)], {ids[node]})
    root = scene.outputs[0]
    if not numbers.grads or root not in numbers.grads:
        return result
    add("seed", root, f"∂{output}/∂{output} = 1: the gradient of the output with respect to "
        "itself starts the backward pass", [("grad", root)], {ids[root], "o0"})
    index = {(e.consumer, e.position): k for k, e in enumerate(scene.edges)}
    done: dict[Node, list[Edge]] = {}
    for consumer in reversed(scene.nodes):
        for edge in scene.edges:
            key = (edge.consumer, edge.position)
            if edge.consumer is not consumer or key not in numbers.flow:
                continue
            uses = words.uses(edge.source)
            earlier = done.setdefault(edge.source, [])
            text = words.backward(edge, earlier, len(uses))
            earlier.append(edge)
            new: list[Item] = [("local", *key), ("flow", *key)]
            if len(earlier) == len(uses):
                new.append(("grad", edge.source))
            add("backward", edge.source, text, new, {f"e{index[key]}", ids[edge.source]})
    return result
