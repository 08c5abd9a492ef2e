"""Saving parameters to .npz and loading them back: round trip, no pickle, clear mismatch
errors that change nothing."""

from __future__ import annotations

import numpy as np
import pytest

from graphnn import nn


def model(units=4, seed=0, dtype="float32", extra=False):
    layers = [nn.Dense(units, "relu"), nn.BatchNorm(), nn.Dense(2)]
    if extra:
        layers.append(nn.Dense(2))
    return nn.Sequential(layers, input_shape=(3,), seed=seed, dtype=dtype)


def test_round_trip_restores_every_parameter_and_the_predictions(tmp_path):
    source = model(seed=0)
    source.values["batchnorm1_mean"][:] = [1.0, 2.0, 3.0, 4.0]     # running statistics too
    path = tmp_path / "params.npz"
    source.save(path)
    target = model(seed=1)
    target.load(path)
    for name, value in source.values.items():
        assert np.array_equal(target.values[name], value)
        assert target.values[name].dtype == value.dtype
    x = np.random.default_rng(0).normal(size=(5, 3)).astype("float32")
    np.testing.assert_array_equal(target.predict(x), source.predict(x))
    with np.load(path, allow_pickle=False) as archive:
        assert sorted(archive.files) == sorted(source.values)


def test_the_suffix_added_by_savez_is_found(tmp_path):
    source = model()
    source.save(tmp_path / "weights")
    assert (tmp_path / "weights.npz").exists()
    model(seed=2).load(tmp_path / "weights")


@pytest.mark.parametrize("other, message", [
    (lambda: model(units=5), r"parameter 'dense1_w': the model expects float32 \(3, 5\), "
                             r".*params.npz has float32 \(3, 4\)"),
    (lambda: model(dtype="float64"), r"parameter 'dense1_w': the model expects float64 \(3, 4\)"
                                     r", .* has float32 \(3, 4\)"),
    (lambda: model(extra=True), r"has no parameter 'dense3_w' \(expected float32 \(2, 2\)\)"),
    (lambda: nn.Sequential([nn.Dense(4, "relu"), nn.Dense(2)], input_shape=(3,)),
     r"has parameter 'batchnorm1_gamma', which the model does not have"),
])
def test_mismatch_names_the_parameter_and_changes_nothing(tmp_path, other, message):
    path = tmp_path / "params.npz"
    model().save(path)
    target = other()
    before = target.get_parameters()
    with pytest.raises(nn.ParameterFileError, match=message):
        target.load(path)
    assert all(np.array_equal(before[k], target.values[k]) for k in before)


def test_files_needing_pickle_or_holding_one_array_are_refused(tmp_path):
    objects = tmp_path / "objects.npz"
    np.savez(objects, dense1_w=np.array([{"a": 1}], dtype=object))
    with pytest.raises(nn.ParameterFileError, match="not a plain-array .npz file"):
        model().load(objects)
    single = tmp_path / "single.npy"
    np.save(single, np.zeros(3))
    with pytest.raises(nn.ParameterFileError, match="holds a single array"):
        model().load(single)
