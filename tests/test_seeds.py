"""The seeds' worked numbers, reproduced. Expected values are computed by hand here (with math.exp)."""

import math

import numpy as np
import pytest

import chainrule as cr


def sig(z: float) -> float:
    return 1 / (1 + math.exp(-z))


def one_neuron(activation=cr.Sigmoid):
    model = cr.Sequential(cr.Dense(1, 1), activation())
    model.set_weights([[[0.3]], [0.1]])
    return model


def test_single_neuron_sse_step_matches_hand_calculation():
    # 001: w=0.3, b=0.1, x=0.5, y=1.5, α=0.1, sigmoid, SSE
    x, y, w, b, lr = 0.5, 1.5, 0.3, 0.1, 0.1
    y_hat = sig(w * x + b)
    loss = 0.5 * (y - y_hat) ** 2
    dw = -(y - y_hat) * y_hat * (1 - y_hat) * x
    db = -(y - y_hat) * y_hat * (1 - y_hat)
    model = one_neuron()
    X, Y = np.array([[x]]), np.array([[y]])
    out = model.forward(X)
    sse = cr.SSE()
    assert sse.forward(out, Y) == pytest.approx(loss, rel=1e-14)
    model.backward(sse.backward())
    assert model.layers[0].grads["W"][0, 0] == pytest.approx(dw, rel=1e-14)
    assert model.layers[0].grads["b"][0] == pytest.approx(db, rel=1e-14)
    model.fit(X, Y, loss="sse", optimizer=cr.SGD(lr=lr), epochs=1)
    W, B = model.get_weights()
    assert W[0, 0] == pytest.approx(w - lr * dw, rel=1e-14)
    assert B[0] == pytest.approx(b - lr * db, rel=1e-14)
    # and the rounded figures the post prints
    assert (round(y_hat, 5), round(loss, 5), round(dw, 5), round(db, 5)) == (0.56218, 0.43976, -0.11542, -0.23083)
    assert (round(W[0, 0], 5), round(B[0], 5)) == (0.31154, 0.12308)


def test_bce_neuron_gradient_is_prediction_minus_target_times_input():
    # 000: sigmoid + binary cross-entropy gives dJ/dw_i = (ŷ − y)·x_i and dJ/db = ŷ − y
    x = np.array([[0.7, -1.3]])
    model = cr.Sequential(cr.Dense(2, 1), cr.Sigmoid())
    model.set_weights([[[0.4], [-0.2]], [0.05]])
    for y in (0.0, 1.0):
        out = model.forward(x)
        bce = cr.BinaryCrossEntropy()
        bce.forward(out, np.array([[y]]))
        model.backward(bce.backward())
        y_hat = sig(0.4 * 0.7 + (-0.2) * (-1.3) + 0.05)
        np.testing.assert_allclose(model.layers[0].grads["W"].ravel(), (y_hat - y) * x.ravel(), rtol=1e-12)
        np.testing.assert_allclose(model.layers[0].grads["b"], [y_hat - y], rtol=1e-12)


def mazur_model():
    model = cr.Sequential(cr.Dense(2, 2), cr.Sigmoid(), cr.Dense(2, 2), cr.Sigmoid())
    # W[i, j] is the weight from input i to unit j: w1..w4 in the first layer, w5..w8 in the second
    model.set_weights([[[0.15, 0.25], [0.20, 0.30]], [0.35, 0.35], [[0.40, 0.50], [0.45, 0.55]], [0.60, 0.60]])
    return model


def test_two_two_two_fixture_one_step():
    X, Y = np.array([[0.05, 0.10]]), np.array([[0.01, 0.99]])
    model = mazur_model()
    assert model.evaluate(X, Y, loss="sse")["loss"] == pytest.approx(0.298371109, abs=1e-9)
    model.fit(X, Y, loss="sse", optimizer=cr.SGD(lr=0.5), epochs=1)
    W1, _, W2, _ = model.get_weights()
    np.testing.assert_allclose(
        [W2[0, 0], W2[1, 0], W2[0, 1], W2[1, 1]], [0.35891648, 0.408666186, 0.511301270, 0.561370121], atol=1e-9
    )
    np.testing.assert_allclose(
        [W1[0, 0], W1[1, 0], W1[0, 1], W1[1, 1]], [0.149780716, 0.19956143, 0.24975114, 0.29950229], atol=1e-8
    )


XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
XOR_Y = np.array([0, 1, 1, 0], dtype=float)


def test_xor_seed_architecture_learns():
    # 002: 2-2-2-1, tanh, tanh, sigmoid, BCE, SGD, full batch
    model = cr.Sequential(cr.Dense(2, 2), cr.Tanh(), cr.Dense(2, 2), cr.Tanh(), cr.Dense(2, 1), cr.Sigmoid(), seed=0)
    model.fit(XOR_X, XOR_Y, loss="bce", optimizer=cr.SGD(lr=0.5), epochs=5000)
    np.testing.assert_allclose(model.predict(XOR_X).ravel(), XOR_Y, atol=0.05)
