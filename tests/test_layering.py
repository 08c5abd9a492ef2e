"""Import direction (STYLE.md section 2): each layer imports only from the layers below it.

Checked on every import statement in the source (including those inside functions), so a lazy
import cannot hide a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]

# lower numbers are lower layers; a module may import lower layers, or its own layer within its
# own package (the op families share helpers)
LAYERS = {
    "graphnn.errors": 0, "graphnn.version": 0,
    "graphnn.shapes": 1, "graphnn.options": 1,
    "graphnn.ir": 2,
    "graphnn.ops": 3,
    "graphnn.text": 4,
    "graphnn.graph": 5,
    "graphnn.autodiff": 6, "graphnn.evaluate": 6, "graphnn.model_file": 6,
    "graphnn.symbolic": 7, "graphnn.passes": 7, "graphnn.lower": 7,
    "graphnn.compiler": 8, "graphnn.render": 8,
    "graphnn.api": 9, "graphnn.cli": 9, "graphnn.nn": 9,
    "graphnn": 10, "graphnn.__main__": 10,
}
SYMPY_ALLOWED = ("graphnn.ops", "graphnn.symbolic")
# STYLE.md: llvmlite stays behind codegen.jit (passes, JIT) and codegen.llvm (the IR builders)
LLVMLITE_ALLOWED = ("codegen.jit", "codegen.llvm")


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
def test_sympy_and_llvmlite_stay_in_their_modules(path):
    module = _module_name(path)
    roots = {i.split(".")[0] for i in _imports(path)}
    if "sympy" in roots:
        assert module.startswith(SYMPY_ALLOWED), f"{module} imports sympy"
    if "llvmlite" in roots:
        assert any(module == m or module.startswith(m + ".") for m in LLVMLITE_ALLOWED), \
            f"{module} imports llvmlite (only {', '.join(LLVMLITE_ALLOWED)} may)"
