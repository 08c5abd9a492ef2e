"""Op definitions: `OpDef`, the facets it groups, the registry and the checks `register` makes.

Stage: declaration. Input: an op's facets, written in one place (graphnn/ops/<family>.py).
Output: an entry of `REGISTRY`, which every later stage reads: nothing elsewhere keeps a table
keyed by op name, so a new op cannot miss a facet silently. `register` refuses an op whose
facets are missing or contradict each other, with a message naming the facet to declare.

docs/architecture.md ("The OpDef" and "How to add an op") explains each field with an example.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any

from graphnn.errors import OpError
from graphnn.shapes import Shape

Node = Any      # a graph node (graphnn.ir.Node, a layer above: the facets receive nodes)

_MISSING: Any = object()   # a facet that was not given at all (None means "declared absent")
REQUIRED: Any = inspect.Parameter.empty   # an attribute with no default (OpDef.params)
SOURCES = ("input", "constant")   # made by gn.input and gn.constant: no rules, no lowering

# Input domains: the interval an input's sample points come from when an op is checked (the
# symbolic proofs' rational points, the random graphs' operands): REAL unless declared.
Domain = tuple[float, float]
REAL: Domain = (-3.0, 3.0)
POSITIVE: Domain = (0.0, 3.0)          # logarithms, roots, the base of pow
UNIT: Domain = (0.0, 1.0)              # probabilities

# How an axis attribute is checked and normalized (by `ir.apply`, before `canonical` runs),
# against the rank of the first input: shapes.normalize_axis, normalize_axes, ... .
AXIS_KINDS = (
    "one",           # one int, as a non-negative int (softmax's axis)
    "many",          # None (every axis), an int or a tuple, as a sorted tuple (reductions)
    "permutation",   # every axis once, None reversing them, as a tuple (transpose's axes)
    "new",           # one int naming an axis of a result one rank higher (stack, expand_dims)
)

# The lowerings to matrix products (graphnn/lower/gemm.py, graphnn/lower/conv.py) an op can
# name in Lowering.gemm; an op naming one is still given a `compute` rule, used when its
# operands are not in memory or the product is too small to pay.
GEMM_FORMS = ("matmul", "conv2d", "conv2d_grad_input", "conv2d_grad_weight")

INITIALIZERS = ("he", "xavier")        # the nn initializers an activation may default to

# What dtypes the operands of an op with the shared dtype rule (OpDef.dtype None) may have:
ACCEPTS = (
    "float",         # float32 and float64 (the default: exp, matmul, reductions)
    "number",        # ints too (add, mul, maximum: integer arithmetic wraps, as NumPy's)
    "any",           # bools too (layout ops: reshape, transpose, broadcast_to)
)


@dataclass(frozen=True)
class Lowering:
    """How lowering (graphnn/lower) treats an op, besides its scalar/compute/view rule.

    What an element costs is not declared: codegen's cost model (codegen.cost.inline_cost)
    prices the loop IR the op's scalar rule builds, so there is one cost model.
    `reads_once`: an indexing op that reads each operand element once, a reduction over its
    `axis` attribute (declared in `axes` as "many"): its operands are not kept in memory for
    it, and it is fused into its user's loop unless it reduces leading axes.
    `gemm`: the matrix-product lowering the op uses when its operands are in memory (one of
    GEMM_FORMS), "" for none.
    `checks(*in_shapes, **attrs) -> ((position, size), ...)`: inputs holding indices into an
    axis of `size` (NumPy's range, -size <= i < size): lowering checks every one before the
    op runs (a loop of codegen Checks, the kernel returning an error code), and the op gets
    a buffer of its own (never fused), so native code never reads out of bounds.
    `pieces(out_shape, *operands, **attrs)`: the op's output as boxes, each written by a loop
    of its own, `[(start, shape, element), ...]`, `element(index)` giving the box's element
    at `index` (counted from the box's corner) from the operands (indexable, as in `compute`):
    concat writes each input into its part of the output, pad the value around x. Such an op
    is stored (never computed in its user's loop) and reads each operand element once; its
    `compute` rule, whose selects pick the box per element, is what analyses read
    (graphnn/compiler/batchrows.py).
    """

    reads_once: bool = False
    gemm: str = ""
    checks: Callable[..., tuple[tuple[int, int], ...]] | None = None
    pieces: Callable[..., list] | None = None


@dataclass(frozen=True)
class Instance:
    """Small operand shapes (and attributes) on which `check_ops` proves an op's derivative
    rule and its drawing labels against sympy.diff.

    >>> Instance(((2,), ())).describe(("x", "y"))
    'x (2,), y ()'
    """

    shapes: tuple[Shape, ...]
    attrs: Mapping[str, Any] = field(default_factory=dict)

    def describe(self, op_inputs: tuple[str, ...]) -> str:
        shapes = ", ".join(f"{n} {tuple(s)}" for n, s in zip(op_inputs, self.shapes))
        attrs = ", ".join(f"{k}={v}" for k, v in self.attrs.items())
        return f"{shapes}{'; ' + attrs if attrs else ''}"


@dataclass(frozen=True)
class Symbolic:
    """The SymPy side of an op, besides its `to_sympy` form.

    `instances`: where `check_ops` proves the rules (every op but input and constant has one;
    `ops.common.elementwise` gives elementwise ops (2,)-shaped first operands by default).
    `function`: the op as a named SymPy function (sigmoid as σ, whose derivative SymPy writes
    as σ (1 - σ)), used instead of `to_sympy` unless a translation asks for written-out
    formulas; called like `to_sympy`.
    `terms`: for an op whose output elements are sums (matmul, convolutions), how many terms
    each sums: translating it costs that many SymPy operations per element, which the bound
    on symbolic work (`max_ops`) counts.
    `without`: instead of instances, why the rule proofs do not apply: an op with an int or
    bool input or result (a comparison, `take`'s indices) has no derivative there to prove;
    its gradients (where it has any) are checked against central differences instead.
    """

    instances: tuple[Instance, ...] = ()
    function: Callable[..., Any] | None = None
    terms: Callable[[Node], int] | None = None
    without: str = ""       # why the symbolic checks do not apply (an op on ints or bools)


@dataclass(frozen=True)
class Kink:
    """A point where an op is not differentiable, and graphnn's derivative there.

    The check (graphnn.symbolic.conventions) builds the op on inputs holding `values` (one per
    input, scalars or nested lists; a non-scalar result is summed), evaluates graphnn's
    gradient and SymPy's derivative of the op's `to_sympy` form, and requires them to agree
    (`agrees`) or to differ (by design, `why` says why). The drawing's derivative label must
    give graphnn's value there too, unless `label` says why it reads otherwise.
    """

    where: str                      # the point in words: "x = 0", "x = y", "three tied"
    values: tuple[Any, ...]
    agrees: bool
    why: str
    attrs: Mapping[str, Any] = field(default_factory=dict)
    label: str = ""


@dataclass(frozen=True)
class Labels:
    """What the teaching drawings and the label checker need beyond `symbol` and `derivative`.

    `infix`: step-through text writes the op between its operands with its symbol (x + y).
    `in_words`: the derivative labels are words, not formulas (max: "g routed to the max"), so
    the label checker leaves them to the rule proof.
    `sizes`: what the size letters of the labels stand for (mean's N: elements per mean).
    `assumes`: what the labels take for granted about the inputs, as SymPy substitutions made
    from the inputs' element arrays (softmax_cross_entropy: each one-hot row sums to 1).
    """

    infix: bool = False
    in_words: bool = False
    sizes: Mapping[str, Callable[[Node], int]] = field(default_factory=dict)
    assumes: Callable[..., Mapping[Any, Any]] | None = None


@dataclass(frozen=True)
class Rebatch:
    """For an op whose attribute holds its result's shape (reshape, broadcast_to): how the
    compiler re-specializes it for another batch size (graphnn/compiler/rebatch.py).

    `attribute` is replaced by the result's shape at the new batch size. `factors(x, factors,
    shape, declared)` gives, per axis of the result, 0 for a fixed size or k when the axis
    holds k times the batch, from x's factors (the same for x's axes), the result's declared
    `shape` and the declared batch size; a ShapeError says why the op fixes the batch.
    """

    attribute: str
    factors: Callable[[Node, tuple[int, ...], Shape, int], tuple[int, ...]]


@dataclass(frozen=True, eq=False)
class OpDef:
    """Everything graphnn knows about one op, declared in one place (STYLE.md section 4).

    The rules, called with the op's attributes as keywords:
      shape(*in_shapes) -> shape              raises ShapeError
      reference(*arrays) -> ndarray           the semantics, NaN and inf included
      vjp(g, out, *inputs) -> tuple           one cotangent per input in graph ops, None = none
      to_sympy(*exprs) -> expr                SymPy form (scalars for elementwise ops)
      expand(*inputs) -> Node                 composite ops: the same value from primitives
      scalar(*loop_exprs) -> expr             lowering of an elementwise op (codegen.loops)
      compute(out_index, *operands)           lowering of an indexing op: the expression of
                                              one output element; operands are indexable
      view(out_index, in_shape)               lowering of a layout op: the input index that
                                              holds an output element
      scatter(out_buffer, *operands)          lowering of an op written by statements (a
                                              scatter-add): codegen loop statements filling
                                              the output buffer, never a dense product
      dtype(*in_dtypes) -> dtype              the result's dtype (raises DTypeError); None:
                                              the inputs share one dtype, which it has, of
                                              the kinds `accepts` names (ACCEPTS)
      canonical(*in_shapes) -> attrs          attributes normalized (axes already are)

    `own_dtype` lists the inputs whose dtype is their own (indices, conditions, cast's
    operand): a Python number or array there keeps NumPy's dtype (int64, bool) instead of
    taking the other operands' dtype, as numbers elsewhere do.

    Facts about the op: `params` (attribute names and defaults), `axes` (which attributes are
    axes, and their kind: AXIS_KINDS), `variadic` (takes one or more inputs, all named by its
    one input name, "xs": the rules receive them spread, `shape(*shapes)`, `vjp(g, out, *xs)`
    returning one cotangent each, and its one `derivative` text and domain serve every
    input; `input_names` numbers them xs0, xs1, ...), `elementwise`, `commutative` (op(x, y) = op(y, x), up
    to the sign of a zero), `shape_only` (positions of inputs whose values are never read,
    only their shapes), `domains` (per input, where sample points come from), `public`
    (exported as gn.<name>), `builtin` (one of graphnn's own ops, set by graphnn.ops),
    `activation` (usable as nn.Dense(activation=name); the initializer it defaults to).

    `kinks` lists the points where the op is not differentiable, with graphnn's derivative
    there; every op declares them, () when it has none. `symbol` is the drawings' short label
    ("+", "σ", "@"); `derivative` is text for teaching drawings, one string per input, written
    with the input names, `out` and `g`: for elementwise ops the local derivative d out /
    d input (the input's gradient is g times it), for other ops the input's gradient as a
    formula of g. `lowering`, `symbolic`, `labels` and `rebatch` group the facets of one stage.
    """

    name: str
    inputs: tuple[str, ...]                      # input names, in argument order
    doc: str
    shape: Callable[..., Shape]
    reference: Callable[..., Any] | None = None
    vjp: Callable[..., tuple] | None = _MISSING
    to_sympy: Callable[..., Any] | None = None
    expand: Callable[..., Node] | None = None
    params: tuple[tuple[str, Hashable], ...] = ()  # attribute names and defaults
    axes: Mapping[str, str] = field(default_factory=dict)   # axis attribute -> its kind
    canonical: Callable[..., dict] | None = None   # (*in_shapes, **attrs) -> normalized attrs
    dtype: Callable[..., str] | None = None        # (*in_dtypes, **attrs) -> result dtype
    accepts: str = "float"                         # with dtype None: operand kinds, ACCEPTS
    own_dtype: tuple[int, ...] = ()                # inputs typed by their own values
    variadic: bool = False                         # any number (>= 1) of inputs, named xs0...
    elementwise: bool = False                      # output = broadcast of inputs, per element
    commutative: bool = False                      # op(x, y) = op(y, x)
    shape_only: tuple[int, ...] = ()               # inputs read for their shape alone
    domains: tuple[Domain, ...] = ()               # per input; () = every input REAL
    public: bool = True                            # exported as gn.<name>
    builtin: bool = False                          # graphnn's own (graphnn.ops sets it)
    scalar: Callable[..., Any] | None = None       # elementwise lowering: loop exprs -> expr
    compute: Callable[..., Any] | None = None      # indexing lowering: one output element
    view: Callable[..., Any] | None = None         # layout ops: output index -> input index
    scatter: Callable[..., Any] | None = None      # statement lowering: out buffer -> stmts
    kinks: tuple[Kink, ...] = _MISSING             # non-differentiable points; () for none
    symbol: str = ""                               # short label for drawings: "+", "σ", "@"
    derivative: tuple[str, ...] = ()               # per input, for drawings: see above
    activation: str = ""                           # nn activation: its default initializer
    lowering: Lowering = field(default_factory=Lowering)
    symbolic: Symbolic = field(default_factory=Symbolic)
    labels: Labels = field(default_factory=Labels)
    rebatch: Rebatch | None = None

    @property
    def arity(self) -> int:
        """The number of input names declared (a variadic op's one name covers them all)."""
        return len(self.inputs)

    def takes(self, count: int) -> bool:
        """Whether the op accepts `count` inputs."""
        return count >= 1 if self.variadic else count == self.arity

    def input_names(self, count: int | None = None) -> tuple[str, ...]:
        """The names of the op's inputs when it has `count` of them: `inputs`, or for a
        variadic op its one name numbered (xs0, xs1, ...: identifiers, as symbols need).

        >>> OpDef("concat", ("xs",), "doc", shape=max, variadic=True).input_names(2)
        ('xs0', 'xs1')
        """
        if not self.variadic:
            return self.inputs
        return tuple(f"{self.inputs[0]}{k}" for k in range(1 if count is None else count))

    def derivative_of(self, position: int) -> str:
        """The drawings' derivative text of the input at `position`."""
        return self.derivative[0 if self.variadic else position]

    @property
    def composite(self) -> bool:
        """Composite ops are defined by an expansion into primitives."""
        return self.expand is not None

    @property
    def indexing(self) -> Callable[..., Any] | None:
        """The lowering of an op that gets a loop nest of its own: compute or scatter."""
        return self.compute if self.compute is not None else self.scatter

    @property
    def source(self) -> bool:
        """input and constant: made by gn.input and gn.constant, not by rules."""
        return self.name in SOURCES

    @property
    def from_shapes(self) -> bool:
        """Its value follows from its inputs' shapes alone (size): a constant once lowered."""
        return bool(self.inputs) and len(self.shape_only) == self.arity

    def domain(self, position: int) -> Domain:
        """Where sample points of input `position` come from."""
        if not self.domains:
            return REAL
        return self.domains[0 if self.variadic else position]

    def __repr__(self) -> str:
        return f"OpDef({self.name!r})"


REGISTRY: dict[str, OpDef] = {}


def register(op: OpDef) -> OpDef:
    """Add an op to REGISTRY after checking that it declares every facet it needs, and that
    its facets agree with each other (an OpError names the first problem)."""
    if op.name in REGISTRY:
        raise OpError(f"op {op.name!r} is already registered")
    if not op.doc.strip():
        raise OpError(f"op {op.name!r} has no docstring")
    for check in _CHECKS if not op.source else (_check_vjp, _check_kinks):
        problem = check(op)
        if problem:
            raise OpError(f"op {op.name!r} {problem}")
    REGISTRY[op.name] = op
    return op


# ---------------------------------------------------------------------------------------------
# The checks: each returns what is wrong (completing "op 'name' ..."), or "".


def _check_vjp(op: OpDef) -> str:
    return "declares no vjp (give vjp=None if it has no gradient)" if op.vjp is _MISSING else ""


def _check_rules(op: OpDef) -> str:
    if op.reference is None:
        return "declares no reference semantics"
    if op.to_sympy is None and op.expand is None:
        return "declares no SymPy form"
    if len(op.derivative) != op.arity:
        return "needs one derivative text per input"
    return ""


def _check_kinks(op: OpDef) -> str:
    if op.kinks is _MISSING:
        return ("declares no kinks (the points where it is not differentiable, with its "
                "derivative there: kinks=(Kink(...),), or kinks=() when it has none)")
    return ""


def _check_lowering(op: OpDef) -> str:
    lowerings = [f for f in (op.scalar, op.compute, op.view, op.scatter) if f is not None]
    if len(lowerings) > 1 or (not lowerings and not op.composite):
        return ("needs exactly one of scalar, compute, view or scatter (composites may instead "
                "lower through their expansion)")
    if op.scalar is not None and not op.elementwise:
        return "has a scalar lowering but is not elementwise"
    if op.lowering.reads_once and (op.compute is None or op.axes.get("axis") != "many"):
        return "reads_once needs a compute rule reducing over an axis attribute of kind 'many'"
    if op.lowering.gemm and (op.lowering.gemm not in GEMM_FORMS or op.compute is None):
        return f"gemm must be one of {GEMM_FORMS}, with a compute rule to fall back on"
    if op.lowering.pieces is not None and (op.compute is None or op.lowering.gemm):
        return "pieces needs a compute rule (what analyses read), and no gemm form"
    return ""


def _check_attributes(op: OpDef) -> str:
    params = {key for key, _ in op.params}
    axis_like = {key for key in params if key in ("axis", "axes")}
    if not axis_like <= set(op.axes) or not set(op.axes) <= params:
        return (f"has axis attributes {sorted(axis_like)} but declares axes {dict(op.axes)}: "
                "every axis attribute is declared in axes={name: kind}, and only those")
    if not set(op.axes.values()) <= set(AXIS_KINDS):
        return f"declares an axis kind not in {AXIS_KINDS}: {dict(op.axes)}"
    if "shape" in params and op.rebatch is None:
        return "has a shape attribute but no rebatch=Rebatch(...) saying how it follows a batch"
    if op.rebatch is not None and op.rebatch.attribute not in params:
        return f"rebatch names the attribute {op.rebatch.attribute!r}, which it does not take"
    return ""


def _check_inputs(op: OpDef) -> str:
    if op.accepts not in ACCEPTS:
        return f"accepts {op.accepts!r}, not one of {ACCEPTS}"
    if not all(0 <= k < op.arity for k in op.own_dtype) or (op.own_dtype and op.dtype is None):
        return "declares own_dtype positions beyond its inputs, or without a dtype rule"
    if op.variadic and (op.arity != 1 or op.commutative or op.elementwise or op.shape_only
                        or op.activation):
        return ("is variadic: it declares one input name (inputs=(\"xs\",)), and is neither "
                "commutative, elementwise, an activation nor reads an input for its shape only")
    if op.commutative and op.arity != 2:
        return "is commutative but does not take two inputs"
    if not all(0 <= k < op.arity for k in op.shape_only):
        return f"declares shape_only positions {op.shape_only} beyond its {op.arity} inputs"
    if op.domains and len(op.domains) != op.arity:
        return "needs one domain per input (or none)"
    if op.activation and (op.activation not in INITIALIZERS or op.arity != 1 or not op.public
                          or any(v is REQUIRED for _, v in op.params)):
        return (f"is an activation: it needs one input, every attribute defaulted, public=True "
                f"and an initializer in {INITIALIZERS}")
    return ""


def _check_checks(op: OpDef) -> str:
    """The small instances and kinks the symbolic checks run: one value per input each."""
    params = {key for key, _ in op.params}
    if not op.symbolic.instances and not op.symbolic.without:
        return ("declares no symbolic=Symbolic(instances=...): the small shapes check_ops "
                "proves its rules on (or Symbolic(without=...) saying why there are none)")
    for point in op.symbolic.instances:
        if not op.takes(len(point.shapes)) or not set(point.attrs) <= params:
            return f"has an instance that does not fit its inputs and attributes: {point}"
    for kink in op.kinks:
        if not op.takes(len(kink.values)) or not set(kink.attrs) <= params:
            return f"has a kink that does not fit its inputs and attributes: {kink}"
    return ""


_CHECKS = (_check_vjp, _check_kinks, _check_rules, _check_lowering, _check_attributes,
           _check_inputs, _check_checks)
