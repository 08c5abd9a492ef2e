"""Workspace layout: byte offsets of a kernel's temps inside the one buffer the caller passes.

Input: a ``Kernel``. Output: a ``Layout`` (offset per temp, total size). A temp is live from the
first to the last top-level statement that touches it; temps whose live ranges do not overlap
share bytes (first fit, in order of first use), so a long chain of intermediates needs only a few
slots. Every temp starts on a 64-byte boundary (a cache line, and the widest vector load).
"""

from __future__ import annotations

from dataclasses import dataclass

from codegen import loops

ALIGNMENT = 64
ITEMSIZE = {"f32": 4, "f64": 8, "i32": 4, "i64": 8, "i1": 1}


@dataclass(frozen=True)
class Layout:
    offsets: dict[str, int]
    size: int


def touched(stmt: loops.Stmt) -> set[str]:
    """The names of the buffers a statement reads or writes: what makes a temp live there
    (temps touched by one statement never share bytes)."""
    # statements only: an expression knows the buffers read anywhere below it (`reads`)
    names: set[str] = set()
    stack = [stmt]
    while stack:
        node = stack.pop()
        if isinstance(node, loops.Loop):
            stack.extend(node.body)
        elif isinstance(node, (loops.Store, loops.Accumulate)):
            names.add(node.buffer.name)
            names.update(*(e.reads for e in (node.value, *node.index)))
        elif isinstance(node, loops.Check):
            names.update(node.cond.reads)
        elif isinstance(node, loops.Gemm):
            names |= {node.c.name, *(x.name for x in node.operands)}
            names.update(*(e.reads for e in (node.a_offset, node.b_offset, node.c_offset)))
        elif isinstance(node, loops.DirectConv):
            names |= {node.out.name, *(x.name for x in node.operands)}
            names.update(*(e.reads for e in node.offsets))
    return names


def _align(n: int) -> int:
    return (n + ALIGNMENT - 1) // ALIGNMENT * ALIGNMENT


def layout(kernel: loops.Kernel) -> Layout:
    temps = {t.name: t for t in kernel.temps}
    live: dict[str, list[int]] = {}
    for position, stmt in enumerate(kernel.body):
        for name in touched(stmt) & temps.keys():
            live.setdefault(name, [position, position])[1] = position
    placed: list[tuple[int, int, int]] = []  # (offset, end, last statement) of live temps
    offsets = {name: 0 for name in temps}  # unused temps are never accessed
    total = 0
    for name in sorted(live, key=lambda n: (live[n][0], n)):
        first, last = live[name]
        size = _align(temps[name].size * ITEMSIZE[temps[name].dtype])
        # temps come in order of first use: one dead here stays dead for the rest, so the
        # work per temp is bounded by how many are live at once, not by the kernel's length
        placed = [p for p in placed if p[2] >= first]
        offset = 0
        for start, end, _ in sorted(placed):  # first gap large enough
            if offset + size <= start:
                break
            offset = max(offset, end)
        offsets[name] = offset
        placed.append((offset, offset + size, last))
        total = max(total, offset + size)
    return Layout(offsets, total)
