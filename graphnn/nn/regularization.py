"""Layers that behave differently in training and evaluation: dropout, batch normalization.

Dropout's random mask is a graph input fed at every training step from the training step's
seeded RNG (so a run is reproducible and the compiled graph stays deterministic); evaluation
graphs have no mask. Batch normalization normalizes with the batch's statistics while training
and keeps running averages of them, which evaluation uses instead.
"""

from __future__ import annotations

from graphnn.ir import Node
from graphnn.nn.model import Build, Layer
from graphnn.ops import maximum, mean, reshape, size, sqrt


def _spread(v: Node, shape: tuple[int, ...]) -> Node:
    """A per-feature vector shaped to broadcast along axis 1 of NCHW input (as is for 2-D)."""
    return v if v.shape == shape else reshape(v, shape)


class Dropout(Layer):
    """Inverted dropout: while training, each element is zeroed with probability `rate` and the
    survivors are scaled by 1 / (1 - rate), so evaluation (which passes x through unchanged)
    sees activations of the same expected size.

    The mask is the input `<name>_mask` of the training graph, one value per element (0 or
    1 / (1 - rate)), drawn by the training step at every call.
    """

    kind = "dropout"

    def __init__(self, rate: float = 0.5, name: str | None = None) -> None:
        super().__init__(name)
        if not 0.0 <= rate < 1.0:
            raise self.error(f"rate must be in [0, 1), got {rate}")
        self.rate = float(rate)

    def forward(self, x: Node, build: Build) -> Node:
        if not build.training or self.rate == 0.0:
            return x
        return x * build.mask(self, x.shape, self.rate)

    def describe(self) -> str:
        return f"{self.rate}"


class BatchNorm(Layer):
    """Batch normalization (Ioffe and Szegedy, 2015): y = gamma (x - mean) / sqrt(var + eps)
    + beta, per feature (axis 1; over the batch, and over height and width for NCHW input).

    Training uses the batch's mean and (biased) variance and updates the running averages
    `running = momentum running + (1 - momentum) batch` (the variance with Bessel's n / (n - 1),
    as the usual frameworks); evaluation normalizes with the running averages. gamma starts at
    1 and beta at 0; neither takes part in weight decay.
    """

    kind = "batchnorm"

    def __init__(self, momentum: float = 0.9, eps: float = 1e-5,
                 name: str | None = None) -> None:
        super().__init__(name)
        self.momentum, self.eps = float(momentum), float(eps)

    def _axes(self, x: Node) -> tuple[int, ...]:
        if x.ndim == 2:
            return (0,)
        if x.ndim == 4:
            return (0, 2, 3)
        raise self.error(f"expects (batch, features) or (batch, channels, height, width) "
                         f"input, got {x.shape}")

    def forward(self, x: Node, build: Build) -> Node:
        axes = self._axes(x)
        features = (x.shape[1],)
        per_feature = (x.shape[1],) + (1,) * (x.ndim - 2)      # broadcasts against x[k]
        gamma = build.parameter(self, "gamma", features, "ones", decay=False)
        beta = build.parameter(self, "beta", features, "zeros", decay=False)
        mean_run = build.parameter(self, "mean", features, "zeros", trainable=False,
                                   decay=False)
        var_run = build.parameter(self, "var", features, "ones", trainable=False, decay=False)
        if build.training:
            center = mean(x, axis=axes, keepdims=True)
            centered = x - center
            var = mean(centered * centered, axis=axes, keepdims=True)
            normalized = centered / sqrt(var + self.eps)
            self._update(build, center, var, x, axes)
        else:
            normalized = (x - _spread(mean_run, per_feature)) / \
                sqrt(_spread(var_run, per_feature) + self.eps)
        return _spread(gamma, per_feature) * normalized + _spread(beta, per_feature)

    def _update(self, build: Build, center: Node, var: Node, x: Node,
                axes: tuple[int, ...]) -> None:
        # n / (n - 1) from a size node, not from Python numbers: the graph then stays right
        # when the compiled step is called at another batch size (compiler/rebatch.py)
        count = size(x, axis=axes)
        bessel = count / maximum(count - 1.0, 1.0)
        m, features = self.momentum, (x.shape[1],)
        mean_run = build.model.parameters[f"{self.name}_mean"].node
        var_run = build.model.parameters[f"{self.name}_var"].node
        build.update(mean_run.name, m * mean_run + (1.0 - m) * reshape(center, features))
        build.update(var_run.name, m * var_run + (1.0 - m) * bessel * reshape(var, features))

    def describe(self) -> str:
        return f"momentum={self.momentum}"
