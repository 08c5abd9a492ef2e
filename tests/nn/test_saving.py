"""Saving parameters to .npz and loading them back: round trip, no pickle, clear mismatch
errors that change nothing."""

from __future__ import annotations

import io
import zipfile

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


def _saved(tmp_path):
    path = tmp_path / "params.npz"
    model(seed=0).save(path)
    return path, path.read_bytes()


def _refused(path, message):
    """Loading `path` raises ParameterFileError naming it, and the model keeps its values."""
    target = model(seed=1)
    before = target.get_parameters()
    with pytest.raises(nn.ParameterFileError, match=message) as error:
        target.load(path)
    assert str(path) in str(error.value)
    assert all(np.array_equal(before[k], target.values[k]) for k in before)


@pytest.mark.parametrize("cut", [0, 10, 400, -10])
def test_a_truncated_or_empty_file_is_a_parameter_file_error(tmp_path, cut):
    # the reproducer: BadZipFile for a truncated file, EOFError for an empty one
    path, raw = _saved(tmp_path)
    path.write_bytes(raw[:cut])
    _refused(path, "is not a plain-array .npz file that model.save wrote, or it is damaged")


def test_every_flipped_bit_that_changes_a_value_is_refused(tmp_path):
    # the reproducer: a bit-flipped file raised zipfile.BadZipFile. A flip in the zip's
    # metadata (a timestamp) may load the right values; anything else is refused
    path, raw = _saved(tmp_path)
    want = model(seed=0).get_parameters()
    loaded = 0
    for position in range(0, len(raw), 3):
        damaged = bytearray(raw)
        damaged[position] ^= 0x10
        path.write_bytes(bytes(damaged))
        target = model(seed=1)
        try:
            target.load(path)
        except nn.ParameterFileError as error:
            assert str(path) in str(error)
            continue
        loaded += 1
        assert all(np.array_equal(want[k], target.values[k]) for k in want)
    assert loaded < len(raw) // 3


def test_a_header_declaring_a_huge_array_is_refused_before_allocating(tmp_path):
    # the reproducer: a member header declaring 2**40 floats raised MemoryError
    path = tmp_path / "huge.npz"
    with zipfile.ZipFile(path, "w") as archive:
        for name, value in model(seed=0).values.items():
            member = io.BytesIO()
            shape = (2**40,) if name == "dense1_w" else value.shape
            np.lib.format.write_array_header_1_0(
                member, {"descr": "<f4", "fortran_order": False, "shape": shape})
            archive.writestr(name + ".npy", member.getvalue() + value.tobytes())
    _refused(path, r"member 'dense1_w.npy' declares float32 \(1099511627776,\) \(4398046511104 "
                   r"bytes\) but holds 48 bytes")


def test_a_missing_file_is_named(tmp_path):
    _refused(tmp_path / "nowhere.npz", "no parameter file at")
