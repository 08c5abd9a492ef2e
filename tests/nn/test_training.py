"""The training step (compiled against evaluated, buffers, labels), fit (loss goes down, same
seed same result, validation, early stopping, progress bar), History, predict and evaluate."""

from __future__ import annotations

import re
import sys
import warnings

import numpy as np
import pytest

import graphnn as gn
from graphnn import nn
from graphnn.nn.step import _fill_mask


def blobs(n=96, centers=3):
    return nn.datasets.blobs(n, centers=centers, std=0.6, seed=0)


def small_model(seed=0, dtype="float32"):
    return nn.Sequential([nn.Dense(8, "tanh"), nn.Dense(3)], input_shape=(2,), seed=seed,
                         dtype=dtype)


def test_compiled_step_matches_the_evaluated_graph():
    # every layer kind in one step: conv, batch norm (both layouts), pooling, dropout, maxout
    model = nn.Sequential([nn.Conv2D(3, 3, padding=1), nn.BatchNorm(), nn.ReLU(),
                           nn.MaxPool2D(2), nn.Flatten(), nn.Dropout(0.3), nn.Maxout(4),
                           nn.BatchNorm(), nn.Dense(3)], input_shape=(1, 4, 4), seed=0)
    step = nn.TrainStep(model, nn.SoftmaxCrossEntropy(weight_decay=0.01),
                        nn.Adam(lr=0.01), seed=0)
    graph = step.graph(6)
    rng = np.random.default_rng(1)
    feed = {"x": rng.normal(size=(6, 1, 4, 4)).astype("float32"),
            "target": nn.one_hot(rng.integers(0, 3, 6), 3),
            "dropout1_mask": ((rng.random((6, 12)) > 0.3) / 0.7).astype("float32"),
            "lr": np.float32(0.01), "correct1": np.float32(10.0), "correct2": np.float32(1000.0),
            **model.values, **{k: rng.normal(size=v.shape).astype("float32") ** 2
                               for k, v in step.slots.items()}}
    arrays = [feed[node.name] for node in graph.inputs]
    compiled = gn.compile(list(graph.outputs), list(graph.inputs))(*arrays)
    evaluated = gn.evaluate(list(graph.outputs), feed)
    for name, got, want in zip(["loss", "output", *graph.buffers], compiled, evaluated):
        np.testing.assert_allclose(got, want, rtol=2e-4, atol=2e-6, err_msg=name)  # float32
    assert set(graph.buffers) == set(model.values) | set(step.slots)


def test_parameters_alternate_between_two_preallocated_sets():
    model = small_model()
    step = nn.TrainStep(model, "softmax_cross_entropy", nn.SGD(lr=0.1, momentum=0.5))
    x, y = blobs()
    seen = []
    for _ in range(4):
        step(x[:32], y[:32])
        seen.append((id(model.values["dense1_w"]), id(step.slots["dense1_w_velocity"])))
    assert seen[0] == seen[2] and seen[1] == seen[3] and seen[0] != seen[1]


def test_integer_labels_and_one_hot_targets_train_alike():
    x, y = blobs()
    a, b = small_model(), small_model()
    loss_a = nn.TrainStep(a, "softmax_cross_entropy", "sgd")(x[:32], y[:32])
    loss_b = nn.TrainStep(b, "softmax_cross_entropy", "sgd")(x[:32], nn.one_hot(y[:32], 3))
    assert loss_a == loss_b
    assert all(np.array_equal(a.values[k], b.values[k]) for k in a.values)


def test_fit_reduces_the_loss_and_is_reproducible():
    x, y = blobs()

    def run():
        model = small_model()
        history = model.fit(x, y, loss="softmax_cross_entropy", optimizer=nn.SGD(lr=0.3),
                            epochs=8, batch_size=32, progress=False, seed=5)
        return model, history
    (m1, h1), (m2, h2) = run(), run()
    assert h1.loss[-1] < 0.5 * h1.loss[0]
    assert h1.accuracy[-1] > 0.9
    assert h1.loss == h2.loss
    assert all(np.array_equal(m1.values[k], m2.values[k]) for k in m1.values)
    assert len(h1.epoch) == 8 and h1.val_loss == [None] * 8 and len(h1.seconds) == 8


class RecordingStep(nn.TrainStep):
    """A TrainStep that keeps the example ids (column 0 of x) and labels of every batch it
    trains on, copied: fit writes shuffled batches into buffers it reuses."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.ids: list[np.ndarray] = []
        self.labels: list[np.ndarray] = []

    def __call__(self, x, y):
        self.ids.append(x[:, 0].astype(int))
        self.labels.append(np.asarray(y).argmax(axis=1))
        return super().__call__(x, y)

    def epochs(self, batches_per_epoch):
        """The ids seen, one array per epoch, in the order they were trained on."""
        return [np.concatenate(self.ids[k:k + batches_per_epoch])
                for k in range(0, len(self.ids), batches_per_epoch)]


def recorded_fit(n=100, seed=0, **options):
    """fit on examples whose first feature is their index and whose label is index % 3."""
    x, _ = blobs(n)
    x[:, 0] = np.arange(n)                      # exact in float32
    y = np.arange(n) % 3
    model = small_model()
    step = RecordingStep(model, "softmax_cross_entropy", nn.SGD(lr=0.01), seed=seed)
    history = model.fit(x, y, loss="softmax_cross_entropy", optimizer="sgd", batch_size=32,
                        step=step, progress=False, seed=seed, **options)
    for ids, labels in zip(step.ids, step.labels):
        np.testing.assert_array_equal(labels, ids % 3)     # targets travel with their rows
    return step, history


def test_without_shuffling_every_epoch_follows_the_data_order():
    step, _ = recorded_fit(shuffle=False, epochs=2)
    assert [len(ids) for ids in step.ids] == [32, 32, 32, 4] * 2
    for epoch in step.epochs(4):
        np.testing.assert_array_equal(epoch, np.arange(100))


def test_shuffled_epochs_see_every_example_once_in_a_new_order():
    step, _ = recorded_fit(epochs=3)
    orders = step.epochs(4)
    assert len(orders) == 3
    for order in orders:
        np.testing.assert_array_equal(np.sort(order), np.arange(100))   # a permutation
        assert not np.array_equal(order, np.arange(100))
    assert not np.array_equal(orders[0], orders[1])
    assert not np.array_equal(orders[1], orders[2])


def test_shuffling_keeps_the_validation_examples_out_of_training():
    step, history = recorded_fit(epochs=2, validation_split=0.2)
    for order in step.epochs(3):                # 80 training examples: 32 + 32 + 16
        np.testing.assert_array_equal(np.sort(order), np.arange(80))
    assert history.val_loss[-1] is not None


def test_the_same_seed_reproduces_the_order_and_the_history():
    (a, history_a), (b, history_b) = recorded_fit(epochs=3, seed=7), recorded_fit(epochs=3,
                                                                                 seed=7)
    assert all(np.array_equal(i, j) for i, j in zip(a.ids, b.ids))
    assert history_a.loss == history_b.loss and history_a.accuracy == history_b.accuracy
    c, history_c = recorded_fit(epochs=3, seed=8)
    assert not np.array_equal(a.epochs(4)[0], c.epochs(4)[0])
    assert history_c.loss != history_a.loss


def test_full_batch_gradient_descent_takes_one_step_per_epoch():
    x, y = blobs()
    model = small_model()
    step = nn.TrainStep(model, "softmax_cross_entropy", nn.SGD(lr=0.5))
    history = model.fit(x, y, loss="softmax_cross_entropy", optimizer="sgd", epochs=3,
                        batch_size=None, step=step, progress=False)
    assert step.count == 3 and list(step._compiled) == [96]
    assert history.loss[2] < history.loss[0]


def test_drop_last_skips_the_smaller_batch():
    x, y = blobs(100)
    model = small_model()
    step = nn.TrainStep(model, "softmax_cross_entropy", "sgd")
    model.fit(x, y, loss="softmax_cross_entropy", optimizer="sgd", epochs=2, batch_size=32,
              drop_last=True, step=step, progress=False)
    assert step.count == 6 and list(step._compiled) == [32]
    model.fit(x, y, loss="softmax_cross_entropy", optimizer="sgd", epochs=1, batch_size=32,
              step=step, progress=False)
    assert step.count == 10 and sorted(step._compiled) == [4, 32]


def test_validation_and_early_stopping_restore_the_best_epoch():
    x, _ = blobs()
    y = np.random.default_rng(3).integers(0, 3, len(x))     # noise: validation loss will rise
    model = nn.Sequential([nn.Dense(64, "relu"), nn.Dense(3)], input_shape=(2,))
    history = model.fit(x, y, loss="softmax_cross_entropy", optimizer=nn.Adam(lr=0.05),
                        epochs=60, batch_size=32, validation_split=1 / 3, patience=2,
                        progress=False)
    assert history.val_loss[0] is not None and history.val_accuracy[0] is not None
    best = history.best_epoch
    assert history.stopped_epoch == best + 2 < 30
    assert history.val_loss[best - 1] == min(history.val_loss)
    val_loss, _ = model.evaluate(x[64:], y[64:], "softmax_cross_entropy")
    assert val_loss == pytest.approx(history.val_loss[best - 1], rel=1e-5)


def test_divergence_stops_training_with_a_warning():
    x, y = blobs()
    model = small_model()
    model.values["dense2_w"][:] = 1e30          # outputs ~1e31: their squares overflow
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = model.fit(x, nn.one_hot(y, 3), loss="mse", optimizer="sgd", epochs=5,
                            progress=False)
    assert len(history.epoch) == 1 and "diverged" in str(caught[0].message)


def test_progress_is_a_bar_on_a_terminal_a_line_in_a_log_and_can_be_disabled(capsys,
                                                                               monkeypatch):
    # the reproducer: tqdm flooded logs when stderr was not a terminal (a line per redraw)
    x, y = blobs()
    model = small_model()
    model.fit(x, y, loss="softmax_cross_entropy", optimizer="sgd", epochs=3, batch_size=8,
              progress=True)
    log = capsys.readouterr().err
    assert "\r" not in log and log.count("\n") == 1
    assert re.fullmatch(r"fit: 3 epochs of 12 batches in \d+\.\d s; loss \S+, accuracy \S+\n",
                        log)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    model.fit(x, y, loss="softmax_cross_entropy", optimizer="sgd", epochs=2, progress=True)
    bar = capsys.readouterr().err
    assert "epoch 2/2" in bar and "fit: " not in bar
    model.fit(x, y, loss="softmax_cross_entropy", optimizer="sgd", epochs=2, progress=False)
    assert capsys.readouterr().err == ""


def test_nan_or_inf_in_the_data_is_named_before_training():
    # the reproducer: NaN in x was never flagged, and fit blamed the learning rate
    x, y = blobs()
    x[17, 1] = np.nan
    model = small_model()
    before = model.get_parameters()
    with pytest.raises(nn.ModelError, match=r"x holds 1 NaN or infinite value\(s\); the first "
                                            r"is x\[17, 1\] = nan \(row 17, column 1\)"):
        model.fit(x, y, loss="softmax_cross_entropy", optimizer="sgd", progress=False)
    assert all(np.array_equal(before[k], model.values[k]) for k in before)
    x[17, 1] = 0.0
    targets = nn.one_hot(y, 3)
    targets[[5, 9], 2] = np.inf
    with pytest.raises(nn.ModelError, match=r"y holds 2 NaN .* y\[5, 2\] = inf \(row 5, col"):
        model.fit(x, targets, loss="mse", optimizer="sgd", progress=False)
    bad = x[:10].copy()
    bad[3, 0] = -np.inf
    with pytest.raises(nn.ModelError, match=r"validation x holds .* validation x\[3, 0\] = -inf"):
        model.fit(x, y, loss="softmax_cross_entropy", optimizer="sgd", progress=False,
                  validation_data=(bad, y[:10]))


def test_predict_pads_the_last_batch_and_evaluate_counts_correct_answers():
    x, y = blobs(10)
    model = small_model()
    whole = model.predict(x)
    np.testing.assert_array_equal(model.predict(x, batch_size=4), whole)
    loss, accuracy = model.evaluate(x, y, "softmax_cross_entropy", batch_size=5)
    z = whole - whole.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    assert loss == pytest.approx(-log_p[np.arange(10), y].mean(), rel=1e-5)
    assert accuracy == np.mean(whole.argmax(axis=1) == y)
    assert model.evaluate(x, nn.one_hot(y, 3), "mse")[1] is None


def test_wrong_data_is_refused_with_what_was_expected():
    x, y = blobs()
    model = small_model()
    with pytest.raises(nn.ModelError, match=r"x is float64 but the model is float32; "
                                            r"convert it with x.astype\('float32'\)"):
        model.predict(x.astype("float64"))
    with pytest.raises(nn.ModelError, match=r"shape \(n, 2\) for this model, got \(96, 3\)"):
        model.fit(np.zeros((96, 3), "float32"), y, loss="mse", optimizer="sgd")
    with pytest.raises(nn.ModelError, match=r"label \d+ is outside 0..2 \(the model has 3 "):
        model.fit(x, y + 5, loss="softmax_cross_entropy", optimizer="sgd")
    with pytest.raises(nn.ModelError, match="x has 96 examples but y has 95"):
        model.fit(x, y[:95], loss="softmax_cross_entropy", optimizer="sgd")
    with pytest.raises(nn.ModelError, match="targets of shape \\(n, 3\\)"):
        model.fit(x, y, loss="mse", optimizer="sgd")


def test_dropout_masks_are_seeded_and_scaled():
    rng = np.random.default_rng(0)
    mask = np.empty((200, 100), np.float32)
    _fill_mask(rng, mask, 0.25)
    assert set(np.unique(mask)) == {0.0, np.float32(1 / 0.75)}
    assert (mask == 0).mean() == pytest.approx(0.25, abs=0.01)
    x, y = blobs()

    def run(seed):
        model = nn.Sequential([nn.Dense(8, "relu"), nn.Dropout(0.5), nn.Dense(3)],
                              input_shape=(2,))
        step = nn.TrainStep(model, "softmax_cross_entropy", "sgd", seed=seed)
        return [step(x[:32], y[:32]) for _ in range(3)]
    assert run(1) == run(1) != run(2)


def test_history_numbers_text_and_plot(tmp_path):
    history = nn.History()
    history.record(1, 1.0, 0.5, 1.2, 0.4, 0.1)
    history.record(2, 0.5, 0.8, 0.9, 0.6, 0.1)
    assert history.as_dict()["val_accuracy"] == [0.4, 0.6]
    assert history.latest() == {"loss": "0.5", "accuracy": "0.8", "val_loss": "0.9",
                                "val_accuracy": "0.6"}
    assert str(history).splitlines()[0].split() == ["epoch", "loss", "accuracy", "val_loss",
                                                    "val_accuracy", "seconds"]
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="pip install matplotlib"):
            history.plot()
    else:
        history.plot(str(tmp_path / "history.png"))
        assert (tmp_path / "history.png").stat().st_size > 0
