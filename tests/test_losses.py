"""Every loss's value and gradient (by hand and against PyTorch), the facts each loss class carries, and the
Objective: where a loss meets a model, which pairs fuse into one step and which would squash twice.
"""

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule.core.losses import Loss

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)


def sig(z: float) -> float:
    return 1 / (1 + math.exp(-z))


def value_and_grad(loss, P, Y, **kw):
    value = loss.forward(np.asarray(P, dtype=float), Y, **kw)
    return value, loss.backward()


# ------------------------------------------------------------------ values and gradients by hand
def test_sse_by_hand():
    P, Y = [[1.0], [3.0]], np.array([[0.0], [1.0]])
    value, G = value_and_grad(cr.SSE(), P, Y)
    assert value == pytest.approx((0.5 * 1**2 + 0.5 * 2**2) / 2, rel=1e-15)  # ½Σ(ŷ − y)² / n
    np.testing.assert_allclose(G, [[1 / 2], [2 / 2]], rtol=1e-15)  # (ŷ − y)/n
    value, G = value_and_grad(cr.SSE(reduction="sum"), P, Y)
    assert value == pytest.approx(0.5 + 2.0, rel=1e-15)
    np.testing.assert_allclose(G, [[1.0], [2.0]], rtol=1e-15)


def test_mse_divides_by_every_element():
    P, Y = [[1.0, 2.0], [0.0, -1.0]], np.array([[0.0, 0.0], [0.0, 1.0]])
    value, G = value_and_grad(cr.MSE(), P, Y)
    assert value == pytest.approx((1 + 4 + 0 + 4) / 4, rel=1e-15)
    np.testing.assert_allclose(G, [[2 * 1 / 4, 2 * 2 / 4], [0.0, 2 * -2 / 4]], rtol=1e-15)


def test_bce_on_probabilities_by_hand():
    P, Y = [[0.8], [0.3]], np.array([[1.0], [0.0]])
    value, G = value_and_grad(cr.BinaryCrossEntropy(), P, Y)
    assert value == pytest.approx(-(math.log(0.8) + math.log(0.7)) / 2, rel=1e-14)
    # ∂/∂p = (p − y) / (p(1 − p)), over n·k = 2 elements
    np.testing.assert_allclose(G, [[(0.8 - 1) / (0.8 * 0.2) / 2], [0.3 / (0.3 * 0.7) / 2]], rtol=1e-14)


def test_bce_with_logits_by_hand():
    Z, Y = [[0.0], [2.0]], np.array([[1.0], [0.0]])
    value, G = value_and_grad(cr.BCEWithLogits(), Z, Y)
    assert value == pytest.approx((math.log(2) + math.log(1 + math.exp(2))) / 2, rel=1e-14)
    np.testing.assert_allclose(G, [[(0.5 - 1) / 2], [sig(2.0) / 2]], rtol=1e-14)  # (σ(z) − y)/n


def test_softmax_cross_entropy_by_hand():
    Z = [[0.0, math.log(3.0)], [math.log(2.0), 0.0]]  # softmax: (1/4, 3/4) and (2/3, 1/3)
    value, G = value_and_grad(cr.SoftmaxCrossEntropy(), Z, np.array([1, 1]))
    assert value == pytest.approx((-math.log(3 / 4) - math.log(1 / 3)) / 2, rel=1e-14)
    np.testing.assert_allclose(G, [[1 / 4 / 2, (3 / 4 - 1) / 2], [2 / 3 / 2, (1 / 3 - 1) / 2]], rtol=1e-14)
    soft = np.array([[0.5, 0.5], [0.0, 1.0]])
    value, G = value_and_grad(cr.SoftmaxCrossEntropy(), Z, soft)
    assert value == pytest.approx((-0.5 * math.log(1 / 4) - 0.5 * math.log(3 / 4) - math.log(1 / 3)) / 2, rel=1e-14)
    np.testing.assert_allclose(G, [[(1 / 4 - 0.5) / 2, (3 / 4 - 0.5) / 2], [2 / 3 / 2, (1 / 3 - 1) / 2]], rtol=1e-14)


def test_categorical_cross_entropy_by_hand():
    P = [[0.2, 0.8], [0.6, 0.4]]
    value, G = value_and_grad(cr.CategoricalCrossEntropy(), P, np.array([0, 1]))
    assert value == pytest.approx((-math.log(0.2) - math.log(0.4)) / 2, rel=1e-14)
    np.testing.assert_allclose(G, [[-1 / 0.2 / 2, 0.0], [0.0, -1 / 0.4 / 2]], rtol=1e-14)  # −y/p /n


def test_sample_weight_gives_the_weighted_mean_by_hand():
    P, Y, w = [[1.0], [3.0]], np.array([[0.0], [1.0]]), np.array([1.0, 3.0])
    value, G = value_and_grad(cr.SSE(), P, Y, sample_weight=w)
    assert value == pytest.approx((1 * 0.5 + 3 * 2.0) / 4, rel=1e-15)
    np.testing.assert_allclose(G, [[1 * 1 / 4], [3 * 2 / 4]], rtol=1e-15)


# ------------------------------------------------------------------ against PyTorch
def torch_cce(P, Y, reduction):
    import torch

    rows = -(Y * torch.log(P)).sum(dim=1) if Y.ndim == 2 else -torch.log(P[torch.arange(len(Y)), Y])
    return rows.sum() if reduction == "sum" else rows.mean()


def torch_sse(P, Y, reduction):
    total = 0.5 * ((P - Y) ** 2).sum()
    return total if reduction == "sum" else total / P.shape[0]


def torch_losses():
    F = pytest.importorskip("torch").nn.functional
    return {
        "sse": torch_sse,
        "mse": lambda P, Y, r: F.mse_loss(P, Y, reduction=r),
        "bce": lambda P, Y, r: F.binary_cross_entropy(P, Y, reduction=r),
        "bce_logits": lambda P, Y, r: F.binary_cross_entropy_with_logits(P, Y, reduction=r),
        "softmax_cross_entropy": lambda P, Y, r: F.cross_entropy(P, Y, reduction=r),
        "categorical_cross_entropy": torch_cce,
    }


# loss name -> (input kind, target kinds)
INPUTS = {
    "sse": ("real", ["real"]),
    "mse": ("real", ["real"]),
    "bce": ("sigmoid", ["binary", "soft"]),
    "bce_logits": ("real", ["binary", "soft"]),
    "softmax_cross_entropy": ("real", ["labels", "onehot", "soft"]),
    "categorical_cross_entropy": ("softmax", ["labels", "onehot", "soft"]),
}
CASES = [(name, target) for name, (_, targets) in INPUTS.items() for target in targets]


def squash(Z, kind):
    if kind == "sigmoid":
        return 1 / (1 + np.exp(-Z))
    if kind == "softmax":
        E = np.exp(Z - Z.max(axis=1, keepdims=True))
        return E / E.sum(axis=1, keepdims=True)
    return Z


def make_inputs(rng, kind, n, k):
    return squash(rng.normal(size=(n, k)) * 2, kind)


def make_targets(rng, kind, n, k):
    if kind == "real":
        return rng.normal(size=(n, k))
    if kind == "binary":
        return rng.integers(0, 2, size=(n, k)).astype(float)
    if kind == "labels":
        return rng.integers(0, k, size=n)
    if kind == "onehot":
        return np.eye(k)[rng.integers(0, k, size=n)]
    soft = rng.random(size=(n, k))
    return soft / soft.sum(axis=1, keepdims=True) if k > 1 else soft


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("name, target", CASES)
def test_value_and_gradient_match_pytorch(name, target, reduction):
    theirs_fn = torch_losses()[name]  # skips when PyTorch is missing
    import torch

    for seed in range(5):
        rng = np.random.default_rng(seed)
        n, k = int(rng.integers(1, 6)), int(rng.integers(2, 5))
        P = make_inputs(rng, INPUTS[name][0], n, k)
        Y = make_targets(rng, target, n, k)
        loss = cr.get_loss(name)
        loss.reduction = reduction
        mine = loss.forward(P, Y)
        G = loss.backward()
        Pt = torch.tensor(P, dtype=torch.float64, requires_grad=True)
        Yt = torch.tensor(Y) if target == "labels" else torch.tensor(Y, dtype=torch.float64)
        value = theirs_fn(Pt, Yt, reduction)
        value.backward()
        assert mine == pytest.approx(value.item(), rel=1e-12), f"mine {mine} vs theirs {value.item()} (seed {seed})"
        np.testing.assert_allclose(G, Pt.grad.numpy(), rtol=1e-10, atol=1e-14, err_msg=f"seed {seed}")


@pytest.mark.parametrize("name, activation", [("bce", "sigmoid"), ("categorical_cross_entropy", "softmax")])
@pytest.mark.parametrize("target", ["labels", "soft"])
def test_the_fused_gradient_is_the_gradient_through_the_activation_in_pytorch(name, activation, target):
    torch = pytest.importorskip("torch")
    if name == "bce" and target == "labels":
        target = "binary"
    for seed in range(5):
        rng = np.random.default_rng(seed)
        n, k = int(rng.integers(1, 6)), int(rng.integers(2, 5))
        Z = rng.normal(size=(n, k)) * 3
        Y = make_targets(rng, target, n, k)
        loss = cr.get_loss(name)
        P = squash(Z, activation)
        targets = loss.prepare_targets(Y, k, np.dtype(np.float64))
        value, G = loss.value_and_grad(P, targets, logits=Z)
        Zt = torch.tensor(Z, dtype=torch.float64, requires_grad=True)
        Pt = torch.sigmoid(Zt) if activation == "sigmoid" else torch.softmax(Zt, dim=1)
        Yt = torch.tensor(Y) if target == "labels" else torch.tensor(Y, dtype=torch.float64)
        theirs = torch_losses()[name](Pt, Yt, "mean")
        theirs.backward()
        assert value == pytest.approx(theirs.item(), rel=1e-12)
        np.testing.assert_allclose(G, Zt.grad.numpy(), rtol=1e-9, atol=1e-14, err_msg=f"seed {seed}")


# ------------------------------------------------------------------ the facts each loss class carries
# exported class -> (name, aliases, task, output_activation, fuses)
FACTS = {
    cr.SSE: ("sse", (), "regression", None, None),
    cr.MSE: ("mse", (), "regression", None, None),
    cr.BinaryCrossEntropy: ("bce", ("binary_cross_entropy",), "classification", None, "sigmoid"),
    cr.BCEWithLogits: ("bce_logits", ("bce_with_logits",), "classification", "sigmoid", None),
    cr.SoftmaxCrossEntropy: ("softmax_cross_entropy", ("cross_entropy",), "classification", "softmax", None),
    cr.CategoricalCrossEntropy: ("categorical_cross_entropy", (), "classification", None, "softmax"),
    cr.MultilabelBCE: ("multilabel_bce_logits", (), "classification", "sigmoid", None),
    cr.PoissonDeviance: ("poisson", ("poisson_deviance",), "regression", None, None),
}


@pytest.mark.parametrize("cls", list(FACTS), ids=lambda c: c.__name__)
def test_each_loss_class_carries_its_facts(cls):
    name, aliases, task, applies, fuses = FACTS[cls]
    loss = cls()
    assert (cls.name, tuple(cls.aliases), loss.task, cls.output_activation, cls.fuses) == (
        name,
        aliases,
        task,
        applies,
        fuses,
    )
    assert loss.classification == (task == "classification")
    for key in (name, *aliases, name.upper(), name.replace("_", "-")):
        assert type(cr.get_loss(key)) is cls, key
    assert cr.get_loss(loss) is loss  # an instance passes through


@pytest.mark.parametrize("cls", list(FACTS), ids=lambda c: c.__name__)
def test_formula_strings_are_non_empty_and_take_the_batch_factor(cls):
    for attr in ("formula", "formula_latex", "grad_formula", "grad_latex"):
        text = getattr(cls, attr)
        assert text.strip(), f"{cls.__name__}.{attr} is empty"
        assert "{s}" in text, f"{cls.__name__}.{attr} = {text!r} has no {{s}} for the batch factor"
        filled = text.format(s="1/n·")
        assert "1/n·" in filled and "{s}" not in filled
        assert text.format(s="") != filled


def test_the_registry_covers_every_name_get_loss_takes():
    exported = {getattr(cr, n) for n in cr.__all__ if isinstance(getattr(cr, n), type)}
    exported = {c for c in exported if issubclass(c, Loss) and c is not Loss}
    assert exported == set(FACTS)
    expected = {key: cls for cls, (name, aliases, *_) in FACTS.items() for key in (name, *aliases)}
    assert Loss.registry == expected
    for key, cls in Loss.registry.items():
        assert type(cr.get_loss(key)) is cls


def test_unknown_loss_names_and_reductions_are_refused():
    with pytest.raises(ValueError, match=r"Did you mean 'mse'.*Valid names: .*bce"):
        cr.get_loss("msee")
    with pytest.raises(TypeError, match="name"):
        cr.get_loss(3)
    with pytest.raises(ValueError, match="reduction.*'avg'"):
        cr.MSE(reduction="avg")


def test_backward_before_forward_is_an_error():
    with pytest.raises(RuntimeError, match="before forward"):
        cr.MSE().backward()


def test_bce_target_outside_unit_interval():
    model = cr.Sequential(cr.Dense(2, 1), cr.Sigmoid(), seed=0)
    before = model.get_weights()
    with pytest.raises(ValueError, match=r"\[0, 1\].*2"):
        model.fit(XOR_X, [0, 1, 2, 0], loss="bce")
    logits = cr.Sequential(cr.Dense(2, 1), seed=0)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        logits.fit(XOR_X, [0, 1, -1, 0], loss="bce_logits")
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------------ the Objective: which pairs fuse
@pytest.mark.parametrize(
    "output, loss",
    [
        ("sigmoid", "bce"),
        ("sigmoid", "binary_cross_entropy"),
        ("sigmoid", cr.BinaryCrossEntropy(reduction="sum")),
        ("softmax", "categorical_cross_entropy"),
        ("softmax", cr.CategoricalCrossEntropy()),
    ],
    ids=lambda v: v if isinstance(v, str) else repr(v),
)
def test_probability_losses_fuse_with_their_activation(output, loss):
    model = cr.mlp([3, 4, 2], "tanh", output, seed=0)
    objective = model.objective(loss)
    assert objective.fused is model.layers[-1]
    assert cr.Objective(loss, model.layers).fused is model.layers[-1]
    assert f"fused with the final {type(model.layers[-1]).__name__}" in objective.describe()


@pytest.mark.parametrize(
    "output, loss",
    [
        (None, "mse"),
        (None, "sse"),
        (None, "bce_logits"),
        (None, "softmax_cross_entropy"),
        ("sigmoid", "mse"),
        ("sigmoid", "sse"),
        ("softmax", "mse"),
        ("tanh", "sse"),
        (None, "bce"),
        ("tanh", "categorical_cross_entropy"),
    ],
)
def test_other_accepted_pairs_are_not_fused(output, loss):
    model = cr.mlp([3, 4, 2], "tanh", output, seed=0)
    objective = model.objective(loss)
    assert objective.fused is None
    assert "fused" not in objective.describe()


def test_summary_shows_how_the_loss_meets_the_output_once_the_model_has_a_loss():
    model = cr.mlp([2, 3, 1], "tanh", "sigmoid", seed=0)
    assert "loss" not in model.summary()
    model.fit(XOR_X, [0, 1, 1, 0], loss="bce", optimizer=cr.SGD(lr=0.1), epochs=1)
    lines = [line for line in model.summary().splitlines() if "loss" in line]
    assert len(lines) == 1 and "bce fused with the final Sigmoid" in lines[0] and "(p − y)" in lines[0]


# ------------------------------------------------------------------ the Objective: pairs that squash twice
# final activation, loss on logits -> the fix the message must name
DOUBLE = {
    ("softmax", "softmax_cross_entropy"): "drop the final Softmax, or use categorical_cross_entropy",
    ("sigmoid", "bce_logits"): "drop the final Sigmoid, or use bce",
    ("sigmoid", "softmax_cross_entropy"): "drop the final Sigmoid, or use bce",
    ("softmax", "bce_logits"): "drop the final Softmax, or use categorical_cross_entropy",
}


def double_setup(output, loss):
    rng = np.random.default_rng(0)
    model = cr.mlp([3, 4, 2], "tanh", output, seed=0)
    X = rng.normal(size=(5, 3))
    y = rng.integers(0, 2, size=5) if loss == "softmax_cross_entropy" else rng.integers(0, 2, size=(5, 2)) * 1.0
    return model, X, y


ENTRY_POINTS = {
    "fit": lambda model, X, y, loss: model.fit(X, y, loss=loss, optimizer=cr.SGD(lr=0.1), epochs=2),
    "evaluate": lambda model, X, y, loss: model.evaluate(X, y, loss=loss),
    "explain": lambda model, X, y, loss: cr.explain(model, X, y, loss, lr=0.1, apply=True),
    "gradcheck": lambda model, X, y, loss: cr.gradcheck(model, X, y, loss),
    "objective": lambda model, X, y, loss: cr.Objective(loss, model.layers),
}


@pytest.mark.parametrize("entry", list(ENTRY_POINTS))
@pytest.mark.parametrize("output, loss", list(DOUBLE))
def test_double_squashing_is_refused_naming_the_fix_before_anything_changes(output, loss, entry):
    model, X, y = double_setup(output, loss)
    before = model.flat_params.copy()
    with pytest.raises(ValueError, match="squashed twice") as info:
        ENTRY_POINTS[entry](model, X, y, loss)
    message = str(info.value)
    assert DOUBLE[output, loss].lower() in message.lower(), message
    assert loss in message
    np.testing.assert_array_equal(model.flat_params, before)
    assert model.loss_ is None and model.optimizer_ is None and model.epochs_trained_ == 0


def test_a_refused_fit_keeps_the_loss_and_optimiser_of_the_last_one():
    model, X, y = double_setup("softmax", "softmax_cross_entropy")
    model.fit(X, y, loss="categorical_cross_entropy", optimizer=cr.Adam(lr=0.01), epochs=2)
    loss, opt, before = model.loss_, model.optimizer_, model.flat_params.copy()
    moments = opt.state[0]["m"].copy()
    with pytest.raises(ValueError, match="categorical_cross_entropy"):
        model.fit(X, y, loss="softmax_cross_entropy", epochs=4)
    assert model.loss_ is loss and model.optimizer_ is opt and opt.t == 2 and model.epochs_trained_ == 2
    np.testing.assert_array_equal(model.flat_params, before)
    np.testing.assert_array_equal(opt.state[0]["m"], moments)


# ------------------------------------------------------------------ the fused step, by hand
def test_sigmoid_output_with_bce_steps_by_p_minus_y():
    # One SGD step of Dense(2, 1) + Sigmoid on BCE, by hand: ∂L/∂z = (σ(z) − y)/n, dW = Xᵀ·∂L/∂z.
    X = np.array([[1.0, 2.0], [-1.0, 0.5], [0.3, -0.7]])
    y = np.array([[1.0], [0.0], [1.0]])
    W, b, lr = np.array([[0.2], [-0.4]]), np.array([0.1]), 0.5
    z = X @ W + b
    p = 1 / (1 + np.exp(-z))
    dz = (p - y) / len(X)
    expected = [W - lr * X.T @ dz, b - lr * dz.sum(axis=0)]
    model = cr.Sequential(cr.Dense(2, 1), cr.Sigmoid())
    model.set_weights([W, b])
    model.fit(X, y, loss="bce", optimizer=cr.SGD(lr=lr), epochs=1)
    for got, want in zip(model.get_weights(), expected):
        np.testing.assert_allclose(got, want, rtol=1e-14, atol=1e-16)


def test_a_saturated_sigmoid_output_still_learns_under_bce():
    # z = 40: σ(z) rounds to 1.0, so ∂L/∂p (of the clipped log) times σ'(z) = p(1 − p) = 0 is exactly zero,
    # while the true gradient of −log(1 − σ(z)) for y = 0 is σ(z) − y ≈ 1.
    X, y = np.array([[1.0]]), np.array([[0.0]])
    model = cr.Sequential(cr.Dense(1, 1), cr.Sigmoid())
    model.set_weights([np.array([[39.0]]), np.array([1.0])])
    model.forward(X)
    dp = cr.get_loss("bce").value_and_grad(model.forward(X), y)[1]
    model.backward(dp)  # the step-by-step chain: nothing reaches the weights
    assert model.layers[0].grads["W"][0, 0] == 0.0
    model.fit(X, y, loss="bce", optimizer=cr.SGD(lr=0.5), epochs=1)
    np.testing.assert_allclose(model.get_weights()[0], [[39.0 - 0.5 * 1.0]], rtol=1e-15)


def test_a_fused_fit_step_is_p_minus_y_over_n_at_saturation_for_a_batch():
    # z = 39·x + 1: 40 for x = 1 (σ rounds to 1.0 in float64), −38 for x = −1 (σ ≈ 3e−17)
    assert 1 / (1 + math.exp(-40.0)) == 1.0
    x, y, w, b, lr = [1.0, -1.0], [0.0, 1.0], 39.0, 1.0, 0.5
    dz = [(sig(w * xi + b) - yi) / 2 for xi, yi in zip(x, y)]  # (p − y)/n
    dW = sum(xi * d for xi, d in zip(x, dz))
    db = sum(dz)
    model = cr.Sequential(cr.Dense(1, 1, W=[[w]], b=[b]), cr.Sigmoid())
    model.fit(np.array([x]).T, y, loss="bce", optimizer=cr.SGD(lr=lr), epochs=1)
    W, B = model.get_weights()
    assert W[0, 0] == pytest.approx(w - lr * dW, rel=1e-14)
    assert B[0] == pytest.approx(b - lr * db, abs=1e-15)
    assert W[0, 0] == pytest.approx(38.5, abs=1e-12)  # dW = (1·1 + (−1)·(−1))/2 = 1


def test_a_fused_softmax_step_is_p_minus_y_at_saturation():
    # logits (40, 0): softmax = (1/(1 + e^−40), e^−40/(1 + e^−40)) = (1.0, 4.2e−18) in float64; label 1.
    p = [1 / (1 + math.exp(-40)), math.exp(-40) / (1 + math.exp(-40))]
    assert p[0] == 1.0 and p[1] < np.finfo(float).eps  # the clipped −1/p would give the wrong gradient
    dz = [p[0] - 0.0, p[1] - 1.0]  # x = 1, n = 1: dW = x·dz, db = dz
    lr = 0.5
    model = cr.Sequential(cr.Dense(1, 2, W=[[40.0, 0.0]], b=[0.0, 0.0]), cr.Softmax())
    model.fit(np.array([[1.0]]), [1], loss="categorical_cross_entropy", optimizer=cr.SGD(lr=lr), epochs=1)
    W, B = model.get_weights()
    np.testing.assert_allclose(W, [[40.0 - lr * dz[0], 0.0 - lr * dz[1]]], rtol=1e-15)
    np.testing.assert_allclose(B, [-lr * dz[0], -lr * dz[1]], rtol=1e-15)


@pytest.mark.parametrize("labels", ["integers", "soft"])
def test_softmax_output_with_categorical_ce_trains_as_softmax_ce_on_logits(labels):
    # The same maths two ways: a Softmax layer with cross-entropy on probabilities, and logits with the
    # fused loss. After a few Adam steps the weights must agree to rounding.
    rng = np.random.default_rng(4)
    X = rng.normal(size=(12, 3))
    y = rng.integers(0, 4, 12) if labels == "integers" else rng.dirichlet(np.ones(4), size=12)
    probs = cr.Sequential(cr.Dense(3, 5), cr.Tanh(), cr.Dense(5, 4), cr.Softmax(), seed=2)
    logits = cr.Sequential(cr.Dense(3, 5), cr.Tanh(), cr.Dense(5, 4), seed=2)
    logits.set_weights(probs.get_weights())
    probs.fit(X, y, loss="categorical_cross_entropy", optimizer=cr.Adam(lr=0.05), epochs=5, batch_size=4, seed=1)
    logits.fit(X, y, loss="softmax_cross_entropy", optimizer=cr.Adam(lr=0.05), epochs=5, batch_size=4, seed=1)
    for a, b in zip(probs.get_weights(), logits.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
