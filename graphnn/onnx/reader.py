"""Reading an ONNX model: the file (or bytes, or ModelProto), its external data, its validity
and its opset, each failure an OnnxError saying what is wrong.

Stage: import, before conversion. Output: a checked ModelProto and its ai.onnx opset.
"""

from __future__ import annotations

import os
from pathlib import Path

import onnx
from google.protobuf.message import DecodeError
from onnx import external_data_helper, inliner

from graphnn.onnx.errors import OnnxError

OLDEST_OPSET = 11
ONNX_DOMAINS = ("", "ai.onnx")


def newest_opset() -> int:
    """The newest ai.onnx opset the installed onnx package knows."""
    return onnx.defs.onnx_opset_version()


def read_model(source: str | os.PathLike | bytes | onnx.ModelProto) -> onnx.ModelProto:
    """The model from a path, serialized bytes or a ModelProto, external data loaded."""
    if isinstance(source, onnx.ModelProto):
        return source
    if isinstance(source, (bytes, bytearray)):
        return _parse(bytes(source), "the bytes given")
    if not isinstance(source, (str, os.PathLike)):
        raise OnnxError(f"load takes a path, bytes or an onnx.ModelProto, got "
                        f"{type(source).__name__}", "not a model")
    path = Path(source)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise OnnxError(f"cannot read the ONNX model {str(path)!r}: {error.strerror or error}",
                        "unreadable file") from None
    model = _parse(data, repr(str(path)))
    _load_external(model, path)
    return model


def _parse(data: bytes, what: str) -> onnx.ModelProto:
    model = onnx.ModelProto()
    try:
        model.ParseFromString(data)
    except (DecodeError, ValueError, RuntimeError) as error:
        raise OnnxError(f"{what} is not an ONNX model (truncated or damaged file): {error}",
                        "damaged file") from None
    if not model.HasField("graph"):
        raise OnnxError(f"{what} is not an ONNX model (truncated or damaged file): it holds "
                        "no graph", "damaged file")
    return model


def _load_external(model: onnx.ModelProto, path: Path) -> None:
    """Read tensors kept in files beside the model; a missing file names the tensor."""
    for tensor in _tensors(model.graph):
        if not external_data_helper.uses_external_data(tensor):
            continue
        info = external_data_helper.ExternalDataInfo(tensor)
        location = path.parent / info.location
        if not location.is_file():
            raise OnnxError(f"tensor {tensor.name!r} of {str(path)!r} keeps its data in "
                            f"{info.location!r}, which is missing (looked for "
                            f"{str(location)!r})", "external data missing")
    try:
        external_data_helper.load_external_data_for_model(model, str(path.parent))
    except (OSError, ValueError) as error:
        raise OnnxError(f"cannot read the external data of {str(path)!r}: {error}",
                        "external data missing") from None


def _tensors(graph: onnx.GraphProto):
    """The graph's initializers and Constant values (where external data may live)."""
    yield from graph.initializer
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.HasField("t"):
                yield attribute.t


def opset_of(model: onnx.ModelProto) -> int:
    """The model's ai.onnx opset, checked against the range graphnn reads."""
    found = [o.version for o in model.opset_import if o.domain in ONNX_DOMAINS]
    if not found:
        raise OnnxError("the model imports no ai.onnx opset", "no opset")
    opset, newest = found[0], newest_opset()
    if opset < OLDEST_OPSET:
        raise OnnxError(f"the model uses opset {opset}; graphnn reads opsets {OLDEST_OPSET} to "
                        f"{newest} (convert it first: onnx.version_converter.convert_version("
                        f"model, {OLDEST_OPSET}))", "opset too old")
    if opset > newest:
        raise OnnxError(f"the model uses opset {opset}, newer than the installed onnx package "
                        f"knows ({newest}): upgrade onnx", "opset too new")
    return opset


def checked(model: onnx.ModelProto) -> onnx.ModelProto:
    """The model validated by onnx's checker, its local functions inlined."""
    try:
        onnx.checker.check_model(model)
    except (onnx.checker.ValidationError, ValueError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise OnnxError(f"the model is not valid ONNX: {first}", "invalid model") from None
    if model.functions:
        model = inliner.inline_local_functions(model)
    return model
