"""Shapes from the first batch: a model whose first layer fixes no input shape is built from the data."""

import numpy as np
import pytest

import chainrule as cr


def small_cnn(**kwargs):
    return cr.Sequential(cr.Conv1D(2, 3, 5), cr.Tanh(), cr.MaxPool1D(2), cr.Flatten(), cr.Dense(12, 2), **kwargs)


def signals(n=6, length=12, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 2, length)), rng.integers(0, 2, size=n)


def test_a_cnn_needs_no_input_shape_and_builds_at_its_first_fit():
    model = small_cnn(seed=0)
    assert not model.built and model.in_shape is None
    with pytest.raises(ValueError, match="not built yet"):
        _ = model.n_in
    X, y = signals()
    model.fit(X, y, loss="softmax_cross_entropy", epochs=2)
    # by hand: length 12 → conv k=5: 8 → pool 2: 4 → flatten 3·4 = 12 → Dense(12, 2)
    assert model.in_shape == (2, 12) and model.n_in == 24 and model.n_out == 2
    assert [layer.out_shape for layer in model.layers] == [(3, 8), (3, 8), (3, 4), (12,), (2,)]


def test_built_from_data_or_declared_the_model_computes_the_same():
    X, _ = signals()
    lazy, declared = small_cnn(seed=3), small_cnn(seed=3, input_shape=(2, 12))
    np.testing.assert_array_equal(lazy.predict(X), declared.predict(X))
    assert lazy.get_config() == declared.get_config()


def test_a_batch_the_chain_cannot_take_names_the_two_layers_and_what_would_fit():
    model = small_cnn()
    X, y = signals(length=14)  # 14 → 10 → 5 → 15 values reach Dense(12, 2)
    with pytest.raises(ValueError, match=r"layer 4, Dense\(12, 2\), does not fit the layer before it, Flatten\(\): "
                                         r".*gets 15; make it Dense\(15, 2\)"):  # fmt: skip
        model.predict(X)
    assert not model.built and all(layer.in_shape is None for layer in model.layers)
    model.predict(signals(length=12)[0])  # the right data still builds it
    assert model.built


def test_the_first_layer_is_named_when_the_data_do_not_fit_it():
    model = small_cnn()
    with pytest.raises(ValueError, match=r"layer 0, Conv1D\(2, 3, 5\), does not fit the model's input "
                                         r"\(samples of shape \(3, 12\) in X\)"):  # fmt: skip
        model.predict(np.zeros((4, 3, 12)))


def test_summary_builds_from_a_batch_and_says_when_it_cannot():
    model = small_cnn()
    assert "input shape: from the first batch" in model.summary() and "(None, ?)" in model.summary()
    text = model.summary(signals()[0])
    assert "(None, 3, 8)" in text and "(None, 3, 4)" in text and "(None, 12)" in text and "?" not in text


def test_a_built_model_round_trips_its_shape_through_a_file(tmp_path):
    model = small_cnn(seed=1)
    X, y = signals()
    model.fit(X, y, loss="softmax_cross_entropy", epochs=1)
    model.save(tmp_path / "m.npz")
    again = cr.load(tmp_path / "m.npz")
    assert again.in_shape == (2, 12)
    np.testing.assert_array_equal(again.predict(X), model.predict(X))


def test_an_unbuilt_model_saves_and_loads_unbuilt(tmp_path):
    model = small_cnn(seed=1)
    model.save(tmp_path / "m.npz")
    again = cr.load(tmp_path / "m.npz")
    assert not again.built
    X, _ = signals()
    np.testing.assert_array_equal(again.predict(X), model.predict(X))


def test_leading_shape_keeping_layers_let_dense_fix_the_input():
    model = cr.Sequential(cr.Dropout(0.2), cr.Dense(4, 2))
    assert model.in_shape == (4,) and model.n_in == 4


def test_an_ensemble_of_cnns_builds_from_its_first_batch():
    ens = cr.Ensemble(cr.Conv1D(2, 3, 5), cr.Tanh(), cr.MaxPool1D(2), cr.Flatten(), cr.Dense(12, 2), n_models=3)
    X, y = signals()
    out = ens.predict(X)
    assert out.shape == (3, 6, 2) and ens.in_shape == (2, 12)
    for i in range(3):
        np.testing.assert_allclose(ens.member(i).predict(X), out[i], rtol=1e-12)
