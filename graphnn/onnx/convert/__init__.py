"""The ONNX operators graphnn imports, one module per family; importing this package fills
graphnn.onnx.registry.CONVERTERS."""

from graphnn.onnx.convert import conv, elementwise, indexing, linalg, normalization, reduce, shape
