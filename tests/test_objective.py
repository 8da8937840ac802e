"""The objective: penalty terms (L2, L1) as part of every gradient, checked against PyTorch and by gradcheck."""

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")


def small_case(seed=0):
    rng = np.random.default_rng(seed)
    model = cr.Sequential(cr.Dense(3, 4), cr.Tanh(), cr.Dense(4, 2), cr.Softmax(), seed=seed)
    X = rng.normal(size=(7, 3))
    y = rng.integers(0, 2, size=7)
    return model, X, y


def torch_loss_and_grads(model, X, y, l2, l1, sample_weight=None):
    """The same network in PyTorch: mean cross-entropy plus α/(2n)·Σ‖W‖² + β/n·Σ|W|, n the weights' sum."""
    W1, b1, W2, b2 = (torch.tensor(p, requires_grad=True) for p in model.get_weights())
    x = torch.tensor(X)
    logits = torch.tanh(x @ W1 + b1) @ W2 + b2
    per_sample = torch.nn.functional.cross_entropy(logits, torch.tensor(y), reduction="none")
    w = torch.ones(len(X), dtype=torch.float64) if sample_weight is None else torch.tensor(sample_weight)
    n = w.sum()
    loss = (per_sample * w).sum() / n
    loss = loss + l2 / (2 * n) * (W1.square().sum() + W2.square().sum()) + l1 / n * (W1.abs().sum() + W2.abs().sum())
    loss.backward()
    return float(loss.detach()), [t.grad.numpy() for t in (W1, b1, W2, b2)]


@pytest.mark.parametrize("l2, l1", [(0.0, 0.3), (0.7, 0.0), (0.7, 0.3)])
@pytest.mark.parametrize("weighted", [False, True])
def test_penalties_match_torch(l2, l1, weighted):
    model, X, y = small_case()
    w = np.random.default_rng(1).uniform(0.5, 2.0, len(X)) if weighted else None
    objective = model.objective("categorical_cross_entropy", l2=l2, l1=l1)
    Y = objective.loss.prepare_targets(y, model.n_out, model.dtype)
    value, _, _ = model.gradient(X, Y, objective, sample_weight=w)
    theirs, grads = torch_loss_and_grads(model, X, y, l2, l1, w)
    assert value == pytest.approx(theirs, rel=1e-12)
    for layer_grads, (dW, db) in zip([model.layers[0].grads, model.layers[2].grads], [grads[:2], grads[2:]]):
        np.testing.assert_allclose(layer_grads["W"], dW, rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(layer_grads["b"], db, rtol=1e-10, atol=1e-14)


def test_gradcheck_sees_the_l1_term_and_catches_its_absence(monkeypatch):
    model, X, y = small_case(2)
    objective = model.objective("categorical_cross_entropy", l1=0.5)
    assert cr.gradcheck(model, X, y, objective).passed
    forgetful = lambda self: None  # backward without the penalty's gradient
    monkeypatch.setattr(type(objective), "add_penalty_grads", forgetful)
    assert not cr.gradcheck(model, X, y, objective).passed


def test_describe_and_repr_name_both_terms():
    model, _, _ = small_case()
    objective = model.objective("categorical_cross_entropy", l2=0.5, l1=0.25)
    assert "0.5/(2n)·Σ‖W‖² + 0.25/n·Σ|W|" in objective.describe()
    assert repr(objective).endswith("l2=0.5, l1=0.25)")


@pytest.mark.parametrize("bad", [-1.0, float("nan"), "x"])
def test_a_bad_l1_is_refused(bad):
    model, _, _ = small_case()
    with pytest.raises((ValueError, TypeError), match="l1"):
        model.objective("mse", l1=bad)


def test_ensemble_penalty_is_one_value_per_member():
    X = np.random.default_rng(0).normal(size=(6, 2))
    y = np.array([0, 1, 1, 0, 1, 0])
    ens = cr.Ensemble(cr.Dense(2, 3), cr.Tanh(), cr.Dense(3, 1), cr.Sigmoid(), n_models=3, seed=0)
    objective = ens.objective("bce", l1=0.2, l2=0.1)
    Y = objective.loss.prepare_targets(y, ens.n_out, ens.dtype)
    values, _, _ = ens.gradient(X, Y, objective)
    for i in range(3):
        member = ens.member(i)
        single = member.objective("bce", l1=0.2, l2=0.1)
        value, _, _ = member.gradient(X, single.loss.prepare_targets(y, 1, member.dtype), single)
        assert values[i] == pytest.approx(value, rel=1e-12)


def test_explain_takes_the_objective_with_its_penalties():
    model, X, y = small_case(3)
    objective = model.objective("categorical_cross_entropy", l2=0.7, l1=0.3)
    ex = cr.explain(model, X, y, objective)
    _, data_grads = torch_loss_and_grads(model, X, y, 0.0, 0.0)
    dW = next(t.array for t in ex.layers[0].backward_terms if t.role == "weight gradient")
    np.testing.assert_allclose(dW, data_grads[0], rtol=1e-10)  # the data term, the penalty named beside it
    assert ex.gradcheck_passed  # checked with the penalty: the objective's gradient
    assert "adds 0.7·W/n + 0.3·sign(W)/n." in " ".join(ex.to_text().split())
