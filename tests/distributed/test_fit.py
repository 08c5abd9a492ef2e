"""Data-parallel `fit(..., client=)` on a LocalCluster of 2 worker processes: after several
steps its parameters and history equal single-process `fit` on the same global batches (same
seed, order, dropout masks, optimizer), with NumPy or dask data; what it cannot train is refused
with a clear error."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest

from graphnn import nn
from graphnn.distributed import DistributedError
from graphnn.nn.errors import ModelError, ParameterFileError


def dataset(n=90):
    x, y = nn.datasets.blobs(n, centers=3, std=0.8, seed=0)
    return x.astype("float64"), y


def model(dtype="float64", dropout=True):
    layers = [nn.Dense(8, "tanh"), *([nn.Dropout(0.25)] if dropout else []), nn.Dense(3)]
    return nn.Sequential(layers, input_shape=(2,), seed=0, dtype=dtype)


def train(x, y, **options):
    trained = model(options.pop("dtype", "float64"))
    settings = {"loss": nn.SoftmaxCrossEntropy(weight_decay=0.01), "optimizer": nn.Adam(0.02),
                "epochs": 3, "batch_size": 20, "progress": False, **options}
    history = trained.fit(x, y, **settings)
    return trained, history


def assert_same_training(one, other, rtol):
    (model_a, history_a), (model_b, history_b) = one, other
    assert set(model_a.values) == set(model_b.values)
    for name in model_a.values:
        np.testing.assert_allclose(model_a.values[name], model_b.values[name], rtol=rtol,
                                   atol=rtol, err_msg=name)
    np.testing.assert_allclose(history_a.loss, history_b.loss, rtol=rtol)
    assert history_a.accuracy == history_b.accuracy
    assert history_a.epoch == history_b.epoch


def test_equals_single_process_training_after_several_steps(client):
    # 90 examples in batches of 20: 5 steps an epoch (the last of 10 rows), 15 in all, with
    # shuffling, dropout masks, weight decay and Adam's state; the shards' parts of a shuffled
    # batch differ in size from step to step
    x, y = dataset()
    alone = train(x, y)
    together = train(x, y, client=client)
    assert_same_training(alone, together, rtol=1e-10)   # float64: only the sums' order differs
    assert not np.allclose(alone[0].values["dense1_w"], model().values["dense1_w"])


def test_dask_arrays_and_validation_give_the_same_result(client):
    x, y = dataset(100)
    alone = train(x.astype("float32"), y, dtype="float32", validation_split=0.2,
                  shuffle=False, epochs=2)
    together = train(da.from_array(x.astype("float32"), chunks=30), da.from_array(y, chunks=30),
                     dtype="float32", validation_split=0.2, shuffle=False, epochs=2,
                     client=client)
    assert_same_training(alone, together, rtol=2e-5)    # float32 sums in another order
    np.testing.assert_allclose(alone[1].val_loss, together[1].val_loss, rtol=2e-5)


def test_a_finished_checkpointed_run_is_resumed_not_repeated(client, tmp_path):
    x, y = dataset()
    path = tmp_path / "run.npz"
    first = train(x, y, client=client, checkpoint=path, epochs=2)
    again = train(x, y, client=client, checkpoint=path, epochs=2)   # starts at its end
    assert_same_training(first, again, rtol=0.0)
    with pytest.raises(ParameterFileError, match="its batch_size is 20, this fit's is 10"):
        train(x, y, client=client, checkpoint=path, batch_size=10)


def test_what_cannot_be_trained_in_parallel_is_refused(client):
    x, y = dataset()
    normalized = nn.Sequential([nn.Dense(8), nn.BatchNorm(), nn.Dense(3)], input_shape=(2,),
                               dtype="float64")
    with pytest.raises(ModelError, match="cannot train a model with BatchNorm"):
        normalized.fit(x, y, loss="softmax_cross_entropy", optimizer="sgd", client=client,
                       progress=False)
    with pytest.raises(DistributedError, match="client must be a distributed.Client, got str"):
        train(x, y, client="tcp://127.0.0.1:8786")
    with pytest.raises(ModelError, match="checkpoint= saves data-parallel training"):
        train(x, y, checkpoint="run.npz")
    bad = x.copy()
    bad[7, 1] = np.nan
    with pytest.raises(ModelError, match="x holds NaN or infinite values in 1 row.*row 7"):
        train(da.from_array(bad, chunks=30), da.from_array(y, chunks=30), client=client)
