"""Layers at the two ends of a sequence model: token embedding and positional encoding going
in, pooling over time or the last step's selection coming out. Shapes are batch first,
(batch, time) token ids and (batch, time, features) sequences.
"""

from __future__ import annotations

import numpy as np

from graphnn.ir import Node, constant
from graphnn.nn.init import Initializer
from graphnn.nn.model import Build, Layer
from graphnn.ops import cast, maximum, mean, not_equal, take
from graphnn.ops import sum as total


def need_sequence(layer: Layer, x: Node, dim: int | None = None) -> None:
    """A ModelError naming `layer` unless x is (batch, time, features), with `dim` features
    if given."""
    if x.ndim != 3 or (dim is not None and x.shape[2] != dim):
        features = "features" if dim is None else str(dim)
        raise layer.error(f"expects input of shape (batch, time, {features}), got {x.shape}")


class Embedding(Layer):
    """Token ids (batch, time), integers in [0, vocab), to vectors (batch, time, dim): row
    `id` of the table (vocab, dim), as `torch.nn.Embedding` (initialized N(0, 1) like it).
    Its gradient adds each step's cotangent to the row of its token (a scatter-add).

    The model takes integer input: `nn.Sequential(..., input_dtype="int64")`. Ids are
    checked before native code runs: one outside [0, vocab) is an error naming the layer.
    With `pad_id`, steps holding that id are padding: later attention layers do not attend to
    them and `GlobalAveragePool1D` leaves them out of its mean.

    >>> import numpy as np
    >>> from graphnn import nn
    >>> model = nn.Sequential([nn.Embedding(10, 4)], input_shape=(6,), input_dtype="int64")
    >>> model.output_shape, model.values["embedding1_table"].shape
    ((6, 4), (10, 4))
    >>> model.predict(np.array([[1, 2, 3, 4, 5, 12]])).shape
    Traceback (most recent call last):
    ...
    graphnn.nn.errors.ModelError: layer 'embedding1' (Embedding): token id 12 at x[0, 5] is \
outside the vocabulary [0, 10)
    """

    kind = "embedding"

    def __init__(self, vocab: int, dim: int, *, pad_id: int | None = None,
                 init: str | Initializer | None = None, name: str | None = None) -> None:
        super().__init__(name)
        self.vocab, self.dim, self.pad_id, self.init = int(vocab), int(dim), pad_id, init
        if self.vocab < 1 or self.dim < 1:
            raise self.error(f"vocab and dim must be at least 1, got {vocab} and {dim}")

    def forward(self, x: Node, build: Build) -> Node:
        if not x.dtype.startswith("int"):
            raise self.error(f"takes integer token ids, got {x.dtype} input {x.shape}; "
                             "declare the model with input_dtype='int64' and feed int64 ids")
        init = _unit_normal if self.init is None else self.init
        table = build.parameter(self, "table", (self.vocab, self.dim), init,
                                (self.vocab, self.dim), decay=False)
        if self.pad_id is not None:
            build.padding = cast(not_equal(x, self.pad_id), build.dtype)
        return take(table, x, axis=0)

    def check_data(self, x: np.ndarray) -> None:
        bad = np.argwhere((x < 0) | (x >= self.vocab))
        if bad.size:
            at = tuple(int(i) for i in bad[0])
            raise self.error(f"token id {int(x[at])} at x[{', '.join(map(str, at))}] is outside "
                             f"the vocabulary [0, {self.vocab})")

    def describe(self) -> str:
        return f"{self.vocab}, {self.dim}"


def _unit_normal(rng, shape, fan_in, fan_out, dtype):
    """N(0, 1): torch.nn.Embedding's initialization."""
    return rng.standard_normal(shape).astype(dtype)


def sinusoids(length: int, dim: int) -> np.ndarray:
    """The sinusoidal position table of Vaswani et al. (2017), (length, dim) float64:
    PE[t, 2i] = sin(t / 10000^(2i/dim)),  PE[t, 2i+1] = cos(t / 10000^(2i/dim)).

    >>> sinusoids(3, 4).round(3)
    array([[ 0.   ,  1.   ,  0.   ,  1.   ],
           [ 0.841,  0.54 ,  0.01 ,  1.   ],
           [ 0.909, -0.416,  0.02 ,  1.   ]])
    """
    t = np.arange(length)[:, None]
    rates = 1.0 / 10000.0 ** (np.arange(0, dim, 2) / dim)
    table = np.zeros((length, dim))
    table[:, 0::2] = np.sin(t * rates)
    table[:, 1::2] = np.cos(t * rates[:dim // 2])
    return table


class PositionalEncoding(Layer):
    """Adds the sinusoidal position table (`sinusoids`) to (batch, time, dim): attention alone
    does not know the order of its inputs. No parameters; the table is a constant of the
    graph, sized by the model's sequence length.

    >>> from graphnn import nn
    >>> nn.Sequential([nn.PositionalEncoding()], input_shape=(5, 4)).output_shape
    (5, 4)
    """

    kind = "position"

    def forward(self, x: Node, build: Build) -> Node:
        need_sequence(self, x)
        return x + constant(sinusoids(x.shape[1], x.shape[2]).astype(x.dtype))


class GlobalAveragePool1D(Layer):
    """The mean over time: (batch, time, features) -> (batch, features). Padded steps (an
    `nn.Embedding(pad_id=...)` before it) are left out of the mean.

    >>> from graphnn import nn
    >>> nn.Sequential([nn.GlobalAveragePool1D()], input_shape=(5, 3)).output_shape
    (3,)
    """

    kind = "pool"

    def forward(self, x: Node, build: Build) -> Node:
        need_sequence(self, x)
        if build.padding is None:
            return mean(x, axis=1)
        weights = build.padding[:, :, None]          # 1 for real steps, 0 for padding
        count = maximum(total(build.padding, axis=1, keepdims=True), 1.0)
        return total(x * weights, axis=1) / count


class LastStep(Layer):
    """The last time step: (batch, time, features) -> (batch, features), `x[:, -1]`. Put it
    after a recurrent layer with `return_sequences=True` (or any sequence layer) to feed a
    classification head.

    >>> from graphnn import nn
    >>> nn.Sequential([nn.LastStep()], input_shape=(5, 3)).output_shape
    (3,)
    """

    kind = "last"

    def forward(self, x: Node, build: Build) -> Node:
        need_sequence(self, x)
        return x[:, -1, :]
