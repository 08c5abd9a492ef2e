"""Attention layers: multi-head scaled dot-product self-attention and the pre-norm Transformer
encoder layer, on (batch, time, dim) sequences.

Self-attention of Vaswani et al. (2017), as `torch.nn.MultiheadAttention` (batch_first=True):

    q, k, v = x W_q + b_q, x W_k + b_k, x W_v + b_v     (each split into `heads` of dim/heads)
    A = softmax(q k^T / sqrt(dim/heads) + bias)          (per head, over the keys)
    y = concat_heads(A v) W_out + b_out

The bias is 0 where a query may attend to a key and -1e9 where it may not (a key that is
padding, a later step when `causal`): after the softmax those weights are 0 (exp underflows),
and so are their gradients. Weights are stored for `x @ w`: `w_qkv` (features, 3 dim) holds
W_q, W_k, W_v side by side (PyTorch's `in_proj_weight`, transposed), `w_out` (dim, dim).
"""

from __future__ import annotations

import math

import numpy as np

from graphnn.ir import Node, constant, scope
from graphnn.nn.errors import ModelError
from graphnn.nn.layers import activate, activations
from graphnn.nn.model import Build, Layer
from graphnn.nn.sequence import need_sequence
from graphnn.ops import cast, layer_norm, reshape, softmax, transpose

MASKED = -1e9       # the score of a key a query may not see: exp(MASKED - max) is 0


def mask_problem(mask: Node | None, x: Node) -> str | None:
    """What is wrong with a padding mask for x (batch, time, ...), or None if it fits."""
    if mask is None or mask.shape == x.shape[:2]:
        return None
    return (f"the padding mask must have shape (batch, time) = {x.shape[:2]} like the input "
            f"{x.shape}, got {mask.shape}")


def _heads(z: Node, heads: int) -> Node:
    """(batch, time, dim) -> (batch, heads, time, dim / heads)."""
    batch, time, dim = z.shape
    return transpose(reshape(z, (batch, time, heads, dim // heads)), (0, 2, 1, 3))


def _bias(x: Node, mask: Node | None, causal: bool) -> Node | None:
    """The additive score bias (broadcasting to (batch, heads, time, time)), or None."""
    batch, time = x.shape[:2]
    bias = None
    if causal:       # query t sees keys 0..t: MASKED above the diagonal
        bias = constant(np.triu(np.full((time, time), MASKED), k=1).astype(x.dtype))
    if mask is not None:
        keep = cast(mask, x.dtype)
        padding = reshape((1.0 - keep) * MASKED, (batch, 1, 1, time))
        bias = padding if bias is None else bias + padding
    return bias


def multi_head_attention(x: Node, w_qkv: Node, b_qkv: Node, w_out: Node, b_out: Node,
                         heads: int, *, mask: Node | None = None,
                         causal: bool = False) -> Node:
    """Multi-head self-attention of x (batch, time, features) on nodes (module docstring).
    `mask` (batch, time): 1 (or True) for real steps, 0 for padding that no query attends to
    (PyTorch's `key_padding_mask` is its negation). `causal`: step t attends to steps <= t.

    >>> import numpy as np, graphnn as gn
    >>> x = gn.input("x", (2, 5, 8))
    >>> y = multi_head_attention(x, gn.input("w_qkv", (8, 24)), np.zeros(24),
    ...                          gn.input("w_out", (8, 8)), np.zeros(8), heads=2, causal=True)
    >>> y.shape
    (2, 5, 8)
    """
    dim = w_out.shape[0]
    problem = mask_problem(mask, x) or (None if dim % heads == 0 else
                                        f"dim {dim} is not a multiple of heads {heads}")
    if problem:
        raise ModelError(f"multi_head_attention: {problem}")
    # the bias is added after the heads are split: q, k and v are then sums, which lowering
    # stores once each for the products (the bias add in the copy), and the backward pass's
    # qᵀ, kᵀ and vᵀ read those buffers with the transpose flag; split after the add, the
    # transposes of the split compose into views that are no matrix in memory, and each is
    # copied again
    qkv = x @ w_qkv
    q, k, v = (_heads(qkv[:, :, j * dim:(j + 1) * dim], heads) +
               reshape(b_qkv[j * dim:(j + 1) * dim], (heads, 1, dim // heads))
               for j in range(3))
    scores = (q @ transpose(k, (0, 1, 3, 2))) * (1.0 / math.sqrt(dim // heads))
    bias = _bias(x, mask, causal)
    weights = softmax(scores if bias is None else scores + bias, axis=-1)
    context = transpose(weights @ v, (0, 2, 1, 3))             # (batch, time, heads, dim/heads)
    return reshape(context, x.shape[:2] + (dim,)) @ w_out + b_out


def _attention(layer: Layer, build: Build, x: Node, part: str, dim: int, heads: int,
               mask: Node | None, causal: bool) -> Node:
    """Declare the attention weights `<part>w_qkv`, ... of `layer` and apply them."""
    problem = mask_problem(mask, x)
    if problem:
        raise layer.error(problem)
    features = x.shape[2]
    w_qkv = build.parameter(layer, f"{part}w_qkv", (features, 3 * dim), "xavier_uniform",
                            (features, dim))
    b_qkv = build.parameter(layer, f"{part}b_qkv", (3 * dim,), "zeros", decay=False)
    w_out = build.parameter(layer, f"{part}w_out", (dim, dim), "xavier_uniform", (dim, dim))
    b_out = build.parameter(layer, f"{part}b_out", (dim,), "zeros", decay=False)
    return multi_head_attention(x, w_qkv, b_qkv, w_out, b_out, heads, mask=mask,
                                causal=causal)


def _check_heads(layer: Layer, dim: int, heads: int) -> None:
    if dim < 1 or heads < 1 or dim % heads:
        raise layer.error(f"dim must be a positive multiple of heads, got dim {dim} and heads "
                          f"{heads}")


class MultiHeadAttention(Layer):
    """Multi-head scaled dot-product self-attention (the module docstring's equations), as
    `torch.nn.MultiheadAttention(dim, heads, batch_first=True)` with query = key = value = x.
    Input (batch, time, features), output (batch, time, dim). `causal=True`: step t attends to
    steps 0..t only. Padding (an `nn.Embedding(pad_id=...)` before it, or `mask=` given to
    `forward` when used in a model's own `forward`) is not attended to.

    >>> from graphnn import nn
    >>> model = nn.Sequential([nn.MultiHeadAttention(2, 8)], input_shape=(5, 8))
    >>> model.output_shape, model.values["attention1_w_qkv"].shape
    ((5, 8), (8, 24))
    """

    kind = "attention"

    def __init__(self, heads: int, dim: int, causal: bool = False, *,
                 name: str | None = None) -> None:
        super().__init__(name)
        self.heads, self.dim, self.causal = int(heads), int(dim), bool(causal)
        _check_heads(self, self.dim, self.heads)

    def forward(self, x: Node, build: Build, mask: Node | None = None) -> Node:
        need_sequence(self, x)
        mask = build.padding if mask is None else mask
        return _attention(self, build, x, "", self.dim, self.heads, mask, self.causal)

    def describe(self) -> str:
        return f"{self.heads} heads, {self.dim}" + ", causal" * self.causal


def _norm(layer: Layer, build: Build, x: Node, part: str, eps: float) -> Node:
    """Layer normalization over the last axis with `<part>gamma` (ones) and `<part>beta`."""
    dim = (x.shape[-1],)
    gamma = build.parameter(layer, f"{part}gamma", dim, "ones", decay=False)
    beta = build.parameter(layer, f"{part}beta", dim, "zeros", decay=False)
    return layer_norm(x, axis=-1, eps=eps) * gamma + beta


class LayerNorm(Layer):
    """Layer normalization over the last axis (Ba et al., 2016), as `torch.nn.LayerNorm`:
    y = gamma (x - mean) / sqrt(var + eps) + beta, mean and (biased) variance per example and
    step; gamma starts at 1, beta at 0. The same in training and evaluation.

    >>> from graphnn import nn
    >>> nn.Sequential([nn.LayerNorm()], input_shape=(5, 3)).values["norm1_gamma"]
    array([1., 1., 1.], dtype=float32)
    """

    kind = "norm"

    def __init__(self, eps: float = 1e-5, name: str | None = None) -> None:
        super().__init__(name)
        self.eps = float(eps)

    def forward(self, x: Node, build: Build) -> Node:
        return _norm(self, build, x, "", self.eps)


class TransformerEncoderLayer(Layer):
    """A pre-norm Transformer encoder layer on (batch, time, dim), as
    `torch.nn.TransformerEncoderLayer(dim, heads, ff_dim, dropout, batch_first=True,
    norm_first=True)`:

        h = x + dropout(attention(norm1(x)))
        y = h + dropout(linear2(act(linear1(norm2(h)))))

    `activation` is any activation layers take by name ("relu" by default, as PyTorch's;
    "gelu" once graphnn has gn.gelu). Dropout (training only) is on the two residual
    branches; PyTorch also drops attention weights and the feed-forward hidden layer, so the
    two agree with dropout=0. Parameters: norm1_*, attention_* (as nn.MultiHeadAttention),
    linear1_w (dim, ff_dim), linear1_b, linear2_w (ff_dim, dim), linear2_b, norm2_*.

    >>> from graphnn import nn
    >>> model = nn.Sequential([nn.TransformerEncoderLayer(8, 2, 16)], input_shape=(5, 8))
    >>> model.output_shape, model.values["encoder1_linear1_w"].shape
    ((5, 8), (8, 16))
    """

    kind = "encoder"

    def __init__(self, dim: int, heads: int, ff_dim: int, dropout: float = 0.0, *,
                 activation: str = "relu", causal: bool = False, eps: float = 1e-5,
                 name: str | None = None) -> None:
        super().__init__(name)
        self.dim, self.heads, self.ff_dim = int(dim), int(heads), int(ff_dim)
        _check_heads(self, self.dim, self.heads)
        if not 0.0 <= dropout < 1.0:
            raise self.error(f"dropout must be in [0, 1), got {dropout}")
        if activation not in activations():
            raise self.error(f"unknown activation {activation!r} (the activations are "
                             f"{', '.join(sorted(activations()))})")
        self.dropout, self.activation = float(dropout), activation
        self.causal, self.eps = bool(causal), float(eps)

    def forward(self, x: Node, build: Build, mask: Node | None = None) -> Node:
        need_sequence(self, x, self.dim)
        mask = build.padding if mask is None else mask
        with scope("attention"):
            a = _attention(self, build, _norm(self, build, x, "norm1_", self.eps), "attention_",
                           self.dim, self.heads, mask, self.causal)
            h = x + self._drop(a, build, "attention")
        with scope("feedforward"):
            z = self._linear(_norm(self, build, h, "norm2_", self.eps), build, "linear1_",
                             self.ff_dim)
            z = self._linear(activate(self.activation, z), build, "linear2_", self.dim)
            return h + self._drop(z, build, "feedforward")

    def _linear(self, x: Node, build: Build, part: str, units: int) -> Node:
        fans = (x.shape[-1], units)
        w = build.parameter(self, f"{part}w", fans, "xavier_uniform", fans)
        return x @ w + build.parameter(self, f"{part}b", (units,), "zeros", decay=False)

    def _drop(self, x: Node, build: Build, part: str) -> Node:
        if not build.training or self.dropout == 0.0:
            return x
        return x * build.mask(self, x.shape, self.dropout, part)

    def describe(self) -> str:
        return f"{self.dim}, {self.heads} heads, ff {self.ff_dim}"
