"""The graph IR: interned immutable `Node`s, `apply`, and the op registry (graphnn/opdef.py).

Stage: declaration. Input: user calls (`apply("mul", x, 2.0)`, `x * 2.0`). Output: nodes whose
shape and dtype were checked when they were built, so an ill-shaped graph cannot exist.

Nodes are interned: the same op on the same inputs with the same attributes (and name and
scope) is the same Python object, so equal subexpressions merge as they are built.
"""

from __future__ import annotations

import contextlib
import contextvars
import inspect
import numbers
import threading
import types
import unicodedata
import weakref
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from graphnn.errors import DTypeError, OpError, ShapeError, did_you_mean, short_repr, where
from graphnn.opdef import REGISTRY, REQUIRED, OpDef, register  # noqa: F401 (found here too)
from graphnn.shapes import (
    Shape,
    as_shape,
    check_size,
    format_shape,
    normalize_axes,
    normalize_axis,
    normalize_permutation,
)

DTYPES = ("float32", "float64", "int32", "int64", "bool")
FLOAT_DTYPES = ("float32", "float64")
INT_DTYPES = ("int32", "int64")
# the dtypes an op's operands may have, by OpDef.accepts
KINDS = {"float": FLOAT_DTYPES, "number": FLOAT_DTYPES + INT_DTYPES, "any": DTYPES}
_SHORT = {"float32": "f32", "float64": "f64", "int32": "i32", "int64": "i64", "bool": "bool"}

# ---------------------------------------------------------------------------------------------
# Scopes: names that group nodes (a layer), drawn as clusters by the renderer.

_SCOPE: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar("scope", default=())


@contextlib.contextmanager
def scope(name: str) -> Iterator[tuple[str, ...]]:
    """Group the nodes built inside the block under `name` (nested scopes make a path).

    >>> import graphnn as gn
    >>> with gn.scope("layer1"):
    ...     h = gn.relu(gn.input("x", shape=(3,)))
    >>> h.scope
    ('layer1',)
    """
    if not isinstance(name, str) or not name:
        raise OpError(f"a scope name must be a non-empty string, got {name!r}")
    token = _SCOPE.set(_SCOPE.get() + (name,))
    try:
        yield _SCOPE.get()
    finally:
        _SCOPE.reset(token)


# ---------------------------------------------------------------------------------------------
# Nodes

_INTERNED: weakref.WeakValueDictionary = weakref.WeakValueDictionary()
_INTERN_LOCK = threading.Lock()
# A composite node's expansion, built on first use. A cache beside the nodes, not in them
# (nodes are immutable), holding no node alive: an entry goes with its node. Interning makes
# the expansion the same object whoever builds it first.
_EXPANSIONS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class Node:
    """One value of the graph: an op applied to input nodes, with a static shape and dtype.

    Public fields: `.op` (op name), `.name` (None unless given), `.shape`, `.dtype`, `.inputs`,
    `.attrs` (read-only mapping), `.value` (constants only), `.scope`. Nodes are immutable and
    compare by identity; interning makes identity structural.
    """

    __slots__ = ("opdef", "inputs", "_attrs", "shape", "dtype", "name", "scope", "value",
                 "__weakref__")
    __array_ufunc__ = None       # make numpy defer: `array + node` calls Node.__radd__

    opdef: OpDef
    inputs: tuple[Node, ...]
    shape: Shape
    dtype: str
    name: str | None
    scope: tuple[str, ...]
    value: np.ndarray | None

    def __setattr__(self, key: str, value: Any) -> None:
        raise AttributeError("graph nodes are immutable")

    @property
    def op(self) -> str:
        return self.opdef.name

    @property
    def attrs(self) -> Mapping[str, Hashable]:
        return types.MappingProxyType(dict(self._attrs))

    @property
    def attr_items(self) -> tuple[tuple[str, Hashable], ...]:
        """Attributes as sorted (name, value) pairs, the interning key's form."""
        return self._attrs

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def T(self) -> Node:  # noqa: N802 (numpy's name)
        return apply("transpose", self)

    def named(self, name: str) -> Node:
        """The same computation carrying `name` (shown in text, drawings and errors)."""
        if self.op == "input":
            raise OpError("an input's name is fixed when it is declared")
        if self.op == "constant":
            return constant(self.value, name=name)
        return apply(self.op, *self.inputs, name=name, **self.attrs)

    def expansion(self) -> Node:
        """For a composite node, the same value built from primitives (computed once)."""
        if self.opdef.expand is None:
            raise OpError(f"{self.op} is a primitive op; it has no expansion")
        found = _EXPANSIONS.get(self)
        if found is None:
            found = _EXPANSIONS.setdefault(self, self.opdef.expand(*self.inputs, **self.attrs))
        return found

    def describe(self) -> str:
        """Short human description used in error messages: input 'x' f32[64,784]."""
        kind = {"input": f"input {self.name!r}", "constant": "constant"}.get(self.op, self.op)
        if self.name and self.op != "input":
            kind += f" {self.name!r}"
        return f"{kind} {_SHORT[self.dtype]}{format_shape(self.shape)}"

    def __repr__(self) -> str:
        return f"<Node {self.describe()}>"

    def __bool__(self) -> bool:
        raise TypeError("a graph node has no truth value; compare values after gn.evaluate")

    def __hash__(self) -> int:
        return id(self)

    # Python operators build graph nodes. numpy arrays and numbers work on either side.
    def __add__(self, other): return apply("add", self, other)
    def __radd__(self, other): return apply("add", other, self)
    def __sub__(self, other): return apply("sub", self, other)
    def __rsub__(self, other): return apply("sub", other, self)
    def __mul__(self, other): return apply("mul", self, other)
    def __rmul__(self, other): return apply("mul", other, self)
    def __truediv__(self, other): return apply("div", self, other)
    def __rtruediv__(self, other): return apply("div", other, self)
    def __matmul__(self, other): return apply("matmul", self, other)
    def __rmatmul__(self, other): return apply("matmul", other, self)
    def __pow__(self, other): return apply("pow", self, other)
    def __rpow__(self, other): return apply("pow", other, self)
    def __neg__(self): return apply("neg", self)
    # comparisons build bool nodes; == and != stay identity (interning relies on it): use
    # gn.equal and gn.not_equal
    def __gt__(self, other): return apply("greater", self, other)
    def __ge__(self, other): return apply("greater_equal", self, other)
    def __lt__(self, other): return apply("less", self, other)
    def __le__(self, other): return apply("less_equal", self, other)
    def __abs__(self): return apply("abs", self)

    def __getitem__(self, index: Any) -> Node:
        """NumPy's basic indexing, `x[1:, ::2, -1]`, `x[None, ..., 0]` (ints, slices, None,
        ...: a `slice` node, graphnn/ops/indexing.py); a node of integers indexes one axis
        through gn.take: `x[idx]`, `x[:, idx]`."""
        parts = index if isinstance(index, tuple) else (index,)
        if any(isinstance(p, Node) for p in parts):
            return _take(self, parts)
        return apply("slice", self, index=index)

    def __iter__(self) -> Iterator[Node]:
        """The rows along the first axis, x[0], x[1], ..., as iterating a NumPy array gives."""
        if not self.shape:
            raise TypeError(f"iteration over a scalar node ({self.describe()})")
        return (self[k] for k in range(self.shape[0]))


NodeLike = Node | float | int | np.ndarray


def _take(x: Node, parts: tuple) -> Node:
    """x[idx] with a node of integers: gn.take along the one axis it stands for (the other
    parts full slices, `:` or `...`), when the op exists."""
    if "take" not in REGISTRY:
        raise OpError(f"indexing with a node needs gn.take (integer dtypes), which this graphnn "
                      f"does not have (indexing {x.describe()}){where()}")
    full = [isinstance(p, slice) and p == slice(None) or p is Ellipsis for p in parts]
    nodes = [k for k, p in enumerate(parts) if isinstance(p, Node)]
    if len(nodes) != 1 or sum(not f for f in full) != 1 or \
            sum(p is Ellipsis for p in parts) > 1:
        raise OpError(f"indexing {x.describe()} with a node takes the node alone on one axis, "
                      f"with full slices (:) or ... elsewhere; index the result again for the "
                      f"rest (x[idx][:, 1:]){where()}")
    k = nodes[0]
    before = parts[:k]
    axis = x.ndim - (len(parts) - k) if any(p is Ellipsis for p in before) else k
    return apply("take", x, parts[k], axis=axis)


def _make_node(opdef, inputs, attrs, shape, dtype, name, node_scope, value) -> Node:
    node = object.__new__(Node)
    for key, val in (("opdef", opdef), ("inputs", inputs), ("_attrs", attrs), ("shape", shape),
                     ("dtype", dtype), ("name", name), ("scope", node_scope), ("value", value)):
        object.__setattr__(node, key, val)
    return node


def _intern(key: tuple, build: Callable[[], Node]) -> Node:
    with _INTERN_LOCK:
        node = _INTERNED.get(key)
        if node is None:
            node = build()
            _INTERNED[key] = node
        return node


def _check_dtype(dtype: Any) -> str:
    try:
        name, hint = (np.dtype(dtype).name if dtype is not None else None), ""
    except (TypeError, ValueError):         # not a dtype NumPy knows: a typo, most likely
        name, hint = None, did_you_mean(dtype, DTYPES)
    if name not in DTYPES:
        raise DTypeError(f"dtype must be one of {', '.join(map(repr, DTYPES))}, got "
                         f"{short_repr(dtype)}{hint}{where()}")
    return name


def natural_dtype(array: np.ndarray) -> str:
    """The graph dtype an array keeps when nothing says otherwise: its own float or int32
    dtype, int64 for other ints, bool for bools (a DTypeError for anything else)."""
    kind = array.dtype.kind
    if kind == "b":
        return "bool"
    if kind in "iu":
        if array.dtype == np.int32:
            return "int32"
        if kind == "u" and array.size and int(array.max()) > np.iinfo(np.int64).max:
            raise DTypeError(f"{short_repr(array)} holds an int beyond int64's range{where()}")
        return "int64"
    if kind == "f" and array.dtype.name in FLOAT_DTYPES:
        return array.dtype.name
    raise DTypeError(f"a graph value must be float32, float64, int32, int64 or bool, got "
                     f"dtype {array.dtype}{where()}")


def input(name: str, shape: Sequence[int] | int = (), dtype: str = "float64") -> Node:  # noqa: A001
    """Declare a named graph input (a placeholder fed at evaluation or call time).

    Any Python identifier is a name, keywords and non-ASCII ones included. It is kept in the
    form Python gives an identifier written in source (NFKC: "ℌ" is "H"), so a compiled
    function's keyword argument always finds it.

    Dimensions may be 0; a shape too large for any array (more than 2**63 - 1 bytes, NumPy's
    limit) is a ShapeError here, as is any node whose result would be.

    >>> import graphnn as gn
    >>> x = gn.input("x", shape=(2, 3), dtype="float32")
    >>> x.op, x.shape, x.dtype
    ('input', (2, 3), 'float32')
    >>> gn.input("ℌ").name
    'H'
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise OpError(f"an input name must be a Python identifier, got {name!r}{where()}")
    name = identifier(name)
    try:
        shape = as_shape(shape, what=f"shape of input {name!r}")
        dtype = _check_dtype(dtype)
        check_size(shape, np.dtype(dtype).itemsize, what=f"shape of input {name!r}")
    except ShapeError as error:
        raise ShapeError(f"{error}{where()}") from None
    node_scope = _SCOPE.get()
    key = ("input", name, shape, dtype, node_scope)
    opdef = REGISTRY["input"]
    return _intern(key, lambda: _make_node(opdef, (), (), shape, dtype, name, node_scope, None))


def identifier(name: str) -> str:
    """`name` as Python compares identifiers (NFKC-normalized, PEP 3131): input names, and the
    feed keys and keyword arguments that refer to them, in one form."""
    return unicodedata.normalize("NFKC", name)


def holds_numbers(array: np.ndarray) -> bool:
    """Whether every element is a number: a numeric dtype, or Python objects that are all ints
    and floats (NumPy keeps ints beyond int64 as objects; None or a string is no number)."""
    if array.dtype.kind in "fiub":
        return True
    return array.dtype == object and all(isinstance(v, numbers.Real) for v in array.flat)


def numeric_array(value: Any, what: str) -> np.ndarray:
    """`np.asarray(value)`, except that ints beyond int64, which NumPy keeps as Python objects,
    become float64 (no graph int holds them); an int beyond float64 is a DTypeError. (A
    float beyond float32's range becomes inf in a float32 graph, as NumPy casts it.)"""
    array = np.asarray(value)
    if array.dtype != object or not holds_numbers(array):
        return array                     # not only numbers (None, objects): the caller refuses it
    try:
        return np.asarray(value, dtype=np.float64)
    except OverflowError:
        raise DTypeError(f"{what} holds {short_repr(value)}, beyond float64's range (its "
                         f"largest number is {float(np.finfo(np.float64).max):.4g}){where()}"
                         ) from None


def constant(value: Any, dtype: str | None = None, name: str | None = None) -> Node:
    """A constant node holding a copy of `value`. Without `dtype` it keeps the value's own
    (`natural_dtype`): float32 and float64 arrays theirs, ints int64 (int32 arrays int32),
    bools bool, as NumPy types them.

    >>> import numpy as np, graphnn as gn
    >>> gn.constant(np.eye(2)).shape
    (2, 2)
    >>> gn.constant([1, 2]).dtype, gn.constant(True).dtype
    ('int64', 'bool')
    """
    array = numeric_array(value, "a constant")
    if dtype is None:
        if array.dtype.kind not in "fiub":
            raise DTypeError(f"a constant must be numeric, got dtype {array.dtype}{where()}")
        dtype = natural_dtype(array)
    dtype = _check_dtype(dtype)
    array = np.array(array, dtype=dtype, copy=True)
    array.setflags(write=False)
    node_scope = _SCOPE.get()
    key = ("constant", dtype, array.shape, array.tobytes(), name, node_scope)
    opdef = REGISTRY["constant"]
    return _intern(key, lambda: _make_node(opdef, (), (), array.shape, dtype, name, node_scope,
                                           array))


# ---------------------------------------------------------------------------------------------
# apply: find the op, lift numbers and arrays, check dtypes, run the shape rule, intern.


def _typed_dtype(value: Any) -> str | None:
    """The dtype a value imposes: nodes and float arrays do; numbers adopt one."""
    if isinstance(value, Node):
        return value.dtype
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        return value.dtype.name
    return None


def _adopted(op: OpDef, position: int, array: np.ndarray, dtype: str) -> str:
    """`dtype`, which a number or untyped array at `position` takes from the other operands;
    a DTypeError where that would change its value (0.5 next to an int, 2 next to a bool, an
    int beyond int32 next to an int32)."""
    label = f"{op.name}: input {op.input_names(position + 1)[position]!r} ({short_repr(array)})"
    if dtype in INT_DTYPES:
        if array.dtype.kind not in "iub":
            raise DTypeError(f"{label} is a float, and the other operand is {dtype}: graphnn "
                             f"never converts silently; write an int, or convert the "
                             f"{dtype} operand with gn.cast(x, 'float64'){where()}")
        limits = np.iinfo(dtype)
        if array.size and (int(array.min()) < limits.min or int(array.max()) > limits.max):
            raise DTypeError(f"{label} is out of {dtype}'s range{where()}")
    if dtype == "bool" and array.dtype.kind != "b":
        raise DTypeError(f"{label} is a number, and the other operand is bool: write True or "
                         f"False, or convert with gn.cast{where()}")
    return dtype


def _untyped_default(values: Sequence[Any]) -> str:
    """The dtype numbers and arrays take when no node or float array sets one: float64 when
    one of them is a float, bool when all are bools, else int64 (NumPy's promotion)."""
    kinds = set()
    for value in values:
        try:
            kinds.add(np.asarray(value).dtype.kind)
        except (TypeError, ValueError):       # refused with a clear error by _lift
            kinds.add("O")
    return "bool" if kinds == {"b"} else "int64" if kinds and kinds <= set("iub") else "float64"


def _lift(op: OpDef, args: Sequence[Any]) -> tuple[Node, ...]:
    typed = [d for k, d in enumerate(_typed_dtype(a) for a in args)
             if d is not None and k not in op.own_dtype]
    default = typed[0] if typed else _untyped_default(
        [a for k, a in enumerate(args) if k not in op.own_dtype])
    labels = op.input_names(len(args))
    out = []
    for position, (label, arg) in enumerate(zip(labels, args)):
        if isinstance(arg, Node):
            out.append(arg)
        elif isinstance(arg, (bool, int, float, np.generic, np.ndarray, list, tuple)):
            array = numeric_array(arg, f"{op.name}: input {label!r}")
            if array.dtype.kind not in "fiub" or array.dtype.itemsize > 8:
                raise DTypeError(f"{op.name}: input {label!r} has unsupported "
                                 f"dtype {array.dtype}{where()}")
            # indices and conditions keep their own dtype; a float array keeps its own too
            keeps = position in op.own_dtype or \
                (isinstance(arg, np.ndarray) and array.dtype.kind == "f")
            dtype = natural_dtype(array) if keeps else _adopted(op, position, array, default)
            out.append(constant(array, dtype=dtype))
        else:
            raise OpError(f"{op.name}: input {label!r} must be a graph node, a "
                          f"number or a numpy array, got {type(arg).__name__}{where()}")
    return tuple(out)


def _common_dtype(op: OpDef, inputs: tuple[Node, ...]) -> str:
    dtypes = {n.dtype for n in inputs}
    described = ", ".join(f"{label} = {n.describe()}"
                          for label, n in zip(op.input_names(len(inputs)), inputs))
    if len(dtypes) > 1:
        raise DTypeError(
            f"{op.name}: operands have different dtypes ({described}); graphnn never upcasts "
            "silently: declare inputs and arrays with one dtype, e.g. "
            f"np.asarray(a, dtype='float32'), or convert a node with gn.cast{where()}")
    dtype = dtypes.pop() if dtypes else "float64"
    if dtype not in KINDS[op.accepts]:
        raise DTypeError(f"{op.name}: takes {' or '.join(KINDS[op.accepts])} operands, got "
                         f"{described}; convert with gn.cast(x, 'float64'){where()}")
    return dtype


_AXIS_RULES: dict[str, Callable[[Any, int], Any]] = {
    "one": normalize_axis,
    "many": normalize_axes,
    "permutation": normalize_permutation,
    "new": lambda axis, ndim: normalize_axis(axis, ndim + 1),
}


def canonical_attrs(op: OpDef, shapes: Sequence[Shape], attrs: Mapping[str, Any]) -> dict:
    """Every attribute of `op`, defaults filled in, axes normalized (against the first input's
    rank, as `op.axes` declares) and then the op's own `canonical` rule applied."""
    known = dict(op.params)
    unknown = set(attrs) - set(known)
    if unknown:
        raise OpError(f"unknown attribute {sorted(unknown)[0]!r}; {op.name} takes "
                      f"{sorted(known) or 'no attributes'}")
    full = {**known, **attrs}
    missing = [k for k, v in full.items() if v is REQUIRED]
    if missing:
        raise OpError(f"{op.name} needs the attribute {missing[0]!r}")
    for key, kind in op.axes.items():
        full[key] = _AXIS_RULES[kind](full[key], len(shapes[0]))
    return op.canonical(*shapes, **full) if op.canonical else full


def result_dtype(op: OpDef, dtypes: Sequence[str], attrs: Mapping[str, Any]) -> str:
    """The dtype of op's result on inputs of `dtypes` by its dtype rule (canonical attributes);
    a DTypeError when the rule refuses them."""
    if op.dtype is None:
        if len(set(dtypes)) > 1:
            raise DTypeError(f"operands have different dtypes ({', '.join(dtypes)})")
        if dtypes and dtypes[0] not in KINDS[op.accepts]:
            raise DTypeError(f"takes {' or '.join(KINDS[op.accepts])} operands, got "
                             f"{dtypes[0]}")
        return dtypes[0] if dtypes else "float64"
    dtype = op.dtype(*dtypes, **attrs)
    if dtype not in DTYPES:
        raise OpError(f"internal error: the dtype rule of {op.name} gave {dtype!r}")
    return dtype


def apply(opname: str, *args: NodeLike, name: str | None = None, **attrs: Any) -> Node:
    """Build (or find) the node `opname(*args, **attrs)`; numbers and arrays become constants.

    >>> import graphnn as gn
    >>> x = gn.input("x", shape=(2,))
    >>> apply("mul", x, 2.0) is x * 2.0
    True
    """
    op = REGISTRY.get(opname)
    if op is None:
        raise OpError(f"unknown op {opname!r}{where()}")
    if not op.takes(len(args)):
        wanted = "one or more inputs" if op.variadic else \
            f"{op.arity} input(s) ({', '.join(op.inputs)})"
        raise OpError(f"{op.name} takes {wanted}, got {len(args)}{where()}")
    inputs = _lift(op, args)
    dtype = _common_dtype(op, inputs) if op.dtype is None else None
    shapes = [n.shape for n in inputs]
    try:
        attrs = canonical_attrs(op, shapes, attrs)
        if dtype is None:
            dtype = result_dtype(op, [n.dtype for n in inputs], attrs)
        shape = check_size(tuple(op.shape(*shapes, **attrs)), np.dtype(dtype).itemsize,
                           what="the result's shape")
    except (ShapeError, OpError, DTypeError) as error:
        operands = ", ".join(f"{label} {format_shape(s)}"
                             for label, s in zip(op.input_names(len(shapes)), shapes))
        raise type(error)(f"{op.name}({operands}): {error}{where()}") from None
    items = tuple(sorted(attrs.items()))
    node_scope = _SCOPE.get()
    # the OpDef itself, not its name: a node of an op since unregistered (or registered again
    # under the same name) is never handed out for the new op
    key = (op, tuple(id(n) for n in inputs), items, name, node_scope)
    return _intern(key, lambda: _make_node(op, inputs, items, tuple(shape), dtype, name,
                                           node_scope, None))


def op_function(op: OpDef) -> Callable[..., Node]:
    """The public function `gn.<op>(*inputs, **attrs, name=None)` for a registered op; a
    variadic op's takes its inputs as one list, `gn.concat(xs, axis)`."""
    def function(*args: NodeLike, name: str | None = None, **attrs: Any) -> Node:
        # attributes may also be given by position after the inputs, as in numpy
        extra, args = args[op.arity:], args[:op.arity]
        if op.variadic:
            args = _spread(op, args)
        if len(extra) > len(op.params):
            raise OpError(f"{op.name} takes {op.arity} input(s) and attributes "
                          f"{[k for k, _ in op.params]}, got {op.arity + len(extra)} "
                          f"positional arguments{where()}")
        for (key, _), value in zip(op.params, extra):
            if key in attrs:
                raise OpError(f"{op.name}: attribute {key!r} given twice{where()}")
            attrs[key] = value
        return apply(op.name, *args, name=name, **attrs)

    parameters = [inspect.Parameter(i, inspect.Parameter.POSITIONAL_ONLY) for i in op.inputs]
    parameters += [inspect.Parameter(k, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=v)
                   for k, v in op.params]
    parameters.append(inspect.Parameter("name", inspect.Parameter.KEYWORD_ONLY, default=None))
    function.__signature__ = inspect.Signature(parameters, return_annotation="Node")
    function.__name__ = function.__qualname__ = op.name
    function.__doc__ = op.doc
    function.__module__ = "graphnn"
    return function


def _spread(op: OpDef, args: tuple) -> tuple:
    """A variadic op's list of inputs, checked: a list or tuple of one or more values."""
    given = args[0] if args else None
    if isinstance(given, (list, tuple)) and given:
        return tuple(given)
    got = "an empty list" if isinstance(given, (list, tuple)) else \
        "nothing" if not args else f"a {type(given).__name__}"
    raise OpError(f"{op.name} takes a list of one or more nodes ({op.inputs[0]}), got {got}"
                  f"{where()}")


# ---------------------------------------------------------------------------------------------
# Order


def toposort(outputs: Sequence[Node], leaves: Sequence[Node] = ()) -> list[Node]:
    """Every node the outputs depend on, inputs before users, following argument order.

    Nodes in `leaves` are included but not looked through (a composite's expansion is sorted
    down to the composite's own inputs). Iterative depth-first post-order, so deep graphs do not
    hit the recursion limit and the order (which text, DOT and lowering number nodes by) is the
    same in every process.
    """
    order: list[Node] = []
    done: set[int] = set()
    for leaf in leaves:
        if id(leaf) not in done:
            done.add(id(leaf))
            order.append(leaf)
    for root in outputs:
        stack: list[tuple[Node, int]] = [(root, 0)]
        while stack:
            node, next_input = stack.pop()
            if id(node) in done:
                continue
            if next_input < len(node.inputs):
                stack.append((node, next_input + 1))
                child = node.inputs[next_input]
                if id(child) not in done:
                    stack.append((child, 0))
            else:
                done.add(id(node))
                order.append(node)
    return order
