"""One step of each optimiser against the rule in its docstring, worked by hand; schedules; bad arguments."""

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule.core import optimizers

W0 = [0.5, -1.0, 2.0]
G1 = [0.1, -0.4, 3.0]
G2 = [-0.2, 0.3, 1.0]


def run(opt, grads, w=W0):
    p = np.array(w, dtype=float)
    for g in grads:
        opt.step([p], [np.array(g, dtype=float)])
    return p


def test_plain_sgd():
    got = run(cr.SGD(lr=0.1), [G1])
    expected = [w - 0.1 * g for w, g in zip(W0, G1)]
    np.testing.assert_allclose(got, expected, rtol=1e-15)


def test_momentum_two_steps():
    mu, lr = 0.9, 0.1
    got = run(cr.SGD(lr=lr, momentum=mu), [G1, G2])
    expected = []
    for w, g1, g2 in zip(W0, G1, G2):
        v = g1  # v = μ·0 + g
        w -= lr * v
        v = mu * v + g2
        w -= lr * v
        expected.append(w)
    np.testing.assert_allclose(got, expected, rtol=1e-14)


def test_nesterov_two_steps():
    mu, lr = 0.5, 0.2
    got = run(cr.SGD(lr=lr, momentum=mu, nesterov=True), [G1, G2])
    expected = []
    for w, g1, g2 in zip(W0, G1, G2):
        v = g1
        w -= lr * (g1 + mu * v)
        v = mu * v + g2
        w -= lr * (g2 + mu * v)
        expected.append(w)
    np.testing.assert_allclose(got, expected, rtol=1e-14)


def test_weight_decay_adds_lambda_w_to_the_gradient():
    lam, lr = 0.1, 0.5
    got = run(cr.SGD(lr=lr, weight_decay=lam), [G1])
    np.testing.assert_allclose(got, [w - lr * (g + lam * w) for w, g in zip(W0, G1)], rtol=1e-15)


def test_adam_two_steps_with_bias_correction():
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-8
    got = run(cr.Adam(lr=lr, beta_1=b1, beta_2=b2, eps=eps), [G1, G2])
    expected = []
    for w, g1, g2 in zip(W0, G1, G2):
        m = v = 0.0
        for t, g in ((1, g1), (2, g2)):
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g * g
            m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
            w -= lr * m_hat / (math.sqrt(v_hat) + eps)
        expected.append(w)
    np.testing.assert_allclose(got, expected, rtol=1e-13)
    # the first Adam step moves every weight by about lr·sign(g), whatever the scale of g
    first = run(cr.Adam(lr=lr), [G1])
    np.testing.assert_allclose(np.array(W0) - first, lr * np.sign(G1), rtol=1e-5)


def test_rmsprop_two_steps():
    lr, rho, eps = 0.01, 0.9, 1e-6
    got = run(cr.RMSProp(lr=lr, rho=rho, eps=eps), [G1, G2])
    expected = []
    for w, g1, g2 in zip(W0, G1, G2):
        s = 0.0
        for g in (g1, g2):
            s = rho * s + (1 - rho) * g * g
            w -= lr * g / (math.sqrt(s) + eps)
        expected.append(w)
    np.testing.assert_allclose(got, expected, rtol=1e-13)


def test_clip_norm_rescales_the_whole_gradient():
    norm = math.sqrt(sum(g * g for g in G1))
    got = run(cr.SGD(lr=1.0, clip_norm=1.0), [G1])
    np.testing.assert_allclose(got, [w - g / norm for w, g in zip(W0, G1)], rtol=1e-14)
    # below the threshold nothing changes
    got = run(cr.SGD(lr=1.0, clip_norm=100.0), [G1])
    np.testing.assert_allclose(got, [w - g for w, g in zip(W0, G1)], rtol=1e-15)


def test_clip_value_clamps_each_component():
    got = run(cr.SGD(lr=1.0, clip_value=0.2), [G1])
    np.testing.assert_allclose(got, [0.5 - 0.1, -1.0 + 0.2, 2.0 - 0.2], rtol=1e-15)


def test_step_does_not_touch_the_gradient():
    g = np.array(G1)
    p = np.array(W0)
    cr.Adam(lr=0.1, weight_decay=0.1, clip_norm=0.5, clip_value=0.3).step([p], [g])
    np.testing.assert_array_equal(g, G1)


def test_step_decay_values():
    s = cr.StepDecay(0.1, step_size=3, gamma=0.5)
    assert [s(e) for e in range(7)] == pytest.approx([0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025], rel=1e-15)


def test_exponential_decay_values():
    s = cr.ExponentialDecay(2.0, gamma=0.9)
    assert [s(e) for e in range(4)] == pytest.approx([2.0, 1.8, 1.62, 1.458], rel=1e-14)


def test_cosine_decay_values():
    s = cr.CosineDecay(1.0, epochs=4, min_lr=0.2)
    # 0.2 + 0.4·(1 + cos(π·e/4)): cos = 1, √½, 0, −√½, −1, then held at the floor
    half = math.sqrt(0.5)
    expected = [1.0, 0.2 + 0.4 * (1 + half), 0.6, 0.2 + 0.4 * (1 - half), 0.2, 0.2]
    assert [s(e) for e in range(6)] == pytest.approx(expected, rel=1e-14)


def test_schedule_drives_the_fit_learning_rate():
    """With StepDecay(1, 1, ½) and a constant gradient of 1 per epoch, w drops by 1, ½, ¼."""
    model = cr.Sequential(cr.Dense(1, 1, init="zeros"), seed=0)
    model.set_weights([[[0.0]], [0.0]])
    # with x = 0, ŷ = b and ∂L/∂b = b − y = b + 1e6 for SSE: clipped to 1 at every step
    opt = cr.SGD(lr=cr.StepDecay(1.0, step_size=1, gamma=0.5), clip_value=1.0)
    model.fit(np.array([[0.0]]), np.array([[-1e6]]), loss="sse", optimizer=opt, epochs=3)
    assert model.get_weights()[1][0] == pytest.approx(-(1 + 0.5 + 0.25), rel=1e-15)
    assert opt.current_lr == pytest.approx(0.25)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: cr.SGD(lr=-0.1), "lr"),
        (lambda: cr.SGD(lr=0), "lr"),
        (lambda: cr.SGD(lr=float("nan")), "lr"),
        (lambda: cr.SGD(lr=0.1, momentum=1.5), "momentum"),
        (lambda: cr.SGD(lr=0.1, momentum=-0.1), "momentum"),
        (lambda: cr.SGD(lr=0.1, nesterov=True), "nesterov"),
        (lambda: cr.SGD(lr=0.1, weight_decay=-1), "weight_decay"),
        (lambda: cr.SGD(lr=0.1, clip_norm=0), "clip_norm"),
        (lambda: cr.SGD(lr=0.1, clip_value=-2), "clip_value"),
        (lambda: cr.Adam(beta_1=1.0), "beta_1"),
        (lambda: cr.Adam(beta_2=-0.5), "beta_2"),
        (lambda: cr.Adam(eps=0), "eps"),
        (lambda: cr.RMSProp(rho=1.5), "rho"),
        (lambda: cr.StepDecay(0.1, step_size=0), "step_size"),
        (lambda: cr.StepDecay(-0.1, step_size=2), "lr"),
        (lambda: cr.ExponentialDecay(0.1, gamma=-1), "gamma"),
        (lambda: cr.CosineDecay(0.1, epochs=0), "epochs"),
        (lambda: cr.get_optimizer("adamw"), "adam.*rmsprop.*sgd"),
        (lambda: cr.get_optimizer("sgd", lr=-1), "lr"),
    ],
)
def test_bad_arguments_name_the_argument(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_unknown_optimizer_suggests_the_close_name():
    with pytest.raises(ValueError, match="Did you mean 'adam'"):
        cr.get_optimizer("adma")


def test_names_resolve_to_fresh_optimizers():
    a, b = cr.get_optimizer("adam"), cr.get_optimizer("ADAM")
    assert isinstance(a, cr.Adam) and a is not b
    opt = cr.RMSProp()
    assert cr.get_optimizer(opt) is opt


@pytest.mark.parametrize(
    "make", [lambda: cr.SGD(lr=0.05, momentum=0.9), lambda: cr.Adam(lr=0.01), lambda: cr.RMSProp(lr=0.01, rho=0.5)]
)
def test_flushing_subnormal_state_leaves_the_weights_bit_identical(monkeypatch, make):
    # A unit whose gradient becomes exactly zero keeps decaying moments, which pass through float32's
    # subnormal range (below ~1.2e-38) on their way to zero. Here the gradient is zero from step 2 on:
    # μᵏ·v (β₁ᵏ·m for Adam, ρᵏ·s for RMSProp) reaches that range within the 1,200 steps, so the unflushed
    # run holds subnormals.
    tiny = np.finfo(np.float32).tiny

    def run(flush_every):
        """The final weights, and the most subnormal state values seen just after any flush point."""
        monkeypatch.setattr(optimizers, "FLUSH_EVERY", flush_every)
        p = np.linspace(-1, 1, 64, dtype=np.float32)
        g = np.linspace(0.5, -0.5, 64, dtype=np.float32)
        opt, most = make(), 0
        opt.step([p], [g])
        for _ in range(1200):
            opt.step([p], [np.zeros_like(g)])
            if opt.t % 128 == 0:
                arrays = [a for slot in opt.state for a in slot.values()]
                most = max(most, sum(int(np.count_nonzero((a != 0) & (np.abs(a) < tiny))) for a in arrays))
        return p, most

    p_plain, subnormal_plain = run(10**9)
    p_flushed, subnormal_flushed = run(128)
    assert subnormal_plain > 0
    assert subnormal_flushed == 0
    np.testing.assert_array_equal(p_flushed, p_plain)
