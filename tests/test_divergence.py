"""Divergence stops training with a clear error and finite weights; gradient clipping matches hand computation."""

from __future__ import annotations

import math
import pickle
import re

import numpy as np
import pytest

import chainrule as cr


def diverging_setup():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3)) * 100
    y = rng.normal(size=(40, 1)) * 100
    model = cr.Sequential(cr.Dense(3, 16), cr.ReLU(), cr.Dense(16, 1), seed=0)
    return model, X, y


@pytest.mark.parametrize("batch_size", [None, 8])
@pytest.mark.parametrize("optimizer", ["sgd", "momentum"])
def test_divergence_raises_naming_epoch_and_batch_and_keeps_finite_weights(batch_size, optimizer):
    model, X, y = diverging_setup()
    opt = cr.SGD(lr=10.0) if optimizer == "sgd" else cr.SGD(lr=10.0, momentum=0.9)
    with pytest.raises(cr.DivergenceError, match=r"epoch \d+, batch \d+") as info:
        model.fit(X, y, loss="mse", optimizer=opt, epochs=200, batch_size=batch_size)
    epoch, batch = map(int, re.search(r"epoch (\d+), batch (\d+)", str(info.value)).groups())
    assert 1 <= epoch <= 200 and batch >= 1
    assert (info.value.epoch, info.value.batch) == (epoch, batch)
    if batch_size is None:
        assert batch == 1
    assert np.isfinite(model.flat_params).all()
    assert all(np.isfinite(a).all() for slot in opt.state for a in slot.values())
    assert isinstance(info.value, FloatingPointError)


def test_clip_norm_matches_hand_computation():
    x, y, w, b, lr, c = np.array([3.0, -4.0]), 2.0, np.array([0.5, 0.25]), 0.1, 0.1, 1.0
    out = x @ w + b
    g_out = 2 * (out - y)  # MSE over one element
    g = np.concatenate([x * g_out, [g_out]])
    norm = math.sqrt(float(g @ g))
    assert norm > c
    expected = np.concatenate([w, [b]]) - lr * g * (c / norm)

    model = cr.Sequential(cr.Dense(2, 1))
    model.set_weights([w.reshape(2, 1), [b]])
    model.fit(x.reshape(1, 2), [[y]], loss="mse", optimizer=cr.SGD(lr=lr, clip_norm=c), epochs=1)
    np.testing.assert_allclose(model.flat_params, expected, rtol=1e-13)
    unclipped = np.concatenate([w, [b]]) - lr * g
    assert not np.allclose(model.flat_params, unclipped)


def test_clip_value_matches_hand_computation():
    x, y, w, b, lr, c = np.array([3.0, -0.01]), 2.0, np.array([0.5, 0.25]), 0.1, 0.1, 0.5
    out = x @ w + b
    g_out = 2 * (out - y)
    g = np.concatenate([x * g_out, [g_out]])
    clipped = np.array([min(max(v, -c), c) for v in g])
    assert (np.abs(g) > c).any() and (np.abs(g) < c).any()
    expected = np.concatenate([w, [b]]) - lr * clipped

    model = cr.Sequential(cr.Dense(2, 1))
    model.set_weights([w.reshape(2, 1), [b]])
    model.fit(x.reshape(1, 2), [[y]], loss="mse", optimizer=cr.SGD(lr=lr, clip_value=c), epochs=1)
    np.testing.assert_allclose(model.flat_params, expected, rtol=1e-13)


def test_clipping_keeps_a_diverging_run_finite():
    model, X, y = diverging_setup()
    X, y = X / 100, y / 100
    model.fit(X, y, loss="mse", optimizer=cr.SGD(lr=0.05, clip_norm=1.0), epochs=50, batch_size=8)
    assert np.isfinite(model.flat_params).all()


def test_weights_exploding_while_the_loss_stays_finite_are_rolled_back():
    # One sample, y = 0, BCE on logits: the loss softplus(z) grows only linearly, so it stays finite while
    # plain SGD with lr 1e7 throws the weights far past max_weight; the step is exactly predictable by hand.
    x = np.array([[1.0, 2.0]])
    model = cr.Sequential(cr.Dense(2, 1), seed=0)
    model.set_weights([np.array([[0.5], [0.25]]), np.array([0.0])])
    before = model.get_weights()
    z = 0.5 + 0.5  # logit
    grad_scale = 1 / (1 + math.exp(-z))  # ∂softplus(z)/∂z = σ(z)
    peak = 1e7 * grad_scale * 2.0 - 0.25  # |w₂ − lr·σ(z)·x₂|, the largest after one step
    expected = re.escape(f"weight reached {peak:.3g}, beyond max_weight=1e+06")
    with pytest.raises(cr.DivergenceError, match=expected) as info:
        model.fit(x, [[0]], loss="bce_logits", optimizer=cr.SGD(lr=1e7), epochs=3, max_weight=1e6)
    assert "epoch 1, batch 1" in str(info.value)
    assert (info.value.epoch, info.value.batch) == (1, 1) and info.value.peak == pytest.approx(peak, rel=1e-12)
    again = pickle.loads(pickle.dumps(info.value))
    assert (str(again), again.epoch, again.batch, again.peak) == (str(info.value), 1, 1, info.value.peak)
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)
    assert model.optimizer_.state == [] and model.optimizer_.t == 0

    # without the bound the same run goes on: the weights are finite, only huge
    model.fit(x, [[0]], loss="bce_logits", optimizer=cr.SGD(lr=1e7), epochs=3, max_weight=None)
    assert np.isfinite(model.flat_params).all() and np.abs(model.flat_params).max() > 1e7


@pytest.mark.parametrize("batch_size", [None, 4])
def test_default_max_weight_stops_a_finite_explosion_in_minibatches_too(batch_size):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(8, 2))
    y = (X[:, :1] > 0).astype(float)
    model = cr.Sequential(cr.Dense(2, 1), seed=0)
    start = model.get_weights()
    with pytest.raises(cr.DivergenceError, match=r"beyond max_weight=1e\+08, at epoch 1, batch"):
        model.fit(X, y, loss="bce_logits", optimizer=cr.SGD(lr=1e9), epochs=2, batch_size=batch_size)
    for a, b in zip(model.get_weights(), start):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), "big"])
def test_max_weight_must_be_a_positive_number(bad):
    model = cr.Sequential(cr.Dense(2, 1), seed=0)
    before = model.get_weights()
    with pytest.raises((ValueError, TypeError), match="max_weight"):
        model.fit(np.ones((2, 2)), [[0.0], [1.0]], loss="mse", max_weight=bad)
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)
