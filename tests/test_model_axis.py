"""The model axis is declared, never guessed; an Ensemble has Sequential's one fit, with every argument."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
XOR_Y = np.array([0, 1, 1, 0])


# ------------------------------------------------------------------ initialisation
@pytest.mark.parametrize(
    "init, activation, bound",
    [
        ("glorot_uniform", cr.Tanh, np.sqrt(6 / (100 + 50))),  # Glorot's bound from the layer's fans
        ("he_uniform", cr.ReLU, np.sqrt(6 / 100)),  # He's bound from fan_in = n_in
    ],
)
def test_every_member_is_drawn_like_a_single_model(init, activation, bound):
    ens = cr.Ensemble(cr.Dense(100, 50, init=init), activation(), n_models=3, seed=0)
    for W in (ens.layers[0].params["W"].copy(), None):
        if W is None:  # drawn again by initialize: the bug was a fan_in of n_models = 3 here
            ens.initialize(0)
            W = ens.layers[0].params["W"]
        assert W.shape == (3, 100, 50)
        assert np.abs(W).max() <= bound
        assert np.abs(W).max() > 0.95 * bound  # 5,000 uniform draws per member reach the bound's last 5 %
        # a uniform on [-b, b] has variance b²/3: each member's draw has it, to sampling error
        np.testing.assert_allclose(W.reshape(3, -1).var(axis=1), bound**2 / 3, rtol=0.05)


def test_he_normal_members_have_the_single_model_spread():
    ens = cr.Ensemble(cr.Dense(200, 100, init="he_normal"), n_models=4, seed=1)
    ens.initialize(7)
    std = ens.layers[0].params["W"].reshape(4, -1).std(axis=1)
    np.testing.assert_allclose(std, np.sqrt(2 / 200), rtol=0.03)


# ------------------------------------------------------------------ shapes
def test_summary_shows_every_layer_output_shape_and_count():
    model = cr.Sequential(cr.Dense(3, 5), cr.Tanh(), cr.Dense(5, 2), seed=0)
    text = model.summary()
    assert "(None, 5)" in text and "(None, 2)" in text and "total parameters: 32" in text
    assert model.in_shape == (3,) and model.out_shape == (2,)


def test_layers_that_do_not_chain_name_both_layers_and_the_shapes():
    with pytest.raises(ValueError, match=r"layer 2, Dense\(4, 1\), does not fit the layer before it, Tanh\(\).*"
                       r"Dense\(4, 1\) expects "
                       r"4 inputs per sample but gets 5; make it Dense\(5, 1\)"):  # fmt: skip
        cr.Sequential(cr.Dense(3, 5), cr.Tanh(), cr.Dense(4, 1))


def test_a_model_whose_first_layer_fixes_no_shape_takes_it_from_input_shape_or_the_data():
    lazy = cr.Sequential(cr.Tanh())
    with pytest.raises(ValueError, match="not built yet.*input_shape"):
        _ = lazy.n_in
    np.testing.assert_allclose(lazy.predict(np.ones((2, 3))), np.tanh(np.ones((2, 3))))
    assert lazy.in_shape == (3,)
    model = cr.Sequential(cr.Tanh(), input_shape=(3,))
    np.testing.assert_allclose(model.predict(np.ones((2, 3))), np.tanh(np.ones((2, 3))))
    assert cr.Sequential.from_config(model.get_config()).in_shape == (3,)


# ------------------------------------------------------------------ one fit
def ensemble(n: int = 3, seed: int = 0) -> cr.Ensemble:
    return cr.Ensemble(cr.Dense(2, 4), cr.Tanh(), cr.Dense(4, 1), cr.Sigmoid(), n_models=n, seed=seed)


def test_ensemble_fit_takes_validation_data_metrics_and_gives_one_column_per_member():
    ens = ensemble()
    hist = ens.fit(XOR_X, XOR_Y, loss="bce", optimizer=cr.SGD(lr=0.5), epochs=5,
                   validation_data=(XOR_X, XOR_Y), metrics=["accuracy"])  # fmt: skip
    assert hist["loss"].shape == hist["val_loss"].shape == hist["val_accuracy"].shape == (5, 3)
    # each member's validation loss is that member's loss in inference mode, as a single model computes it
    for i in range(3):
        single = ens.member(i)
        assert single.evaluate(XOR_X, XOR_Y, "bce")["loss"] == pytest.approx(hist["val_loss"][-1, i], rel=1e-12)
        acc = float(np.mean(single.predict_classes(XOR_X) == XOR_Y))
        assert acc == hist["val_accuracy"][-1, i]


def test_ensemble_validation_split_holds_out_the_last_rows():
    X = np.vstack([XOR_X] * 5)
    y = np.concatenate([XOR_Y] * 5)
    hist = ensemble().fit(X, y, loss="bce", epochs=2, validation_split=0.2)
    assert hist["val_loss"].shape == (2, 3)


def test_early_stopping_stops_each_member_on_its_own_with_its_best_weights():
    X, y = XOR_X, XOR_Y
    lrs = [0.5, 1e-9, 0.5]  # member 1 barely moves: its loss stops improving by min_delta at once
    ens = ensemble()
    stop = cr.EarlyStopping(monitor="loss", patience=2, min_delta=1e-6, restore_best_weights=True)
    hist = ens.fit(X, y, loss="bce", optimizer=cr.SGD(lr=lrs), epochs=40, callbacks=[stop])
    assert stop.stopped[1] and not stop.stopped[0] and not stop.stopped[2]
    assert len(hist) == 40  # the fit goes on while some member still improves
    frozen = ens.member(1).flat_params
    # member 1 halted after epoch 1 + patience: its weights are those of its best epoch (the first), and stay
    alone = cr.Sequential(cr.Dense(2, 4), cr.Tanh(), cr.Dense(4, 1), cr.Sigmoid(), seed=1)
    alone.fit(X, y, loss="bce", optimizer=cr.SGD(lr=1e-9), epochs=1)
    np.testing.assert_allclose(frozen, alone.flat_params, rtol=1e-12, atol=1e-15)
    # the members still training match separate fits
    for i in (0, 2):
        single = cr.Sequential(cr.Dense(2, 4), cr.Tanh(), cr.Dense(4, 1), cr.Sigmoid(), seed=i)
        single.fit(X, y, loss="bce", optimizer=cr.SGD(lr=0.5), epochs=40)
        np.testing.assert_allclose(ens.member(i).flat_params, single.flat_params, rtol=1e-12, atol=1e-14)


def test_early_stopping_ends_the_fit_when_every_member_has_stopped():
    ens = ensemble()
    stop = cr.EarlyStopping(monitor="loss", patience=1, min_delta=1.0)  # nothing improves by a whole unit
    hist = ens.fit(XOR_X, XOR_Y, loss="bce", epochs=50, callbacks=[stop])
    assert len(hist) == 3 and stop.stopped.all() and stop.stopped_epoch == 2


def test_ensemble_resume_is_bit_identical(tmp_path):
    X = np.vstack([XOR_X] * 4)
    y = np.concatenate([XOR_Y] * 4)
    fit = dict(loss="bce", batch_size=4, validation_data=(XOR_X, XOR_Y))
    straight = ensemble()
    straight.fit(X, y, optimizer=cr.Adam(0.05), epochs=6, callbacks=[cr.EarlyStopping(patience=50)], **fit)
    first = ensemble()
    path = tmp_path / "ens.npz"
    first.fit(X, y, optimizer=cr.Adam(0.05), epochs=3, callbacks=[cr.ModelCheckpoint(path),
              cr.EarlyStopping(patience=50)], **fit)  # fmt: skip
    resumed = ensemble(seed=99)
    stop = cr.EarlyStopping(patience=50)
    hist = resumed.fit(X, y, epochs=6, resume_from=path, callbacks=[stop], **fit)
    assert hist.epoch == [3, 4, 5] and stop.best.shape == (3,)
    np.testing.assert_array_equal(resumed.flat_params, straight.flat_params)


# ------------------------------------------------------------------ the verbose line
@pytest.mark.parametrize("make", [lambda: cr.mlp([2, 4, 1], "tanh", "sigmoid", seed=0), ensemble])
def test_the_final_epoch_prints_on_every_fit(make, capsys):
    model = make()
    model.fit(XOR_X, XOR_Y, loss="bce", epochs=6, verbose=3)
    assert [line.split(":")[0] for line in capsys.readouterr().out.splitlines()] == ["epoch 1", "epoch 4", "epoch 6"]
    model.fit(XOR_X, XOR_Y, epochs=4, verbose=3)  # epochs 7 to 10: 7 and 10 print (10 is this fit's last)
    assert [line.split(":")[0] for line in capsys.readouterr().out.splitlines()] == ["epoch 7", "epoch 10"]
