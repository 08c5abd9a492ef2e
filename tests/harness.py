"""Test helpers that use nothing of graphnn (codegen's tests share them): golden files,
docstring examples, work started on several threads at once, the CPU levels to test on."""

from __future__ import annotations

import contextlib
import dataclasses
import doctest
import importlib
import json
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import llvmlite.binding as llvm
import pytest

from codegen.llvm.target import X86_LEVELS, Target


def changed_fields(options: object) -> list[tuple[str, object]]:
    """(dotted field name, the options with only that field changed) for every field of a
    frozen options dataclass, nested ones (CompileOptions.codegen) field by field."""
    changed: list[tuple[str, object]] = []
    for field in dataclasses.fields(options):
        value = getattr(options, field.name)
        if dataclasses.is_dataclass(value):
            changed += [(f"{field.name}.{name}", dataclasses.replace(options, **{field.name: v}))
                        for name, v in changed_fields(value)]
        else:
            other = (not value) if isinstance(value, bool) else value + 1
            changed.append((field.name, dataclasses.replace(options, **{field.name: other})))
    return changed


def golden_checker(directory: Path, update: bool) -> Callable[[str, str], None]:
    """check(name, text): compare text with directory/<name>; with `update`, rewrite it."""

    def check(name: str, text: str) -> None:
        path = directory / name
        if update:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            return
        if not path.exists():
            pytest.fail(f"golden file {path} is missing; run pytest --update-golden")
        assert text == path.read_text(), f"{name} differs from its golden file"
    return check


def run_docstring_examples(module_name: str) -> doctest.TestResults:
    """Run the examples in one module's docstrings (whitespace-insensitive)."""
    module = importlib.import_module(module_name)
    return doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)


@contextlib.contextmanager
def shallow_stack(frames: int = 400) -> Iterator[None]:
    """Python's recursion limit lowered to `frames` above the caller's depth: code that recurses
    once per level of a graph or expression thousands of levels deep raises RecursionError,
    while recursion bounded by a constant (a pattern, a capped expression) still fits."""
    depth, frame = 0, sys._getframe()
    while frame is not None:
        depth, frame = depth + 1, frame.f_back
    saved = sys.getrecursionlimit()
    sys.setrecursionlimit(depth + frames)
    try:
        yield
    finally:
        sys.setrecursionlimit(saved)


def run_in_threads(work: Callable[[int], None], count: int = 2,
                   timeout: float | None = None) -> list[threading.Thread]:
    """work(0), ..., work(count - 1) on threads started together, joined (up to `timeout`
    each); the threads, so a caller can check that none is still alive."""
    threads = [threading.Thread(target=work, args=(k,)) for k in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    return threads


def cpu_levels() -> list:
    """The x86-64 levels as pytest parameters, each skipped (saying why) where this CPU cannot
    run its code: the tests of each instruction-set path run wherever the CPU supports it."""
    params = []
    for name in X86_LEVELS:
        reason = Target.named(name).unsupported()
        params.append(pytest.param(name, id=name, marks=pytest.mark.skipif(
            reason is not None, reason=reason or "")))
    return params


def absent_cpu_feature() -> str:
    """An instruction-set feature LLVM knows and this CPU lacks (every CPU lacks some)."""
    llvm.initialize_native_target()
    return sorted(name for name, present in llvm.get_host_cpu_features().items()
                  if not present)[0]


def round_trip_every_compiled_kernel() -> Callable[[], None]:
    """From now on, every kernel handed to codegen.jit.compile_kernel (by any module that
    imported it) is first checked to come back unchanged through codegen.serialize and JSON
    text: the plan cache stores kernels so. Each distinct kernel is checked once. Returns the
    function that undoes it."""
    from codegen import jit, serialize

    original, checked = jit.compile_kernel, set()

    def compile_kernel(kernel, **options):
        if (hash(kernel), kernel.name) not in checked:     # no == here: it recurses
            data = serialize.to_data(kernel)
            back = serialize.from_data(json.loads(json.dumps(data, allow_nan=False)))
            # compared flat (== on deep trees recurses) and by the hash of the whole tree
            assert serialize.to_data(back) == data and hash(back) == hash(kernel), kernel.name
            checked.add((hash(kernel), kernel.name))
        return original(kernel, **options)

    modules = [m for m in list(sys.modules.values())
               if getattr(m, "compile_kernel", None) is original]
    for module in modules:
        module.compile_kernel = compile_kernel

    def undo() -> None:
        for module in modules:
            module.compile_kernel = original
    return undo
