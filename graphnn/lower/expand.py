"""Expanding composite ops (softmax, the losses, ...) into the primitives that define them.

Lowering works on primitives only; a composite with a `scalar` rule of its own (sub) is kept,
since one subtraction is a better kernel than an addition of a negation.
"""

from __future__ import annotations

from graphnn.ir import Node, apply, toposort


def expand_composites(outputs: list[Node]) -> list[Node]:
    """The outputs rebuilt with every composite that lacks a scalar rule replaced by its
    expansion (recursively), in the same order."""
    memo: dict[Node, Node] = {}

    def rebuild(root: Node, leaves: tuple[Node, ...] = ()) -> Node:
        for leaf in leaves:
            memo.setdefault(leaf, leaf)
        for node in toposort([root], leaves):
            if node in memo:
                continue
            if node.op in ("input", "constant"):
                memo[node] = node
                continue
            inputs = tuple(memo[i] for i in node.inputs)
            if node.opdef.composite and node.opdef.scalar is None:
                memo[node] = rebuild(node.opdef.expand(*inputs, **node.attrs), inputs)
            elif inputs == node.inputs:
                memo[node] = node
            else:
                memo[node] = apply(node.op, *inputs, name=node.name, **node.attrs)
        return memo[root]

    return [rebuild(node) for node in outputs]
