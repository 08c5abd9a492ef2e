"""Pattern rewriting: patterns and builders as data, applied to a graph until nothing fires.

Stage: optimization. Input: a Graph and a table of `Rule`s. Output: an equivalent Graph.

A rule is a pattern over nodes (`P.mul(x, 1.0)`) and a builder that receives the pattern's
variables and returns the replacement, or None to decline. The engine rewrites in rounds: each
round walks the graph in topological order and tries the rules on every node, rebuilt first on
its inputs' replacements, and `uses(node)`, `value_read(node)` and `find(...)` answer for the
graph the round started from (a node built in this round stands for the node it replaces, and
`find` declines on one). Rounds repeat until one changes nothing; a chain of rewrites along a
deep graph happens in one round, not one round per link.

    >>> import graphnn as gn
    >>> x = gn.input("x", shape=(2,))
    >>> rules = [Rule("x * 1 -> x", P.mul(Var("x"), 1.0), lambda x: x)]
    >>> print(rewrite(gn.Graph(x * 1.0), rules))
    graph f(x: f64[2]) {
      return x
    }
"""

from __future__ import annotations

import abc
import contextlib
import contextvars
import functools
import inspect
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from graphnn import ir
from graphnn.errors import GraphnnError
from graphnn.graph import Graph
from graphnn.ir import REGISTRY, Node, OpDef, apply, constant
from graphnn.options import CompileOptions

Bindings = dict[str, Node]


class RewriteError(GraphnnError, RuntimeError):
    """A rule table does not converge (two rules undo each other), or a builder misbehaves."""


# ---------------------------------------------------------------------------------------------
# Facts about nodes that rules need


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.tobytes() == b.tobytes()


@functools.cache
def exactly_commutative(op: OpDef) -> bool:
    """True when op(x, y) and op(y, x) agree to the bit: the commutative facet is not enough.

    np.maximum(0.0, -0.0) is -0.0 but np.maximum(-0.0, 0.0) is 0.0, so swapping the operands
    of maximum or minimum changes the sign of a zero. The reference is probed at the values
    where IEEE operations are known to care about order, once per op (whenever it was
    registered).

    >>> from graphnn.ir import REGISTRY
    >>> exactly_commutative(REGISTRY["add"]), exactly_commutative(REGISTRY["maximum"])
    (True, False)
    """
    if not op.commutative or op.reference is None:
        return False
    probes = [0.0, -0.0, np.inf, -np.inf, 1.0]
    with np.errstate(all="ignore"):
        return all(_same_bits(np.asarray(op.reference(np.float64(a), np.float64(b))),
                              np.asarray(op.reference(np.float64(b), np.float64(a))))
                   for a in probes for b in probes)


SPLATS = ("broadcast_to", "broadcast_like")


def splat_core(node: Node) -> Node | None:
    """The scalar constant c when node is broadcast_to(c, shape) or broadcast_like(c, like)
    (a "splat": every element is c), else None."""
    if node.op in SPLATS and node.inputs[0].op == "constant" and node.inputs[0].shape == ():
        return node.inputs[0]
    return None


def shape_only_inputs(node: Node) -> tuple[int, ...]:
    """Positions of the inputs whose values node never reads, only their shapes (the op's
    `shape_only` facet: broadcast_like's `like`, size's operand)."""
    return node.opdef.shape_only


def uniform_value(node: Node) -> np.ndarray | None:
    """The one value every element holds, for a constant or a splat of one; else None.

    Uniform means the same bits, so -0.0 and 0.0 differ and a NaN matches only its own bits.
    """
    core = splat_core(node)
    if core is not None:
        return core.value
    if node.op != "constant" or node.value.size == 0:
        return None
    flat = node.value.reshape(-1)
    bits = flat.view(f"u{flat.itemsize}")
    return flat[0] if (bits == bits[0]).all() else None


def is_constant_like(node: Node) -> bool:
    """A constant, or a splat of a scalar constant."""
    return node.op == "constant" or splat_core(node) is not None


# ---------------------------------------------------------------------------------------------
# Patterns


class Pattern(abc.ABC):
    """Something a node can match; `match` extends `bindings` in place and reports success."""

    @abc.abstractmethod
    def match(self, node: Node, bindings: Bindings) -> bool:
        """Whether `node` matches, binding the pattern's variables in `bindings`."""


@dataclass(frozen=True)
class Var(Pattern):
    """Any node; a variable used twice must match the same node both times."""

    name: str

    def match(self, node: Node, bindings: Bindings) -> bool:
        bound = bindings.setdefault(self.name, node)
        return bound is node


@dataclass(frozen=True)
class Const(Pattern):
    """A constant or splat whose every element is `value` (the same bits: -0.0 is not 0.0)."""

    value: float

    def match(self, node: Node, bindings: Bindings) -> bool:
        found = uniform_value(node)
        return found is not None and _same_bits(np.asarray(found, dtype=found.dtype),
                                                np.asarray(self.value, dtype=found.dtype))


@dataclass(frozen=True)
class AnyConst(Pattern):
    """Any constant or splat, bound to `name`."""

    name: str

    def match(self, node: Node, bindings: Bindings) -> bool:
        return is_constant_like(node) and Var(self.name).match(node, bindings)


@dataclass(frozen=True)
class Op(Pattern):
    """The op `op` with arguments matching `args`; exactly commutative ops match either order.
    Attributes are not matched: builders read them from the matched node."""

    op: str
    args: tuple[Pattern, ...]

    def match(self, node: Node, bindings: Bindings) -> bool:
        if node.op != self.op or len(node.inputs) != len(self.args):
            return False
        orders = [node.inputs]
        if exactly_commutative(node.opdef):
            orders.append(node.inputs[::-1])
        for inputs in orders:
            trial = dict(bindings)
            if all(p.match(i, trial) for p, i in zip(self.args, inputs)):
                bindings.update(trial)
                return True
        return False


@dataclass(frozen=True)
class Where(Pattern):
    """Any node for which `test(node)` holds, bound to `name` (for rules over op families)."""

    name: str
    test: Callable[[Node], bool]

    def match(self, node: Node, bindings: Bindings) -> bool:
        return self.test(node) and Var(self.name).match(node, bindings)


def _lift(arg: Any) -> Pattern:
    if isinstance(arg, Pattern):
        return arg
    if isinstance(arg, (int, float)):
        return Const(float(arg))
    raise TypeError(f"a pattern argument must be a Pattern or a number, got {arg!r}")


class _OpPatterns:
    """`P.mul(x, 1.0)` is `Op("mul", (x, Const(1.0)))`."""

    def __getattr__(self, op: str) -> Callable[..., Op]:
        if op not in REGISTRY:
            raise AttributeError(f"no op {op!r} to build a pattern from")
        return lambda *args: Op(op, tuple(_lift(a) for a in args))


P = _OpPatterns()


# ---------------------------------------------------------------------------------------------
# Rules


@dataclass(frozen=True)
class Rule:
    """`name` is the rewrite as text (`x * 1 -> x`), shown in reports; `build` gets the bound
    variables it names as keyword arguments (and `node`, the matched node, and `options`, the
    CompileOptions of the rewrite, if it asks)."""

    name: str
    pattern: Pattern
    build: Callable[..., Node | None]
    params: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", tuple(inspect.signature(self.build).parameters))

    def apply(self, node: Node, options: CompileOptions | None = None) -> Node | None:
        """The replacement for `node`, or None when the pattern or the builder declines."""
        bindings: dict[str, Any] = {}
        if not self.pattern.match(node, bindings):
            return None
        bindings["node"] = node
        if "options" in self.params:
            bindings["options"] = CompileOptions() if options is None else options
        return self.build(**{k: bindings[k] for k in self.params})


# ---------------------------------------------------------------------------------------------
# What builders may ask about the graph being rewritten


@dataclass
class _Context:
    users: dict[Node, list[Node]]
    outputs: set[Node]
    read: set[Node]             # nodes whose value an output or a read node reads
    nodes: set[Node]            # the graph the round started from
    stands_for: dict[Node, Node] = field(default_factory=dict)  # built this round -> replaced

    def origin(self, node: Node) -> Node:
        return self.stands_for.get(node, node)


_CONTEXT: contextvars.ContextVar[_Context | None] = contextvars.ContextVar("rewrite",
                                                                          default=None)


def _context() -> _Context:
    context = _CONTEXT.get()
    if context is None:
        raise RewriteError("uses() and find() are only available inside a rewrite")
    return context


def uses(node: Node) -> int:
    """How many times the graph reads node (an output counts once): 1 means a private value."""
    context = _context()
    node = context.origin(node)
    return len(context.users.get(node, ())) + (node in context.outputs)


def value_read(node: Node) -> bool:
    """Whether the graph needs node's value (not only its shape) to compute its outputs."""
    context = _context()
    return context.origin(node) in context.read


def find(op: str, *inputs: Node) -> Node | None:
    """The first node of the graph (in topological order) computing `op` on exactly these
    inputs, whatever its name, scope or attributes; None if there is none."""
    context = _context()
    if not all(i in context.nodes for i in inputs):
        return None         # built in this round: what uses it is not known yet
    for user in context.users.get(inputs[0], ()):
        if user.op == op and user.inputs == inputs:
            return user
    return None


def _context_of(graph: Graph) -> _Context:
    users: dict[Node, list[Node]] = {}
    for node in graph.nodes:
        for source in node.inputs:
            users.setdefault(source, []).append(node)
    read = set(graph.outputs)
    for node in reversed(graph.nodes):
        if node in read:
            ignored = shape_only_inputs(node)
            read.update(i for k, i in enumerate(node.inputs) if k not in ignored)
    return _Context(users, set(graph.outputs), read, set(graph.nodes))


# ---------------------------------------------------------------------------------------------
# The engine


@contextlib.contextmanager
def at_scope(path: tuple[str, ...]) -> Iterator[None]:
    """Build nodes in scope `path` (a rewritten node keeps the scope of the node it replaces)."""
    token = ir._SCOPE.set(path)
    try:
        yield
    finally:
        ir._SCOPE.reset(token)


def rebuild(node: Node, inputs: Sequence[Node]) -> Node:
    """node's op, attributes, name and scope applied to new inputs."""
    if all(a is b for a, b in zip(inputs, node.inputs)):
        return node
    with at_scope(node.scope):
        return apply(node.op, *inputs, name=node.name, **node.attrs)


def _fit(node: Node, result: Node, rule: Rule) -> Node:
    """The replacement checked against node: same dtype, and node's shape (broadcast if the
    result is smaller: the values are the same, only repeated)."""
    if not isinstance(result, Node) or result.dtype != node.dtype:
        raise RewriteError(f"rule {rule.name!r} built {result!r} for {node.describe()}")
    if result.shape != node.shape:
        result = apply("broadcast_to", result, shape=node.shape)
    if node.name and result.name is None and result.op not in ("input", "constant") \
            and uses(result) == 0:
        result = result.named(node.name)       # a new node takes the name it replaces
    return result


class _RulesByOp:
    """The rules that can match a node of each op, in their table order: a rule whose pattern
    is an `Op` only at that op, the others (variables, predicates) at every op. A rule of
    another op would decline at its first comparison anyway; skipping it made the optimizer
    about twice as fast (most tables have a few rules per op)."""

    def __init__(self, rules: Sequence[Rule]) -> None:
        self.rules = tuple(rules)
        self.by_op: dict[str, tuple[Rule, ...]] = {}

    def __call__(self, op: str) -> tuple[Rule, ...]:
        found = self.by_op.get(op)
        if found is None:
            found = self.by_op[op] = tuple(
                r for r in self.rules if not isinstance(r.pattern, Op) or r.pattern.op == op)
        return found


def _try_rules(node: Node, rules: Sequence[Rule], fired: Counter,
               options: CompileOptions) -> Node | None:
    if not rules:
        return None
    with at_scope(node.scope):
        for rule in rules:
            result = rule.apply(node, options)
            if result is None or result is node:
                continue
            fired[rule.name] += 1
            return _fit(node, result, rule)
    return None


def _round(graph: Graph, rules: _RulesByOp, fired: Counter,
           options: CompileOptions) -> tuple[Graph, bool]:
    """One walk over the graph: each node rebuilt on its inputs' replacements, then the rules
    tried on it."""
    new: dict[Node, Node] = {}
    changed = False
    context = _context_of(graph)
    token = _CONTEXT.set(context)
    try:
        for node in graph.nodes:
            current = rebuild(node, [new[i] for i in node.inputs])
            if current not in context.nodes:
                context.stands_for.setdefault(current, node)
            replaced = None if node.op == "input" else \
                _try_rules(current, rules(current.op), fired, options)
            new[node] = current if replaced is None else replaced
            if new[node] is not node:
                changed = True
                if new[node] not in context.nodes:
                    context.stands_for.setdefault(new[node], node)
    finally:
        _CONTEXT.reset(token)
    if not changed:
        return graph, False
    return Graph([new[o] for o in graph.outputs], graph.inputs, graph.name), True


def rewrite(graph: Graph, rules: Sequence[Rule], fired: Counter | None = None,
            options: CompileOptions | None = None) -> Graph:
    """Apply `rules` until none fires, in at most `options.max_rounds` rounds; `fired` (if
    given) counts the firings by rule name."""
    fired = Counter() if fired is None else fired
    options = CompileOptions() if options is None else options
    by_op = _RulesByOp(rules)
    rounds = options.max_rounds
    before = Counter(fired)
    for round_number in range(rounds):
        if round_number == rounds - 4:
            before = Counter(fired)        # the rules of the last rounds are the cycle
        graph, changed = _round(graph, by_op, fired, options)
        if not changed:
            return graph
    cycling = sorted((fired - before).keys())
    raise RewriteError(f"rules still fire after {rounds} rounds: {cycling}")


def scalar(value: Any, like: Node) -> Node:
    """A scalar constant of like's dtype (rules build constants with the node's dtype)."""
    return constant(np.asarray(value, dtype=like.dtype), dtype=like.dtype)
