"""Callbacks: History, EarlyStopping, ModelCheckpoint, and how fit runs them (peers, order, saved state)."""

import json

import numpy as np
import pytest

import chainrule as cr


def blobs(seed=0, n=60, k=3, d=3):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, size=n)
    X = rng.normal(size=(n, d)) + 2.0 * np.eye(k, d)[y]
    return X, y


def clf(seed=0):
    return cr.mlp([3, 5, 3], "tanh", None, seed=seed)


class Recorder(cr.Callback):
    def on_train_begin(self, model):
        self.weights = []

    def on_epoch_end(self, model, epoch, logs):
        self.weights.append(model.get_weights())


# ------------------------------------------------------------------ the base class
def test_the_base_callback_does_nothing_and_has_no_state():
    cb = cr.Callback()
    model = clf()
    before = model.flat_params.copy()
    cb.check_logs(["loss"])
    cb.set_peers([cb])
    cb.on_train_begin(model)
    cb.on_epoch_end(model, 0, {"loss": 1.0})
    cb.on_train_end(model)
    assert cb.get_state() is None
    np.testing.assert_array_equal(model.flat_params, before)
    assert not model.stop_training


# ------------------------------------------------------------------ History
def test_history_records_logs_per_epoch():
    h = cr.History()
    h.record(0, {"loss": 2.0, "accuracy": 0.5})
    h.record(1, {"loss": 1.5, "accuracy": np.float32(0.75)})
    assert len(h) == 2 and h.epoch == [0, 1]
    assert h["loss"] == [2.0, 1.5] and h["accuracy"] == [0.5, 0.75]
    assert all(type(v) is float for v in h["accuracy"])
    assert "loss" in h and "val_loss" not in h
    assert h.to_dict() == {"epoch": [0, 1], "loss": [2.0, 1.5], "accuracy": [0.5, 0.75]}
    assert json.loads(h.to_json()) == h.to_dict()
    assert h.to_csv() == "epoch,loss,accuracy\n1,2.0,0.5\n2,1.5,0.75\n"  # epochs counted from 1 in the table
    assert "epochs=2" in repr(h) and "1.5" in repr(h)
    with pytest.raises(KeyError):
        h["val_loss"]


def test_fit_returns_a_history_whose_losses_are_the_epoch_losses():
    X, y = blobs()
    model = clf()
    h = model.fit(X, y, loss="softmax_cross_entropy", optimizer=cr.SGD(lr=0.1), epochs=3)
    assert isinstance(h, cr.History) and h.epoch == [0, 1, 2]
    # full batch: the logged loss of an epoch is the loss of the weights before that epoch's step
    twin = clf()
    for logged in h["loss"]:
        assert logged == pytest.approx(twin.evaluate(X, y, loss="softmax_cross_entropy")["loss"], rel=1e-12)
        twin.fit(X, y, loss="softmax_cross_entropy", optimizer=cr.SGD(lr=0.1), epochs=1)


# ------------------------------------------------------------------ EarlyStopping
def feed(stopper, values, model=None):
    """Run ``stopper`` over epochs whose monitored values are ``values``; the epochs it saw."""
    model = model or clf()
    stopper.on_train_begin(model)
    seen = []
    for epoch, value in enumerate(values):
        model.flat_params[:] = epoch  # each epoch's weights are recognisable
        seen.append(epoch)
        stopper.on_epoch_end(model, epoch, {"loss": value, "val_accuracy": value})
        if model.stop_training:
            break
    stopper.on_train_end(model)
    return model, seen


def test_early_stopping_counts_patience_by_hand():
    # best 4.0 at epoch 1; epochs 2, 3, 4 do not improve: after patience = 2 the third stops
    stopper = cr.EarlyStopping(monitor="loss", patience=2)
    model, seen = feed(stopper, [5.0, 4.0, 4.5, 4.2, 4.1, 1.0])
    assert seen == [0, 1, 2, 3, 4]
    assert (stopper.best, stopper.best_epoch, stopper.stopped_epoch) == (4.0, 1, 4)
    assert (model.flat_params == 4).all()  # restore_best_weights is off


def test_early_stopping_min_delta_and_max_mode():
    stopper = cr.EarlyStopping(monitor="loss", patience=0, min_delta=0.5)
    _, seen = feed(stopper, [5.0, 4.6, 3.0])  # 4.6 is not better than 5.0 by more than 0.5
    assert seen == [0, 1] and stopper.best == 5.0
    acc = cr.EarlyStopping(monitor="val_accuracy", patience=1)  # "acc" in the name: higher is better
    assert acc.mode == "max"
    _, seen = feed(acc, [0.5, 0.7, 0.6, 0.65, 0.9])
    assert seen == [0, 1, 2, 3] and acc.best == 0.7 and acc.best_epoch == 1


def test_early_stopping_restore_best_weights_by_hand():
    stopper = cr.EarlyStopping(monitor="loss", patience=1, restore_best_weights=True)
    model, seen = feed(stopper, [3.0, 1.0, 2.0, 2.5, 0.5])
    assert seen == [0, 1, 2, 3]
    assert (model.flat_params == 1).all()  # the weights of epoch 1, the best


@pytest.mark.parametrize(
    "kwargs, match", [(dict(mode="up"), "mode"), (dict(patience=-1), "patience"), (dict(patience=1.5), "patience")]
)
def test_early_stopping_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        cr.EarlyStopping(**kwargs)


def test_early_stopping_restores_the_best_epoch():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 3))
    y = rng.normal(size=30)  # pure noise: validation loss soon rises
    Xv, yv = rng.normal(size=(30, 3)), rng.normal(size=30)
    model = cr.Sequential(cr.Dense(3, 16), cr.Tanh(), cr.Dense(16, 1), seed=0)
    rec = Recorder()
    stop = cr.EarlyStopping(patience=3, restore_best_weights=True)
    opt = cr.Adam(lr=0.05)
    h = model.fit(X, y, loss="mse", optimizer=opt, epochs=200, validation_data=(Xv, yv), callbacks=[rec, stop])
    best = int(np.argmin(h["val_loss"]))
    assert len(h) < 200, "training should have stopped early"
    assert best < len(h) - 1
    assert len(h) == best + 1 + 4  # the best epoch, then patience + 1 epochs without improvement
    for mine, theirs in zip(model.get_weights(), rec.weights[best]):
        np.testing.assert_array_equal(mine, theirs)
    assert model.evaluate(Xv, yv)["loss"] == pytest.approx(min(h["val_loss"]), rel=1e-12)


def test_early_stopping_without_validation_names_the_problem():
    X, y = blobs()
    with pytest.raises(ValueError, match="val_loss"):
        clf().fit(X, y, loss="softmax_cross_entropy", epochs=2, callbacks=[cr.EarlyStopping()])


# ------------------------------------------------------------------ ModelCheckpoint
def test_model_checkpoint_keeps_the_best(tmp_path):
    X, y = blobs(7)
    Xv, yv = blobs(8, n=20)
    path = tmp_path / "best.npz"
    rec = Recorder()
    model = clf(0)
    h = model.fit(
        X,
        y,
        loss="softmax_cross_entropy",
        optimizer=cr.Adam(lr=0.3),
        epochs=15,
        validation_data=(Xv, yv),
        callbacks=[rec, cr.ModelCheckpoint(path, monitor="val_loss")],
    )
    best = int(np.argmin(h["val_loss"]))
    saved = cr.load(path)
    for a, b in zip(saved.get_weights(), rec.weights[best]):
        np.testing.assert_array_equal(a, b)
    assert saved.epochs_trained_ == best + 1


def test_model_checkpoint_every_epoch_holds_the_last_one(tmp_path):
    X, y = blobs(1)
    path = tmp_path / "last.npz"
    model = clf(1)
    model.fit(X, y, loss="softmax_cross_entropy", optimizer=cr.Adam(lr=0.1), epochs=4,
              callbacks=[cr.ModelCheckpoint(path)])  # fmt: skip
    saved = cr.load(path)
    np.testing.assert_array_equal(saved.flat_params, model.flat_params)
    assert saved.epochs_trained_ == 4 and saved.optimizer_.t == 4
    assert isinstance(saved.loss_, cr.SoftmaxCrossEntropy)


@pytest.mark.parametrize("kwargs, exc", [(dict(mode="up"), ValueError), (dict(every=0), ValueError)])
def test_model_checkpoint_bad_arguments(tmp_path, kwargs, exc):
    with pytest.raises(exc, match=next(iter(kwargs))):
        cr.ModelCheckpoint(tmp_path / "m.npz", **kwargs)
    with pytest.raises(TypeError):
        cr.ModelCheckpoint(3.5)


# ------------------------------------------------------------------ how fit runs its callbacks
class Peers(cr.Callback):
    def set_peers(self, callbacks):
        self.peers = list(callbacks)


class Logged(cr.Callback):
    """Appends its name to a shared log at each epoch end, and keeps the last epoch it saw as its state."""

    def __init__(self, name, log):
        self.name, self.log, self.last = name, log, None

    def on_epoch_end(self, model, epoch, logs):
        self.log.append((epoch, self.name))
        self.last = epoch

    def get_state(self):
        return {"last": self.last}


class LoggedCheckpoint(cr.ModelCheckpoint):
    def __init__(self, path, log):
        super().__init__(path)
        self.log = log

    def on_epoch_end(self, model, epoch, logs):
        self.log.append((epoch, "checkpoint"))
        super().on_epoch_end(model, epoch, logs)


def test_set_peers_receives_every_callback_of_the_fit(tmp_path):
    X, y = blobs(2)
    a, b = Peers(), Peers()
    checkpoint = cr.ModelCheckpoint(tmp_path / "m.npz")
    stop = cr.EarlyStopping(monitor="loss", patience=50)
    clf(2).fit(X, y, loss="softmax_cross_entropy", epochs=2, callbacks=[a, checkpoint, stop, b])
    everyone = {id(cb) for cb in (a, b, checkpoint, stop)}
    for cb in (a, b, checkpoint):
        assert {id(p) for p in cb.peers} == everyone and len(cb.peers) == 4


def test_checkpoints_run_after_the_other_callbacks_and_hold_their_state(tmp_path):
    X, y = blobs(3)
    log = []
    path = tmp_path / "m.npz"
    first, second = Logged("first", log), Logged("second", log)
    callbacks = [LoggedCheckpoint(path, log), first, second]  # the checkpoint is listed first
    clf(3).fit(X, y, loss="softmax_cross_entropy", epochs=3, callbacks=callbacks)
    expected = [(e, name) for e in range(3) for name in ("first", "second", "checkpoint")]
    assert log == expected
    states = cr.io.read(path).callback_states
    assert ("Logged", None, {"last": 2}) in states  # written after the others had seen epoch 2
    assert [s[0] for s in states].count("Logged") == 2
    assert any(kind == "LoggedCheckpoint" for kind, _, _ in states)
