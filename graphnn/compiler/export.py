"""`f.export(path)`: a compiled function as an object file or shared library with a C header.

Stage: export. Input: a compiled `Function` (or, from the command line, a graph), a path, a
name, a CPU level. Output: the files (codegen/aot does the native part) and a
`codegen.aot.Exported` record. The exported function is the one the Python side compiled
(the same plan: optimized, lowered and scheduled kernel), built again with graphnn's own
matrix products (gemm="native") and no Python, NumPy, SciPy or LLVM at run time.

This module describes the graph to codegen: the C parameters (named after the inputs), where
each output comes from, the graph's text and its hash (the version), and whether NAME_batch
exists, which graphnn/compiler/batchrows.py decides. docs/export.md is the user's guide.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

import graphnn.ops  # noqa: F401  (every built-in op registered before the snapshot below)
from codegen.aot import (
    AbiError,
    Argument,
    Entry,
    Exported,
    LinkerNotFound,
    LinkError,
    c_identifier,
    export,
    shared_suffix,
)
from codegen.aot.link import environment
from codegen.llvm import LoweringError as EmitError
from codegen.llvm import Target, UnsupportedTarget
from codegen.loops import KernelError
from graphnn.compiler.batchrows import Rows, batch_rows
from graphnn.compiler.plans import Plan, plan
from graphnn.errors import ExportError, LoweringError
from graphnn.graph import Graph
from graphnn.lower.kernel import ascii_name
from graphnn.options import CompileOptions
from graphnn.version import __version__

DEFAULT_NAME = "graphnn_fn"       # for a function compiled under compile()'s default name "f"
TEXT_LINES = 120                  # lines of the graph's text quoted in the header, at most
_LOOP_DTYPE = {"float32": "f32", "float64": "f64", "int32": "i32", "int64": "i64", "bool": "i1"}


def export_function(function: Any, path: str | os.PathLike, name: str | None = None,
                    cpu: str | Target = "host", batch: Sequence[str] | bool | None = None
                    ) -> Exported:
    """`Function.export`: the function's kernel for the declared shapes, as `path`."""
    graph = function.graph
    name = _name(graph, name)
    target, path = _target(cpu), _path(path)
    entry = make_entry(graph, function.base.plan, name, batch, function.options)
    return _write([entry], path, target, f"{name}.h")


def export_graph(graph: Graph, path: str | os.PathLike, name: str | None = None,
                 cpu: str | Target = "host", batch: Sequence[str] | bool | None = None,
                 optimize: bool = True, options: CompileOptions | None = None) -> Exported:
    """Export a graph without compiling it for this process first (the command line's
    `export`): planned as `gn.compile` plans it, with `options` (default: a new one)."""
    name = _name(graph, name)
    target, path = _target(cpu), _path(path)
    options = CompileOptions() if options is None else options
    made = _plan(graph, name, optimize, options)
    return _write([make_entry(graph, made, name, batch, options)], path, target, f"{name}.h")


def export_library(functions: Sequence[tuple[str, Any]], path: str | os.PathLike,
                   cpu: str | Target = "host", header: str | None = None) -> Exported:
    """Several compiled functions, (name, function) pairs, in one library and one header
    (`header`, default: the library's stem + ".h")."""
    target, path = _target(cpu), _path(path)
    entries = [make_entry(f.graph, f.base.plan, _name(f.graph, n), None, f.options)
               for n, f in functions]
    return _write(entries, path, target, header or f"{path.stem}.h")


def make_entry(graph: Graph, made: Plan, name: str, batch: Sequence[str] | bool | None,
               options: CompileOptions | None = None) -> Entry:
    """The C description of `graph`, whose plan for the declared shapes is `made` (with
    `options`, whose codegen part builds the kernel's code)."""
    inputs = _c_names(n.name for n in graph.inputs)
    rows = _rows(graph, batch)
    batched = set(rows.batched) if rows.independent else set()
    arguments = tuple(Argument(c, _LOOP_DTYPE[n.dtype], n.shape, f"input {k} {n.name!r}",
                               n.name in batched)
                      for k, (n, c) in enumerate(zip(graph.inputs, inputs)))
    names = _c_names((n.name or f"out_{k}" for k, n in enumerate(graph.outputs)), set(inputs))
    outputs = tuple(Argument(c, _LOOP_DTYPE[n.dtype], n.shape,
                             f"output {k}" + (f" {n.name!r}" if n.name else ""), bool(batched))
                    for k, (n, c) in enumerate(zip(graph.outputs, names)))
    sources, constants = _sources(made, graph)
    text = graph.text(raw=True).splitlines()
    if len(text) > TEXT_LINES:
        text = text[:TEXT_LINES - 1] + [f"... ({len(text) - TEXT_LINES + 1} more lines)"]
    try:
        return Entry(name, made.kernel, arguments, outputs,
                     hashlib.sha256(graph.text(raw=True).encode()).hexdigest(),
                     constants=made.constants, batch=rows.declared if batched else None,
                     no_batch=rows.reason, text="\n".join(text), sources=sources,
                     output_constants=constants,
                     options=(CompileOptions() if options is None else options).codegen)
    except AbiError as error:
        raise ExportError(str(error)) from None


def _rows(graph: Graph, batch: Sequence[str] | bool | None) -> Rows:
    """The batch of NAME_batch: inferred (None), required (True, or a list of input names),
    or none (False)."""
    if batch is False:
        return Rows((), None, "not requested (batch=False)")
    if batch is None or batch is True:
        rows = batch_rows(graph, None)
        if rows.independent or batch is None:
            # several inputs were taken for batched by their leading size: say how to choose
            hint = " (batch=[input names] chooses which inputs are batched)" \
                if len(rows.batched) > 1 and not rows.independent else ""
            return Rows(rows.batched, rows.declared, rows.reason + hint)
    elif not isinstance(batch, (list, tuple)) or not all(isinstance(b, str) for b in batch):
        raise ExportError(f"batch must be a list of input names, True, False or None, got "
                          f"{batch!r}")
    else:
        rows = batch_rows(graph, list(batch))
    if not rows.independent:
        raise ExportError(f"no {graph.name}_batch: {rows.reason}")
    return rows


def _sources(made: Plan, graph: Graph) -> tuple[tuple[tuple[str, int], ...],
                                                 tuple[np.ndarray, ...]]:
    """Where each output comes from, and the constant outputs' values."""
    sources, constants = [], []
    for (kind, where), node in zip(made.sources, graph.outputs):
        if kind == "constant":
            value = np.array(np.broadcast_to(np.asarray(where, dtype=node.dtype), node.shape),
                             order="C")                 # (ascontiguousarray makes 0-d 1-d)
            sources.append(("constant", len(constants)))
            constants.append(value)
        else:
            sources.append((kind, int(where)))
    return tuple(sources), tuple(constants)


def _c_names(names, taken: set[str] = frozenset()) -> list[str]:
    """C parameter names: each name in ASCII (as loop IR spells it), made distinct and no C
    keyword by a trailing underscore."""
    chosen: list[str] = []
    for name in names:
        c = ascii_name(name)
        while not c_identifier(c) or c in chosen or c in taken:
            c += "_"
        chosen.append(c)
    return chosen


def _name(graph: Graph, name: str | None) -> str:
    if name is None:
        name = DEFAULT_NAME if graph.name == "f" else ascii_name(graph.name)
    if not isinstance(name, str) or not c_identifier(name):
        raise ExportError(f"export: name must be an ASCII C identifier that is no C keyword "
                          f"(it prefixes every exported symbol), got {name!r}")
    return name


def _target(cpu: str | Target) -> Target:
    """The target for `cpu`: any level may be exported, whether this CPU runs it or not."""
    if isinstance(cpu, Target):
        return cpu
    try:
        return Target.named(cpu)
    except UnsupportedTarget as error:
        raise ExportError(f"export: {error}") from None


def _path(path: str | os.PathLike) -> Path:
    """The output path, checked before any work: a known suffix, a writable directory."""
    if not isinstance(path, (str, os.PathLike)):
        raise ExportError(f"export: path must be a str or a path, got {type(path).__name__}")
    path = Path(path)
    if path.suffix not in (".o", shared_suffix()):
        raise ExportError(f"export: {str(path)!r} must end in .o (an object file) or "
                          f"{shared_suffix()} (a shared library)")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ExportError(f"export: cannot write {str(path)!r}: cannot create its directory "
                          f"({error.strerror or error})") from None
    if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise ExportError(f"export: cannot write {str(path)!r}: permission denied")
    return path


def _plan(graph: Graph, name: str, optimize: bool, options: CompileOptions) -> Plan:
    """The plan, with a user's op that cannot be lowered reported as an export error."""
    try:
        return plan(graph, ascii_name(name), optimize, options)
    except LoweringError as error:
        raise ExportError(f"cannot export {graph.name}: {error}; an exported library runs "
                          "only code lowered to native instructions") from None


def _write(entries: list[Entry], path: Path, target: Target, header: str) -> Exported:
    try:
        return export(entries, path, target, header=header, producer=f"graphnn {__version__}",
                      environ=environment())
    except (LinkerNotFound, LinkError) as error:
        raise ExportError(f"export to {str(path)!r}: {error}") from None
    except (AbiError, EmitError, KernelError) as error:
        raise ExportError(f"export to {str(path)!r}: {error}") from None
    except OSError as error:
        raise ExportError(f"export: cannot write {str(path)!r}: "
                          f"{error.strerror or error}") from None
