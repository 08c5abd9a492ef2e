"""ONNX value names as graphnn input names: a deterministic map to Python identifiers, kept
both ways.

ONNX names are any strings ("0", "gpu_0/data_0", "conv1.weight"); graphnn inputs are named by
identifiers, so a compiled function can take them as keyword arguments.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Iterable

from graphnn.ir import identifier

_OTHER = re.compile(r"\W")


def python_name(name: str) -> str:
    """One ONNX name as an identifier: other characters become "_", a leading digit (or an
    empty name) gets "v" before it, and a keyword gets "_" after it.

    >>> python_name("gpu_0/data_0"), python_name("0"), python_name("conv1.weight")
    ('gpu_0_data_0', 'v0', 'conv1_weight')
    >>> python_name("class"), python_name("")
    ('class_', 'v')
    """
    text = _OTHER.sub("_", identifier(name))
    if not text or not text.isidentifier():
        text = "v" + text
    if keyword.iskeyword(text):
        text += "_"
    return text


class NameMap:
    """ONNX names to distinct identifiers in the order they are added: the second ONNX name
    that maps to a taken identifier gets "_2", the third "_3" (skipping taken ones).

    >>> names = NameMap(["a.b", "a_b", "x"])
    >>> names.python("a.b"), names.python("a_b"), names.onnx("a_b_2")
    ('a_b', 'a_b_2', 'a_b')
    """

    def __init__(self, names: Iterable[str] = ()) -> None:
        self.to_python: dict[str, str] = {}
        self.to_onnx: dict[str, str] = {}
        for name in names:
            self.add(name)

    def add(self, name: str) -> str:
        if name in self.to_python:
            return self.to_python[name]
        base = candidate = python_name(name)
        count = 1
        while candidate in self.to_onnx:
            count += 1
            candidate = f"{base}_{count}"
        self.to_python[name] = candidate
        self.to_onnx[candidate] = name
        return candidate

    def python(self, name: str) -> str:
        return self.to_python[name]

    def onnx(self, name: str) -> str:
        return self.to_onnx[name]
