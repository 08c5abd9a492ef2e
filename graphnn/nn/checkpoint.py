"""Checkpoints of data-parallel training: everything needed to go on from a completed step.

A checkpoint is one .npz file (written with np.savez, read with allow_pickle=False: loading it
runs no code) holding:
- `param:<name>`: every parameter of the model;
- `slot:<name>`: the optimizer's state arrays (momentum's velocity, Adam's m and v);
- `best:<name>`: the best epoch's parameters, when early stopping keeps them;
- `state`: JSON (as bytes) with the format and version, the run's fingerprint (examples, batch
  size, shuffling, seed, loss, optimizer, parameter shapes), the steps taken (Adam's t), the
  dropout RNG's state, the position (epoch, batches of it done, the batch-order RNG's state at
  the epoch's start, the epoch's running loss and accuracy counts) and the History so far.

Writes go to a temporary file renamed into place, so a crash leaves the previous checkpoint.
Resuming restores all of it: the run goes on with the same batch order, dropout masks and
optimizer state as if nothing had happened.
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from graphnn.nn.errors import ParameterFileError
from graphnn.nn.history import History
from graphnn.nn.loop import Totals
from graphnn.nn.saving import check_arrays
from graphnn.nn.step import TrainStep

if TYPE_CHECKING:     # annotations only: graphnn.nn.model imports the training modules
    from graphnn.nn.model import Sequential

FORMAT = "graphnn.checkpoint"
VERSION = 1
_SERIES = ("epoch", "loss", "accuracy", "val_loss", "val_accuracy", "seconds")


@dataclass
class Position:
    """Where a run is: in `epoch` (from 1), after `batch` of its batches; the batch-order
    RNG's state at the epoch's start (its order is drawn again from it) and the epoch's
    totals so far."""

    epoch: int
    batch: int
    epoch_rng: dict
    totals: Totals


def fingerprint(model: Sequential, step: TrainStep, examples: int, batch_size: int,
                shuffle: bool, drop_last: bool, seed: int) -> dict[str, Any]:
    """What must match for a checkpoint to belong to a run."""
    return {"examples": examples, "batch_size": batch_size, "shuffle": shuffle,
            "drop_last": drop_last, "seed": seed, "loss": repr(step.loss),
            "optimizer": repr(step.optimizer), "dtype": model.dtype,
            "parameters": [[name, list(v.shape)] for name, v in model.values.items()]}


def save(path: str | os.PathLike, step: TrainStep, position: Position, history: History,
         run: dict[str, Any]) -> None:
    """Write the checkpoint of `step`'s model and optimizer at `position` (see the module
    docstring), atomically."""
    state = {"format": FORMAT, "version": VERSION, "fingerprint": run, "count": step.count,
             "step_rng": step.rng.bit_generator.state,
             "position": {**asdict(position), "totals": asdict(position.totals)},
             "history": {key: getattr(history, key) for key in _SERIES},
             "best": {"epoch": history.best_epoch, "value": history.best_value,
                      "stopped": history.stopped_epoch}}
    arrays = {f"param:{k}": v for k, v in step.model.values.items()}
    arrays.update({f"slot:{k}": v for k, v in step.slots.items()})
    if history.best_parameters is not None:
        arrays.update({f"best:{k}": v for k, v in history.best_parameters.items()})
    arrays["state"] = np.frombuffer(json.dumps(state).encode(), np.uint8)
    path = os.fspath(path)
    temporary = f"{path}.{os.getpid()}.partial"
    with open(temporary, "wb") as file:
        np.savez(file, **arrays)
    os.replace(temporary, path)


def _group(members: dict[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    return {k[len(prefix):]: v for k, v in members.items() if k.startswith(prefix)}


def _read(path: str | os.PathLike) -> tuple[dict, dict[str, np.ndarray]]:
    try:
        with np.load(path, allow_pickle=False) as file:
            members = {k: file[k] for k in file.files}
        state = json.loads(members.pop("state").tobytes())
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        raise ParameterFileError(f"{os.fspath(path)} is not a readable graphnn checkpoint "
                                 f"({error})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT or \
            state.get("version") != VERSION:
        raise ParameterFileError(f"{os.fspath(path)} is not a graphnn checkpoint of version "
                                 f"{VERSION}")
    return state, members


def load(path: str | os.PathLike, step: TrainStep, history: History,
         run: dict[str, Any]) -> Position:
    """Restore `step` (its model's parameters, optimizer state, step count, dropout RNG) and
    `history` from the checkpoint at `path`, after checking it belongs to this run; the
    position to go on from."""
    state, members = _read(path)
    if state["fingerprint"] != run:
        theirs, ours = state["fingerprint"], run
        differs = sorted(k for k in set(theirs) | set(ours) if theirs.get(k) != ours.get(k))
        raise ParameterFileError(
            f"the checkpoint {os.fspath(path)} is of another run: its {differs[0]} is "
            f"{theirs.get(differs[0])!r}, this fit's is {ours.get(differs[0])!r} (delete it or "
            "give another path to start afresh)")
    model = step.model
    check_arrays(model, _group(members, "param:"), f"checkpoint {os.fspath(path)}")
    slots = _group(members, "slot:")
    if set(slots) != set(step.slots) or any(slots[k].shape != v.shape
                                            for k, v in step.slots.items()):
        raise ParameterFileError(f"the checkpoint {os.fspath(path)} holds optimizer state "
                                 f"{sorted(slots)}, this optimizer keeps {sorted(step.slots)}")
    model.set_parameters(_group(members, "param:"), f"checkpoint {os.fspath(path)}")
    step.slots = {k: np.array(slots[k], order="C") for k in step.slots}
    step.count = state["count"]
    step.rng.bit_generator.state = state["step_rng"]
    for key in _SERIES:
        setattr(history, key, list(state["history"][key]))
    best = state["best"]
    history.best_epoch, history.best_value = best["epoch"], best["value"]
    history.stopped_epoch = best["stopped"]
    history.best_parameters = _group(members, "best:") or None
    where = state["position"]
    return Position(where["epoch"], where["batch"], where["epoch_rng"],
                    Totals(**where["totals"]))


__all__ = ["FORMAT", "VERSION", "Position", "fingerprint", "load", "save"]
