"""Loop transforms that never change results: flatten, interchange reductions, parallelize.

Input: a ``Kernel``. Output: an equivalent ``Kernel`` that runs faster. Each transform checks
its own legality and returns the kernel unchanged (the same object) where it does not apply.

- ``flatten_elementwise``: a perfect nest whose every access is ``buf[i, j, ...]`` with exactly
  the nest's indices over a buffer of exactly the nest's shape becomes one loop over
  ``buf.flat[i]``: no short inner loops, one long vectorizable loop. Other top-level nests
  get their inner loops collapsed where each access runs through them contiguously or does
  not use them (a broadcast bias): LLVM leaves loops of a few dozen iterations scalar.
- ``interchange_reductions``: ``for j { out[.., j] = sum(r: body) }`` whose body is contiguous in
  j but strided in r (column sums, matmul) becomes ``for j { out = 0 }; for r { for j {
  out[.., j] += body } }``, so the inner loop runs along contiguous memory. Each element is then
  summed sequentially in r order: exactly the unreassociated sum (max/min are order-free).
- ``parallelize``: marks a top-level loop parallel when every iteration writes its own elements
  (each written buffer is indexed by the loop variable in its first position, or is a Gemm
  output at ``var * stride`` with disjoint blocks) and the loop has enough work.

>>> from codegen import loops
>>> x, out = loops.Buffer("x", "f32", (100, 8)), loops.Buffer("out", "f32", (8,))
>>> k = loops.Kernel("colsum", [x], [out], body=[loops.loop(8, lambda j: loops.store(
...     out, j, loops.reduce_sum(100, lambda r: x[r, j])), name="j")])
>>> print(interchange_reductions(k))
kernel colsum(x: f32[100,8]) -> (out: f32[8]) {
  for j in 0..8 {
    out[j] = 0.0
  }
  for r0 in 0..100 {
    for j in 0..8 {
      out[j] += x[r0, j]
    }
  }
}
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from codegen import loops
from codegen.cost import work
from codegen.fuse_images import fuse_images
from codegen.indices import simplify_indices
from codegen.options import CodegenOptions

Rewrite = Callable[[loops.Stmt], loops.Stmt | tuple[loops.Stmt, ...]]


def _rebuild(kernel: loops.Kernel, rewrite: Rewrite, top_only: bool = False) -> loops.Kernel:
    """Apply ``rewrite`` to every statement (innermost first unless ``top_only``)."""

    def visit(stmt: loops.Stmt) -> loops.Recursive:
        if isinstance(stmt, loops.Loop) and not top_only:
            body: list[loops.Stmt] = []
            for child in stmt.body:
                body.extend((yield visit(child)))
            if any(a is not b for a, b in zip(body, stmt.body)) or len(body) != len(stmt.body):
                stmt = loops.Loop(stmt.var, stmt.extent, body, stmt.parallel)
        result = rewrite(stmt)
        return result if isinstance(result, tuple) else (result,)

    body = tuple(s for stmt in kernel.body for s in loops.iterate(visit(stmt)))
    if len(body) == len(kernel.body) and all(a is b for a, b in zip(body, kernel.body)):
        return kernel
    return loops.Kernel(kernel.name, kernel.inputs, kernel.outputs, kernel.temps, body)


def _uses(node: loops.Node, name: str) -> bool:
    return any(isinstance(n, loops.Var) and n.name == name for n in loops.walk(node))


# -- flatten ------------------------------------------------------------------------------------


def _perfect_nest(stmt: loops.Loop) -> tuple[list[loops.Loop], tuple[loops.Stmt, ...]]:
    nest = [stmt]
    while len(nest[-1].body) == 1 and isinstance(nest[-1].body[0], loops.Loop):
        nest.append(nest[-1].body[0])
    return nest, nest[-1].body


# statements a nest's body may hold that the rewrites here do not look inside
_OPAQUE = (loops.Loop, loops.Gemm, loops.DirectConv)


def _flatten_nest(stmt: loops.Stmt) -> loops.Stmt:
    if not isinstance(stmt, loops.Loop):
        return stmt
    nest, body = _perfect_nest(stmt)
    nodes = [n for s in body for n in loops.walk(s)]
    if len(nest) < 2 or any(isinstance(n, _OPAQUE) for n in nodes):
        return stmt
    index = tuple(loop.var for loop in nest)
    shape = tuple(loop.extent for loop in nest)
    if any(isinstance(n, (loops.Load, loops.Store, loops.Accumulate)) and
           (n.index != index or n.buffer.shape != shape) and
           any(isinstance(v, loops.Var) and v in index for e in n.index for v in loops.walk(e))
           for n in nodes):
        return stmt  # an access at another index of the nest (a broadcast, a transpose)
    flat = (loops.Var("%flat"),)  # not an identifier: cannot clash with the nest's names

    memo: dict[int, loops.Node] = {}

    def rewrite(node: loops.Node) -> loops.Recursive:
        if id(node) not in memo:
            new = yield from loops.rebuild(node, rewrite)
            if isinstance(new, (loops.Load, loops.Store, loops.Accumulate)) and \
                    new.index == index and new.buffer.shape == shape:
                new = type(new)(new.buffer, flat, *new.fields()[2:])
            memo[id(node)] = new
        return memo[id(node)]

    new_body = tuple(loops.iterate(rewrite(s)) for s in body)
    if any(_uses(s, v.name) for s in new_body for v in index):
        return stmt  # an index used some other way (broadcast, transpose, arithmetic)
    total = 1
    for extent in shape:
        total *= extent
    renamed = tuple(loops.substitute(s, {"%flat": stmt.var}) for s in new_body)
    return loops.Loop(stmt.var, total, renamed, stmt.parallel)


_ACCESSES = (loops.Load, loops.Store, loops.Accumulate)


def _collapse_inner(stmt: loops.Stmt) -> loops.Stmt:
    """The nest with its innermost loops collapsed into one, where every access either ends
    with exactly those loops' indices over trailing dimensions of their extents (one run of
    memory: `out[i, j, k, l]`, `x[i, j, k, l]`) or does not use them (a per-channel bias
    `b[0, j, 0, 0]`). A conv's bias and ReLU over 28x28 images then run one loop of 784 that
    LLVM vectorizes, where a loop of 28 stayed scalar (7x slower, measured on AVX-512). The
    collapsed accesses take a flat row-major index; the outer loops are kept."""
    def uses(e: loops.Node, names: set[str]) -> bool:
        return any(_uses(e, name) for name in names)

    if not isinstance(stmt, loops.Loop):
        return stmt
    nest, body = _perfect_nest(stmt)
    nodes = [n for s in body for n in loops.walk(s)]
    if any(isinstance(n, _OPAQUE) for n in nodes):
        return stmt
    accesses = [n for n in nodes if isinstance(n, _ACCESSES)]
    for depth in range(1, len(nest) - 1):   # collapse nest[depth:], the widest run first
        inner = nest[depth:]
        names = {loop.var.name for loop in inner}
        tail = tuple(loop.var for loop in inner)
        extents = tuple(loop.extent for loop in inner)
        runs = [n for n in accesses if any(uses(e, names) for e in n.index)]
        if all(len(n.index) == n.buffer.ndim and n.index[-len(tail):] == tail and
               n.buffer.shape[-len(tail):] == extents and
               not any(uses(e, names) for e in n.index[:-len(tail)]) for n in runs):
            break
    else:
        return stmt
    merged = loops.Var("%inner")  # not an identifier: cannot clash with the nest's names
    size = 1
    for extent in extents:
        size *= extent

    def flat(access) -> tuple[loops.Expr]:
        """The row-major element offset: the outer indices scaled, plus the merged index."""
        outer = access.index[:-len(tail)]
        if not outer:
            return (merged,)
        offset = outer[0]
        for position, e in enumerate(outer[1:], start=1):
            offset = offset * access.buffer.shape[position] + e
        return (offset * size + merged,)

    memo: dict[int, loops.Node] = {}

    def rewrite(node: loops.Node) -> loops.Recursive:
        if id(node) not in memo:
            new = yield from loops.rebuild(node, rewrite)
            if id(node) in run_ids:     # (by identity: == on expressions builds a comparison)
                new = type(new)(new.buffer, flat(node), *new.fields()[2:])
            memo[id(node)] = new
        return memo[id(node)]

    run_ids = {id(n) for n in runs}
    new_body = tuple(loops.iterate(rewrite(s)) for s in body)
    if any(_uses(s, name) for s in new_body for name in names):
        return stmt     # an inner index used some other way (arithmetic, a cast)
    renamed = tuple(loops.substitute(s, {"%inner": inner[0].var}) for s in new_body)
    collapsed: loops.Stmt = loops.Loop(inner[0].var, size, renamed, False)
    for loop in reversed(nest[:depth]):
        collapsed = loops.Loop(loop.var, loop.extent, (collapsed,), loop.parallel)
    return collapsed


def flatten_elementwise(kernel: loops.Kernel) -> loops.Kernel:
    """Collapse perfect elementwise nests over identically shaped buffers into one loop, and
    the inner loops of other top-level nests that run over contiguous memory (_collapse_inner).
    """
    return _rebuild(_rebuild(kernel, _flatten_nest), _collapse_inner, top_only=True)


# -- interchange ----------------------------------------------------------------------------------


_IDENTITY = {"sum": 0, "max": float("-inf"), "min": float("inf")}
_INT_IDENTITY = {"sum": 0, "max": -(2**63), "min": 2**63 - 1}


def _contiguous_in(access: loops.Load | loops.Store, name: str) -> bool:
    """``name`` appears only in the last index component, as ``name`` or ``name + c``."""
    *leading, last = access.index
    if any(_uses(e, name) for e in leading):
        return False
    if isinstance(last, loops.Var):
        return True
    return isinstance(last, (loops.Add, loops.Sub)) and isinstance(last.a, loops.Var) and \
        last.a.name == name and isinstance(last.b, loops.Const)


def _index_uses(index: tuple[loops.Expr, ...], name: str) -> bool:
    return any(_uses(e, name) for e in index)


def _worth_interchanging(store: loops.Store, j: str, r: str) -> bool:
    """True when the j loop is contiguous everywhere and the r loop strided somewhere."""
    reads = [n for n in loops.walk(store.value) if isinstance(n, loops.Load)]
    along_j = [a for a in (store, *reads) if _index_uses(a.index, j)]
    strided_r = [a for a in reads if _index_uses(a.index[:-1], r)]
    return len(store.index) == store.buffer.ndim and bool(strided_r) and all(
        _contiguous_in(a, j) for a in along_j)


def _interchange(stmt: loops.Stmt) -> loops.Stmt | tuple[loops.Stmt, ...]:
    if not (isinstance(stmt, loops.Loop) and len(stmt.body) == 1
            and isinstance(stmt.body[0], loops.Store)
            and isinstance(stmt.body[0].value, loops.Reduce)):
        return stmt
    store, j = stmt.body[0], stmt.var
    reduce = store.value
    if store.buffer.name in reduce.reads or j not in store.index:  # dependence / not injective
        return stmt
    if not _worth_interchanging(store, j.name, reduce.var.name):
        return stmt
    identity = (_INT_IDENTITY if reduce.dtype == "i64" else _IDENTITY)[reduce.kind]
    init = loops.Loop(j, stmt.extent, (loops.Store(store.buffer, store.index, identity),))
    update = _accumulation(loops.Accumulate(store.buffer, store.index, reduce.body, reduce.kind),
                           j, stmt.extent)
    return (init, loops.Loop(reduce.var, reduce.extent, (update,)))


def _accumulation(update: loops.Accumulate, j: loops.Var, extent: int) -> loops.Stmt:
    """``for j { update }``, with a strided reduction of the same kind inside the update
    (a sum over two leading axes: buf[j] += sum(r0: x[r1, r0, j])) moved out as well, so the
    innermost loop runs along j: for r0 { for j { buf[j] += x[r1, r0, j] } }."""
    inner = update.value
    if isinstance(inner, loops.Reduce) and inner.kind == update.kind and \
            update.buffer.name not in inner.reads and \
            _worth_interchanging(loops.Store(update.buffer, update.index, inner), j.name,
                                 inner.var.name):
        deeper = loops.Accumulate(update.buffer, update.index, inner.body, inner.kind)
        return loops.Loop(inner.var, inner.extent, (_accumulation(deeper, j, extent),))
    return loops.Loop(j, extent, (update,))


def interchange_reductions(kernel: loops.Kernel) -> loops.Kernel:
    """Turn strided innermost reductions into accumulations along contiguous memory."""
    return _rebuild(kernel, _interchange)


# -- parallelize ----------------------------------------------------------------------------------


def _gemm_block_is_private(g: loops.Gemm, var: str) -> bool:
    offset = g.c_offset
    if not isinstance(offset, loops.Mul):
        return False
    pair = (offset.a, offset.b) if isinstance(offset.a, loops.Var) else (offset.b, offset.a)
    variable, stride = pair
    block = (g.m - 1) * g.ldc + g.n
    return isinstance(variable, loops.Var) and variable.name == var and \
        isinstance(stride, loops.Const) and stride.value >= block


def _independent_iterations(loop: loops.Loop) -> bool:
    var = loop.var.name
    nodes = [n for s in loop.body for n in loops.walk(s)]
    written = {n.buffer.name for n in nodes if isinstance(n, (loops.Store, loops.Accumulate))}
    gemm_outputs = {n.c.name for n in nodes if isinstance(n, loops.Gemm)}
    for n in nodes:
        if isinstance(n, loops.DirectConv):
            return False
        if isinstance(n, loops.Gemm):
            if not _gemm_block_is_private(n, var) or \
                    n.c.name in written | {x.name for x in n.operands}:
                return False
        elif isinstance(n, (loops.Load, loops.Store, loops.Accumulate)):
            if n.buffer.name in gemm_outputs:
                return False
            if n.buffer.name in written and not (n.index and isinstance(n.index[0], loops.Var)
                                                 and n.index[0].name == var):
                return False
    kinds = {(n.buffer.name, len(n.index)) for n in nodes
             if isinstance(n, (loops.Load, loops.Store, loops.Accumulate))
             and n.buffer.name in written}
    return len(kinds) == len({name for name, _ in kinds})  # one indexing geometry per buffer


def _parallelize(stmt: loops.Stmt, min_work: int) -> loops.Stmt:
    if not isinstance(stmt, loops.Loop) or stmt.parallel or stmt.extent < 2:
        return stmt
    if work(stmt) < 2 * min_work or not _independent_iterations(stmt) or \
            any(isinstance(n, loops.Check) for n in loops.walk(stmt)):
        return stmt          # a check returns from the kernel: only a serial loop can
    return loops.Loop(stmt.var, stmt.extent, stmt.body, parallel=True)


def parallelize(kernel: loops.Kernel, options: CodegenOptions | None = None) -> loops.Kernel:
    """Mark top-level loops with independent iterations and enough work (at least twice
    ``options.parallel_min_work``: two threads' worth) as parallel."""
    options = CodegenOptions() if options is None else options
    return _rebuild(kernel, functools.partial(_parallelize, min_work=options.parallel_min_work),
                    top_only=True)


def schedule(kernel: loops.Kernel, *, parallel: bool = True,
             options: CodegenOptions | None = None) -> loops.Kernel:
    """The default schedule: resolve index arithmetic (codegen.indices), interchange
    reductions, flatten, then (optionally) parallelize, then fuse runs of image loops
    (codegen.fuse_images, unless ``options.fuse_images`` is off)."""
    options = CodegenOptions() if options is None else options
    kernel = flatten_elementwise(interchange_reductions(simplify_indices(kernel)))
    if parallel:
        kernel = parallelize(kernel, options)
    if not options.fuse_images:
        return kernel
    fused = fuse_images(kernel)
    # image n's index arithmetic written in (plane (t K + k) C + c): `% C` and `// C` resolve
    return kernel if fused is kernel else simplify_indices(fused)
