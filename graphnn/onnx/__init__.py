"""graphnn.onnx: ONNX in and out.

`load` imports an ONNX model as graphnn nodes, `save` (and `to_model`, `to_bytes`) exports a
graphnn graph, `conformance` runs the ONNX backend node tests. The onnx package is imported
when one of these is first used (`pip install 'graphnn[onnx]'`), never by `import graphnn`.

>>> import graphnn as gn
>>> "Conv" in gn.onnx.CONVERTERS and "Gemm" in gn.onnx.CONVERTERS
True
"""

from __future__ import annotations

import importlib
from typing import Any

from graphnn.onnx.errors import OnnxError

_LAZY = {
    "load": "graphnn.onnx.importer", "OnnxModel": "graphnn.onnx.model",
    "save": "graphnn.onnx.exporter", "to_model": "graphnn.onnx.exporter",
    "to_bytes": "graphnn.onnx.exporter", "DEFAULT_OPSET": "graphnn.onnx.exporter",
    "CONVERTERS": "graphnn.onnx.registry", "converter": "graphnn.onnx.registry",
    "python_name": "graphnn.onnx.names",
}

__all__ = ["OnnxError", *_LAZY]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'graphnn.onnx' has no attribute {name!r}")
    try:
        value = getattr(importlib.import_module(module), name)
    except ModuleNotFoundError as error:
        if error.name not in ("onnx", "google", "google.protobuf"):
            raise
        raise OnnxError("graphnn.onnx needs the onnx package: pip install 'graphnn[onnx]'",
                        "onnx not installed") from None
    if name == "CONVERTERS":
        importlib.import_module("graphnn.onnx.convert")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
