"""The ONNX operators graphnn imports, one module per family; importing this package fills
graphnn.onnx.registry.CONVERTERS."""

from graphnn.onnx.convert import (  # noqa: F401 (importing registers the converters)
    conv, dtypes, elementwise, indexing, linalg, normalization, recurrent, reduce, shape)
