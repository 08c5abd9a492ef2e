"""Which nodes of a graph being lowered get a buffer: the storage plan of lower.kernel.

Stage: lowering. Input: the graph's nodes in topological order, their users, the computed
outputs, the CompileOptions and the sums lower.accumulate found. Output: the nodes to store
(`StoragePlan.materialized`) and what computing each remaining node inside a loop costs
(`body_cost`, which bounds the loops lower.kernel groups).

A node is stored when it is an indexing op (reduction, matmul, conv, pooling: written by its
own loop) or an output, and an elementwise or layout node when inlining it would recompute
something costly: several users in different loop bodies, users on both sides of a GEMM or
reduction (barrier levels), a broadcast into a larger user, an operand an indexing op reads
many times or a Gemm cannot read from memory, or an expression past `max_inline_cost`. The
input of a convolution that copies each image into a zero-padded scratch (the direct kernels:
lower.conv.copies_input) is read once per element, by that copy, which computes it.
"""

from __future__ import annotations

import math

from codegen import loops
from codegen.cost import EXPENSIVE, inline_cost
from graphnn.ir import Node
from graphnn.lower.accumulate import inner_adds
from graphnn.lower.conv import copies_input
from graphnn.lower.gemm import folds_batch, memory_of
from graphnn.lower.pool import tiles
from graphnn.options import CompileOptions

# A node broadcast into a larger user is recomputed for every element of the user: from this
# cost on (more than one cheap op, which is what reloading it costs) it is stored instead.
_BROADCAST_STORE_COST = 2


def is_constant(node: Node) -> bool:
    """A source, or an op whose value its inputs' shapes give (size): nothing to compute."""
    return node.opdef.source or node.opdef.from_shapes


def reads(node: Node, keep_positions: bool = False) -> list:
    """The inputs whose values an op reads (not its `shape_only` inputs: broadcast_like's
    second, size's operand); with keep_positions, unread inputs appear as None."""
    ignored = node.opdef.shape_only
    if keep_positions:
        return [None if k in ignored else i for k, i in enumerate(node.inputs)]
    return [i for k, i in enumerate(node.inputs) if k not in ignored]



# layout ops whose reshape _untransposed leaves whole (stored, they would be a copy anyway)
_VIEWS = ("reshape", "transpose", "broadcast_to", "broadcast_like", "input", "constant")


def _untransposed(operand: Node) -> Node:
    """What to store for a matmul operand that is no matrix in memory: for xᵀ (its last two
    axes swapped) x itself, which the Gemm reads with the transpose flag, so that x and xᵀ
    used by two products (attention's k in q kᵀ and in dS k) are one buffer, not two."""
    if operand.op == "transpose" and operand.ndim >= 2 and operand.attrs["axes"] == \
            tuple(range(operand.ndim - 2)) + (operand.ndim - 1, operand.ndim - 2):
        return operand.inputs[0]
    if operand.op == "reshape" and operand.inputs[0].op not in _VIEWS:
        # a computed value flattened (a CNN's last pooling, bias and ReLU, flattened for its
        # dense layer): the value is stored in its own shape, which the Gemm reads reshaped
        # in place; stored flattened, each element would be computed at the flat index
        # taken apart again (a division per axis, for a per-channel bias)
        return operand.inputs[0]
    return operand


class StoragePlan:
    """Decides the buffers of one lowering (see the module docstring)."""

    def __init__(self, order: list[Node], users: dict[Node, list[Node]], outputs: list[Node],
                 options: CompileOptions, sums: dict, batch_sums: dict) -> None:
        self.order, self.users, self.outputs, self.options = order, users, outputs, options
        self.sums = sums                  # sum root -> the products accumulated in it
        self.batch_sums = batch_sums      # pruned here to the sums whose product folds
        self.body_cost: dict[Node, int] = {}         # the cost of computing a node in a loop
        self.unit_costs: dict[tuple, int] = {}       # (op, attributes, dtype) -> unit_cost

    def materialized(self) -> list[Node]:
        """The computed nodes that get a buffer, in topological order."""
        keep = {n for n in self.outputs if n.op not in ("input", "constant")}
        cost, level = self._costs(keep)
        for node in self.order:
            lowering = node.opdef.lowering
            if node.opdef.indexing is None or is_constant(node):
                continue
            once = lowering.reads_once or lowering.pieces is not None
            for source in reads(node):       # operands read many times by an indexing op
                if lowering.gemm == "matmul":
                    # a Gemm reads memory: a view that is no matrix in memory (heads merged
                    # by a transpose and a reshape) is copied once, or the product would be
                    # loops recomputing the view's index arithmetic for every term
                    if not memory_of(source, keep) and not is_constant(source):
                        keep.add(_untransposed(source))
                elif not once and cost[source] > 0 and not (
                        tiles(node) and cost[source] < EXPENSIVE) and not (
                        source is node.inputs[0] and copies_input(node, self.options)):
                    # (pooling passes, lower.pool, read each element a few times: a cheap
                    # producer, a bias and ReLU, is recomputed there, not stored; a direct
                    # convolution copies each image once into its padded scratch, which
                    # computes any producer there)
                    keep.add(source)
        self._keep_shared(keep, cost, level)
        self._cap(keep)
        for root, leaves in self.sums.items():   # the leaves' Gemms write the root's buffer
            keep.add(root)
            keep -= inner_adds(root, leaves)
        for total, product in list(self.batch_sums.items()):
            if total in keep and folds_batch(product, keep):
                keep.discard(product)         # computed by the sum's Gemm, never stored
            else:
                del self.batch_sums[total]
        return [n for n in self.order if n in keep]

    def _costs(self, keep: set[Node]) -> tuple[dict[Node, int], dict[Node, int]]:
        """Each node's inlined cost, and its barrier level: the most stored indexing ops
        (GEMMs, reductions) on a path to it. Loops run in topological order and an indexing
        op closes the current loop, so nodes at different levels are in different loops.
        Adds the indexing ops that are not fused into their user to `keep`."""
        cost: dict[Node, int] = {}
        level: dict[Node, int] = {}
        for node in self.order:
            op = node.opdef
            level[node] = max((level[i] + (i in keep and i.opdef.indexing is not None)
                               for i in reads(node)), default=0)
            if is_constant(node):
                cost[node] = 0
            elif op.compute is not None and self.fusable(node):
                cost[node] = self.options.fused_compute_cost    # computed in its user's loop
            elif op.indexing is not None:
                keep.add(node)
                cost[node] = 0
            else:
                # clamped: only small thresholds are asked of it below, and a chain that uses
                # each node twice (y = y * y) would double it at every step
                cost[node] = min((0 if op.view else self.unit_cost(node)) +
                                 sum(cost[i] for i in reads(node)),
                                 self.options.max_inline_cost)
        return cost, level

    def _keep_shared(self, keep: set[Node], cost: dict[Node, int],
                     level: dict[Node, int]) -> None:
        """Keep the nodes that inlining would recompute in several loops or elements. Users
        come before their operands: an inlined node is computed in the loops of its users
        (`computed_at`, by barrier level), a stored one at its own level."""
        computed_at: dict[Node, set[int]] = {}
        for node in reversed(self.order):
            users = self.users[node]
            at = set().union(*(computed_at[u] for u in users))
            if node not in keep and cost[node] > 0:
                # (an indexing user reads its operand as its rule says: the loop over
                # indexing ops above stored those read many times)
                broadcast = any(u.opdef.indexing is None and
                                math.prod(u.shape) > math.prod(node.shape) for u in users)
                # users that are elementwise over the same shape compute node[i] in the same
                # loop body (codegen emits an expression once per body), so sharing costs
                # nothing there...
                shared = len(users) > 1 and not all(
                    u.opdef.scalar is not None and u.shape == node.shape for u in users)
                # ...unless a GEMM or reduction lies between them: an LSTM's cell state c_t
                # (tanh(c_t) -> h_t -> h_t @ w_hh, then f * c_t after that product). Inlined,
                # it is recomputed in each loop, and a recurrence recomputes the chain of
                # earlier steps there.
                split = len(at) > 1
                # stored when recomputing repeats an expensive op (cost.EXPENSIVE) in another
                # loop, or more than a load's worth per element of a broadcast or a later loop
                if (shared and cost[node] >= EXPENSIVE) or \
                        ((split or broadcast and node.shape) and
                         cost[node] >= _BROADCAST_STORE_COST):
                    keep.add(node)
            computed_at[node] = at if node not in keep and at else {level[node]}

    def _cap(self, keep: set[Node]) -> None:
        """Keep the operands whose inlined expressions would make a node's cost more than
        `max_inline_cost` (the costliest first), and note in `body_cost` what computing each
        node in a loop costs (a node used twice in one expression counted twice: that is the
        size of the expression tree)."""
        tree: dict[Node, int] = {}          # what a user inlines: 0 for a node in memory
        cap = self.options.max_inline_cost
        for node in self.order:
            op = node.opdef
            if is_constant(node):
                own = 0
            elif op.indexing is not None:
                own = self.options.fused_compute_cost
            else:   # a view costs nothing to run, but it nests the index expression
                own = 1 if op.view else self.unit_cost(node)
            sources = reads(node)
            body = own + sum(tree[i] for i in sources)
            for source in sorted(dict.fromkeys(sources), key=lambda i: -tree[i]):
                if body <= cap or tree[source] == 0:
                    break
                keep.add(source)
                body -= tree[source] * sources.count(source)
                tree[source] = 0
            self.body_cost[node] = body
            tree[node] = 0 if node in keep else body

    def unit_cost(self, node: Node) -> int:
        """What computing one element of an elementwise node costs: codegen's cost model asked
        about the expression its scalar rule builds (operands not counted)."""
        key = (node.op, node.attr_items, node.dtype)       # operands have the node's dtype
        found = self.unit_costs.get(key)
        if found is None:
            operands = [loops.const(0, node.dtype) if i is None else
                        loops.Buffer(f"a{k}", i.dtype, ())[()]
                        for k, i in enumerate(reads(node, keep_positions=True))]
            found = self.unit_costs[key] = inline_cost(
                node.opdef.scalar(*operands, **node.attrs), operands)
        return found

    def fusable(self, node: Node) -> bool:
        """An indexing op (not a matmul or conv: those want a Gemm) whose only user is
        elementwise over its own shape is computed in that user's loop, never stored."""
        users = self.users[node]
        # a reduction over leading axes reads with a stride: stored, the schedule turns it
        # into a contiguous accumulation (codegen.schedule.interchange_reductions)
        strided = node.opdef.lowering.reads_once and node.inputs[0].ndim - 1 not in \
            node.attrs["axis"]
        # an op whose indices are checked runs in its own loop, after its checks
        return (node not in self.outputs and not node.opdef.lowering.gemm and not strided
                and node.opdef.lowering.pieces is None
                and node.opdef.lowering.checks is None
                and not tiles(node)            # its passes (lower.pool) need a buffer
                and len(users) == 1 and users[0].opdef.scalar is not None
                and users[0].shape == node.shape)
