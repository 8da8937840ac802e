"""Each output's term of the loss beside the total: Mazur's E_o1 and E_o2, and hand-computed terms for MSE and BCE."""

import numpy as np
import pytest

import chainrule as cr
from chainrule.explain.examples import two_two_two

MAZUR_E_O1, MAZUR_E_O2, MAZUR_E_TOTAL = 0.274811083, 0.023560026, 0.298371109


def test_mazurs_per_output_errors():
    model, X, y, loss, lr = two_two_two()
    ex = cr.explain(model, X, y, loss, lr=lr)
    np.testing.assert_allclose(ex.loss.per_output, [MAZUR_E_O1, MAZUR_E_O2], atol=1e-9)
    assert ex.loss.value == pytest.approx(MAZUR_E_TOTAL, abs=1e-9)


def test_per_output_errors_are_labelled_beside_the_total_in_text_and_markdown():
    model, X, y, loss, lr = two_two_two()
    ex = cr.explain(model, X, y, loss, lr=lr)
    text = ex.to_text(precision=9).splitlines()
    at = text.index("  L = 0.298371109")
    assert "L[k] output k's term" in text[at + 1]
    assert text[at + 2].split() == ["L[1]", "=", "0.274811083", "L[2]", "=", "0.023560026"]
    md = ex.to_markdown(precision=9)
    assert r"$$L = L_{1} + L_{2} = 0.274811083 + 0.023560026 = 0.298371109$$" in md


def test_mse_terms_divide_by_every_element():
    # two samples, two outputs: L = 1/(n·k)·Σ (ŷ − y)², so output k's term is Σₛ (ŷₛₖ − yₛₖ)² / 4
    model = cr.Sequential(cr.Dense(2, 2))
    model.set_weights([[[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]])  # ŷ = X
    X, Y = np.array([[0.5, -1.0], [2.0, 0.0]]), np.array([[0.0, 1.0], [1.0, 1.0]])
    ex = cr.explain(model, X, Y, "mse")
    expected = [(0.25 + 1.0) / 4, (4.0 + 1.0) / 4]
    np.testing.assert_allclose(ex.loss.per_output, expected, rtol=1e-12)
    assert sum(expected) == pytest.approx(ex.loss.value)


def test_bce_terms_are_each_outputs_log_loss():
    model = cr.Sequential(cr.Dense(1, 2), cr.Sigmoid())
    model.set_weights([[[0.0, 0.0]], [np.log(3.0), 0.0]])  # p = (0.75, 0.5)
    ex = cr.explain(model, np.array([[1.0]]), np.array([[1.0, 0.0]]), "bce")
    np.testing.assert_allclose(ex.loss.per_output, [-np.log(0.75) / 2, -np.log(0.5) / 2], rtol=1e-12)


def test_no_terms_where_the_loss_does_not_split_by_output():
    model = cr.explain.from_layers([2, 3, 3], "tanh", "softmax_cross_entropy", seed=0)
    ex = cr.explain(model, np.array([[0.1, 0.2]]), np.array([2]), "softmax_cross_entropy")
    assert ex.loss.per_output is None
    assert "per output" not in ex.to_text()
    single = cr.explain(*cr.explain.EXAMPLES["single-neuron"]()[:4])
    assert single.loss.per_output is None


def test_no_terms_where_a_penalty_is_part_of_l():
    model, X, y, _, lr = two_two_two()
    ex = cr.explain(model, X, y, model.objective("sse", l2=0.1), lr=lr)
    assert ex.loss.per_output is None and "per output" not in ex.to_text()
