"""Sums of matrix products as fewer, deeper products: accumulated into one buffer, or one
product over a batch.

Stage: lowering. Input: a graph's nodes in topological order and their users. Output: the add
trees whose every leaf is a 2-D matmul read by nothing else: a recurrent weight's gradient,
sum over t of h_tᵀ dz_t (an LSTM of 50 steps has 50 such products). Lowered, each product is a
Gemm writing the sum's buffer, the first with beta = 0 and each later one with beta = 1
(C += A B), in the tree's topological order; the products and the adds between them get no
buffer of their own. Without it, every product was a temporary the size of the weight (50 x
256 kB for the benchmark's LSTM) and one loop added them all up at the end.

The sum is added up in the order the products are computed, one product at a time, as the add
chain autodiff builds ((p1 + p2) + p3 ...): each term is rounded as a product of its own and
then added to the partial sum (graphnn's GEMM adds its depth blocks of more than a few hundred
terms to C one after the other, so for such long products the rounding differs, within a
GEMM's usual error bound).

A sum over the batch axes of a batched matmul aᵀ b (the weight gradient of x @ w for a
(batch, t, d) input) is one product of depth batch * t over the operands' memory
(`batch_sums`, lower.gemm.batch_sum_stage): no product per batch item written to a
(batch, d, n) temporary to be summed afterwards.
"""

from __future__ import annotations

from collections.abc import Iterable

from graphnn.ir import Node


def product_sums(order: list[Node], users: dict[Node, list[Node]],
                 outputs: list[Node]) -> dict[Node, tuple[Node, ...]]:
    """{root of an add tree: its matmul leaves in topological order} for every tree of at
    least two products in which each leaf and inner add is read once, by the tree, and has the
    root's shape (no broadcasting); the trees are disjoint."""
    position = {node: k for k, node in enumerate(order)}
    sums: dict[Node, tuple[Node, ...]] = {}
    claimed: set[Node] = set()
    for root in reversed(order):          # a tree's root before its inner adds
        if root.op != "add" or root in claimed or root.dtype not in ("float32", "float64"):
            continue
        leaves = _leaves(root, users, set(outputs))
        if leaves is None:
            continue
        sums[root] = tuple(sorted(leaves, key=position.__getitem__))
        claimed |= inner_adds(root, leaves)
    return sums


def _leaves(root: Node, users: dict[Node, list[Node]], outputs: set[Node]) -> list[Node] | None:
    leaves, stack = [], [root]
    while stack:
        add = stack.pop()
        for term in add.inputs:
            if term.shape != root.shape or term.dtype != root.dtype or term in outputs or \
                    users[term] != [add]:
                return None
            if term.op == "add":
                stack.append(term)
            elif term.op == "matmul" and all(i.ndim == 2 for i in term.inputs):
                leaves.append(term)
            else:
                return None
    return leaves


def inner_adds(root: Node, leaves: Iterable[Node]) -> set[Node]:
    """The adds of a product sum between its root and its leaves (never computed)."""
    leaves = set(leaves)
    inner, stack = set(), [root]
    while stack:
        add = stack.pop()
        for term in add.inputs:
            if term not in leaves:
                inner.add(term)
                stack.append(term)
    return inner



def batch_sums(order: list[Node], users: dict[Node, list[Node]],
               outputs: list[Node]) -> dict[Node, Node]:
    """{sum over every batch axis: the batched matmul it alone reads}: the weight gradient of
    x @ w for x of shape (batch, t, d) is sum_b x_bᵀ g_b, a product of depth batch * t over
    the same memory (lower.gemm.batch_sum_stage), instead of a product per batch item written
    to a (batch, d, n) temporary and then summed. Whether the operands' layout allows it is
    known once buffers are chosen (the kernel's plan checks it)."""
    found = {}
    for node in order:
        if node.op != "matmul" or node.ndim < 3 or node in outputs or len(users[node]) != 1:
            continue
        (user,) = users[node]
        if user.op == "sum" and user.attrs["axis"] == tuple(range(node.ndim - 2)) and \
                min(i.ndim for i in node.inputs) == node.ndim:
            found[user] = node
    return found
