"""Graph invariants, checked between passes when checks are on (in tests), off by default.

Stage: optimization (test mode). Input: the graph a pass returned and the graph the pipeline
started from. Output: nothing, or an `InvariantError` naming the pass and the broken invariant.

Invariants:
- the node list is the outputs' topological order: every node once, inputs before users, no
  node that no output reaches, none missing;
- every op node is what `apply` would build: a registered op, its arity, the dtype its dtype
  rule gives (one dtype for its operands and itself, by default), canonical attributes, and
  the shape its shape rule derives again;
- constants hold arrays of their own shape and dtype;
- the inputs are unchanged, and the outputs keep their number, shapes and dtypes.

Checks are on when the compile options say so (`CompileOptions.check_passes`, whose default is
on when the environment variable GRAPHNN_CHECK_PASSES is set to anything but 0 or empty, read
when the options are made: `checks_from_environment`), or when `optimize(check=True)` asks.
"""

from __future__ import annotations

from graphnn.errors import DTypeError, GraphnnError
from graphnn.graph import Graph
from graphnn.ir import REGISTRY, Node, canonical_attrs, result_dtype, toposort
from graphnn.options import checks_from_environment  # noqa: F401  (re-exported)
from graphnn.text import node_names, type_text


class InvariantError(GraphnnError, AssertionError):
    """A pass returned a graph that breaks an invariant; the message names the pass."""


def _order_problems(graph: Graph) -> list[str]:
    listed = [id(n) for n in graph.nodes]
    expected = {id(n) for n in toposort(graph.outputs)}
    problems = []
    if len(set(listed)) != len(listed):
        problems.append("a node is listed twice")
    if set(listed) - expected:
        problems.append(f"{len(set(listed) - expected)} listed node(s) reach no output")
    if expected - set(listed):
        problems.append(f"{len(expected - set(listed))} node(s) the outputs read are not listed")
    seen: set[int] = set()
    for node in graph.nodes:
        if any(id(i) not in seen for i in node.inputs):
            problems.append(f"{node.describe()} is listed before one of its inputs")
            break
        seen.add(id(node))
    return problems


def _node_problem(node: Node) -> str | None:
    if node.op == "input":
        return None
    if node.op == "constant":
        value = node.value
        if value.shape != node.shape or value.dtype.name != node.dtype:
            return f"holds a {value.dtype} array of shape {value.shape}"
        return None
    op = REGISTRY.get(node.op)
    if op is not node.opdef or not op.takes(len(node.inputs)):
        return "is not a registered op with that many inputs"
    shapes = [i.shape for i in node.inputs]
    attrs = dict(node.attr_items)
    try:
        dtype = result_dtype(op, [i.dtype for i in node.inputs], attrs)
    except DTypeError:
        dtype = None
    if dtype != node.dtype:
        if op.dtype is None:
            return "mixes dtypes: " + ", ".join(type_text(i) for i in node.inputs)
        return f"has dtype {node.dtype}, but its dtype rule gives {dtype or 'an error'}"
    try:
        canonical = canonical_attrs(op, shapes, attrs)
        derived = tuple(op.shape(*shapes, **attrs))
    except GraphnnError as error:
        return f"cannot be built from its inputs: {error}"
    if canonical != attrs:
        return f"has attributes {attrs}, not the canonical {canonical}"
    if derived != node.shape:
        return f"has shape {node.shape}, but its shape rule gives {derived}"
    return None


def _signature_problems(graph: Graph, original: Graph) -> list[str]:
    problems = []
    if graph.inputs != original.inputs:
        problems.append("the inputs changed")
    if len(graph.outputs) != len(original.outputs):
        problems.append(f"{len(original.outputs)} outputs became {len(graph.outputs)}")
    for k, (now, before) in enumerate(zip(graph.outputs, original.outputs)):
        if (now.shape, now.dtype) != (before.shape, before.dtype):
            problems.append(f"output {k} was {type_text(before)}, is now {type_text(now)}")
    return problems


def verify(graph: Graph, original: Graph, after: str) -> None:
    """Raise InvariantError if graph, returned by the pass `after`, breaks an invariant.

    >>> import graphnn as gn
    >>> g = gn.Graph(gn.exp(gn.input("x")))
    >>> verify(g, g, after="nothing")
    """
    problems = _order_problems(graph) + _signature_problems(graph, original)
    names = node_names(graph.nodes)
    for node in graph.nodes:
        problem = _node_problem(node)
        if problem is not None:
            args = ", ".join(names.get(i, "?") for i in node.inputs)
            problems.append(f"{names[node]} = {node.op} {args} : {type_text(node)} {problem}")
    if problems:
        raise InvariantError(f"pass {after!r} broke an invariant of graph {graph.name}: "
                             + "; ".join(problems))
