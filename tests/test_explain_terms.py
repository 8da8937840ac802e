"""Every layer's explain terms as records: known roles for each layer kind of chainrule, Dense's and an
activation's terms by hand, and explain following the roles, not the wording (a renamed symbol changes
what is printed and nothing else)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import chainrule as cr
from chainrule.explain.html.data import explanation_data
from chainrule.layers import Activation
from chainrule.layers.terms import BACKWARD_ROLES, FORWARD_ROLES, Role, Term, as_terms, the, with_role

KINDS = sorted(name for name, cls in cr.Layer.registry.items() if cls.__module__.startswith("chainrule."))


def same_numbers(a: np.ndarray, b: np.ndarray) -> bool:
    """The same values, whatever the layout (Conv1D shows Z one row per window, W one row per channel)."""
    a, b = np.asarray(a, dtype=float).ravel(), np.asarray(b, dtype=float).ravel()
    return a.shape == b.shape and np.allclose(np.sort(a), np.sort(b), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", KINDS)
def test_every_layer_kind_gives_terms_with_known_roles(name):
    layer, shape = cr.Layer.registry[name].example()
    layer.build(shape, None)
    rng = np.random.default_rng(0)
    index = layer.input_kind == "index"  # integer indices: 0 and 1 fit any table of the examples
    X = rng.integers(0, 2, size=(4, *shape)) if index else rng.normal(size=(4, *shape))
    Y = layer.forward(X)
    dY = rng.normal(size=Y.shape)
    forward, backward = layer.forward_terms(), layer.backward_terms(dY)
    for terms, allowed in ((forward, FORWARD_ROLES), (backward, BACKWARD_ROLES)):
        assert terms and all(isinstance(t, Term) for t in terms)
        assert {t.role for t in terms} <= allowed, [t.label for t in terms if t.role not in allowed]
        assert all(t.symbol and t.label.startswith(t.symbol) for t in terms)
        assert {t.param for t in terms} - {""} <= set(layer.params)
    # what flows through the layer: one output, at most one input, in both directions
    assert same_numbers(the(forward, Role.OUTPUT).array, Y)
    assert len(with_role(forward, Role.INPUT)) <= 1 and len(with_role(backward, Role.INPUT_GRADIENT)) <= 1
    for t in with_role(forward, Role.INPUT):
        np.testing.assert_array_equal(t.array, X)
    np.testing.assert_array_equal(the(backward, Role.OUTPUT_GRADIENT).array, dY)
    dX = layer.backward(dY)
    for t in with_role(backward, Role.INPUT_GRADIENT):
        np.testing.assert_allclose(t.array, dX, rtol=1e-12, atol=1e-14)
    # a parameter term holds the parameter; a gradient term what backward stores
    for t in forward:
        if t.role in (Role.WEIGHT, Role.BIAS):
            assert same_numbers(t.array, layer.params[t.param])
    for t in backward:
        if t.role in (Role.WEIGHT_GRADIENT, Role.BIAS_GRADIENT):
            assert same_numbers(t.array, layer.grads[t.param])


def test_dense_terms_by_hand():
    layer = cr.Dense(2, 1, W=[[0.5], [-1.0]], b=[0.25])
    layer.build((2,), None)
    X = np.array([[1.0, 2.0], [3.0, -1.0]])
    layer.forward(X)
    forward = layer.forward_terms()
    assert [t.label for t in forward] == ["x", "W", "b", "z = x·W + b"]
    # z = 1·0.5 + 2·(−1) + 0.25 = −1.25;  3·0.5 + (−1)·(−1) + 0.25 = 2.75
    np.testing.assert_allclose(the(forward, Role.OUTPUT).array, [[-1.25], [2.75]])
    backward = layer.backward_terms(np.array([[1.0], [2.0]]))
    assert [t.role for t in backward] == [
        Role.OUTPUT_GRADIENT, Role.WEIGHT_GRADIENT, Role.BIAS_GRADIENT, Role.INPUT_GRADIENT
    ]  # fmt: skip
    # ∂L/∂W = xᵀ·dz = [1·1 + 3·2, 2·1 + (−1)·2] = [7, 0];  ∂L/∂b = 1 + 2 = 3;  dx = dz·Wᵀ
    np.testing.assert_allclose(the(backward, Role.WEIGHT_GRADIENT).array, [[7.0], [0.0]])
    np.testing.assert_allclose(the(backward, Role.BIAS_GRADIENT).array, [3.0])
    np.testing.assert_allclose(the(backward, Role.INPUT_GRADIENT).array, [[0.5, -1.0], [1.0, -2.0]])
    assert the(backward, Role.WEIGHT_GRADIENT).label == "∂L/∂W = xᵀ·dz"


def test_an_activations_terms_by_hand_and_softmax_without_an_elementwise_derivative():
    sig = cr.Sigmoid()
    sig.build((2,), None)
    sig.forward(np.array([[0.0, np.log(3.0)]]))  # σ(0) = 1/2, σ(ln 3) = 3/4
    forward, backward = sig.forward_terms(), sig.backward_terms(np.array([[2.0, 4.0]]))
    assert [t.label for t in forward] == ["z", "a = sigmoid(z)"]
    np.testing.assert_allclose(the(forward, Role.OUTPUT).array, [[0.5, 0.75]])
    # f'(z) = σ(1 − σ) = 1/4 and 3/16;  ∂L/∂z = 2·1/4 = 0.5 and 4·3/16 = 0.75
    derivative = the(backward, Role.LOCAL_DERIVATIVE)
    assert derivative.label == "f'(z) = σ(z)·(1 − σ(z))"
    np.testing.assert_allclose(derivative.array, [[0.25, 0.1875]])
    np.testing.assert_allclose(the(backward, Role.INPUT_GRADIENT).array, [[0.5, 0.75]])
    soft = cr.Softmax()
    soft.build((2,), None)
    soft.forward(np.zeros((1, 2)))
    terms = soft.backward_terms(np.array([[1.0, 0.0]]))
    assert not with_role(terms, Role.LOCAL_DERIVATIVE)  # its derivative is a Jacobian, not a factor per entry
    # a = (1/2, 1/2), g = (1, 0): a ∘ (g − Σ g ∘ a) = (1/2·(1 − 1/2), 1/2·(0 − 1/2))
    np.testing.assert_allclose(the(terms, Role.INPUT_GRADIENT).array, [[0.25, -0.25]])
    assert the(terms, Role.INPUT_GRADIENT).label == "∂L/∂z = a ∘ (g − Σⱼ(g ∘ a)ⱼ), g = ∂L/∂a"


def test_a_plain_dict_of_labelled_arrays_reads_as_terms_of_role_other():
    terms = as_terms({"X": np.ones(2), "Z = X": np.ones(2)})
    assert [(t.label, t.role) for t in terms] == [("X", Role.OTHER), ("Z = X", Role.OTHER)]


def test_roles_are_their_names_as_text():
    assert Role("per-window winner") is Role.WINNER and Role.WEIGHT_GRADIENT == "weight gradient"
    assert f"{Role.INPUT_GRADIENT}" == str(Role.INPUT_GRADIENT) == "input gradient"
    assert Term("m", "", np.ones(2), "mask").role is Role.MASK
    with pytest.raises(ValueError, match=r"term 'w' has role 'weights'; roles are 'input', 'output', 'weight'"):
        Term("w", "", np.ones(2), "weights")


# --------------------------------------------------------------- explain follows roles, not wording
def cnn():
    model = cr.Sequential(
        cr.Conv1D(1, 2, 2), cr.ReLU(), cr.MaxPool1D(2), cr.Flatten(), cr.BatchNorm(4), cr.Dense(4, 1),
        input_shape=(1, 5), seed=3,
    )  # fmt: skip
    X = np.random.default_rng(1).normal(size=(3, 1, 5))
    y = np.random.default_rng(2).normal(size=(3, 1))
    return cr.explain(model, X, y, "mse", lr=0.1)


def renamed(method, new_symbol):
    def terms(self, *args):
        return [dataclasses.replace(t, symbol=new_symbol(t), note="") for t in method(self, *args)]

    return terms


def test_a_renamed_winner_still_marks_the_max_pools_windows(monkeypatch):
    plain = cnn()
    original = cr.MaxPool1D.forward_terms
    monkeypatch.setattr(
        cr.MaxPool1D, "forward_terms", renamed(original, lambda t: "k★" if t.role == Role.WINNER else t.symbol)
    )
    ex = cnn()
    x = ex.layers[2].input  # the pool's input (n, C, 4): windows of 2, the first of tied maxima wins
    expected = np.argmax(x.reshape(*x.shape[:-1], 2, 2), axis=-1) + np.array([0, 2])
    np.testing.assert_array_equal(ex.layers[2].windows.winners, expected)
    page = explanation_data(ex)["step"]["blocks"][2]["pool"]
    assert page["winners"] == expected.tolist() == explanation_data(plain)["step"]["blocks"][2]["pool"]["winners"]
    text = ex.to_text()
    assert "k★ =" in text and "j*" not in text and "j* (which element" in plain.to_text()


def test_renamed_weight_gradient_entries_and_dense_gradients_change_only_the_printing(monkeypatch):
    for cls in (cr.Conv1D, cr.Dense):
        monkeypatch.setattr(
            cls, "backward_terms", renamed(cls.backward_terms, lambda t: "g" + t.symbol if t.param else t.symbol)
        )
    monkeypatch.setattr(cr.ReLU, "chain_formula", "δ ⊙ [z > 0]")
    text = cnn().to_text()
    # Conv1D's own one-line sums are dropped by role; explain writes each weight's sum out itself
    assert "g∂L/∂w[" not in text and "∂L/∂w[0, 0, 1] = Σₙ Σₜ δ[n, 0, t]·x[n, 0, t + 1]" in text
    assert "gdW = Σₙ Σₜ δ·x" in text and "g∂L/∂W = xᵀ·dz" in text and "∂L/∂z = δ ⊙ [z > 0]" in text
    # the gradients the terms show are known by their role and parameter: none is printed twice
    assert "stored by backward" not in text


def test_every_symbol_renamed_leaves_every_number_and_structure_of_the_page(monkeypatch):
    plain = explanation_data(cnn())["step"]
    owners = {c for cls in cr.Layer.registry.values() for c in cls.__mro__ if "forward_terms" in c.__dict__}
    for cls in owners:
        if cls.__module__.startswith("chainrule."):
            for method in ("forward_terms", "backward_terms"):
                monkeypatch.setattr(cls, method, renamed(cls.__dict__[method], lambda t: "◊" + t.symbol))
    ex = cnn()
    step = explanation_data(ex)["step"]
    assert all(label.startswith("◊") for block in step["blocks"] for label, _ in block["forward"])
    for mine, theirs in zip(step["blocks"], plain["blocks"], strict=True):
        for key in ("forward", "backward"):
            assert [entries for _, entries in mine[key]] == [entries for _, entries in theirs[key]]
        assert [row[1:] for row in mine["table"]] == [row[1:] for row in theirs["table"]]
        assert mine["conv"] == theirs["conv"] and mine["pool"] == theirs["pool"]
    assert ex.gradcheck_passed


def test_the_dense_networks_block_view_reads_its_numbers_by_role(monkeypatch):
    def explained():
        model, X, y, loss, lr = cr.explain.EXAMPLES["two-two-two"]()
        return cr.explain(model, X, y, loss, lr=lr)

    plain = explained()
    for cls in (cr.Dense, Activation):
        for method in ("forward_terms", "backward_terms"):
            reordered = renamed(cls.__dict__[method], lambda t: "◊" + t.symbol)
            monkeypatch.setattr(cls, method, lambda self, *args, _m=reordered: list(reversed(_m(self, *args))))
    ex = explained()
    assert ex.to_text() == plain.to_text() and ex.to_markdown() == plain.to_markdown()
    assert explanation_data(ex) == explanation_data(plain)


# --------------------------------------------------------------- Embedding and PReLU explained, by hand
def test_embedding_lists_the_rows_that_received_gradient_with_their_numbers():
    table = np.array([[0.5, -1.0], [0.0, 0.0], [0.0, 0.0], [2.0, 1.0], [0.0, 0.0]])
    model = cr.Sequential(cr.Embedding(5, 2, W=table), cr.Dense(2, 1, W=[[1.0], [2.0]], b=[0.0]))
    ex = cr.explain(model, np.array([0, 3, 3]), np.array([[1.0], [0.0], [2.0]]), "mse")
    # ŷ = W[x]·(1, 2) = −1.5, 4, 4;  ∂L/∂ŷ = 2/3·(ŷ − y) = −5/3, 8/3, 4/3;  dz = ∂L/∂ŷ·(1, 2) per sample;
    # row 0 gets sample 0's dz, row 3 the sum of samples 1 and 2: (8/3 + 4/3)·(1, 2) = (4, 8)
    backward = ex.layers[0].backward_terms
    assert the(backward, Role.INDEX).array.tolist() == [0, 3]
    np.testing.assert_allclose(the(backward, Role.WEIGHT_GRADIENT_ENTRY).array, [[-5 / 3, -10 / 3], [4.0, 8.0]])
    text = ex.to_text()
    assert "x (token indices) = [0  3  3]" in text and "k (the rows the batch looked up) = [0  3]" in text
    assert "∂L/∂W[k] = Σ dz over the positions whose index is k =\n      [-1.66667  -3.33333]\n      [ 4.00000" in text
    assert ex.gradcheck_passed


def test_prelu_shows_its_slope_and_its_gradient():
    model = cr.Sequential(cr.PReLU(), input_shape=(2,))
    ex = cr.explain(model, np.array([[-2.0, 3.0]]), np.array([[0.0, 0.0]]), "sse")
    # a = 0.25: y = (−0.5, 3);  sse: ∂L/∂y = y − 0 (one sample);  f'(x) = (a, 1);  ∂L/∂a = dy·x where x ≤ 0 = −0.5·−2
    forward, backward = ex.layers[0].forward_terms, ex.layers[0].backward_terms
    np.testing.assert_allclose(the(forward, Role.OUTPUT).array, [[-0.5, 3.0]])
    np.testing.assert_allclose(the(backward, Role.LOCAL_DERIVATIVE).array, [[0.25, 1.0]])
    np.testing.assert_allclose(the(backward, Role.WEIGHT_GRADIENT).array, [1.0])
    np.testing.assert_allclose(the(backward, Role.INPUT_GRADIENT).array, [[-0.125, 3.0]])
    assert "∂L/∂a = Σ dy ∘ x where x ≤ 0, per channel = [1.00000]" in ex.to_text()
