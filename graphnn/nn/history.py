"""History: what `fit` measured, epoch by epoch, as plain numbers (and an optional plot).

matplotlib is not a dependency of graphnn: `History.plot` imports it when called and says how
to install it when it is missing; the numbers are always in the lists.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class History:
    """Per-epoch training loss and accuracy, validation loss and accuracy (None when not
    measured), and seconds per epoch; `best_epoch` and `stopped_epoch` with early stopping.

    >>> h = History()
    >>> h.record(1, 0.9, 0.5, None, None, 0.1); h.record(2, 0.4, 0.75, None, None, 0.1)
    >>> h.loss, h.accuracy
    ([0.9, 0.4], [0.5, 0.75])
    """

    epoch: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    accuracy: list[float | None] = field(default_factory=list)
    val_loss: list[float | None] = field(default_factory=list)
    val_accuracy: list[float | None] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    best_epoch: int | None = None
    best_value: float = np.inf
    stopped_epoch: int | None = None
    best_parameters: dict[str, np.ndarray] | None = field(default=None, repr=False)

    def record(self, epoch: int, loss: float, accuracy: float | None, val_loss: float | None,
               val_accuracy: float | None, seconds: float) -> None:
        self.epoch.append(epoch)
        self.loss.append(loss)
        self.accuracy.append(accuracy)
        self.val_loss.append(val_loss)
        self.val_accuracy.append(val_accuracy)
        self.seconds.append(seconds)

    def monitored(self) -> list[float]:
        """The losses early stopping watches: validation losses when measured, else training."""
        return self.loss if self.val_loss[-1] is None else self.val_loss

    def latest(self) -> dict[str, str]:
        """The last epoch's metrics as short strings (the progress bar's postfix)."""
        names = ("loss", "accuracy", "val_loss", "val_accuracy")
        values = (self.loss, self.accuracy, self.val_loss, self.val_accuracy)
        return {name: f"{v[-1]:.4g}" for name, v in zip(names, values)
                if v and v[-1] is not None}

    def as_dict(self) -> dict[str, list]:
        """The measured series by name (without unmeasured ones)."""
        series = {"epoch": self.epoch, "loss": self.loss, "accuracy": self.accuracy,
                  "val_loss": self.val_loss, "val_accuracy": self.val_accuracy,
                  "seconds": self.seconds}
        return {k: v for k, v in series.items() if any(x is not None for x in v)}

    def __str__(self) -> str:
        data = self.as_dict()
        header = " ".join(f"{k:>12}" for k in data)
        rows = [" ".join(_cell(v) for v in row) for row in zip(*data.values())]
        return "\n".join([header, *rows])

    def plot(self, path: str | None = None):
        """Loss (and accuracy, when measured) per epoch with matplotlib, saved to `path` when
        given; returns the figure. Needs matplotlib, which graphnn does not depend on."""
        try:
            import matplotlib
            if path is not None:
                matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            raise ImportError("History.plot needs matplotlib (pip install matplotlib); the "
                              "numbers are in history.loss, history.accuracy, history.val_loss "
                              "and history.val_accuracy") from None
        data = self.as_dict()
        panels = [k for k in ("loss", "accuracy") if k in data]
        figure, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.5))
        for ax, name in zip(np.atleast_1d(axes), panels):
            ax.plot(self.epoch, data[name], label=f"training {name}")
            if f"val_{name}" in data:
                ax.plot(self.epoch, data[f"val_{name}"], label=f"validation {name}")
            ax.set_xlabel("epoch")
            ax.set_ylabel(name)
            ax.legend()
        figure.tight_layout()
        if path is not None:
            figure.savefig(path)
        return figure


def _cell(value) -> str:
    if value is None:
        return f"{'':>12}"
    return f"{value:>12}" if isinstance(value, int) else f"{value:>12.4f}"
