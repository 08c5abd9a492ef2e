"""`graphnn ops`: the op reference (docs/ops.md), generated from the registry so it cannot drift.

`python -m graphnn ops` prints it; tests/cli/test_ops.py checks the committed file.
"""

from __future__ import annotations

import importlib
import inspect
from types import ModuleType

from graphnn.ir import OpDef, op_function

# by module path: graphnn.ops.softmax the module is shadowed by the softmax function; a family
# may span several modules (listed one after the other)
FAMILIES: tuple[tuple[str, ModuleType], ...] = tuple(
    (title, importlib.import_module(f"graphnn.ops.{module}")) for title, module in (
        ("Arithmetic", "arithmetic"), ("Gates", "gates"), ("Activations", "activations"),
        ("Reductions", "reduce"), ("Shape", "layout"), ("Linear algebra", "linalg"),
        ("Convolution", "conv"), ("Convolution", "conv1d"), ("Pooling", "maxpool"),
        ("Pooling", "avgpool"), ("Normalization", "normalization"), ("Softmax", "softmax"),
        ("Losses", "losses"), ("Sources", "source")))


def family_ops(module: ModuleType) -> list[OpDef]:
    """The OpDefs a family module holds (its own and those it imports), in order."""
    return [value for value in vars(module).values() if isinstance(value, OpDef)]


def sections() -> dict[str, list[OpDef]]:
    """Each family's ops by title, each op once: under the first module that holds it (conv1d's
    module imports conv2d, which conv's module lists already)."""
    seen: set[str] = set()
    by_title: dict[str, list[OpDef]] = {}
    for title, module in FAMILIES:
        ops = [op for op in family_ops(module) if op.name not in seen]
        seen.update(op.name for op in ops)
        by_title.setdefault(title, []).extend(ops)
    return by_title


def _kind(op: OpDef) -> str:
    kind = "composite" if op.composite else "primitive"
    kind += ", elementwise" if op.elementwise else ""
    return kind + ("" if op.public else ", internal (made by gradients)")


def _signature(op: OpDef) -> str:
    if op.name in ("input", "constant"):
        return {"input": "gn.input(name, shape=(), dtype='float64')",
                "constant": "gn.constant(value, dtype=None, name=None)"}[op.name]
    prefix = "gn." if op.public else "gn.ops."
    return f"{prefix}{op.name}{inspect.signature(op_function(op))}".replace(" -> 'Node'", "")


def _doc_markdown(doc: str) -> list[str]:
    """The docstring's prose, then its example as a fenced Python block."""
    text = inspect.cleandoc(doc)
    prose, _, example = text.partition(">>>")
    lines = [prose.strip(), ""]
    if example:
        lines += ["```python", ">>>" + example.rstrip(), "```", ""]
    return lines


def _flow(op: OpDef) -> str:
    """The derivative texts: local derivatives (elementwise) or gradient formulas of g."""
    if op.elementwise:
        parts = [f"∂out/∂{name} = `{text}`" for name, text in zip(op.inputs, op.derivative)]
        return "Local derivatives: " + ", ".join(parts) + "."
    parts = [f"{name}: `{text}`" for name, text in zip(op.inputs, op.derivative)]
    return "Gradients from the upstream gradient g: " + ", ".join(parts) + "."


def _summary(op: OpDef) -> str:
    return inspect.cleandoc(op.doc).split("\n\n")[0].replace("\n", " ").replace("|", "\\|")


def op_reference() -> str:
    """The markdown text of docs/ops.md."""
    lines = ["# Op reference", "",
             "Generated from the op registry by `python -m graphnn ops > docs/ops.md`; a test "
             "keeps this file in sync.", "",
             "Every op states its derivative at the points where it is not differentiable. "
             "Composite ops are one node in text and drawings (what you wrote) and are defined "
             "by an expansion into primitives. Internal ops are built by gradient rules; you "
             "can call them through `gn.ops`.", ""]
    lines += ["| op | family | what it computes |", "|---|---|---|"]
    for title, ops in sections().items():
        lines += [f"| [`{op.name}`](#{op.name}) | {title.lower()} | {_summary(op)} |"
                  for op in ops if op.public]
    lines.append("")
    for title, ops in sections().items():
        lines += [f"## {title}", ""]
        for op in ops:
            lines += [f"### {op.name}", "", f"`{_signature(op)}`: {_kind(op)}.", ""]
            lines += _doc_markdown(op.doc)
            if op.arity:
                lines += [_flow(op), ""]
    return "\n".join(lines).rstrip() + "\n"
