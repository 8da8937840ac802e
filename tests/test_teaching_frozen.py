"""Frozen parameters in fit and explain, against Mazur's 2-2-2 walk-through (his update leaves the biases alone)."""

import numpy as np
import pytest

import chainrule as cr
from chainrule.explain.examples import two_two_two

MAZUR_TOTAL_BEFORE = 0.298371109
MAZUR_TOTAL_AFTER_ONE_STEP = 0.291027924  # printed after his first update, biases unchanged
UPDATING_THE_BIASES_TOO = 0.280471  # what one step gives when the biases move as well
# his updated weights as printed: w1..w4 (first layer), w5..w8 (second layer)
MAZUR_W = [0.149780716, 0.19956143, 0.24975114, 0.29950229, 0.35891648, 0.408666186, 0.511301270, 0.561370121]


def mazur_weights(model):
    W1, _, W2, _ = model.get_weights()
    return [W1[0, 0], W1[1, 0], W1[0, 1], W1[1, 1], W2[0, 0], W2[1, 0], W2[0, 1], W2[1, 1]]


def test_freezing_the_biases_reproduces_mazurs_error_after_one_step():
    model, X, y, loss, lr = two_two_two()
    assert model.evaluate(X, y, loss=loss)["loss"] == pytest.approx(MAZUR_TOTAL_BEFORE, abs=1e-9)
    model.fit(X, y, loss=loss, optimizer=cr.SGD(lr=lr), epochs=1, frozen={"b"})
    np.testing.assert_allclose(mazur_weights(model), MAZUR_W, atol=1e-8)
    np.testing.assert_array_equal(model.get_weights()[1], [0.35, 0.35])
    np.testing.assert_array_equal(model.get_weights()[3], [0.60, 0.60])
    # his ninth digit comes from his rounded intermediates; the exact value agrees to 2e-7
    assert model.evaluate(X, y, loss=loss)["loss"] == pytest.approx(MAZUR_TOTAL_AFTER_ONE_STEP, abs=2e-7)


def test_without_freezing_the_biases_move_and_the_error_differs():
    model, X, y, loss, lr = two_two_two()
    model.fit(X, y, loss=loss, optimizer=cr.SGD(lr=lr), epochs=1)
    after = model.evaluate(X, y, loss=loss)["loss"]
    assert after == pytest.approx(UPDATING_THE_BIASES_TOO, abs=1e-6)
    assert abs(after - MAZUR_TOTAL_AFTER_ONE_STEP) > 1e-3


def test_one_layer_can_be_frozen_by_index():
    model, X, y, loss, lr = two_two_two()  # layers: Dense, Sigmoid, Dense, Sigmoid
    model.fit(X, y, loss=loss, optimizer=cr.SGD(lr=lr), epochs=1, frozen={"0.W", "0.b"})
    W1, b1, W2, b2 = model.get_weights()
    np.testing.assert_array_equal(W1, [[0.15, 0.25], [0.20, 0.30]])
    np.testing.assert_array_equal(b1, [0.35, 0.35])
    np.testing.assert_allclose([W2[0, 0], W2[1, 0], W2[0, 1], W2[1, 1]], MAZUR_W[4:], atol=1e-8)
    assert not np.allclose(b2, [0.6, 0.6])


def test_frozen_parameters_stay_fixed_under_adam_weight_decay_and_clipping():
    model, X, y, loss, _ = two_two_two()
    opt = cr.Adam(lr=0.1, weight_decay=0.5, clip_norm=0.01)
    model.fit(X, y, loss=loss, optimizer=opt, epochs=5, frozen=["b"])
    np.testing.assert_array_equal(model.get_weights()[1], [0.35, 0.35])
    np.testing.assert_array_equal(model.get_weights()[3], [0.60, 0.60])
    assert not np.allclose(model.get_weights()[0], [[0.15, 0.25], [0.20, 0.30]])


def test_clipping_leaves_a_frozen_gradient_out_of_the_norm():
    # one step of SGD with clip_norm: the W update must be scaled by clip_norm / ‖∂L/∂W‖ alone
    model, X, y, loss, _ = two_two_two()
    twin = model.copy()
    twin.gradient(X, twin.objective(loss).loss.prepare_targets(y, 2, np.float64), twin.objective(loss))
    gW = np.concatenate([twin.layers[0].grads["W"].ravel(), twin.layers[2].grads["W"].ravel()])
    clip = 1e-3
    model.fit(X, y, loss=loss, optimizer=cr.SGD(lr=1.0, clip_norm=clip), epochs=1, frozen={"b"})
    moved = np.concatenate([(model.get_weights()[0] - [[0.15, 0.25], [0.20, 0.30]]).ravel(),
                            (model.get_weights()[2] - [[0.40, 0.50], [0.45, 0.55]]).ravel()])  # fmt: skip
    np.testing.assert_allclose(moved, -gW * clip / np.linalg.norm(gW), rtol=1e-10)


@pytest.mark.parametrize("bad", [{"c"}, {"5.W"}, {"1.W"}])
def test_an_unknown_frozen_name_is_refused_before_anything_changes(bad):
    model, X, y, loss, lr = two_two_two()
    before = model.flat_params.copy()
    with pytest.raises(ValueError, match="no layer of this model has"):
        model.fit(X, y, loss=loss, optimizer=cr.SGD(lr=lr), frozen=bad)
    with pytest.raises(ValueError, match="no layer of this model has"):
        cr.explain(model, X, y, loss, lr=lr, frozen=bad)
    np.testing.assert_array_equal(model.flat_params, before)


def test_frozen_refuses_the_compiled_engine():
    model, X, y, loss, lr = two_two_two()
    with pytest.raises(ValueError, match="frozen"):
        model.fit(X, y, loss=loss, optimizer=cr.SGD(lr=lr), frozen={"b"}, engine="compiled")
    with pytest.raises(ValueError, match="engine must be one of"):
        model.fit(X, y, loss=loss, optimizer=cr.SGD(lr=lr), frozen={"b"}, engine="fast")


def test_explain_frozen_shows_the_biases_left_alone_and_applies_mazurs_step():
    model, X, y, loss, lr = two_two_two()
    ex = cr.explain(model, X, y, loss, lr=lr, frozen={"b"}, apply=True)
    frozen = [(u.layer, u.param) for u in ex.updates if u.frozen]
    assert frozen == [(1, "b"), (2, "b")]
    text = ex.to_text()
    assert "b(1): frozen, left as it is" in text and "b(2): frozen, left as it is" in text
    assert "frozen, left as it is" in ex.to_markdown()
    np.testing.assert_allclose(ex.backward[1].db, [0.138498562, -0.038098236], atol=1e-9)  # still shown
    np.testing.assert_allclose(mazur_weights(model), MAZUR_W, atol=1e-8)
    assert model.evaluate(X, y, loss=loss)["loss"] == pytest.approx(MAZUR_TOTAL_AFTER_ONE_STEP, abs=2e-7)


def test_an_ensemble_keeps_every_members_frozen_biases():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(6, 3)), rng.normal(size=(6, 2))
    ens = cr.Ensemble(cr.Dense(3, 4), cr.Tanh(), cr.Dense(4, 2), n_models=3, seed=0)
    before = [layer.params["b"].copy() for layer in (ens.layers[0], ens.layers[2])]
    W_before = ens.layers[0].params["W"].copy()
    ens.fit(X, y, loss="mse", optimizer=cr.Adam(lr=0.1), epochs=3, frozen={"b"})
    for old, layer in zip(before, (ens.layers[0], ens.layers[2])):
        np.testing.assert_array_equal(layer.params["b"], old)
    assert not np.allclose(ens.layers[0].params["W"], W_before)
