"""explain's update for the optimiser the model trains with, against hand-written loops of each docstring's rule.

The network is Mazur's 2-2-2 walk-through; the first step's gradients are his published ones, printed to
six significant digits for the first layer, hence the tolerances (a wrong rule is off by far more).
"""

import math
import re

import numpy as np
import pytest

import chainrule as cr
from chainrule.explain.examples import two_two_two

ORDER = [(1, "W"), (1, "b"), (2, "W"), (2, "b")]
OLD = {(1, "W"): [[0.15, 0.25], [0.20, 0.30]], (1, "b"): [0.35, 0.35],
       (2, "W"): [[0.40, 0.50], [0.45, 0.55]], (2, "b"): [0.60, 0.60]}  # fmt: skip
# Mazur's ∂E/∂w1..w8 and δ's, placed as W[i, j] (input i to unit j); a hidden bias's gradient is ∂E/∂w1 / i1
MAZUR_GRAD = {
    (1, "W"): [[0.000438568, 0.000497713], [0.000877135, 0.000995425]],
    (1, "b"): [0.000438568 / 0.05, 0.000497713 / 0.05],
    (2, "W"): [[0.082167041, -0.022602540], [0.082667628, -0.022740242]],
    (2, "b"): [0.138498562, -0.038098236],
}


def flat(d):
    return np.concatenate([np.ravel(d[key]) for key in ORDER])


def shown(ex):
    """The new values, and each row of the rule by its label's start, flat in ORDER."""
    ups = {(u.layer, u.param): u for u in ex.updates}
    new = np.concatenate([ups[key].new.ravel() for key in ORDER])

    def row(prefix):
        found = [[value for label, value in ups[key].rows if label.startswith(prefix)] for key in ORDER]
        assert all(len(f) == 1 for f in found), f"no single row {prefix!r}"
        return np.concatenate([f[0].ravel() for f in found])

    return new, row


def second_step(opt):
    """Fit one step with ``opt`` from Mazur's weights, then explain the next step with the model's optimiser."""
    model, X, y, loss, _ = two_two_two()
    model.fit(X, y, loss=loss, optimizer=opt, epochs=1)
    before = model.flat_params.copy()
    ex = cr.explain(model, X, y, loss, optimizer=model.optimizer_)
    assert model.optimizer_.t == 1 and np.array_equal(model.flat_params, before)  # both left as they were
    g2 = np.concatenate([np.ravel(b.dW if p == "W" else b.db) for b in ex.backward for p in ("W", "b")])
    return ex, before, g2


def test_first_step_uses_mazurs_gradients():
    model, X, y, loss, _ = two_two_two()
    ex = cr.explain(model, X, y, loss, optimizer="sgd", lr=0.5)
    new, row = shown(ex)
    np.testing.assert_allclose(row("g = ∂L/∂θ"), flat(MAZUR_GRAD), atol=1e-8)
    np.testing.assert_allclose(new, flat(OLD) - 0.5 * flat(MAZUR_GRAD), atol=1e-8)
    assert ex.optimizer_step == 1 and ex.lr is None  # the page does not label it plain SGD


def test_momentum_velocity_over_two_steps():
    mu, lr = 0.9, 0.5
    ex, w1, g2 = second_step(cr.SGD(lr=lr, momentum=mu))
    w, g1 = flat(OLD), flat(MAZUR_GRAD)
    v = g1  # v ← μ·0 + g
    np.testing.assert_allclose(w1, w - lr * v, atol=1e-8)
    v_before, v = v, mu * v + g2
    new, row = shown(ex)
    np.testing.assert_allclose(row("v before"), v_before, atol=1e-8)
    np.testing.assert_allclose(row("v ← μ·v + g"), v, atol=1e-8)
    np.testing.assert_allclose(row("step = α·v"), lr * v, atol=1e-8)
    np.testing.assert_allclose(new, w1 - lr * v, atol=1e-8)


def test_nesterov_looks_ahead():
    mu, lr = 0.5, 0.5
    ex, w1, g2 = second_step(cr.SGD(lr=lr, momentum=mu, nesterov=True))
    w, g1 = flat(OLD), flat(MAZUR_GRAD)
    v = g1
    np.testing.assert_allclose(w1, w - lr * (g1 + mu * v), atol=1e-8)
    v = mu * v + g2
    new, row = shown(ex)
    np.testing.assert_allclose(row("v ← μ·v + g"), v, atol=1e-8)
    np.testing.assert_allclose(row("step = α·(g + μ·v)"), lr * (g2 + mu * v), atol=1e-8)
    np.testing.assert_allclose(new, w1 - lr * (g2 + mu * v), atol=1e-8)


def test_rmsprop_square_average():
    rho, lr, eps = 0.9, 0.01, 1e-8
    ex, w1, g2 = second_step(cr.RMSProp(lr=lr, rho=rho, eps=eps))
    w, g1 = flat(OLD), flat(MAZUR_GRAD)
    s = (1 - rho) * g1**2
    np.testing.assert_allclose(w1, w - lr * g1 / (np.sqrt(s) + eps), rtol=1e-5, atol=1e-8)
    s_before, s = s, rho * s + (1 - rho) * g2**2
    new, row = shown(ex)
    np.testing.assert_allclose(row("s before"), s_before, rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(row("s ← ρ·s"), s, rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(new, w1 - lr * g2 / (np.sqrt(s) + eps), rtol=1e-5, atol=1e-8)


def test_adam_moments_bias_corrections_and_step():
    b1, b2, lr, eps = 0.9, 0.999, 0.1, 1e-8
    ex, w1, g2 = second_step(cr.Adam(lr=lr, beta_1=b1, beta_2=b2, eps=eps))
    w, g1 = flat(OLD), flat(MAZUR_GRAD)
    m, v = (1 - b1) * g1, (1 - b2) * g1**2
    np.testing.assert_allclose(w1, w - lr * (m / (1 - b1)) / (np.sqrt(v / (1 - b2)) + eps), rtol=1e-5, atol=1e-8)
    m, v = b1 * m + (1 - b1) * g2, b2 * v + (1 - b2) * g2**2
    m_hat, v_hat = m / (1 - b1**2), v / (1 - b2**2)
    step = lr * m_hat / (np.sqrt(v_hat) + eps)
    new, row = shown(ex)
    assert ex.optimizer_step == 2
    np.testing.assert_allclose(row("m ← β₁·m"), m, rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(row("v ← β₂·v"), v, rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(row("m̂ = m/(1 − β₁ᵗ)"), m_hat, rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(row("v̂ = v/(1 − β₂ᵗ)"), v_hat, rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(row("step = α·m̂/(√v̂ + ε)"), step, rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(new, w1 - step, rtol=1e-5, atol=1e-8)


def test_clipping_then_weight_decay_where_they_act():
    lr, c_norm, c_value, lam = 0.5, 0.1, 0.05, 0.01
    model, X, y, loss, _ = two_two_two()
    opt = cr.SGD(lr=lr, clip_norm=c_norm, clip_value=c_value, weight_decay=lam)
    ex = cr.explain(model, X, y, loss, optimizer=opt)
    w, g = flat(OLD), flat(MAZUR_GRAD)
    norm = math.sqrt(float(np.sum(g**2)))
    g_norm = g * min(1.0, c_norm / norm)
    g_value = np.clip(g_norm, -c_value, c_value)
    g_decay = g_value + lam * w
    new, row = shown(ex)
    np.testing.assert_allclose(row("g·min(1, c/‖g‖)"), g_norm, atol=1e-8)
    np.testing.assert_allclose(row("clip(g, −c, c)"), g_value, atol=1e-8)
    np.testing.assert_allclose(row("g + λ·θ"), g_decay, atol=1e-8)
    np.testing.assert_allclose(new, w - lr * g_decay, atol=1e-8)
    assert g_value.max() == pytest.approx(c_value)  # the value clip acted on w5 and w6's gradients
    text = ex.to_text()
    assert float(re.search(r"‖g‖ = ([0-9.]+)\)", text).group(1)) == pytest.approx(norm, abs=1e-6)
    assert "clipping, first: g ← g·min(1, c/‖g‖), c = 0.1" in text
    assert "weight decay, after clipping: g ← g + λ·θ, λ = 0.01" in text


def test_frozen_parameters_stay_out_of_the_optimisers_step():
    lr, c_norm = 0.5, 0.01
    model, X, y, loss, _ = two_two_two()
    ex = cr.explain(model, X, y, loss, optimizer=cr.SGD(lr=lr, clip_norm=c_norm), frozen={"b"}, apply=True)
    g = {key: np.ravel(v) for key, v in MAZUR_GRAD.items()}
    norm = math.sqrt(sum(float(np.sum(g[key] ** 2)) for key in [(1, "W"), (2, "W")]))  # the biases left out
    W1, b1, W2, b2 = model.get_weights()
    np.testing.assert_allclose(W2.ravel(), np.ravel(OLD[2, "W"]) - lr * g[2, "W"] * c_norm / norm, atol=1e-9)
    np.testing.assert_array_equal(b1, OLD[1, "b"])
    np.testing.assert_array_equal(b2, OLD[2, "b"])
    assert [(u.layer, u.param) for u in ex.updates if u.frozen] == [(1, "b"), (2, "b")]


@pytest.mark.parametrize(
    "opt, words",
    [
        (cr.SGD(lr=0.1, momentum=0.9), ["v ← μ·v + g;   w ← w − α·v", "v ← μ·v + g  (μ = 0.9)"]),
        (cr.RMSProp(lr=0.01), ["s ← ρ·s + (1 − ρ)·g²;   w ← w − α·g / (√s + ε)", "s ← ρ·s + (1 − ρ)·g²  (ρ = 0.99)"]),
        (cr.Adam(lr=0.1), ["m̂ = m / (1 − β₁ᵗ)", "m̂ = m/(1 − β₁ᵗ)  (t = 1: 1 − β₁ᵗ = 0.1)"]),
    ],
)
def test_text_and_markdown_write_the_rule_and_its_numbers(opt, words):
    model, X, y, loss, _ = two_two_two()
    ex = cr.explain(model, X, y, loss, optimizer=opt)
    text, md = ex.to_text(), ex.to_markdown()
    assert all(len(line) <= 80 for line in text.splitlines())
    assert "plain SGD" not in text and "plain SGD" not in md
    for w in words:
        assert w in text and w in md


def test_optimizer_arguments_are_checked():
    model, X, y, loss, _ = two_two_two()
    with pytest.raises(ValueError, match="not both"):
        cr.explain(model, X, y, loss, lr=0.1, optimizer=cr.Adam())
    with pytest.raises(ValueError, match="Unknown optimizer"):
        cr.explain(model, X, y, loss, optimizer="adamw")
    ex = cr.explain(model, X, y, loss, lr=0.05, optimizer="adam")
    assert "lr=0.05" in ex.optimizer


def test_any_explainable_network_gets_the_optimisers_update_with_a_frozen_layer_parameter():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(6, 3)), rng.normal(size=(6, 2))
    model = cr.Sequential(cr.Dense(3, 4), cr.BatchNorm(4), cr.ReLU(), cr.Dense(4, 2), seed=0)
    mu, lr = 0.9, 0.1
    ex = cr.explain(model, X, y, "mse", optimizer=cr.SGD(lr=lr, momentum=mu), frozen={"1.gamma"})
    for up in ex.updates:  # first step: v = g, θ − α·v; BatchNorm's γ (model.layers[1]) held
        expected = up.old if up.param == "gamma" else up.old - lr * up.grad
        np.testing.assert_allclose(up.new, expected, rtol=1e-14)
    assert [u.param for u in ex.updates if u.frozen] == ["gamma"]
    assert "gamma(2): frozen, left as it is" in ex.to_text()


def test_the_optimiser_steps_with_the_penalised_gradient():
    # L2 penalty α/(2n)·Σ‖W‖²: the gradient that trains is Mazur's data term plus α·W/n (n = 1); biases unpenalised
    lr, alpha = 0.5, 0.1
    model, X, y, _, _ = two_two_two()
    ex = cr.explain(model, X, y, model.objective("sse", l2=alpha), optimizer=cr.SGD(lr=lr))
    penalty = {key: alpha * np.asarray(OLD[key]) if key[1] == "W" else 0.0 * np.asarray(OLD[key]) for key in ORDER}
    g = flat(MAZUR_GRAD) + flat(penalty)
    new, row = shown(ex)
    np.testing.assert_allclose(row("g = ∂L/∂θ"), g, atol=1e-8)
    np.testing.assert_allclose(new, flat(OLD) - lr * g, atol=1e-8)
    assert "g = ∂L/∂θ, data term + penalty" in ex.to_text()
