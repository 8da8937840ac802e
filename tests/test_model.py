"""Sequential: fit/predict/evaluate/summary, reproducibility, bad input, divergence, XOR convergence.

Layers, losses, callbacks and gradcheck have their own files (test_layers.py, test_losses.py, ...)."""

import math
import re
import warnings

import numpy as np
import pytest

import chainrule as cr

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
XOR_Y = np.array([0, 1, 1, 0], dtype=float)


def blobs(seed=0, n=60, k=3, d=3):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, size=n)
    X = rng.normal(size=(n, d)) + 2.0 * np.eye(k, d)[y]
    return X, y


def clf(seed=0, **kw):
    return cr.Sequential(cr.Dense(3, 5), cr.Tanh(), cr.Dense(5, 3), seed=seed, **kw)


# ------------------------------------------------------------------ behaviour
def test_predict_and_evaluate_match_hand_computation():
    model = cr.Sequential(cr.Dense(2, 1), seed=0)
    W, b = np.array([[0.5], [-2.0]]), np.array([0.25])
    model.set_weights([W, b])
    X = np.array([[1.0, 2.0], [3.0, -1.0], [0.0, 0.5]])
    y = np.array([1.0, 0.0, -1.0])
    pred = [0.5 * 1 - 2 * 2 + 0.25, 0.5 * 3 + 2 + 0.25, -1 + 0.25]
    np.testing.assert_allclose(model.predict(X).ravel(), pred, rtol=1e-15)
    mse = sum((p - t) ** 2 for p, t in zip(pred, y)) / 3
    sse = sum(0.5 * (p - t) ** 2 for p, t in zip(pred, y)) / 3
    assert model.evaluate(X, y, loss="mse")["loss"] == pytest.approx(mse, rel=1e-14)
    assert model.evaluate(X, y, loss="sse")["loss"] == pytest.approx(sse, rel=1e-14)
    assert model.evaluate(X, y, loss=cr.SSE(reduction="sum"))["loss"] == pytest.approx(3 * sse, rel=1e-14)
    np.testing.assert_array_equal(model.get_weights()[0], W)  # evaluate changes nothing


def test_fit_returns_history_and_counts_epochs():
    X, y = blobs()
    model = clf()
    h = model.fit(X, y, loss="softmax_cross_entropy", optimizer=cr.Adam(lr=0.05), epochs=7, metrics=["accuracy"])
    assert len(h) == 7 and h.epoch == list(range(7))
    assert set(h.history) == {"loss", "accuracy"}
    assert h["loss"][-1] < h["loss"][0]
    assert all(0.0 <= a <= 1.0 for a in h["accuracy"])
    h2 = model.fit(X, y, epochs=3)  # loss and optimiser carry over
    assert h2.epoch == [7, 8, 9] and model.epochs_trained_ == 10
    assert isinstance(model.optimizer_, cr.Adam)
    scores = model.evaluate(X, y, metrics=["accuracy"])
    assert scores["accuracy"] == pytest.approx(np.mean(model.predict_classes(X) == y))


def test_predict_proba_and_classes():
    X, y = blobs(1)
    model = clf(1)
    model.fit(X, y, loss="softmax_cross_entropy", optimizer="adam", epochs=5)
    out = model.predict(X)
    e = np.exp(out - out.max(axis=1, keepdims=True))
    np.testing.assert_allclose(model.predict_proba(X), e / e.sum(axis=1, keepdims=True), rtol=1e-12)
    np.testing.assert_array_equal(model.predict_classes(X), np.argmax(out, axis=1))

    binary = cr.Sequential(cr.Dense(3, 1), seed=0)
    binary.fit(X, (y == 1).astype(float), loss="bce_logits", epochs=3)
    z = binary.predict(X).ravel()
    np.testing.assert_allclose(binary.predict_proba(X).ravel(), [1 / (1 + math.exp(-v)) for v in z], rtol=1e-12)
    np.testing.assert_array_equal(binary.predict_classes(X), (z >= 0).astype(int))

    with pytest.raises(TypeError, match="predict_proba"):
        cr.Sequential(cr.Dense(3, 2), seed=0).predict_proba(X)


def test_summary_lists_layers_shapes_and_counts():
    model = cr.Sequential(cr.Dense(2, 4), cr.Tanh(), cr.Dense(4, 1), cr.Sigmoid(), seed=0)
    text = model.summary()
    for piece in ("Dense(2, 4)", "Tanh()", "Dense(4, 1)", "Sigmoid()", "(None, 4)", "(None, 1)", " 12", " 5"):
        assert piece in text, f"{piece!r} missing from summary:\n{text}"
    assert "total parameters: 17" in text
    assert model.n_params == 17


def test_validation_split_and_validation_data():
    X, y = blobs(2, n=50)
    model = clf(2)
    h = model.fit(X, y, loss="softmax_cross_entropy", epochs=4, validation_split=0.2)
    assert len(h["val_loss"]) == 4
    # the held-out part is the last 20 % of the samples, scored after each epoch's training
    assert h["val_loss"][-1] == pytest.approx(model.evaluate(X[-10:], y[-10:])["loss"], rel=1e-12)
    Xv, yv = blobs(3, n=20)
    h = model.fit(X, y, epochs=2, validation_data=(Xv, yv), metrics=["accuracy"])
    assert set(h.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert h["val_loss"][-1] == pytest.approx(model.evaluate(Xv, yv)["loss"], rel=1e-12)


# ------------------------------------------------------------ reproducibility
def fit_once(seed):
    X, y = blobs(4, n=47)
    model = clf(seed)
    h = model.fit(
        X,
        y,
        loss="softmax_cross_entropy",
        optimizer=cr.Adam(lr=0.02),
        epochs=6,
        batch_size=8,
        shuffle=True,
        validation_split=0.15,
        metrics=["accuracy"],
    )
    return model.get_weights(), h.to_dict()


def test_same_seed_gives_bit_identical_weights_and_history():
    global_state = np.random.get_state()[1].copy()
    w1, h1 = fit_once(11)
    w2, h2 = fit_once(11)
    assert all(np.array_equal(a, b) for a, b in zip(w1, w2))
    assert h1 == h2
    w3, h3 = fit_once(12)
    assert not all(np.array_equal(a, b) for a, b in zip(w1, w3))
    np.testing.assert_array_equal(np.random.get_state()[1], global_state)  # NumPy's global state untouched


def test_fit_seed_reseeds_the_shuffle():
    X, y = blobs(5)
    a, b = clf(0), clf(0)
    a.fit(X, y, loss="softmax_cross_entropy", epochs=2, batch_size=7, seed=3)
    b.rng.random(5)  # a different generator position; fit(seed=3) must not depend on it
    b.fit(X, y, loss="softmax_cross_entropy", epochs=2, batch_size=7, seed=3)
    assert all(np.array_equal(p, q) for p, q in zip(a.get_weights(), b.get_weights()))


# ------------------------------------------------------------------ sample weights
def test_sample_weight_gives_the_weighted_mean():
    X = np.array([[1.0], [2.0], [3.0]])
    y = np.array([0.0, 1.0, 5.0])
    w = np.array([1.0, 3.0, 0.0])
    model = cr.Sequential(cr.Dense(1, 1), seed=0)
    model.set_weights([[[2.0]], [0.5]])
    pred = [2.5, 4.5, 6.5]
    expected = sum(wi * (p - t) ** 2 for wi, p, t in zip(w, pred, y)) / w.sum()
    h = model.fit(X, y, loss="mse", optimizer=cr.SGD(lr=0.0001), epochs=1, sample_weight=w)
    assert h["loss"][0] == pytest.approx(expected, rel=1e-14)
    # ∂L/∂w = Σ wᵢ·2(ŷᵢ − yᵢ)·xᵢ / Σ wᵢ
    grad_w = sum(wi * 2 * (p - t) * x for wi, p, t, x in zip(w, pred, y, X.ravel())) / w.sum()
    assert model.get_weights()[0][0, 0] == pytest.approx(2.0 - 0.0001 * grad_w, rel=1e-14)


# ------------------------------------------------------------------ bad input
def good():
    X, y = blobs(6, n=12)
    return X, y


def replace(arr, index, value):
    out = np.array(arr, dtype=float)
    out[index] = value
    return out


X0, Y0 = good()
BAD_FITS = {
    "wrong feature count": (dict(X=X0[:, :2]), ValueError, r"Dense\(3, 5\).*expects 3"),
    "1-D X": (dict(X=X0[:, 0]), ValueError, "2-D"),
    "NaN in X": (dict(X=replace(X0, (2, 1), np.nan)), ValueError, "NaN or infinity"),
    "inf in X": (dict(X=replace(X0, (0, 0), np.inf)), ValueError, "NaN or infinity"),
    "NaN in y": (dict(y=replace(Y0, 3, np.nan)), ValueError, "NaN or infinity"),
    "inf in one-hot y": (dict(y=replace(np.eye(3)[Y0], (1, 1), np.inf)), ValueError, "NaN or infinity"),
    "label 3 of 3 outputs": (dict(y=replace(Y0, 4, 3)), ValueError, r"0\.\.2"),
    "negative label": (dict(y=replace(Y0, 4, -1)), ValueError, r"0\.\.2"),
    "fractional label": (dict(y=replace(Y0, 4, 0.5)), ValueError, "integer class labels"),
    "one-hot of wrong width": (dict(y=np.eye(4)[Y0]), ValueError, r"\(n_samples, 3\)"),
    "empty X": (dict(X=np.empty((0, 3)), y=np.empty(0)), ValueError, "empty"),
    "mismatched samples": (dict(y=Y0[:-1]), ValueError, "12 and 11"),
    "string X": (dict(X=X0.astype(str)), TypeError, "strings"),
    "object X": (dict(X=X0.astype(object)), TypeError, "objects"),
    "complex X": (dict(X=X0 + 1j), TypeError, "complex"),
    "string y": (dict(y=Y0.astype(str)), TypeError, "strings"),
    "unknown loss": (dict(loss="softmax_crossentropy"), ValueError, "Valid names: .*bce.*mse.*sse"),
    "unknown optimizer": (dict(optimizer="sgdd"), ValueError, "Valid names: adam, rmsprop, sgd"),
    "zero epochs": (dict(epochs=0), ValueError, "epochs"),
    "zero batch size": (dict(batch_size=0), ValueError, "batch_size"),
    "validation split 1.5": (dict(validation_split=1.5), ValueError, "validation_split"),
    "NaN in validation data": (dict(validation_data=(replace(X0, (0, 0), np.nan), Y0)), ValueError, "X_val"),
    "not a callback": (dict(callbacks=[print]), TypeError, "Callback"),
    "negative sample weight": (dict(sample_weight=-np.ones(12)), ValueError, "sample_weight"),
}


@pytest.mark.parametrize("case", list(BAD_FITS))
def test_bad_fit_input_raises_before_any_change(case):
    overrides, exc, match = BAD_FITS[case]
    X, y = good()
    model = clf(0)
    model.fit(X, y, loss="softmax_cross_entropy", optimizer=cr.Adam(lr=0.01), epochs=2)
    before, state = model.get_weights(), [s["m"].copy() for s in model.optimizer_.state]
    loss, opt, epochs = model.loss_, model.optimizer_, model.epochs_trained_
    args = dict(X=X, y=y, loss="softmax_cross_entropy", optimizer=opt, epochs=3)
    args.update(overrides)
    with pytest.raises(exc, match=match):
        model.fit(args.pop("X"), args.pop("y"), **args)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert model.loss_ is loss and model.optimizer_ is opt and model.epochs_trained_ == epochs
    np.testing.assert_array_equal(state[0], model.optimizer_.state[0]["m"])


def test_values_beyond_float32_are_reported_as_such_without_warnings():
    model = cr.Sequential(cr.Dense(2, 1), seed=0, dtype="float32")
    before = model.get_weights()
    X = np.array([[1.0, 2.0], [1e300, 0.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match=r"1e\+300 at index \(1, 0\), beyond the range of float32"):
            model.fit(X, [0.0, 1.0], loss="mse")
        with pytest.raises(ValueError, match="beyond the range of float32"):
            model.predict(X)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_predict_with_wrong_feature_count_names_the_layer():
    with pytest.raises(ValueError, match=r"4 features.*Dense\(3, 5\).*expects 3"):
        clf().predict(np.zeros((2, 4)))


@pytest.mark.parametrize(
    "make, valid",
    [
        (lambda: cr.get_loss("crossentropy"), "softmax_cross_entropy"),
        (lambda: cr.get_optimizer("adagrad"), "rmsprop"),
        (lambda: cr.get_activation("sinusoid"), "leaky_relu"),
        (lambda: cr.get_initializer("orthogonal"), "he_normal"),
        (lambda: cr.Dense(2, 2, init="he_normall"), "he_normal"),
    ],
)
def test_unknown_names_list_the_valid_ones(make, valid):
    with pytest.raises(ValueError, match=f"Valid names:.*{valid}"):
        make()


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match=r"Dense\(3, 1\) expects 3 inputs.*gets 4"):
        cr.Sequential(cr.Dense(2, 4), cr.Dense(3, 1))
    with pytest.raises(TypeError, match="not a chainrule Layer"):
        cr.Sequential(cr.Dense(2, 1), "relu")
    with pytest.raises(ValueError, match="float32 or float64"):
        cr.Sequential(cr.Dense(2, 1), dtype="float16")
    with pytest.raises(ValueError, match="alpha"):
        cr.LeakyReLU(-0.1)


# ------------------------------------------------------------------ divergence
@pytest.mark.parametrize("batch_size", [None, 4])
def test_diverging_fit_raises_and_keeps_finite_weights(batch_size):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(16, 3)) * 100
    y = rng.normal(size=16) * 1e6
    model = cr.Sequential(cr.Dense(3, 8), cr.Tanh(), cr.Dense(8, 1), seed=0)
    with pytest.raises(cr.DivergenceError, match=r"epoch (\d+), batch (\d+)") as info:
        model.fit(X, y, loss="mse", optimizer=cr.SGD(lr=10.0), epochs=1000, batch_size=batch_size)
    epoch, batch = map(int, re.search(r"epoch (\d+), batch (\d+)", str(info.value)).groups())
    assert epoch == model.epochs_trained_ + 1
    assert 1 <= batch <= (1 if batch_size is None else 4)
    assert isinstance(info.value, FloatingPointError)
    assert all(np.isfinite(w).all() for w in model.get_weights())
    assert np.isfinite(model.predict(X)).all()


@pytest.mark.parametrize("epochs", [1, 3])
@pytest.mark.parametrize("batch_size", [None, 2])
def test_a_step_to_infinite_weights_is_caught_even_when_the_loss_was_finite(epochs, batch_size):
    # the first loss is finite (about 1e300), but the step it drives overflows the weights to inf
    model = cr.Sequential(cr.Dense(3, 1), seed=0)
    X, y = np.full((4, 3), 1e150), np.ones(4)
    with pytest.raises(cr.DivergenceError, match="epoch 1, batch"):
        model.fit(X, y, loss="mse", optimizer=cr.SGD(lr=1e10), epochs=epochs, batch_size=batch_size)
    assert all(np.isfinite(w).all() for w in model.get_weights())


# ------------------------------------------------------------------ XOR
def xor_converges(hidden, act, lr, max_epochs, seed, chunk=100):
    """Full-batch SGD with BCE; True once every prediction is within 0.05 of its target.

    Plain SGD keeps no state, so fitting in chunks of ``chunk`` epochs follows exactly the
    trajectory of one long fit, and lets a converged network stop early.
    """
    layers, width = [], 2
    for h in hidden:
        layers += [cr.Dense(width, h), cr.get_activation(act)]
        width = h
    model = cr.Sequential(*layers, cr.Dense(width, 1), cr.Sigmoid(), seed=seed)
    opt = cr.SGD(lr=lr)
    for _ in range(max_epochs // chunk):
        model.fit(XOR_X, XOR_Y, loss="bce", optimizer=opt, epochs=chunk)
        p = model.predict(XOR_X).ravel()
        if np.all(np.abs(p - XOR_Y) < 0.05):
            assert model.evaluate(XOR_X, XOR_Y)["loss"] < 0.05
            assert np.array_equal(model.predict_classes(XOR_X), XOR_Y)
            return True
    return False


# Measured rates over seeds 0-99 with the default (Glorot) initialisation:
#   2-4-1 tanh,    lr 1.0, ≤1500 epochs: 99/100 (seed 25 stalls)
#   2-4-1 sigmoid, lr 2.0, ≤2000 epochs: 100/100
#   2-2-2-1 tanh,  lr 1.0, ≤1000 epochs: 61/100; with the seed's lr 0.5 and 5000 epochs: 64/100
#   2-2-2-1 sigmoid hidden, lr 2.0, 5000 epochs: 79/100
# Two units per hidden layer leave XOR with little slack: a third of the starts end in a local minimum.
@pytest.mark.parametrize("act, lr, epochs", [("tanh", 1.0, 1500), ("sigmoid", 2.0, 2000)])
def test_xor_2_4_1_converges_for_at_least_98_of_100_seeds(act, lr, epochs):
    ok = [xor_converges([4], act, lr, epochs, seed) for seed in range(100)]
    failed = [s for s, good in enumerate(ok) if not good]
    print(f"2-4-1 {act}: {sum(ok)}/100 converged; failed seeds {failed}")
    assert sum(ok) >= 98, f"only {sum(ok)}/100 converged; failed seeds {failed}"


def test_xor_2_2_2_1_rate_is_recorded():
    ok = [xor_converges([2, 2], "tanh", 1.0, 1000, seed) for seed in range(100)]
    print(f"2-2-2-1 tanh: {sum(ok)}/100 converged")
    assert 50 <= sum(ok) <= 80, f"2-2-2-1 rate moved: {sum(ok)}/100 (recorded 61/100)"
