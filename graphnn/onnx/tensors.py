"""ONNX tensors, types and attributes as NumPy arrays and Python values.

Stage: import and export. Input: protobuf messages (TensorProto, AttributeProto, TypeProto).
Output: arrays, dtype names, plain ints, floats, strings and tuples.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper

from graphnn.ir import DTYPES
from graphnn.onnx.errors import OnnxError

ELEMENT = onnx.TensorProto.DataType


def type_name(element_type: int) -> str:
    """ONNX's name of an element type, lowercase: 1 -> 'float', 7 -> 'int64'."""
    try:
        return ELEMENT.Name(element_type).lower()
    except ValueError:
        return f"element type {element_type}"


def numpy_dtype(element_type: int) -> np.dtype | None:
    """The NumPy dtype of an ONNX element type, None for those NumPy has no plain form of
    (strings, 4-bit and 8-bit floats)."""
    if element_type in (ELEMENT.STRING, ELEMENT.UNDEFINED):
        return None
    try:
        dtype = np.dtype(helper.tensor_dtype_to_np_dtype(element_type))
    except (KeyError, TypeError, ValueError):
        return None
    return dtype if dtype.kind in "fiub" and dtype.name in np.sctypeDict else None


def graph_dtype(element_type: int) -> str | None:
    """The graphnn dtype of an ONNX element type, None where graphnn has no such dtype."""
    dtype = numpy_dtype(element_type)
    return dtype.name if dtype is not None and dtype.name in DTYPES else None


def element_type(dtype: str | np.dtype) -> int:
    """The ONNX element type of a NumPy dtype: 'float32' -> 1 (FLOAT)."""
    return helper.np_dtype_to_tensor_dtype(np.dtype(dtype))


def supported_dtypes() -> str:
    """The dtypes graphnn graphs hold, for messages: 'float32 and float64'."""
    return " and ".join(DTYPES) if len(DTYPES) < 3 else ", ".join(DTYPES)


def to_array(tensor: onnx.TensorProto, what: str) -> np.ndarray:
    """The value of a TensorProto (external data must be loaded already)."""
    if tensor.data_location == onnx.TensorProto.EXTERNAL:
        raise OnnxError(f"{what} keeps its data in an external file that was not loaded",
                        "external data not loaded")
    if numpy_dtype(tensor.data_type) is None:
        raise OnnxError(f"{what} holds {type_name(tensor.data_type)} elements, which graphnn "
                        "cannot read", f"dtype {type_name(tensor.data_type)}")
    try:
        array = numpy_helper.to_array(tensor)
    except (ValueError, TypeError) as error:
        raise OnnxError(f"{what} is damaged: {error}", "damaged tensor") from None
    return np.array(array, copy=True)


def attribute_value(attribute: onnx.AttributeProto) -> Any:
    """An attribute as a Python value: int, float, str, tuple of them, or an array."""
    kind = attribute.type
    kinds = onnx.AttributeProto.AttributeType
    if kind == kinds.TENSOR:
        return to_array(attribute.t, f"attribute {attribute.name!r}")
    if kind in (kinds.GRAPH, kinds.GRAPHS, kinds.SPARSE_TENSOR, kinds.SPARSE_TENSORS,
                kinds.TENSORS, kinds.TYPE_PROTO, kinds.TYPE_PROTOS):
        return kinds.Name(kind).lower()                  # recognized, never converted
    value = helper.get_attribute_value(attribute)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, list):
        return tuple(v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in value)
    return value


def value_type(info: onnx.ValueInfoProto) -> tuple[int, tuple[int | str | None, ...] | None]:
    """(element type, dims) of a tensor value: a dim is an int, a symbolic name, or None
    (unknown); dims is None when the rank is unknown."""
    kind = info.type.WhichOneof("value")
    if kind != "tensor_type":
        return -1, None
    tensor = info.type.tensor_type
    if not tensor.HasField("shape"):
        return tensor.elem_type, None
    dims = []
    for dim in tensor.shape.dim:
        which = dim.WhichOneof("value")
        dims.append(dim.dim_value if which == "dim_value" else
                    dim.dim_param if which == "dim_param" else None)
    return tensor.elem_type, tuple(dims)
