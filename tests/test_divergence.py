"""Divergence stops training with a clear error and finite weights; gradient clipping matches hand computation."""

from __future__ import annotations

import math
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
    if batch_size is None:
        assert batch == 1
    assert np.isfinite(model._flat).all()
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
    np.testing.assert_allclose(model._flat, expected, rtol=1e-13)
    unclipped = np.concatenate([w, [b]]) - lr * g
    assert not np.allclose(model._flat, unclipped)


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
    np.testing.assert_allclose(model._flat, expected, rtol=1e-13)


def test_clipping_keeps_a_diverging_run_finite():
    model, X, y = diverging_setup()
    X, y = X / 100, y / 100
    model.fit(X, y, loss="mse", optimizer=cr.SGD(lr=0.05, clip_norm=1.0), epochs=50, batch_size=8)
    assert np.isfinite(model._flat).all()
