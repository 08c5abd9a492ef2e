"""Lowering: graph -> loop-IR kernel (kernel.py), composite expansion, matmul as Gemm."""

from graphnn.lower.expand import expand_composites
from graphnn.lower.kernel import Lowered, lower

__all__ = ["Lowered", "expand_composites", "lower"]
