"""Image loops fused: every stage's work on one image while the image is in cache.

Input: a ``Kernel`` (scheduled: codegen.schedule runs this last). Output: an equivalent
``Kernel`` in which each run of top-level statements that work image by image is one loop over
the images.

Why: a network lowered layer by layer runs each stage over the whole batch before the next
one starts. A convolution's image loop writes a whole-batch activation (0.4-2 MB at batch
32), a pooling's passes or a residual add then go over it, and the next convolution's image
loop reads it. The activations are larger than the L2 cache, so every pass streams them from
L3. Fused, iteration n runs every stage on image n, and what a stage writes the next reads
while it is still in L2.

A run starts at a *slotted* loop, the form of graphnn's convolutions (one slot of scratch per
core, graphnn/lower/conv_common.py ``Images``):

    parallel for t in 0..S { for k in 0..K { body } }        image n = t K + k, N = S K

and takes in the statements after it that are

- slotted with the same S and K (another convolution): its body, for the same t and k;
- *plain*, ``for v in 0..E { body }`` with E a multiple of N (a pooling's passes over the
  N C image planes, a residual add over the N images): image n's iterations v = n m + c for
  c < m = E / N, in a loop over c.

When the cores do not divide the batch, the slotted loop is followed by one over the last R
images, ``parallel for t in 0..R { image S K + t }``: that starts a second run beside the
first, which takes each plain member's iterations of those images and each slotted member's
own loop over them, so the batch runs as two fused loops. The whole first loop then runs
before the second: what a member does in the first must not meet what an earlier member
does in the second, unless both stay in their own images' regions.

Legality comes from the accesses (loads, stores, a product's or a convolution's reach) of each
member with its image index written in. Image n's *region* of a buffer of N sz elements is
[n sz, (n + 1) sz). A buffer that two members touch, one of them writing it, must be touched
by both in image n's region only. So a stage reads of an earlier one exactly what that wrote
for the same image, and work on different images shares nothing. A buffer only one member
writes needs the same unless the member's iterations were independent per image already (a
parallel loop's; a slotted member's scratch, whose slots run their images in the same order
as before). A statement touching nothing the run writes and writing nothing it touches (the
next convolution zeroing its padded copy) moves before the run; a statement that neither
joins nor moves ends it. Nothing else changes: each element is computed by the same
expression, in the same order within an image, so results are bit-identical but for sums: an
index rebuilt flat (a shrunk temp's, below) may let LLVM vectorize a sum it left serial, and
the loop IR lets sums reassociate (codegen.exprs.Reduce), so a global pooling's mean may
differ in its last bits.

>>> from codegen import loops
>>> x, y, z = (loops.Buffer(n, "f32", (4, 8)) for n in "xyz")
>>> conv = loops.loop(2, lambda t: loops.loop(2, lambda k: loops.loop(8, lambda j: loops.store(
...     y, (t * 2 + k, j), x[t * 2 + k, j] * 2.0), name="j"), name="k"), name="t", parallel=True)
>>> relu = loops.loop(32, lambda e: loops.store(z, (e,), loops.fmax(y.flat[e], 0.0)), name="e")
>>> print(fuse_images(loops.Kernel("f", [x], [z], [y], [conv, relu])))
kernel f(x: f32[4,8]) -> (z: f32[4,8]) {
  temp y: f32[16]
  parallel for t in 0..2 {
    for k in 0..2 {
      for j in 0..8 {
        y[t * 8 + j] = x[t * 2 + k, j] * 2.0
      }
      for c in 0..8 {
        z.flat[(t * 2 + k) * 8 + c] = max(y[t * 8 + c], 0.0)
      }
    }
  }
}
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from codegen import loops
from codegen.indices import AffineTerms
from codegen.workspace import touched

_GLOBAL = None        # an access's form when it is not affine in the loop variables


@dataclass(frozen=True)
class _Access:
    buffer: str
    size: int                                   # the buffer's elements
    write: bool
    form: tuple[dict[str, int], int] | None     # its first element, affine in the variables
    reach: int                                  # elements past the first it touches
    ranges: dict[str, int]                      # the variables' extents where it happens


@dataclass
class _Run:
    """A run of members being fused: its loop's shape and variables, the first image it runs
    and the batch's, the members' bodies for image `image()`, and what each touches. The
    batch's last images, when the cores do not divide it, are a second run (`per` 1, no k)."""

    first: loops.Stmt        # the image loop the run starts with, as it was
    slots: int
    per: int
    t: loops.Var
    k: loops.Var | None
    base: int                # the first image
    total: int               # images in the batch (both runs')
    bodies: list[tuple[loops.Stmt, ...]] = field(default_factory=list)
    accesses: list[list[_Access]] = field(default_factory=list)

    @property
    def variables(self) -> dict[str, int]:
        return {self.t.name: self.slots, **({self.k.name: self.per} if self.k else {})}

    def image(self) -> loops.Expr:
        n = self.t if self.k is None else \
            (self.t * self.per + self.k if self.per != 1 else self.t + self.k)
        return n + self.base if self.base else n

    def loop(self) -> loops.Stmt:
        body = tuple(s for member in self.bodies for s in member)
        if self.k is None:
            return loops.Loop(self.t, self.slots, body, True)
        return loops.Loop(self.t, self.slots, (loops.Loop(self.k, self.per, body),), True)


def fuse_images(kernel: loops.Kernel) -> loops.Kernel:
    """The kernel with each run of image loops fused into one (the module docstring); the same
    object when there is none."""
    body = list(kernel.body)
    out: list[loops.Stmt] = []
    families: list[tuple[int, ...]] = []   # positions in `out` of each fused run (and its rest)
    runs: dict[int, _Run] = {}
    k = 0
    while k < len(body):
        main = _start(body[k])
        if main is None:
            out.append(body[k])
            k += 1
            continue
        rest = _start_rest(body[k + 1], main) if k + 1 < len(body) else None
        family = [main] if rest is None else [main, rest]
        for run in family:
            run.total = main.slots * main.per + (rest.slots if rest else 0)
        moved: list[loops.Stmt] = []
        k += len(family)
        while k < len(body):
            if all(_independent(body[k], run) for run in family):
                moved.append(body[k])
                k += 1
                continue
            taken = _join(family, body[k:k + 2])
            if not taken:
                break
            k += taken
        out += moved if len(main.bodies) > 1 else []
        if len(main.bodies) > 1:
            families.append(tuple(range(len(out), len(out) + len(family))))
            for run in family:
                runs[len(out)] = run
                out.append(run.loop())
        else:                   # nothing joined: the statements stay as they were
            out += [run.first for run in family] + moved
    if not families:
        return kernel
    temps = {t.name: t for t in kernel.temps}
    used = [touched(s) for s in out]
    for positions in families:
        outside = set().union(*(names for k, names in enumerate(used) if k not in positions))
        family = [runs[p] for p in positions]
        smaller = _contractible(family, {n: t for n, t in temps.items() if n not in outside})
        if smaller:
            for p in positions:
                out[p] = _contracted(out[p], runs[p], smaller, family[0].slots)
            temps.update(smaller)
    return loops.Kernel(kernel.name, kernel.inputs, kernel.outputs, tuple(temps.values()),
                        tuple(out))


# -- members -------------------------------------------------------------------------------


def _slotted(stmt: loops.Stmt) -> tuple[loops.Loop, loops.Loop] | None:
    """(slot loop, image loop) of `parallel for t { for k { ... } }`, or None."""
    if isinstance(stmt, loops.Loop) and stmt.parallel and len(stmt.body) == 1 and \
            isinstance(stmt.body[0], loops.Loop) and not stmt.body[0].parallel and \
            not _has_check(stmt):
        return stmt, stmt.body[0]
    return None


def _has_check(stmt: loops.Stmt) -> bool:
    # a check returns from the kernel: what ran before it must stay before it
    return any(isinstance(n, loops.Check) for n in loops.walk(stmt))


def _start(stmt: loops.Stmt) -> _Run | None:
    nest = _slotted(stmt)
    if nest is None:
        return None
    outer, inner = nest
    run = _Run(stmt, outer.extent, inner.extent, outer.var, inner.var, 0, 0)
    run.bodies.append(inner.body)
    run.accesses.append(_accesses(inner.body, run))
    return run


def _is_rest(stmt: loops.Stmt, slotted: loops.Stmt) -> bool:
    """Whether `stmt` looks like the loop over the batch's last images that follows a slotted
    one (graphnn/lower/conv_common.py Images: `parallel for t in 0..R { image S K + t }`, R <
    S, writing what the slotted loop writes). The region checks decide the rest."""
    return isinstance(stmt, loops.Loop) and stmt.parallel and \
        0 < stmt.extent < _slotted(slotted)[0].extent and not _has_check(stmt) and \
        _touched(stmt)[1] == _touched(slotted)[1]


def _start_rest(stmt: loops.Stmt, main: _Run) -> _Run | None:
    if not _is_rest(stmt, main.first):
        return None
    run = _Run(stmt, stmt.extent, 1, stmt.var, None, main.slots * main.per, 0)
    run.bodies.append(stmt.body)
    run.accesses.append(_accesses(stmt.body, run))
    return run


def _join(family: list[_Run], stmts: list[loops.Stmt]) -> int:
    """Add the next statement to every run of the family if it is an image loop of theirs
    and legal there (a slotted one with its rest loop, when there is a rest run): how many
    statements were taken, 0 for none."""
    main = family[0]
    nest = _slotted(stmts[0])
    pair = nest is not None and (nest[0].extent, nest[1].extent) == (main.slots, main.per)
    if pair and len(family) == 2:
        if len(stmts) < 2 or not _is_rest(stmts[1], stmts[0]) or \
                stmts[1].extent != family[1].slots:
            return 0
        parts = [_slotted_member(main, stmts[0]), _rest_member(family[1], stmts[1])]
    elif pair:
        parts = [_slotted_member(main, stmts[0])]
    else:
        parts = [_plain_member(run, stmts[0]) for run in family]
    if any(part is None for part in parts):
        return 0
    checked = []
    for run, (body, private_ok) in zip(family, parts, strict=True):
        accesses = _accesses(body, run)
        if not _legal(run, accesses, private_ok):
            return 0
        checked.append((body, accesses))
    if len(family) == 2 and not _across(family, checked[0][1]):
        return 0
    for run, (body, accesses) in zip(family, checked, strict=True):
        run.bodies.append(body)
        run.accesses.append(accesses)
    return 2 if pair and len(family) == 2 else 1


def _slotted_member(run: _Run, stmt: loops.Loop) \
        -> tuple[tuple[loops.Stmt, ...], bool] | None:
    """A slotted loop of the run's shape: its body for the run's t and k (each slot's images
    in the same order as before: its scratch needs no check)."""
    outer, inner = _slotted(stmt)
    body = _renamed(inner.body, set(run.variables) - {outer.var.name, inner.var.name})
    if body is None:
        return None
    mapping = {outer.var.name: run.t, inner.var.name: run.k}
    return tuple(loops.substitute(s, mapping) for s in body), True


def _rest_member(run: _Run, stmt: loops.Loop) -> tuple[tuple[loops.Stmt, ...], bool] | None:
    """A slotted loop's rest loop in the rest run: its body for the run's t."""
    body = _renamed(stmt.body, {run.t.name} - {stmt.var.name})
    if body is None:
        return None
    return tuple(loops.substitute(s, {stmt.var.name: run.t}) for s in body), True


def _plain_member(run: _Run, stmt: loops.Stmt) -> tuple[tuple[loops.Stmt, ...], bool] | None:
    """`for v in 0..E` with E a multiple of the batch: its iterations of the run's images,
    and whether they were independent already (a parallel loop's); else None."""
    if not isinstance(stmt, loops.Loop) or _has_check(stmt) or stmt.extent % run.total:
        return None
    per_image = stmt.extent // run.total
    taken = set(run.variables)
    body = _renamed(stmt.body, taken)
    if body is None:
        return None
    if per_image == 1:
        mapping = {stmt.var.name: run.image()}
        return tuple(loops.substitute(s, mapping) for s in body), stmt.parallel
    c = loops.Var(_fresh("c", _names(body) | taken | {stmt.var.name}))
    mapping = {stmt.var.name: run.image() * per_image + c}
    inner = tuple(loops.substitute(s, mapping) for s in body)
    return (loops.Loop(c, per_image, inner),), stmt.parallel


def _names(stmts) -> set[str]:
    return {n.name for s in stmts for n in loops.walk(s) if isinstance(n, loops.Var)}


def _fresh(base: str, taken: set[str]) -> str:
    name, count = base, 1
    while name in taken:
        count += 1
        name = f"{base}{count}"
    return name


def _renamed(stmts: tuple[loops.Stmt, ...], taken: set[str]) -> tuple[loops.Stmt, ...] | None:
    """`stmts` with their loop variables named like one of `taken` renamed apart; None when a
    reduction binds such a name (`loops.substitute` leaves what a reduction binds alone;
    graphnn names its reductions r0, r1, ..., never like an image loop's variables)."""
    reduced = {n.var.name for s in stmts for n in loops.walk(s) if isinstance(n, loops.Reduce)}
    if reduced & taken:
        return None
    bound = {n.var.name for s in stmts for n in loops.walk(s) if isinstance(n, loops.Loop)}
    clashes = bound & taken
    if not clashes:
        return stmts
    used = _names(stmts) | taken
    mapping = {}
    for name in sorted(clashes):
        new = _fresh(name, used)
        used.add(new)
        mapping[name] = loops.Var(new)
    return tuple(loops.substitute(s, mapping) for s in stmts)


# -- accesses ------------------------------------------------------------------------------


def _accesses(body: tuple[loops.Stmt, ...], run: _Run) -> list[_Access]:
    """Every access of the member's body, its index affine in t, k and the loops inside."""
    found: list[_Access] = []
    top = run.variables
    stack: list[tuple[loops.Node, dict[str, int]]] = [(s, top) for s in reversed(body)]
    seen: set[tuple[int, int]] = set()
    scopes = [top]       # every ranges dict, alive till the end: `seen` keys on their ids
    while stack:
        node, ranges = stack.pop()
        if (id(node), id(ranges)) in seen:
            continue
        seen.add((id(node), id(ranges)))
        if isinstance(node, (loops.Loop, loops.Reduce)):
            inner = {**ranges, node.var.name: node.extent}
            scopes.append(inner)
            stack.extend((child, inner) for child in reversed(loops.children(node))
                         if child is not node.var)
            continue
        if isinstance(node, (loops.Load, loops.Store, loops.Accumulate)):
            form = _flat_form(node.buffer, node.index, ranges)
            found.append(_Access(node.buffer.name, node.buffer.size,
                                 not isinstance(node, loops.Load), form, 0, ranges))
        elif isinstance(node, loops.Gemm):
            found += _gemm_accesses(node, ranges)
        elif isinstance(node, loops.DirectConv):
            for name, (offset, last) in node.extents().items():
                buffer = getattr(node, name)
                found.append(_Access(buffer.name, buffer.size, name == "out",
                                     _form(offset, ranges), last, ranges))
        stack.extend((child, ranges) for child in reversed(loops.children(node)))
    return found


def _gemm_accesses(g: loops.Gemm, ranges: dict[str, int]) -> list[_Access]:
    laid_out = [("a", g.a, g.a_offset, g.lda), ("b", g.b, g.b_offset, g.ldb),
                ("c", g.c, g.c_offset, g.ldc)]
    if g.source is not None:
        laid_out.append(("source", g.source, g.c_offset, g.ldc))
    found = []
    for operand, buffer, offset, ld in laid_out:
        rows, cols = g.rows_cols("c" if operand == "source" else operand)
        reach = max((rows - 1) * ld + cols - 1, 0)
        form = _form(offset, ranges)
        found.append(_Access(buffer.name, buffer.size, operand == "c", form, reach, ranges))
    for extra in (g.bias, g.packed_b):
        if extra is not None:
            found.append(_Access(extra.name, extra.size, False, ({}, 0), extra.size - 1, ranges))
    return found


def _form(e: loops.Expr, ranges: dict[str, int]):
    """An offset as an affine form in the loop variables, or _GLOBAL."""
    form = AffineTerms(ranges).affine(e)
    if form is None or any(t not in ranges for t in form[0]):
        return _GLOBAL      # a division or remainder that stays: not tracked
    return form


def _flat_form(buffer: loops.Buffer, index: tuple[loops.Expr, ...], ranges: dict[str, int]):
    """The row-major element offset of buffer[index] as an affine form, or _GLOBAL."""
    dims = buffer.shape if len(index) == buffer.ndim else (buffer.size,)
    parts = list(zip(index, dims, strict=True))
    # (x // c, x % c) over dimensions (.., c) is x over their product: a flat index split
    # into rows and columns (a global pooling's window, r0 // 16 and r0 % 16)
    k = len(parts) - 1
    while k > 0:
        (high, _), (low, dim) = parts[k - 1], parts[k]
        if isinstance(high, loops.FloorDiv) and isinstance(low, loops.Mod) and \
                high.a == low.a and _constant(high.b) == _constant(low.b) == dim:
            parts[k - 1:k + 1] = [(low.a, parts[k - 1][1] * dim)]
        k -= 1
    total: dict[str, int] = {}
    constant, stride = 0, 1
    for e, dim in reversed(parts):
        form = _form(e, ranges)
        if form is _GLOBAL:
            return _GLOBAL
        for t, c in form[0].items():
            total[t] = total.get(t, 0) + c * stride
        constant += form[1] * stride
        stride *= dim
    return total, constant


def _constant(e: loops.Expr) -> int | None:
    return int(e.value) if isinstance(e, loops.Const) else None


# -- legality ------------------------------------------------------------------------------


def _legal(run: _Run, accesses: list[_Access], private_ok: bool) -> bool:
    written_before = {a.buffer for member in run.accesses for a in member if a.write}
    touched_before = {a.buffer for member in run.accesses for a in member}
    written = {a.buffer for a in accesses if a.write}
    touched = {a.buffer for a in accesses}
    shared = (touched & written_before) | (written & touched_before)
    private = written - touched_before
    for name in shared:
        every = [a for member in run.accesses for a in member if a.buffer == name]
        if not all(_in_image(run, a) for a in every + [
                a for a in accesses if a.buffer == name]):
            return False
    if not private_ok:
        for name in private:
            if not all(_in_image(run, a) for a in accesses if a.buffer == name):
                return False
    return True


def _across(family: list[_Run], accesses: list[_Access]) -> bool:
    """Whether a new member's part in the main run may run before the rest run's earlier
    members, as fusing makes it (the whole main loop runs before the rest loop): every buffer
    they share, one writing it, is touched by each in its own images' regions only (the main
    run's images come before the rest run's, so they never meet)."""
    main, rest = family
    earlier = [a for member in rest.accesses for a in member]
    shared = ({a.buffer for a in accesses} & {a.buffer for a in earlier if a.write}) | \
        ({a.buffer for a in accesses if a.write} & {a.buffer for a in earlier})
    return all(all(_in_image(main, a) for a in accesses if a.buffer == name) and
               all(_in_image(rest, a) for a in earlier if a.buffer == name) for name in shared)


def _in_image(run: _Run, access: _Access) -> bool:
    """Whether the access stays in image `run.image()`'s region of its buffer."""
    if access.form is _GLOBAL or access.size % run.total:
        return False
    region = access.size // run.total
    terms, constant = access.form
    if terms.get(run.t.name, 0) != region * run.per or \
            (run.k is not None and terms.get(run.k.name, 0) != region):
        return False
    rest = {t: c for t, c in terms.items() if t not in run.variables}
    low, high = AffineTerms(access.ranges).range(rest, constant - run.base * region)
    return low >= 0 and high + access.reach < region


def _independent(stmt: loops.Stmt, run: _Run) -> bool:
    """Whether `stmt` touches nothing the run writes and writes nothing it touches."""
    if _has_check(stmt):
        return False
    written = {a.buffer for member in run.accesses for a in member if a.write}
    touched = {a.buffer for member in run.accesses for a in member}
    mine = _touched(stmt)
    return not (mine[0] & written) and not (mine[1] & touched)


def _touched(stmt: loops.Stmt) -> tuple[set[str], set[str]]:
    """(buffers touched, buffers written) by a statement."""
    written = {n.buffer.name for n in loops.walk(stmt)
               if isinstance(n, (loops.Store, loops.Accumulate))}
    written |= {n.c.name if isinstance(n, loops.Gemm) else n.out.name for n in loops.walk(stmt)
                if isinstance(n, (loops.Gemm, loops.DirectConv))}
    return touched(stmt), written


# -- per-slot temps --------------------------------------------------------------------------


def _contractible(family: list[_Run], temps: dict[str, loops.Buffer]) \
        -> dict[str, loops.Buffer]:
    """The temps touched by the family's runs alone, each in its image's region only, as
    buffers of one region per slot: an image's data lives and dies in its iteration, so the
    images of a slot can take turns in one region. (A product's beta source, read at its
    output's offset, keeps its size, and so does that output; so do a bias and a packed
    operand, read whole.)"""
    found = {}
    shared_offsets = {x.name for run in family for member in run.bodies for s in member
                      for n in loops.walk(s) if isinstance(n, loops.Gemm)
                      for x in (n.source, n.bias, n.packed_b,
                                n.c if n.source is not None else None) if x is not None}
    for name, buffer in temps.items():
        accesses = [(run, a) for run in family for member in run.accesses for a in member
                    if a.buffer == name]
        if accesses and name not in shared_offsets and \
                all(_in_image(run, a) for run, a in accesses):
            region = buffer.size // family[0].total
            found[name] = loops.Buffer(name, buffer.dtype, (family[0].slots * region,))
    return found


def _contracted(stmt: loops.Stmt, run: _Run, smaller: dict[str, loops.Buffer],
                slots: int) -> loops.Stmt:
    """The fused loop with each access of a `smaller` temp moved from its image's region of
    the whole-batch buffer to slot t's region of the per-slot one (of `slots` regions), as a
    flat index."""
    def moved(buffer: loops.Buffer, form, ranges: dict[str, int]) -> loops.Expr:
        # (t K + k + base) sz + rest (_in_image) -> t sz + rest
        region = buffer.size // slots
        terms, constant = form
        rest = sorted(((t, c) for t, c in terms.items() if t not in run.variables),
                      key=lambda term: -abs(term[1]))
        terms = {run.t.name: region, **dict(rest)}
        return AffineTerms(ranges).expression(terms, constant - run.base * region)

    def operands(new, old, names: tuple[str, ...], ranges: dict[str, int]):
        changes = {}
        for operand in names:
            target = smaller.get(getattr(new, operand).name)
            if target is not None:
                changes[operand] = target
                offset = getattr(old, f"{operand}_offset")
                changes[f"{operand}_offset"] = moved(target, _form(offset, ranges), ranges)
        return replace(new, **changes) if changes else new

    def go(node: loops.Node, ranges: dict[str, int]) -> loops.Recursive:
        if isinstance(node, (loops.Loop, loops.Reduce)):
            inner = {**ranges, node.var.name: node.extent}
            return (yield from loops.rebuild(node, lambda child: go(child, inner)))
        new = yield from loops.rebuild(node, lambda child: go(child, ranges))
        if isinstance(new, (loops.Load, loops.Store, loops.Accumulate)) and \
                new.buffer.name in smaller:
            target = smaller[new.buffer.name]
            index = moved(target, _flat_form(node.buffer, node.index, ranges), ranges)
            return type(new)(target, (index,), *new.fields()[2:])
        if isinstance(new, loops.Gemm):
            return operands(new, node, ("a", "b", "c"), ranges)
        if isinstance(new, loops.DirectConv):
            return operands(new, node, ("out", "w", "x"), ranges)
        return new

    return loops.iterate(go(stmt, {}))
