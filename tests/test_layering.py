"""The tree's structure, checked on its source:

- import direction (STYLE.md section 2): each layer imports only from the layers below it,
  checked on every import statement (including those inside functions);
- no import cycles, inside a package or across packages, counting every import that runs (a
  lazy import delays a cycle, it does not remove it) except the deliberate ones listed in
  CALL_TIME_IMPORTS;
- IR is written as text only where meant to (IR_TEXT_ALLOWED);
- llvmlite, SymPy and ctypes stay in the modules that are meant to use them.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).parents[1]

# lower numbers are lower layers; a module may import lower layers, or its own layer within its
# own package (the op families share helpers)
LAYERS = {
    "graphnn.errors": 0, "graphnn.version": 0,
    "graphnn.shapes": 1, "graphnn.options": 1,
    "graphnn.opdef": 1.5,       # OpDef and the registry: the ir's vocabulary, below nodes
    "graphnn.ir": 2,
    "graphnn.ops": 3,
    "graphnn.text": 4,
    "graphnn.graph": 5,
    "graphnn.autodiff": 6, "graphnn.evaluate": 6, "graphnn.model_file": 6,
    "graphnn.graphdata": 6,         # a graph as data (pickled functions), rebuilt through apply
    "graphnn.symbolic": 7, "graphnn.passes": 7, "graphnn.lower": 7,
    "graphnn.compiler": 8, "graphnn.render": 8,
    "graphnn.onnx": 8.5,            # above what it converts and runs, below nn (save_onnx)
    "graphnn.distributed": 8.7,     # compiled functions on Dask; below nn (fit(client=))
    "graphnn.api": 9, "graphnn.cli": 9, "graphnn.nn": 9,
    "graphnn": 10, "graphnn.__main__": 10,
}
SYMPY_ALLOWED = ("graphnn.ops", "graphnn.symbolic")
# STYLE.md: llvmlite stays behind codegen.jit (passes, JIT) and codegen.llvm (the IR builders),
# codegen.aot, which builds the C entry points and links modules for export as jit does, and
# codegen.native.gemm, codegen.native.dconv and codegen.native.dconv_lanes (graphnn's GEMM
# and direct convolution's micro-kernels, built with the IR builder)
LLVMLITE_ALLOWED = ("codegen.jit", "codegen.llvm", "codegen.aot", "codegen.native.gemm",
                    "codegen.native.dconv", "codegen.native.dconv_lanes")
# the native layer is fenced: ctypes (raw addresses, foreign calls) only in codegen.jit (calling
# kernels) and codegen.native (the CPython entry points, their ABI probes, the futex probe)
CTYPES_ALLOWED = ("codegen.jit", "codegen.native")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _layer(module: str) -> tuple[int, str] | None:
    """(layer, owning entry) of a graphnn module: the longest LAYERS key that prefixes it."""
    keys = [k for k in LAYERS if module == k or module.startswith(k + ".")]
    if not keys:
        return None
    key = max(keys, key=len)
    return LAYERS[key], key


SOURCES = sorted(p for package in ("graphnn", "codegen") for p in (ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=[_module_name(p) for p in SOURCES])
def test_imports_point_down(path):
    module = _module_name(path)
    imports = _imports(path)
    if module.startswith("codegen"):
        assert not [i for i in imports if i.split(".")[0] == "graphnn"], \
            f"{module} imports graphnn: codegen is a layer below it"
        return
    own = _layer(module)
    assert own is not None, f"{module} has no layer in tests/test_layering.py"
    for name in imports:
        if name.split(".")[0] != "graphnn" or name == "graphnn":
            continue
        other = _layer(name)
        if other is None or name.startswith(module + "."):
            continue
        same_package = other[1] == own[1]
        assert other[0] < own[0] or same_package, f"{module} (layer {own[0]}) imports " \
            f"{name} (layer {other[0]})"


@pytest.mark.parametrize("path", SOURCES, ids=[_module_name(p) for p in SOURCES])
def test_sympy_llvmlite_and_ctypes_stay_in_their_modules(path):
    module = _module_name(path)
    roots = {i.split(".")[0] for i in _imports(path)}
    if "sympy" in roots:
        assert module.startswith(SYMPY_ALLOWED), f"{module} imports sympy"
    if "llvmlite" in roots:
        assert any(module == m or module.startswith(m + ".") for m in LLVMLITE_ALLOWED), \
            f"{module} imports llvmlite (only {', '.join(LLVMLITE_ALLOWED)} may)"
    if "ctypes" in roots:
        assert any(module == m or module.startswith(m + ".") for m in CTYPES_ALLOWED), \
            f"{module} imports ctypes (only {', '.join(CTYPES_ALLOWED)} may)"


# -- import cycles -------------------------------------------------------------------------------

# Imports that close a cycle on purpose, each made inside a function (at call time, when both
# modules are loaded), with the reason the dependency goes both ways.
CALL_TIME_IMPORTS = {
    ("codegen.exprs", "codegen.text"):
        "a loop IR node's str() is codegen.text's rendering, which dispatches on node classes",
    ("codegen.stmts", "codegen.verify"):
        "a Kernel is checked by codegen.verify when it is built; the checks read statement classes",
}
MODULES = {_module_name(p): p for p in SOURCES}


def _run_time_imports(path: Path) -> list[tuple[str, bool]]:
    """(module imported, whether at module level) for every import that can run: those under
    `if TYPE_CHECKING:` never do. `from package import name` imports package.name when that is a
    module, else the package."""
    tree = ast.parse(path.read_text())
    typing_only = {id(n) for block in ast.walk(tree) if isinstance(block, ast.If)
                   and ast.unparse(block.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING")
                   for stmt in block.body for n in ast.walk(stmt)}
    top = {id(n) for n in tree.body}
    found = []
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found += [(alias.name, id(node) in top) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                name = f"{node.module}.{alias.name}"
                found.append((name if name in MODULES else node.module, id(node) in top))
    return found


def _import_graph() -> nx.DiGraph:
    """Module -> the modules its imports run, each package on the way included (Python runs a
    package's __init__ before its modules), except the importer's own packages (already run)."""
    graph = nx.DiGraph()
    for module, path in MODULES.items():
        graph.add_node(module)
        for name, top in _run_time_imports(path):
            parts = name.split(".")
            for k in range(1, len(parts) + 1):
                target = ".".join(parts[:k])
                if target in MODULES and target != module and \
                        not module.startswith(target + "."):
                    graph.add_edge(module, target, top=top)
    return graph


def test_no_import_cycles():
    graph = _import_graph()
    graph.remove_edges_from(CALL_TIME_IMPORTS)
    cycle = next(nx.simple_cycles(graph), None)
    assert cycle is None, f"import cycle: {' -> '.join(cycle + cycle[:1])}"


@pytest.mark.parametrize("edge", sorted(CALL_TIME_IMPORTS))
def test_each_deliberate_cycle_is_a_call_time_import_that_closes_one(edge):
    graph = _import_graph()
    assert graph.has_edge(*edge), f"{edge}: no such import any more; drop it from the list"
    assert not graph.edges[edge]["top"], f"{edge}: a module-level import"
    assert nx.has_path(graph, edge[1], edge[0]), f"{edge}: closes no cycle; drop it"


# -- IR written as text --------------------------------------------------------------------------

# Graph IR and loop IR are built only through their constructors (their text forms are printed,
# never parsed). LLVM IR is built with llvmlite's IR builder, except where it is written as text
# on purpose: there, each string is checked by LLVM's parser (llvm.parse_assembly and verify)
# when the module is compiled. "IR written as text" is a string literal (docstrings aside; an
# f-string with its fields left out) holding LLVM IR syntax: a define or declare of a @symbol, a
# `%x = ...` instruction, a typed %/@ operand, a ret or br, or a global's definition.
IR_TEXT_ALLOWED = {
    "codegen.native.pyentry": "the CPython entry points, written against CPython's and NumPy's ABI",
    "codegen.native.runtime": "the futex thread pool: atomics and a syscall, clearer as text",
    "codegen.jit": "the constant naming an object's cache key, appended to a module's text",
}
LLVM_IR_TEXT = re.compile(
    r"\b(?:define|declare)\b[^\n]*@|%[\w.]+ = \w|(?:\bptr|\bi(?:1|8|16|32|64)|\bdouble|\bfloat)"
    r"\s+[%@]|\bret (?:void|ptr|i\d+)\b|\bbr (?:i1|label)\b|@\"?[\w.]+\"? = ")


def _literals(path: Path) -> list[tuple[int, str]]:
    """(line, text) of every string literal but docstrings; an f-string as one text, its fields
    written x."""
    tree = ast.parse(path.read_text())
    skip = {id(node.body[0].value) for node in ast.walk(tree)
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
            and node.body and isinstance(node.body[0], ast.Expr)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            skip.update(id(v) for v in node.values)
            found.append((node.lineno, "".join(
                v.value if isinstance(v, ast.Constant) else "x" for v in node.values)))
    found += [(node.lineno, node.value) for node in ast.walk(tree)
              if isinstance(node, ast.Constant) and isinstance(node.value, str)
              and id(node) not in skip]
    return found


@pytest.mark.parametrize("path", SOURCES, ids=[_module_name(p) for p in SOURCES])
def test_ir_is_written_as_text_only_where_meant_to(path):
    module = _module_name(path)
    written = [(line, text) for line, text in _literals(path) if LLVM_IR_TEXT.search(text)]
    if module in IR_TEXT_ALLOWED:
        assert written, f"{module} writes no IR text any more: drop it from IR_TEXT_ALLOWED"
    else:
        assert not written, f"{module} writes LLVM IR as text (line {written[0][0]}: " \
            f"{written[0][1].strip()[:60]!r}); build it with llvmlite's IR builder"
