"""Test helpers that use nothing of graphnn (codegen's tests share them): golden files,
docstring examples, work started on several threads at once."""

from __future__ import annotations

import contextlib
import doctest
import importlib
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest


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
