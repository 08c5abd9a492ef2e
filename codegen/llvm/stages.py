"""How a long kernel is cut for LLVM: stage functions of bounded size, and one function for each
statement that repeats up to the buffers it touches.

Input: a kernel's top-level statements. Output: runs of them of at most a stage size
(``split_stages``, ``CodegenOptions.stage_size``), and ``Repeats``: for each statement whose shape
(the statement with its buffers renamed ``p0``, ``p1``, ... in order of first use) occurs more than
once, that shape and the buffers to call it with. ``codegen.llvm.module`` emits a stage per run and
each repeated shape once, as a function of its buffers' pointers.

Why: LLVM's optimizer takes time superlinear in a function's size, and 2-5 ms per loop nest
(measured, llvmlite 0.50) even at a bounded size. An unrolled recurrence is the same few
statements over and over on other buffers: compiled once and called, a block of a 1,666-block
tanh(x @ W + b) chain costs LLVM a call per statement instead of a loop nest.
"""

from __future__ import annotations

from collections import Counter

from codegen import loops


def split_stages(body: tuple[loops.Stmt, ...], sizes: list[int],
                 limit: int) -> list[tuple[loops.Stmt, ...]]:
    """Consecutive runs of statements (of `sizes`, codegen.cost.statement_size) of at most `limit`
    each; a larger statement is a run alone."""
    stages: list[tuple[loops.Stmt, ...]] = []
    start, size = 0, 0
    for k, cost in enumerate(sizes):
        if k > start and size + cost > limit:
            stages.append(body[start:k])
            start, size = k, 0
        size += cost
    stages.append(body[start:])
    return stages


def signature(stmt: loops.Stmt) -> tuple[tuple, tuple[loops.Buffer, ...]]:
    """A key equal for two statements of one shape (the same computation, buffers renamed p0,
    p1, ... in order of first use; a shared subexpression is one node), and the buffers in
    that order. Cheaper than building the renamed statement: no loop IR is constructed."""
    nodes = list(loops.walk(stmt))           # each distinct node once, parents first
    position = {id(n): k for k, n in enumerate(nodes)}
    buffers: dict[str, tuple[int, loops.Buffer]] = {}     # name -> (order of first use, it)

    def token(value: object) -> object:
        if isinstance(value, loops.Buffer):
            index = buffers.setdefault(value.name, (len(buffers), value))[0]
            return ("buffer", index, value.dtype, value.shape)
        if isinstance(value, (loops.Expr, loops.Stmt)):
            return ("node", position[id(value)])
        if isinstance(value, tuple):
            return tuple(token(v) for v in value)
        return repr(value) if isinstance(value, float) else value   # -0.0 is not 0.0

    key = tuple((type(n).__name__, tuple(token(v) for v in n.fields())) for n in nodes)
    return key, tuple(b for _, b in buffers.values())


def shape_of(stmt: loops.Stmt, buffers: tuple[loops.Buffer, ...]) -> loops.Stmt:
    """`stmt` with `buffers` (its buffers in order of first use, from `signature`) renamed p0,
    p1, ...: what every statement of its signature computes, on other memory."""
    renamed = {b.name: loops.Buffer(f"p{k}", b.dtype, b.shape) for k, b in enumerate(buffers)}
    memo: dict[int, loops.Node] = {}

    def rename(node: loops.Node) -> loops.Recursive:
        if id(node) not in memo:
            new = yield from loops.rebuild(node, rename)
            fields = new.fields()
            if any(isinstance(v, loops.Buffer) for v in fields):
                new = type(new)(*(renamed[v.name] if isinstance(v, loops.Buffer) else v
                                  for v in fields))
            memo[id(node)] = new
        return memo[id(node)]

    return loops.iterate(rename(stmt))


class Repeats:
    """The statements of a body whose signature occurs more than once (parallel loops aside:
    the module builder outlines those itself; and statements holding a check, which returns
    from the kernel: a shared function returns nothing)."""

    def __init__(self, body: tuple[loops.Stmt, ...]) -> None:
        self.keys: dict[int, tuple[int, tuple[loops.Buffer, ...]]] = {}
        numbers: dict[tuple, int] = {}
        for stmt in body:
            if not (isinstance(stmt, loops.Loop) and stmt.parallel) and \
                    not any(isinstance(n, loops.Check) for n in loops.walk(stmt)):
                key, buffers = signature(stmt)
                self.keys[id(stmt)] = numbers.setdefault(key, len(numbers)), buffers
        counts = Counter(number for number, _ in self.keys.values())
        self.repeated = {number for number, count in counts.items() if count > 1}

    def of(self, stmt: loops.Stmt) -> tuple[int, tuple[loops.Buffer, ...]] | None:
        """(the number of its signature, its buffers) when `stmt` repeats, else None."""
        found = self.keys.get(id(stmt))
        return found if found is not None and found[0] in self.repeated else None
