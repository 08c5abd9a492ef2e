"""Moving a layer's weights between graphnn and PyTorch, as NumPy arrays (torch is not
imported: a state dict's tensors go in through `np.asarray`, and out through
`torch.from_numpy`).

graphnn stores weights for `x @ w`, PyTorch for `x @ W^T`: matrices are transposed on the way,
vectors copied. The gate order of the recurrent layers and the packing of the attention
projections are PyTorch's already, so nothing else changes.

    state = {k: v.detach().numpy() for k, v in torch_lstm.state_dict().items()}
    nn.load_torch_state(model, "lstm1", state)                   # PyTorch -> graphnn
    torch_lstm.load_state_dict({k: torch.from_numpy(v)
                                for k, v in nn.torch_state(model, "lstm1").items()})
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from graphnn.nn.attention import LayerNorm, MultiHeadAttention, TransformerEncoderLayer
from graphnn.nn.errors import ModelError
from graphnn.nn.layers import Dense
from graphnn.nn.model import Layer
from graphnn.nn.recurrent import _Recurrent
from graphnn.nn.sequence import Embedding

if TYPE_CHECKING:
    from graphnn.nn.model import Sequential

# graphnn parameter (without the layer's prefix) -> (PyTorch state-dict key, transposed)
_ATTENTION = {"w_qkv": ("in_proj_weight", True), "b_qkv": ("in_proj_bias", False),
              "w_out": ("out_proj.weight", True), "b_out": ("out_proj.bias", False)}
_NORM = {"gamma": ("weight", False), "beta": ("bias", False)}
_LINEAR = {"w": ("weight", True), "b": ("bias", False)}


def _prefixed(table: Mapping[str, tuple[str, bool]], ours: str, theirs: str):
    return {ours + k: (theirs + key, t) for k, (key, t) in table.items()}


def _recurrent(layer: _Recurrent) -> dict[str, tuple[str, bool]]:
    names = {}
    for suffix in layer.directions:       # PyTorch's reverse direction is "..._l0_reverse"
        for part in ("ih", "hh"):
            names[f"w_{part}{suffix}"] = (f"weight_{part}_l0{suffix}", True)
            names[f"b_{part}{suffix}"] = (f"bias_{part}_l0{suffix}", False)
    return names


def _encoder(layer: TransformerEncoderLayer) -> dict[str, tuple[str, bool]]:
    return {**_prefixed(_ATTENTION, "attention_", "self_attn."),
            **_prefixed(_LINEAR, "linear1_", "linear1."), **_prefixed(_LINEAR, "linear2_",
                                                                      "linear2."),
            **_prefixed(_NORM, "norm1_", "norm1."), **_prefixed(_NORM, "norm2_", "norm2.")}


_TABLES = ((_Recurrent, _recurrent), (MultiHeadAttention, lambda layer: _ATTENTION),
           (TransformerEncoderLayer, _encoder), (LayerNorm, lambda layer: _NORM),
           (Dense, lambda layer: _LINEAR), (Embedding, lambda layer: {"table": ("weight", False)}))


def torch_names(layer: Layer) -> dict[str, tuple[str, bool]]:
    """graphnn parameter name (after `<layer>_`) -> (PyTorch key, whether transposed).

    >>> from graphnn import nn
    >>> torch_names(nn.GRU(4))["w_ih"]
    ('weight_ih_l0', True)
    """
    for kind, table in _TABLES:
        if isinstance(layer, kind):
            return table(layer)
    raise layer.error("has no PyTorch counterpart to move weights from or to")


def _layer(model: Sequential, layer: str | Layer) -> Layer:
    name = layer if isinstance(layer, str) else layer.name
    for candidate in model.layers:
        if candidate.name == name:
            return candidate
    raise ModelError(f"the model has no layer {name!r} (its layers are "
                     f"{', '.join(layer.name for layer in model.layers)})")


def torch_state(model: Sequential, layer: str | Layer) -> dict[str, np.ndarray]:
    """The layer's parameters as a PyTorch state dict of NumPy arrays (copies), keyed as the
    matching torch module's `state_dict()` (torch.nn.LSTM: weight_ih_l0, ...)."""
    found = _layer(model, layer)
    return {key: np.array(model.values[f"{found.name}_{ours}"].T if transposed
                          else model.values[f"{found.name}_{ours}"])
            for ours, (key, transposed) in torch_names(found).items()}


def load_torch_state(model: Sequential, layer: str | Layer, state: Mapping[str, Any]) -> None:
    """Copy a torch module's state dict (values as NumPy arrays, or anything `np.asarray`
    takes) into the layer's parameters, converted to the model's dtype. Keys the layer does
    not use (a bias it lacks) are errors, as are missing keys and wrong shapes, each naming
    the layer and the key."""
    found = _layer(model, layer)
    names = torch_names(found)
    unused = sorted(set(state) - {key for key, _ in names.values()})
    if unused:
        raise found.error(f"the state dict has keys the layer does not use: {unused}")
    arrays = {}
    for ours, (key, transposed) in names.items():
        if key not in state:
            raise found.error(f"the state dict has no {key!r}")
        value = np.asarray(state[key])
        value = value.T if transposed else value
        target = model.values[f"{found.name}_{ours}"]
        if value.shape != target.shape:
            raise found.error(f"{key!r} has shape {np.shape(state[key])}, expected "
                              f"{target.T.shape if transposed else target.shape}")
        arrays[f"{found.name}_{ours}"] = value
    for name, value in arrays.items():
        np.copyto(model.values[name], value, casting="same_kind")
