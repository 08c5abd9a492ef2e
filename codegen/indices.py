"""Index arithmetic simplified over loop ranges: `//` and `%` that a reshape's view leaves.

Input: a ``Kernel``. Output: an equivalent ``Kernel`` whose integer divisions of an affine
offset are gone where the loop ranges decide them. A view of a reshape reads its source at the
row-major offset of the element, split again into the source's dimensions:
``t[(((i * 64 + k) * 4 + j) * 32 + l) // 128 // 64 % 32, ...]``. Written out, the offset is
``8192 i + 128 k + 32 j + l``; with 0 <= j < 4 and 0 <= l < 32 its low part ``32 j + l`` lies in
[0, 128), so ``offset // 128`` is ``64 i + k`` and ``offset % 128`` is ``32 j + l`` (Python's
floor division: ``(c h + r) // c = h`` and ``(c h + r) % c = r`` for every integer h when
0 <= r < c). The loads become plain strided ones, which LLVM vectorizes; a division per element
and dimension is gone.

>>> from codegen import loops
>>> x, out = loops.Buffer("x", "f32", (2, 12)), loops.Buffer("out", "f32", (2, 3, 4))
>>> k = loops.Kernel("split", [x], [out], body=[loops.loop_nest((2, 3, 4), lambda i, j, l:
...     loops.store(out, (i, j, l), x[((i * 3 + j) * 4 + l) // 12, ((i * 3 + j) * 4 + l) % 12]))])
>>> print(simplify_indices(k).body[0])
for i in 0..2 {
  for j in 0..3 {
    for k in 0..4 {
      out[i, j, k] = x[i, j * 4 + k]
    }
  }
}
"""

from __future__ import annotations

from codegen import loops

Affine = tuple[dict[str, int], int]      # coefficient per term, constant


class AffineTerms:
    """The terms an affine form may use, with their ranges: loop variables by name, and
    integer divisions that stay (`k // 32`) as opaque terms keyed by their text."""

    def __init__(self, ranges: dict[str, int]) -> None:
        self.bounds = {v: (0, extent - 1) for v, extent in ranges.items()}
        self.nodes: dict[str, loops.Expr] = {}

    def affine(self, e: loops.Expr) -> Affine | None:
        """e as sum(c_t t) + c, or None when it is not affine in known terms."""
        if isinstance(e, loops.Const):
            return ({}, int(e.value)) if e.dtype == "i64" else None
        if isinstance(e, loops.Var):
            return ({e.name: 1}, 0) if e.name in self.bounds else None
        if isinstance(e, (loops.FloorDiv, loops.Mod)):
            return self.opaque(e)
        if isinstance(e, (loops.Add, loops.Sub, loops.Mul)):
            a, b = self.affine(e.a), self.affine(e.b)
            if a is None or b is None:
                return None
            if isinstance(e, loops.Mul):
                if a[0] and b[0]:
                    return None          # a product of variables
                (terms, constant), factor = (a, b[1]) if not b[0] else (b, a[1])
                return {t: c * factor for t, c in terms.items()}, constant * factor
            sign = -1 if isinstance(e, loops.Sub) else 1
            terms = dict(a[0])
            for t, c in b[0].items():
                terms[t] = terms.get(t, 0) + sign * c
            return terms, a[1] + sign * b[1]
        return None

    def opaque(self, e: loops.Expr) -> Affine | None:
        """A division that stays, as a term of its own with the range its operand gives."""
        form = self.affine(e.a)
        if form is None:
            return None
        low, high = self.range(*form)
        c = int(e.b.value)
        if isinstance(e, loops.FloorDiv):
            bounds = (low // c, high // c)
        else:
            bounds = (low, high) if 0 <= low and high < c else (0, c - 1)
        key = f"({e})"
        self.bounds[key], self.nodes[key] = bounds, e
        return {key: 1}, 0

    def range(self, terms: dict[str, int], constant: int) -> tuple[int, int]:
        low = high = constant
        for t, c in terms.items():
            a, b = self.bounds[t]
            low += min(c * a, c * b)
            high += max(c * a, c * b)
        return low, high

    def expression(self, terms: dict[str, int], constant: int) -> loops.Expr:
        """The affine form as loop IR, terms in their order of first appearance."""
        result: loops.Expr | None = None
        for t, c in terms.items():
            if c == 0:
                continue
            atom = self.nodes.get(t) or loops.Var(t)
            term = atom if c == 1 else atom * loops.const(c, "i64")
            result = term if result is None else result + term
        if result is None:
            return loops.const(constant, "i64")
        return result + loops.const(constant, "i64") if constant else result


def _divided(e: loops.Expr, ranges: dict[str, int]) -> loops.Expr:
    """`x // c` or `x % c` with the part of x that c divides taken out (Python's floor
    division: (c h + r) // c = h + r // c and (c h + r) % c = r % c for all integers h, r), and
    the remaining division dropped where the ranges keep r in [0, c); or e itself."""
    terms_of = AffineTerms(ranges)
    form = terms_of.affine(e.a)
    if form is None:
        return e
    terms, constant = form
    c = int(e.b.value)
    high = {t: k // c for t, k in terms.items() if k % c == 0}
    low = {t: k for t, k in terms.items() if k % c != 0}
    low_constant = constant % c
    smallest, largest = terms_of.range(low, low_constant)
    exact = 0 <= smallest and largest < c
    rest = terms_of.expression(low, low_constant)
    if isinstance(e, loops.FloorDiv):
        quotient = terms_of.expression(high, (constant - low_constant) // c)
        if exact:
            return quotient
        if not high:
            return e                 # nothing to take out
        return quotient + loops.FloorDiv(rest, e.b)
    if exact:
        return rest
    return e if not high else loops.Mod(rest, e.b)


def simplify_indices(kernel: loops.Kernel) -> loops.Kernel:
    """The kernel with `//` and `%` of affine offsets resolved where the loop ranges allow
    (the same object when nothing changes)."""
    changed = False

    def go(node: loops.Node, ranges: dict[str, int]) -> loops.Recursive:
        nonlocal changed
        if isinstance(node, (loops.Loop, loops.Reduce)):
            inner = {**ranges, node.var.name: node.extent}
            return (yield from loops.rebuild(node, lambda child: go(child, inner)))
        new = yield from loops.rebuild(node, lambda child: go(child, ranges))
        if isinstance(new, (loops.FloorDiv, loops.Mod)):
            simpler = _divided(new, ranges)
            changed |= simpler is not new
            return simpler
        return new

    body = tuple(loops.iterate(go(stmt, {})) for stmt in kernel.body)
    if not changed:
        return kernel
    return loops.Kernel(kernel.name, kernel.inputs, kernel.outputs, kernel.temps, body)
