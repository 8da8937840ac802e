"""Exact resume: stopping, saving and resuming gives bit-identical weights to a run that never stopped."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr

OPTIMIZERS = {
    "sgd": lambda: cr.SGD(lr=0.05),
    "sgd_momentum": lambda: cr.SGD(lr=0.05, momentum=0.9),
    "sgd_nesterov": lambda: cr.SGD(lr=0.05, momentum=0.9, nesterov=True),
    "sgd_step_decay": lambda: cr.SGD(lr=cr.StepDecay(0.1, step_size=2, gamma=0.5), momentum=0.5),
    "adam": lambda: cr.Adam(lr=0.01),
    "adam_step_decay": lambda: cr.Adam(lr=cr.StepDecay(0.01, step_size=2, gamma=0.5)),
    "adam_clipped_decay": lambda: cr.Adam(lr=0.01, weight_decay=1e-3, clip_norm=0.5),
    "rmsprop": lambda: cr.RMSProp(lr=0.01),
    "rmsprop_cosine": lambda: cr.RMSProp(lr=cr.CosineDecay(0.01, epochs=6)),
}


def data():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(50, 4))
    y = (X[:, 0] * X[:, 1] > 0).astype(int)
    return X, y


def build(dtype="float64"):
    return cr.Sequential(cr.Dense(4, 8), cr.Tanh(), cr.Dense(8, 1), seed=11, dtype=dtype)


FIT = dict(loss="bce_logits", batch_size=8, shuffle=True, seed=5)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_resume_is_bit_identical(tmp_path, name, dtype):
    X, y = data()
    straight = build(dtype)
    straight_history = straight.fit(X, y, optimizer=OPTIMIZERS[name](), epochs=6, **FIT)

    first = build(dtype)
    path = tmp_path / "ckpt.npz"
    first.fit(X, y, optimizer=OPTIMIZERS[name](), epochs=3, callbacks=[cr.ModelCheckpoint(path)], **FIT)
    assert not np.array_equal(first.flat_params, straight.flat_params)

    resumed = build(dtype)
    resumed.initialize(seed=999)  # different starting weights and generator: the file must override both
    history = resumed.fit(X, y, epochs=6, resume_from=path, **FIT)
    assert resumed.epochs_trained_ == 6
    assert len(history) == 3 and history.epoch == [3, 4, 5]
    assert history["loss"] == straight_history["loss"][3:]
    for a, b in zip(resumed.get_weights(), straight.get_weights()):
        assert np.array_equal(a, b)
    assert resumed.optimizer_.t == straight.optimizer_.t
    for slot_a, slot_b in zip(resumed.optimizer_.state, straight.optimizer_.state):
        for key in slot_a:
            assert np.array_equal(slot_a[key], slot_b[key])
    assert resumed.rng.bit_generator.state == straight.rng.bit_generator.state


def test_resume_with_an_explicit_optimizer_of_the_same_kind(tmp_path):
    X, y = data()
    straight = build()
    straight.fit(X, y, optimizer=cr.Adam(lr=0.01), epochs=4, **FIT)
    first = build()
    first.fit(X, y, optimizer=cr.Adam(lr=0.01), epochs=2, **FIT)
    first.save(tmp_path / "m.npz")
    resumed = build()
    resumed.fit(X, y, optimizer=cr.Adam(lr=0.01), epochs=4, resume_from=tmp_path / "m.npz", **FIT)
    assert np.array_equal(resumed.flat_params, straight.flat_params)


def test_resume_refuses_a_mismatch_and_changes_nothing(tmp_path):
    X, y = data()
    first = build()
    first.fit(X, y, optimizer="adam", epochs=2, **FIT)
    path = tmp_path / "m.npz"
    first.save(path)
    other = cr.Sequential(cr.Dense(4, 9), cr.Tanh(), cr.Dense(9, 1), seed=0)
    before = other.flat_params.copy()
    with pytest.raises(ValueError, match="cannot resume"):
        other.fit(X, y, epochs=4, resume_from=path)
    with pytest.raises(ValueError, match="cannot resume"):
        build("float32").fit(X, y, epochs=4, resume_from=path)
    model = build()
    before = model.flat_params.copy()
    with pytest.raises(ValueError, match="cannot resume"):
        model.fit(X, y, optimizer="sgd", epochs=4, resume_from=path)
    with pytest.raises(ValueError, match="already trained 2"):
        model.fit(X, y, epochs=2, resume_from=path)
    with pytest.raises(FileNotFoundError):
        model.fit(X, y, epochs=4, resume_from=tmp_path / "missing.npz")
    (tmp_path / "junk.npz").write_bytes(b"junk")
    with pytest.raises(cr.ModelFileError):
        model.fit(X, y, epochs=4, resume_from=tmp_path / "junk.npz")
    assert np.array_equal(model.flat_params, before) and model.epochs_trained_ == 0 and model.optimizer_ is None
    fresh = build()
    fresh.save(tmp_path / "untrained.npz")
    with pytest.raises(ValueError, match="before any training"):
        model.fit(X, y, loss="mse", epochs=4, resume_from=tmp_path / "untrained.npz")


def test_resume_carries_early_stopping_state(tmp_path):
    # min_delta is a bar no epoch after the first clears, so patience runs out at a known epoch: the first
    # epoch sets the best, epochs 2-5 do not improve, and with patience 3 training stops after epoch 5.
    X, y = data()
    stopper = lambda: cr.EarlyStopping(monitor="loss", patience=3, min_delta=1e9, restore_best_weights=True)  # noqa: E731
    straight = build()
    straight_stop = stopper()
    straight.fit(X, y, optimizer=cr.Adam(lr=0.01), epochs=20, callbacks=[straight_stop], **FIT)
    assert straight.epochs_trained_ == 5 and straight_stop.best_epoch == 0

    first, path = build(), tmp_path / "ckpt.npz"
    # the checkpoint is listed first: fit still runs it after the EarlyStopping, so the file holds its epoch-3 state
    first.fit(X, y, optimizer=cr.Adam(lr=0.01), epochs=3, callbacks=[cr.ModelCheckpoint(path), stopper()], **FIT)
    [(kind, monitor, state)] = [s for s in cr.io.read(path).callback_states if s[0] == "EarlyStopping"]
    assert (monitor, state["wait"], state["best_epoch"]) == ("loss", 2, 0)

    resumed, resumed_stop = build(), stopper()
    resumed.fit(X, y, epochs=20, resume_from=path, callbacks=[resumed_stop], **FIT)
    # a fresh EarlyStopping would take epoch 4 as its best and stop three epochs later, with other weights
    assert resumed.epochs_trained_ == 5 and resumed_stop.best_epoch == 0
    for a, b in zip(resumed.get_weights(), straight.get_weights()):
        assert np.array_equal(a, b)


def test_checkpoint_stores_its_own_best_and_a_plain_fit_stores_no_callbacks(tmp_path):
    X, y = data()
    model, path = build(), tmp_path / "best.npz"
    checkpoint = cr.ModelCheckpoint(path, monitor="loss")
    history = model.fit(X, y, optimizer=cr.Adam(lr=0.01), epochs=4, callbacks=[checkpoint], **FIT)
    assert ("ModelCheckpoint", "loss", {"best": min(history["loss"])}) in cr.io.read(path).callback_states
    model.save(tmp_path / "plain.npz")  # outside fit: no callback is running, none is stored
    assert cr.io.read(tmp_path / "plain.npz").callback_states == []
