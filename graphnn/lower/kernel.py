"""Lowering: a Graph of primitives -> one `codegen.loops.Kernel`.

Stage: lowering. Input: a Graph (composite ops are expanded first). Output: `Lowered`, the
Kernel plus how its buffers map to graph inputs, constant arrays and outputs.

Which nodes get memory is the main decision (lower.storage makes it):
- indexing ops (reductions, matmul, conv, pooling) write a buffer; so do graph outputs;
- elementwise and layout nodes are inlined into their consumers' loops, except when inlining
  would recompute something costly (a node with several users, a node whose users are
  computed on both sides of a product or reduction, a node broadcast into a larger consumer,
  an operand that an indexing op reads many times or a Gemm cannot read from memory);
- consecutive elementwise nodes of one shape share one loop nest (one pass over memory), and a
  member used by a later member of the same loop is reused from the register, not reloaded;
- the work per loop is bounded, so compile time grows linearly with the graph: an inlined
  expression stops growing at `max_inline_cost` (the node gets a buffer) and a loop's members
  at `max_group_cost` (the next member starts a new loop), both CompileOptions fields, in the
  units of codegen's cost model (codegen.cost.inline_cost of each op's scalar rule). LLVM's
  optimizer is superlinear in the size of a function, and codegen splits a long kernel into
  functions at statement boundaries.
matmul becomes a `Gemm` (BLAS or codegen's loops) on operands in memory, transposes included;
sums of products become fewer, deeper Gemms (lower.accumulate).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import numpy as np

from codegen import loops
from codegen.native.runtime import MAX_THREADS
from codegen.stmts import packed_size
from graphnn.graph import Graph
from graphnn.ir import Node, toposort
from graphnn.lower.accumulate import batch_sums, product_sums
from graphnn.lower.conv import conv_stage, epilogues, pooled, worth_it
from graphnn.lower.epilogue import fuse_epilogues
from graphnn.lower.expand import expand_composites
from graphnn.lower.gemm import (
    GemmOperands,
    b_operand,
    batch_sum_stage,
    gemm_stage,
    pack_stage,
    packed_value,
)
from graphnn.lower.pool import pool_stage
from graphnn.lower.storage import StoragePlan, reads
from graphnn.options import CompileOptions

# An indexing op's loop is split among threads by its outputs, so a parallel one needs outputs
# to split: at least as many as the most threads a loop runs on (the runtime's MAX_THREADS).
_PARALLEL_MIN_OUTPUTS = MAX_THREADS


@dataclass(frozen=True)
class Lowered:
    kernel: loops.Kernel
    inputs: tuple[Node, ...]             # graph inputs, in kernel argument order
    constants: tuple[np.ndarray, ...]    # constant arrays, passed after the inputs
    outputs: tuple[Node, ...]            # computed output nodes, in kernel output order
    results: tuple[Node, ...]            # each graph output after expansion (may be an input,
                                         # a constant, or one of `outputs`)


class _Conflict(Exception):
    """A node cannot join the current loop: it reads a member at another index."""


class _NotFlat(Exception):
    """A loop body cannot use one flat index: some operand broadcasts or is permuted."""


_FLAT = "flat"     # index marker: the group's single flat loop variable


class Lowering:
    """Builds the kernel for one graph; one instance per `lower` call."""

    def __init__(self, outputs: list[Node], inputs: tuple[Node, ...],
                 options: CompileOptions) -> None:
        self.outputs = outputs
        self.options = options
        self.order = toposort(outputs)
        self.inputs = inputs
        self.users: dict[Node, list[Node]] = {n: [] for n in self.order}
        for node in self.order:
            for source in reads(node):
                self.users[source].append(node)
        self.buffers: dict[Node, loops.Buffer] = {}
        self.constants: list[np.ndarray] = []
        self.inline: dict[Node, loops.Expr] = {}     # group members visible in registers
        self.scratches: list[loops.Buffer] = []      # temps that are no graph node (im2col)
        self.packed: dict[tuple, loops.Buffer] = {}  # constant matmul operands, prepacked
        # input matmul operands read by several products in one layout, (node, transposed,
        # shape) -> a scratch buffer packed once per call (see _pack_shared_inputs)
        self.packed_inputs: dict[tuple, loops.Buffer] = {}
        self.group_index: tuple | str | None = None
        self.flat_var: loops.Expr | None = None
        self.body_cost: dict[Node, int] = {}         # the cost of computing a node in a loop
        self.built: dict[tuple, loops.Expr] | None = None   # expressions of the current body
        self.check_codes = 0                         # index checks emitted so far
        # sums of products accumulated in the sum's buffer (lower.accumulate): root -> leaves
        self.sums = product_sums(self.order, self.users, outputs)
        self.sum_of = {leaf: root for root, leaves in self.sums.items() for leaf in leaves}
        # sums over the batch of a batched matmul, as one deeper product: sum -> its matmul
        self.batch_sums = batch_sums(self.order, self.users, outputs)
        # conv2d -> the elementwise node it computes too, writing its buffer (lower.conv)
        self.epilogues: dict[Node, Node] = {}
        # conv2d -> the max pooling it computes too, writing its buffer (lower.conv.pooled)
        self.pooled: dict[Node, Node] = {}

    def materialized(self) -> list[Node]:
        """The computed nodes that get a buffer, in topological order (lower.storage)."""
        plan = StoragePlan(self.order, self.users, self.outputs, self.options, self.sums,
                           self.batch_sums)
        keep = plan.materialized()
        self.body_cost = plan.body_cost
        return keep

    # -- element expressions -------------------------------------------------------------------

    def element(self, node: Node, index) -> loops.Expr:
        """The loop expression for node[index] (index: a tuple of i64 exprs, or _FLAT)."""
        return self._expression(node, index, defining=False)

    def define(self, node: Node, index) -> loops.Expr:
        """The expression computing node[index] from its inputs (ignoring its own buffer)."""
        return self._expression(node, index, defining=True)

    def _expression(self, root: Node, index, defining: bool) -> loops.Expr:
        # An explicit stack, not recursion: an inlined chain is as deep as the graph. Each
        # (node, index) is built once per loop body, so a subexpression shared by two members
        # of a loop is one object (equal objects would be compared node by node downstream).
        done: dict[tuple, loops.Expr] = self.built if self.built is not None else {}
        stack = [(root, index)]
        while stack:
            node, at = stack[-1]
            if (node, at) in done:
                stack.pop()
                continue
            found = None if defining and node is root else self._stored(node, at)
            operands = self._operands(node, at) if found is None else ()
            missing = [o for o in operands if isinstance(o, tuple) and o not in done]
            if missing:
                stack.extend(reversed(missing))
                continue
            stack.pop()
            if found is None:
                args = [done[o] if isinstance(o, tuple) else o for o in operands]
                found = self._combine(node, at, args)
            if node is root:
                return found      # not kept: a member is read from its register afterwards
            done[(node, at)] = found
        raise AssertionError("unreachable: the root returns")

    def _stored(self, node: Node, index) -> loops.Expr | None:
        """node[index] when it is in a register of the current loop or in memory."""
        if node in self.inline:
            if index != self.group_index:
                raise _Conflict(node)
            return self.inline[node]
        if node in self.buffers:
            return self._load(node, index)
        return None

    def _operands(self, node: Node, index) -> list:
        """What node[index] is computed from: (input, index) pairs, or ready expressions."""
        op = node.opdef
        if node.op == "constant" or op.from_shapes:
            return []
        if index == _FLAT:
            return self._flat_operands(node)
        if op.indexing is not None:
            return []
        if op.view is not None:
            (source,) = node.inputs
            return [(source, tuple(op.view(index, source.shape, **node.attrs)))]
        return [(i, _broadcast_index(index, node.shape, i.shape)) if i is not None
                else loops.const(0, node.dtype) for i in reads(node, keep_positions=True)]

    def _flat_operands(self, node: Node) -> list:
        if node.opdef.scalar is None:
            raise _NotFlat(node)
        args: list = []
        for source in reads(node, keep_positions=True):
            if source is None:
                args.append(loops.const(0, node.dtype))
            elif source.shape == node.shape:
                args.append((source, _FLAT))
            elif source.shape == () or math.prod(source.shape) == 1:
                args.append((source, (0,) * len(source.shape)))
            else:
                raise _NotFlat(source)
        return args

    def _combine(self, node: Node, index, args: list) -> loops.Expr:
        op = node.opdef
        if node.op == "constant":
            return loops.const(node.value.item(), node.dtype)   # scalars; arrays have buffers
        if op.from_shapes:
            return op.compute((), *(_Operand(self, i) for i in node.inputs), **node.attrs)
        if op.compute is not None:        # an indexing op fused into its user's loop
            operands = [_Operand(self, i) for i in node.inputs]
            return op.compute(tuple(index), *operands, **node.attrs)
        if op.view is not None:
            return args[0]
        return op.scalar(*args, **node.attrs)

    def _load(self, node: Node, index) -> loops.Expr:
        buffer = self.buffers[node]
        if index == _FLAT:
            return buffer.flat[self.flat_var]
        return buffer[tuple(index)]

    # -- buffers -------------------------------------------------------------------------------

    def declare(self, computed: list[Node]) -> tuple[list, list, list]:
        """Buffers for inputs, constant arrays, outputs and temporaries (in that order)."""
        ins = []
        for k, node in enumerate(self.inputs):
            buf = loops.Buffer(f"in{k}_{ascii_name(node.name)}", node.dtype, node.shape)
            self.buffers[node] = buf
            ins.append(buf)
        for node in self.order:
            if node.op == "constant" and node.shape != ():
                self.buffers[node] = buf = loops.Buffer(f"c{len(self.constants)}", node.dtype,
                                                        node.shape)
                self.constants.append(node.value)
                ins.append(buf)
        outs = []       # in the order of the graph's outputs, which the caller relies on
        for k, node in enumerate(self.outputs):
            self.buffers[node] = buf = loops.Buffer(f"out{k}", node.dtype, node.shape)
            outs.append(buf)
        temps = []
        self.epilogues = epilogues(computed, self.users, self.outputs)
        for node in computed:
            if node not in self.buffers and node not in self.sum_of and \
                    node not in self.epilogues:
                self.buffers[node] = buf = loops.Buffer(f"t{len(temps)}", node.dtype, node.shape)
                temps.append(buf)
        for leaf, root in self.sum_of.items():
            self.buffers[leaf] = self.buffers[root]
        for conv, last in self.epilogues.items():
            self.buffers[conv] = self.buffers[last]
        self.pooled = pooled(computed, self.users, self.outputs, self.buffers.get, self.options)
        for conv in self.pooled:        # never stored: its buffer only gives its shape
            temps.remove(self.buffers[conv])
        return ins, outs, temps

    def packed_constant(self, node: Node, transposed: bool, shape: tuple[int, int]) \
            -> loops.Buffer:
        """A constant input holding `node` (a constant matrix operand) packed for our GEMM
        (lower.gemm.packed_value), declared after every other constant; one per layout."""
        key = (node, transposed, shape)
        if key not in self.packed:
            value = packed_value(node, transposed, shape)
            self.packed[key] = loops.Buffer(f"c{len(self.constants)}", node.dtype, value.shape)
            self.constants.append(value)
        return self.packed[key]

    def finish(self, node: Node, value: loops.Expr, n, o) -> loops.Expr:
        """What a conv2d's stage stores for its element `value` of image n, channel o: the
        value, or with an epilogue (self.epilogues) the last node's element computed from it
        (whose other operands do not vary along rows and columns: lower.conv.epilogues)."""
        last = self.epilogues.get(node)
        if last is None:
            return value
        # as its users index it: a dimension of size 1 (one image, one channel) at 0
        index = _broadcast_index((n, o, 0, 0), node.shape, node.shape)
        self.inline, self.group_index, self.built = {node: value}, index, {}
        try:
            return self.define(last, index)
        finally:
            self.inline, self.group_index, self.built = {}, None, None

    def _pack_shared_inputs(self, computed: list[Node]) -> list[loops.Stmt]:
        """Loops packing each input matrix that two or more products read as B in one layout
        (an LSTM's recurrent weight, read by every step) into a scratch buffer for our GEMM
        (lower.gemm.pack_stage), once per call, at the kernel's start: those products read
        it there (self.packed_inputs) instead of packing it each. A B read once is packed by
        its own product, as before."""
        readers = Counter(b_operand(self, product) for product in
                          {self.batch_sums.get(node, node): None for node in computed}
                          if product.opdef.lowering.gemm == "matmul")
        stmts: list[loops.Stmt] = []
        for key, count in readers.items():
            if key is not None and count >= 2:
                node, transposed, shape = key
                buffer = self.scratch(loops.normalize_dtype(node.dtype), (packed_size(*shape),))
                self.packed_inputs[key] = buffer
                stmts += pack_stage(buffer, self.buffers[node], transposed, shape)
        return stmts

    # -- stages --------------------------------------------------------------------------------

    def stages(self, computed: list[Node]) -> list[loops.Stmt]:
        body = self._pack_shared_inputs(computed)
        group: list[Node] = []
        group_cost = 0
        absorbed = set(self.epilogues.values()) | set(self.pooled.values())
        for node in computed:
            if node in self.sums or node in absorbed:   # computed by Gemms, by a conv2d
                continue
            if node.opdef.indexing is not None:
                body += self._close(group)
                group = []
                body += self._indexing_stage(node)
            elif group and group[0].shape == node.shape and \
                    group_cost + self.body_cost[node] <= self.options.max_group_cost and \
                    self._joins(group, node):
                group.append(node)
                group_cost += self.body_cost[node]
            else:
                body += self._close(group)
                group, group_cost = [node], self.body_cost[node]
        return body + self._close(group)

    def _joins(self, group: list[Node], node: Node) -> bool:
        """Whether `node` can be computed in the loop of `group` (each member was checked when
        it joined, and a member's expression depends only on the members before it)."""
        index = _names(len(node.shape))
        self.inline, self.group_index = {m: self._load(m, index) for m in group}, index
        try:
            self.define(node, index)
            return True
        except _Conflict:
            return False
        finally:
            self.inline, self.group_index = {}, None

    def _group_body(self, group: list[Node], index) -> list[loops.Stmt]:
        """Stores of every member at `index`; later members read earlier ones back at the same
        element (LLVM forwards the stored value, so this costs no memory traffic)."""
        self.inline, self.group_index, self.built = {}, index, {}
        stmts = []
        try:
            for node in group:
                value = self.define(node, index)
                target = self._load(node, index)
                stmts.append(loops.store(target.buffer, target.index, value))
                self.inline[node] = target
        finally:
            self.inline, self.group_index, self.built = {}, None, None
        return stmts

    def _close(self, group: list[Node]) -> list[loops.Stmt]:
        if not group:
            return []
        shape = group[0].shape
        size = math.prod(shape)
        parallel = size >= self.options.parallel_elements
        if not shape:
            return self._group_body(group, ())
        var = loops.Var("i")
        self.flat_var = var
        try:       # one flat loop vectorizes best; it needs every operand at the same element
            return [loops.Loop(var, size, tuple(self._group_body(group, _FLAT)), parallel)]
        except _NotFlat:
            pass
        finally:
            self.flat_var = None
        return [loops.loop_nest(shape, lambda *index: self._group_body(group, tuple(index)),
                                parallel=parallel)]

    def scratch(self, dtype: str, shape: tuple[int, ...]) -> loops.Buffer:
        """A temporary buffer for a lowering's own use (in the kernel's workspace)."""
        buffer = loops.Buffer(f"s{len(self.scratches)}", dtype, shape)
        self.scratches.append(buffer)
        return buffer

    def buffer_of(self, node: Node) -> loops.Buffer | None:
        return self.buffers.get(node)

    def operand(self, node: Node) -> _Operand:
        """node's elements as loop expressions, wherever they come from (its buffer, or its
        inlined expression): what a compute rule or a convolution's padded copy indexes."""
        return _Operand(self, node)

    def _checks(self, node: Node) -> list[loops.Stmt]:
        """A loop per index operand of `node`, returning a code from the kernel (numbered in
        the kernel, from 1) at the first index outside [-size, size)."""
        rule = node.opdef.lowering.checks
        if rule is None:
            return []
        stmts = []
        for position, size in rule(*(i.shape for i in node.inputs), **node.attrs):
            operand = _Operand(self, node.inputs[position])
            self.check_codes += 1

            def check(*index, operand=operand, size=size, code=self.check_codes):
                value = loops.cast(operand[index], "i64")
                return loops.check(loops.land(loops.ge(value, -size), loops.lt(value, size)),
                                   code)
            stmts.append(loops.loop_nest(operand.shape, check))
        return stmts

    def _indexing_stage(self, node: Node) -> list[loops.Stmt]:
        checks = self._checks(node)
        if node.opdef.scatter is not None:
            operands = [_Operand(self, i) for i in node.inputs]
            return checks + list(node.opdef.scatter(self.buffers[node], *operands, **node.attrs))
        return checks + self._computed_stage(node)

    def _computed_stage(self, node: Node) -> list[loops.Stmt]:
        if node in self.batch_sums:
            return batch_sum_stage(self.buffers[node],
                                   GemmOperands.of(self, self.batch_sums[node]))
        form = node.opdef.lowering.gemm
        # a later product of a sum adds to the partial sum in the buffer (lower.accumulate)
        adds = node in self.sum_of and self.sums[self.sum_of[node]][0] is not node
        if form == "matmul":
            operands = GemmOperands.of(self, node)
            if operands is not None:
                return gemm_stage(self.buffers[node], operands, accumulate=adds)
        elif form and worth_it(node, self.options):
            stmts = conv_stage(self, node, self.buffer_of)
            if stmts is not None:
                return stmts
        stmts = pool_stage(self, node)      # windows tiling the input: passes along planes
        if stmts is not None:
            return stmts
        buffer = self.buffers[node]
        operands = [_Operand(self, i) for i in node.inputs]
        if node.opdef.lowering.pieces is not None:
            return self._pieces_stage(node, buffer, operands)

        def store(*index):
            value = node.opdef.compute(index, *operands, **node.attrs)
            if node in self.epilogues:
                value = self.finish(node, value, index[0], index[1])
            return (loops.accumulate if adds else loops.store)(buffer, index, value)
        touched = math.prod(node.shape) + sum(math.prod(i.shape) for i in node.inputs)
        parallel = math.prod(node.shape) >= _PARALLEL_MIN_OUTPUTS and \
            touched >= self.options.parallel_elements
        return [loops.loop_nest(node.shape, store, parallel=parallel)]


    def _pieces_stage(self, node: Node, buffer: loops.Buffer, operands: list) -> list:
        """One loop nest per box of an op that declares its output's pieces (Lowering.pieces:
        concat's inputs, pad's interior and borders)."""
        stmts = []
        for start, shape, element in node.opdef.lowering.pieces(node.shape, *operands,
                                                                **node.attrs):
            if math.prod(shape) == 0:
                continue

            def store(*index, start=start, element=element):
                at = tuple(i + s if s else i for i, s in zip(index, start))
                return loops.store(buffer, at, element(index))
            size = math.prod(shape)         # a copy: each element read once, written once
            parallel = size >= _PARALLEL_MIN_OUTPUTS and 2 * size >= self.options.parallel_elements
            stmts.append(loops.loop_nest(shape, store, parallel=parallel))
        return stmts


class _Operand:
    """What a compute rule indexes: `a[i, k]` is the loop expression of that element."""

    def __init__(self, lowering: Lowering, node: Node) -> None:
        self.lowering, self.node = lowering, node
        self.shape = node.shape
        self.dtype = loops.normalize_dtype(node.dtype)

    def __getitem__(self, index) -> loops.Expr:
        index = index if isinstance(index, tuple) else (index,)
        return self.lowering.element(self.node, index)


def _broadcast_index(index: tuple, shape: tuple, source: tuple) -> tuple:
    """The operand index of an output element under numpy broadcasting."""
    lead = len(shape) - len(source)
    return tuple(0 if d == 1 else i for i, d in zip(index[lead:], source))


def ascii_name(name: str) -> str:
    """An identifier as loop IR and LLVM symbols spell names (ASCII only): each non-ASCII
    character becomes u and its code point, so "é" is "u00e9". Input buffers are numbered
    (in0_, in1_), so two names that mangle alike still name different buffers."""
    return "".join(c if c.isascii() else f"u{ord(c):04x}" for c in name)


def _names(ndim: int) -> tuple:
    return tuple(loops.Var("ijklmn"[d] if d < 6 else f"i{d}") for d in range(ndim))


def lower(graph: Graph, name: str = "kernel", options: CompileOptions | None = None) -> Lowered:
    """Lower a graph to one loop-IR kernel (see the module docstring for the decisions), with
    the lowering settings of `options` (default: a new CompileOptions).

    >>> import graphnn as gn
    >>> x = gn.input("x", shape=(4,))
    >>> print(lower(gn.Graph(gn.tanh(x) * 2.0)).kernel)
    kernel kernel(in0_x: f64[4]) -> (out0: f64[4]) {
      for i in 0..4 {
        out0[i] = tanh(in0_x[i]) * 2.0
      }
    }
    """
    outputs = expand_composites(list(graph.outputs))
    computed_outputs = []
    for node in outputs:
        if node.op not in ("input", "constant") and node not in computed_outputs:
            computed_outputs.append(node)
    lowering = Lowering(computed_outputs, graph.inputs,
                        CompileOptions() if options is None else options)
    computed = lowering.materialized() if computed_outputs else []
    ins, outs, temps = lowering.declare(computed)
    body, temps = fuse_epilogues(lowering.stages(computed), temps)
    kernel = loops.Kernel(ascii_name(name), ins + list(lowering.packed.values()), outs,
                          temps + lowering.scratches, body)
    return Lowered(kernel, tuple(graph.inputs), tuple(lowering.constants),
                   tuple(computed_outputs), tuple(outputs))
