"""explain: every number checked against values computed here, by hand (math.exp) or with PyTorch autograd.

The hand-worked tests need only NumPy; each PyTorch comparison skips on its own where torch is missing.
"""

import math
import re

import numpy as np
import pytest

import chainrule as cr
from chainrule.explain import EXAMPLES, MAX_BATCH, MAX_DETAIL_PARAMS, from_layers


def sig(z: float) -> float:
    return 1 / (1 + math.exp(-z))


def run(name: str, apply: bool = False) -> tuple[cr.Sequential, cr.Explanation]:
    model, X, y, loss, lr = EXAMPLES[name]()
    return model, cr.explain(model, X, y, loss, lr=lr, apply=apply)


def grads_of(ex) -> list[np.ndarray]:
    return [g for bk in ex.backward for g in (bk.dW, bk.db)]


def new_weights(ex) -> list[np.ndarray]:
    return [up.new for up in ex.updates]


def same(mine, theirs, what: str, rtol: float = 1e-10, atol: float = 1e-15) -> None:
    """Relative agreement, with "mine vs theirs" in the failure message (atol only for entries that cancel to ~0)."""
    mine, theirs = np.asarray(mine, dtype=np.float64), np.asarray(theirs, dtype=np.float64)
    assert mine.shape == theirs.shape, f"{what}: shape mine {mine.shape} vs theirs {theirs.shape}"
    assert np.allclose(mine, theirs, rtol=rtol, atol=atol), f"{what}: mine {mine.tolist()} vs theirs {theirs.tolist()}"


def torch_step(model: cr.Sequential, X, y, loss: str, lr: float) -> dict:
    """The same network's step by PyTorch autograd (float64): every z and a, the loss, every δ = ∂L/∂z, ∂L/∂W,
    ∂L/∂b, ∂L/∂a(l−1) and the SGD-updated weights."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    acts = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu, "identity": lambda z: z,
            "softmax": lambda z: torch.softmax(z, dim=1)}  # fmt: skip
    names = []
    for layer in model.layers:  # each Dense, then the name of the activation after it ("identity" if none)
        if isinstance(layer, cr.Dense):
            names.append("identity")
        else:
            names[-1] = layer.name
    params = [torch.tensor(w, dtype=torch.float64, requires_grad=True) for w in model.get_weights()]
    a = torch.tensor(np.asarray(X, dtype=np.float64), requires_grad=True)
    inputs, zs, outs = [a], [], []
    for W, b, name in zip(params[::2], params[1::2], names):
        z = a @ W + b
        z.retain_grad()
        a = acts[name](z)
        a.retain_grad()
        inputs.append(a)
        zs.append(z)
        outs.append(a)
    n, k = a.shape
    y = np.asarray(y)
    if loss in ("categorical_cross_entropy", "softmax_cross_entropy") and y.ndim == 1:
        Y = F.one_hot(torch.tensor(y, dtype=torch.int64), k).to(torch.float64)
    else:
        Y = torch.tensor(y.reshape(n, k), dtype=torch.float64)
    if loss == "sse":
        L = 0.5 * ((a - Y) ** 2).sum() / n
    elif loss == "mse":
        L = ((a - Y) ** 2).mean()
    elif loss == "bce":
        L = F.binary_cross_entropy(a, Y)
    elif loss == "bce_sum":
        L = F.binary_cross_entropy(a, Y, reduction="sum")
    elif loss == "categorical_cross_entropy":
        L = -(Y * torch.log(a)).sum() / n
    elif loss == "softmax_cross_entropy":
        L = F.cross_entropy(zs[-1], Y)
    else:
        raise AssertionError(f"no PyTorch twin for {loss!r}")
    L.backward()
    grads = [p.grad.numpy() for p in params]
    return {
        "value": L.item(),
        "z": [z.detach().numpy() for z in zs],
        "a": [a.detach().numpy() for a in outs],
        "delta": [z.grad.numpy() for z in zs],
        "da_prev": [x.grad.numpy() for x in inputs[:-1]],
        "grads": grads,
        "updated": [p.detach().numpy() - lr * g for p, g in zip(params, grads)],
    }


def assert_matches_torch(ex: cr.Explanation, theirs: dict) -> None:
    """Every number of explain's trace against the PyTorch twin, to 1e-10 relative."""
    assert len(ex.forward) == len(theirs["z"])
    for f, z, a in zip(ex.forward, theirs["z"], theirs["a"]):
        same(f.z, z, f"z({f.layer})")
        same(f.a, a, f"a({f.layer})")
    same(ex.loss.value, theirs["value"], "L")
    for bk, delta, da_prev in zip(ex.backward, theirs["delta"], theirs["da_prev"]):
        same(bk.delta, delta, f"δ({bk.layer})")
        same(bk.da_prev, da_prev, f"∂L/∂a({bk.layer - 1})")
    names = [f"∂L/∂{p}({bk.layer})" for bk in ex.backward for p in "Wb"]
    for name, mine, grad in zip(names, grads_of(ex), theirs["grads"], strict=True):
        same(mine, grad, name)
    for up, new in zip(ex.updates, theirs["updated"], strict=True):
        same(up.new, new, f"{up.param}({up.layer}) after SGD")


def test_single_neuron_reproduces_the_hand_calculation():
    x, y, w, b, lr = 0.5, 1.5, 0.3, 0.1, 0.1
    y_hat = sig(w * x + b)
    dw = (y_hat - y) * y_hat * (1 - y_hat) * x
    db = (y_hat - y) * y_hat * (1 - y_hat)
    _, ex = run("single-neuron")
    assert ex.forward[0].a[0, 0] == pytest.approx(y_hat, rel=1e-12)
    assert ex.loss.value == pytest.approx(0.5 * (y - y_hat) ** 2, rel=1e-12)
    assert ex.backward[0].dW[0, 0] == pytest.approx(dw, rel=1e-12)
    assert ex.backward[0].db[0] == pytest.approx(db, rel=1e-12)
    w_new, b_new = (float(up.new.ravel()[0]) for up in ex.updates)
    assert w_new == pytest.approx(w - lr * dw, rel=1e-12)
    assert (round(y_hat, 5), round(ex.loss.value, 5)) == (0.56218, 0.43976)
    assert (round(dw, 5), round(db, 5), round(w_new, 5), round(b_new, 5)) == (-0.11542, -0.23083, 0.31154, 0.12308)
    # the chain rule, factor by factor: dL/dŷ · σ'(z) · x
    term = next(t for t in ex.chain if t.param == "W")
    assert [v for _, v in term.factors[0]] == pytest.approx([y_hat - y, y_hat * (1 - y_hat), x], rel=1e-12)
    text = ex.to_text()
    for number in ("0.56218", "0.43976", "-0.11542", "-0.23083", "0.31154", "0.12308"):
        assert number in text


def test_two_neurons_by_hand():
    x, y, lr = 0.5, 1.5, 0.1
    w1, b1, w2, b2 = 0.3, 0.1, 0.5, 0.4
    a1 = sig(w1 * x + b1)
    a2 = sig(w2 * a1 + b2)
    d2 = (a2 - y) * a2 * (1 - a2)
    d1 = d2 * w2 * a1 * (1 - a1)
    _, ex = run("two-neurons")
    assert ex.loss.value == pytest.approx(0.5 * (y - a2) ** 2, rel=1e-12)
    expected = [d1 * x, d1, d2 * a1, d2]
    np.testing.assert_allclose([float(g.ravel()[0]) for g in grads_of(ex)], expected, rtol=1e-12)
    assert ex.backward[1].da_prev[0, 0] == pytest.approx(d2 * w2, rel=1e-12)
    np.testing.assert_allclose(
        [float(w.ravel()[0]) for w in new_weights(ex)],
        [w1 - lr * d1 * x, b1 - lr * d1, w2 - lr * d2 * a1, b2 - lr * d2],
    )


@pytest.mark.parametrize("name", ["mlp-2-3-2", "bce-neuron", "two-two-two", "two-neurons", "single-neuron"])
def test_examples_match_pytorch_autograd(name):
    model, X, y, loss, lr = EXAMPLES[name]()
    theirs = torch_step(model, X, y, loss, lr)
    ex = cr.explain(model, X, y, loss, lr=lr)
    assert_matches_torch(ex, theirs)
    assert ex.gradcheck_error < 1e-6


RNG_X = np.random.default_rng(11).normal(size=(4, 3))

NETWORKS = {
    # name: (model builder, y, loss name, loss as passed to explain, lr)
    "tanh-tanh-sigmoid, bce (fused)": (
        lambda: cr.mlp([3, 4, 3, 2], "tanh", "sigmoid", seed=5),
        np.array([[1, 0], [0, 0], [1, 1], [0, 1]]), "bce", "bce", 0.3,
    ),
    "tanh-sigmoid, bce summed (fused)": (
        lambda: cr.mlp([3, 4, 2], "tanh", "sigmoid", seed=6),
        np.array([[1, 0], [0, 0], [1, 1], [0, 1]]), "bce_sum", cr.BinaryCrossEntropy(reduction="sum"), 0.1,
    ),
    "relu-identity, mse": (
        lambda: cr.mlp([3, 5, 2], "relu", None, seed=7),
        np.array([[0.5, -1.0], [2.0, 0.1], [-0.3, 0.7], [1.5, 1.5]]), "mse", "mse", 0.2,
    ),
    "tanh-softmax, categorical_cross_entropy (fused)": (
        lambda: cr.mlp([3, 4, 3], "tanh", "softmax", seed=8),
        np.array([0, 2, 1, 2]), "categorical_cross_entropy", "categorical_cross_entropy", 0.5,
    ),
    "relu-logits, softmax_cross_entropy": (
        lambda: cr.mlp([3, 5, 3], "relu", None, seed=9),
        np.array([1, 0, 2, 2]), "softmax_cross_entropy", "softmax_cross_entropy", 0.5,
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", list(NETWORKS))
def test_tanh_relu_and_softmax_networks_match_pytorch_autograd(name):
    build, y, twin_loss, loss, lr = NETWORKS[name]
    model = build()
    theirs = torch_step(model, RNG_X, y, twin_loss, lr)
    ex = cr.explain(model, RNG_X, y, loss, lr=lr)
    assert ex.backward[-1].fused == ("fused" in name)
    assert_matches_torch(ex, theirs)


@pytest.mark.parametrize("name", list(NETWORKS))
def test_networks_text_fits_80_columns_and_markdown_balances(name):
    build, y, _, loss, lr = NETWORKS[name]
    ex = cr.explain(build(), RNG_X, y, loss, lr=lr)
    for precision in (3, 5, 8):
        assert max(map(len, ex.to_text(precision).splitlines())) <= 80
        check_latex(ex.to_markdown(precision))


def test_saturated_neuron_moves_by_the_true_gradient():
    """σ(45) rounds to 1 in float64, so ∂L/∂ŷ · σ'(z) taken as a product is 0 for the first sample; the fused
    step δ = (p − y)/n is not, and explain, fit and the hand calculation all move each weight by about 0.5."""
    X, y = np.array([[1.0, 1.0], [0.5, 0.2]]), np.array([0.0, 1.0])

    def neuron():
        return cr.Sequential(cr.Dense(2, 1, W=[[20], [20]], b=[5]), cr.Sigmoid())

    z = [1 * 20 + 1 * 20 + 5, 0.5 * 20 + 0.2 * 20 + 5]
    assert z == [45, 19]
    delta = [(sig(z[0]) - 0) / 2, (sig(z[1]) - 1) / 2]
    dW = [1 * delta[0] + 0.5 * delta[1], 1 * delta[0] + 0.2 * delta[1]]
    db = delta[0] + delta[1]
    expected = [np.array([[20 - dW[0]], [20 - dW[1]]]), np.array([5 - db])]

    shown, trained = neuron(), neuron()
    ex = cr.explain(shown, X, y, "bce", lr=1.0, apply=True)
    trained.fit(X, y, loss="bce", optimizer=cr.SGD(lr=1.0), epochs=1, batch_size=None, shuffle=False)
    for mine, fitted, hand in zip(shown.get_weights(), trained.get_weights(), expected, strict=True):
        assert np.array_equal(mine, fitted), f"explain {mine.tolist()} vs fit {fitted.tolist()}"
        same(mine, hand, "weights after one step (explain vs hand)", rtol=1e-12)
    same(ex.backward[0].delta.ravel(), delta, "δ (mine vs hand)", rtol=1e-12)
    assert np.all(np.abs(shown.get_weights()[0] - 20) > 0.49)  # moved by ≈ 0.5, not 0
    assert ex.backward[0].fused
    shown_delta = ex.to_text().split("δ(1) = ∂L/∂z(1)")[1].split("holds")[0]
    assert re.search(rf"\[\s*{delta[0]:.5f}\]\s*\[\s*{delta[1]:.3e}\]", shown_delta), shown_delta  # 0.5, not 0


@pytest.mark.parametrize(
    ("last", "n_out", "loss", "y", "fix"),
    [
        (cr.Softmax, 3, "softmax_cross_entropy", [0, 2], "Drop the final Softmax, or use categorical_cross_entropy."),
        (cr.Sigmoid, 1, "bce_logits", [0, 1], "Drop the final Sigmoid, or use bce."),
    ],
)
def test_double_squashing_is_refused_before_anything_changes(last, n_out, loss, y, fix):
    model = cr.Sequential(cr.Dense(2, n_out), last(), seed=0)
    X = np.array([[0.5, -1.0], [1.5, 0.25]])
    model.forward(X)
    model.backward(np.full((2, n_out), 0.25))
    before = snapshot(model)
    with pytest.raises(ValueError, match="squashed twice") as err:
        cr.explain(model, X, y, loss, lr=0.1, apply=True)
    assert fix in str(err.value)
    assert_same(model, before)


def snapshot(model: cr.Sequential) -> list[np.ndarray]:
    return [a.copy() for layer in model.layers for d in (layer.params, layer.grads) for a in d.values()]


def assert_same(model: cr.Sequential, before: list[np.ndarray]) -> None:
    after = snapshot(model)
    assert len(after) == len(before)
    for a, b in zip(before, after):
        assert np.array_equal(a, b), f"changed: {a.tolist()} became {b.tolist()}"


@pytest.mark.parametrize("name", list(NETWORKS))
def test_fused_and_plain_networks_change_only_when_applied(name):
    build, y, _, loss, lr = NETWORKS[name]
    model = build()
    model.forward(RNG_X)  # gradients of the model's own first
    model.backward(np.full((len(RNG_X), model.n_out), 0.25))
    before = snapshot(model)
    cr.explain(model, RNG_X, y, loss, lr=lr)
    assert_same(model, before)
    grads = [g.copy() for layer in model.layers for g in layer.grads.values()]
    ex = cr.explain(model, RNG_X, y, loss, lr=lr, apply=True)
    for w, up in zip(model.get_weights(), ex.updates, strict=True):
        assert np.array_equal(w, up.new)
    assert all(np.array_equal(g, h) for g, h in zip(grads, (g for la in model.layers for g in la.grads.values())))


def test_bce_neuron_shows_the_fused_step_in_text_and_markdown():
    """ŷ = σ(0.7·0.4 + (−1.3)·(−0.2) + 0.05) = σ(0.59); with n = 1, δ = ŷ − y = ŷ − 1, no ∂L/∂a ∘ f'(z)."""
    delta = sig(0.7 * 0.4 + (-1.3) * (-0.2) + 0.05) - 1.0
    d = f"{delta:.5f}"
    assert d == "-0.35663"
    _, ex = run("bce-neuron")
    text = ex.to_text()
    block = text.split("Layer 1 (sigmoid)")[1].split("CHAIN RULE")[0]
    assert f"  ŷ − y = [{d}]" in block
    assert f"  δ(1) = ∂L/∂z(1) = 1/n·(ŷ − y) = 1/1·(ŷ − y) = [{d}]" in block
    assert "sigmoid and bce are taken as one step" in " ".join(block.split())
    assert "∂L/∂a(1)" not in block and "f'(z(1)) =" not in block  # no product, no f'(z) for this block
    header = text.split("CHAIN RULE")[1]
    assert "fused and softmax blocks use δ · a_in" in header
    assert f"  ∂L/∂W(1)[1,1] = {d} · 0.70000 = {0.7 * delta:.5f}" in header
    md = ex.to_markdown()
    section = md.split("**Layer 1** (sigmoid), fused with the loss:")[1].split("#### Chain rule")[0]
    assert "> sigmoid and bce are taken as one step" in section
    assert rf"$$\hat y - y = \begin{{bmatrix}} {d} \end{{bmatrix}}$$" in section
    delta_tex = r"\delta^{(1)} = \frac{\partial L}{\partial z^{(1)}} = \frac{1}{n}(\hat y - y) = "
    delta_tex += r"\frac{1}{1}(\hat y - y)"
    assert rf"$${delta_tex} = \begin{{bmatrix}} {d} \end{{bmatrix}}$$" in section
    assert r"\circ f'" not in section and r"\partial a^{(1)}" not in section
    assert rf"\delta^{{(1)}}_{{1}} \cdot a^{{(0)}}_{{1}} = {d} \cdot 0.70000" in md  # δ · a_in, not three factors
    check_latex(md)


def test_fused_softmax_block_shows_p_minus_y_with_the_batch_factor_in_text_and_markdown():
    """tanh-softmax under categorical cross-entropy, n = 4: δ = 1/4·(softmax(z) − onehot(y)), from z by hand;
    the same digits in the text and the Markdown at each precision."""
    build, y, _, loss, lr = NETWORKS["tanh-softmax, categorical_cross_entropy (fused)"]
    ex = cr.explain(build(), RNG_X, y, loss, lr=lr)
    z = ex.forward[-1].z
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    residual = p - np.eye(3)[y]
    same(ex.loss.residual, residual, "ŷ − y (mine vs hand)")
    same(ex.backward[-1].delta, residual / 4, "δ (mine vs hand)")
    for precision in (5, 8):
        text, md = ex.to_text(precision), ex.to_markdown(precision)
        block = text.split("Layer 2 (softmax)")[1].split("Layer 1 (tanh)")[0]
        assert "ŷ − y (y one-hot) =" in block and "1/n·(ŷ − y) = 1/4·(ŷ − y) =" in block
        assert "∂L/∂a(2) (from the loss)" not in block
        section = md.split("**Layer 2** (softmax), fused with the loss:")[1].split("**Layer 1**")[0]
        assert r"\frac{1}{n}(\hat y - y) = \frac{1}{4}(\hat y - y)" in section
        for rows, label in ((residual, "ŷ − y"), (residual / 4, "δ")):
            for row in rows:
                cells = [f"{v:.{precision}f}" for v in row]
                assert " & ".join(cells) in section, f"{label} row {cells} missing from the Markdown"
                assert re.search(r"\s+".join(re.escape(c) for c in cells), block), f"{label} row {cells} not in text"


def test_sum_reduction_fused_step_has_no_batch_factor():
    build, y, _, loss, lr = NETWORKS["tanh-sigmoid, bce summed (fused)"]
    ex = cr.explain(build(), RNG_X, y, loss, lr=lr)
    p = 1 / (1 + np.exp(-ex.forward[-1].z))
    same(ex.backward[-1].delta, p - y, "δ = ŷ − y (mine vs hand)")
    text = ex.to_text()
    assert "δ(2) = ∂L/∂z(2) = ŷ − y =" in text and "1/n·" not in text.split("BACKWARD")[1]


def test_bce_neuron_gradient_is_prediction_minus_target_times_input():
    x, w, b, y = np.array([0.7, -1.3]), np.array([0.4, -0.2]), 0.05, 1.0
    y_hat = sig(float(x @ w) + b)
    _, ex = run("bce-neuron")
    np.testing.assert_allclose(ex.backward[0].dW.ravel(), (y_hat - y) * x, rtol=1e-12)
    assert ex.backward[0].delta[0, 0] == pytest.approx(y_hat - y, rel=1e-12)
    assert "(ŷ − y)·x" in ex.to_text()


def test_two_two_two_one_step():
    model, ex = run("two-two-two", apply=True)
    W1, _, W2, _ = model.get_weights()
    np.testing.assert_allclose(
        [W2[0, 0], W2[1, 0], W2[0, 1], W2[1, 1]], [0.35891648, 0.408666186, 0.511301270, 0.561370121], atol=1e-9
    )
    np.testing.assert_allclose(
        [W1[0, 0], W1[1, 0], W1[0, 1], W1[1, 1]], [0.149780716, 0.19956143, 0.24975114, 0.29950229], atol=1e-8
    )
    assert ex.loss.value == pytest.approx(0.298371109, abs=1e-9)
    assert ex.applied


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_explain_leaves_the_model_unchanged(name):
    model, X, y, loss, lr = EXAMPLES[name]()
    model.forward(X)  # give the layers caches and gradients of their own first
    model.backward(np.full((1, model.n_out), 0.25))
    before = [a.copy() for layer in model.layers for d in (layer.params, layer.grads) for a in d.values()]
    caches = [layer._cache for layer in model.layers]
    cr.explain(model, X, y, loss, lr=lr)
    after = [a for layer in model.layers for d in (layer.params, layer.grads) for a in d.values()]
    for a, b in zip(before, after):
        assert np.array_equal(a, b)
    assert all(c is layer._cache for c, layer in zip(caches, model.layers))


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_text_fits_80_columns(name):
    _, ex = run(name)
    for precision in (3, 5, 8):
        lines = ex.to_text(precision).splitlines()
        assert max(map(len, lines)) <= 80
    assert "Gradient check" in ex.to_text()


def test_batch_too_large_is_refused_naming_the_limit():
    model = from_layers([2, 3, 1], "sigmoid", "sse", seed=0)
    X = np.zeros((MAX_BATCH + 1, 2))
    with pytest.raises(ValueError, match=f"at most MAX_BATCH = {MAX_BATCH}"):
        cr.explain(model, X, np.zeros(MAX_BATCH + 1), "sse")


def test_a_batch_gets_sums_over_samples():
    model = from_layers([2, 2, 1], "tanh", "mse", seed=3)
    X, y = np.array([[0.1, 0.2], [0.3, -0.4], [1.0, 0.5]]), np.array([0.5, -0.5, 0.2])
    ex = cr.explain(model, X, y, "mse", lr=0.1)
    for term in ex.chain:
        assert len(term.factors) == 3
        assert sum(math.prod(v for _, v in f) for f in term.factors) == pytest.approx(term.value, rel=1e-10)
    assert "sample 3" in ex.to_text()


def test_big_network_gets_the_layer_level_explanation_only():
    model = from_layers([30, 40, 10], "relu", "softmax_cross_entropy", seed=0)
    assert model.n_params > MAX_DETAIL_PARAMS
    X = np.random.default_rng(0).normal(size=(MAX_BATCH, 30))
    ex = cr.explain(model, X, np.arange(MAX_BATCH) % 10, "softmax_cross_entropy", lr=0.1)
    assert ex.chain == []
    text = ex.to_text()
    assert len(text) < 6000
    assert "not listed" in text and "p − y" in text
    assert max(map(len, text.splitlines())) <= 80


class Doubler(cr.Layer):
    def forward(self, X, training=True, keep=True):
        return 2 * X


def test_unsupported_layer_is_a_type_error():
    model = cr.Sequential(cr.Dense(2, 2), Doubler(), seed=0)
    with pytest.raises(TypeError, match="Doubler"):
        cr.explain(model, np.ones((1, 2)), np.ones((1, 2)), "sse")
    model = cr.Sequential(cr.Dense(2, 2), cr.Tanh(), cr.Sigmoid(), seed=0)
    with pytest.raises(TypeError, match="second activation"):
        cr.explain(model, np.ones((1, 2)), np.ones((1, 2)), "sse")


def test_apply_needs_a_learning_rate():
    model, X, y, loss, _ = EXAMPLES["single-neuron"]()
    with pytest.raises(ValueError, match="learning rate"):
        cr.explain(model, X, y, loss, apply=True)


def test_note_when_the_fitted_optimiser_is_not_plain_sgd():
    model, X, y, loss, lr = EXAMPLES["single-neuron"]()
    model.fit(X, y, loss=loss, optimizer=cr.Adam(lr=0.01), epochs=1)
    ex = cr.explain(model, X, y, cr.SSE(), lr=lr)
    assert "Adam" in ex.to_text() and ex.notes


def test_from_layers_builds_the_output_the_loss_expects():
    assert isinstance(from_layers([2, 3, 2], "sigmoid", "sse", 0).layers[-1], cr.Sigmoid)
    assert isinstance(from_layers([2, 3, 1], "tanh", "bce", 0).layers[-1], cr.Sigmoid)
    assert isinstance(from_layers([2, 3, 2], "relu", "softmax_cross_entropy", 0).layers[-1], cr.Dense)
    a, b = from_layers([2, 3, 2], "sigmoid", "sse", 7), from_layers([2, 3, 2], "sigmoid", "sse", 7)
    assert all(np.array_equal(u, v) for u, v in zip(a.get_weights(), b.get_weights()))


def test_module_is_callable_and_exported():
    model, X, y, loss, lr = EXAMPLES["single-neuron"]()
    assert isinstance(cr.explain(model, X, y, loss), cr.Explanation)
    assert cr.explain.explain is not None and "single-neuron" in cr.explain.EXAMPLES
    assert "explain" in cr.__all__ and "Explanation" in cr.__all__


def check_latex(md: str) -> None:
    """Every $$…$$ and $…$ closes, and inside each formula braces, \\left/\\right and \\begin/\\end balance."""
    formulas = []
    for line in md.splitlines():
        assert line.count("$$") % 2 == 0, line
        blocks = line.split("$$")
        formulas += blocks[1::2]
        for outside in blocks[0::2]:
            assert outside.count("$") % 2 == 0, line
            formulas += outside.split("$")[1::2]
    assert formulas
    for f in formulas:
        depth = 0
        for ch in f.replace(r"\{", "").replace(r"\}", ""):
            depth += {"{": 1, "}": -1}.get(ch, 0)
            assert depth >= 0, f
        assert depth == 0, f
        assert f.count(r"\left") == f.count(r"\right"), f
        assert f.count(r"\begin{") == f.count(r"\end{"), f


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_markdown_formulas_are_balanced(name):
    _, ex = run(name)
    md = ex.to_markdown()
    check_latex(md)
    assert ex._repr_markdown_() == md
    assert ex._repr_html_().startswith("<div")


def test_markdown_of_large_and_softmax_networks_is_balanced_and_bounded():
    model = from_layers([30, 40, 10], "relu", "softmax_cross_entropy", seed=0)
    ex = cr.explain(model, np.ones((4, 30)), [0, 1, 2, 3], "softmax_cross_entropy", lr=0.1)
    check_latex(ex.to_markdown())
    assert len(ex.to_markdown()) < 8000
    model = from_layers([3, 2, 3], "leaky_relu", "categorical_cross_entropy", seed=1)
    check_latex(cr.explain(model, np.ones((2, 3)), [0, 2], "categorical_cross_entropy", lr=0.1).to_markdown())


@pytest.mark.parametrize("name", ["two-two-two", "mlp-2-3-2"])
def test_diagrams_are_png_of_the_documented_size(name, tmp_path):
    image = pytest.importorskip("matplotlib.image")
    from chainrule.explain.diagram import FIGURE_PX

    _, ex = run(name)
    paths = ex.save_diagrams(tmp_path / "out")
    assert [p.name for p in paths] == ["forward.png", "backward.png"]
    for p in paths:
        assert p.stat().st_size > 0
        assert image.imread(p).shape[:2] == (FIGURE_PX[1], FIGURE_PX[0])


def test_diagrams_without_matplotlib_say_how_to_install(monkeypatch, tmp_path):
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    monkeypatch.setitem(sys.modules, "matplotlib.backends.backend_agg", None)
    _, ex = run("single-neuron")
    with pytest.raises(ImportError, match=r'pip install "chainrule\[cli\]"'):
        ex.save_diagrams(tmp_path)
    assert "0.56218" in ex.to_text()


@pytest.mark.parametrize("loss", ["categorical_cross_entropy", "softmax_cross_entropy"])
def test_softmax_cross_entropy_delta_is_p_minus_y(loss):
    model = from_layers([3, 2, 3], "tanh", loss, seed=1)
    X, labels = np.array([[0.2, -0.1, 0.4], [1.0, 0.3, -0.7]]), [0, 2]
    ex = cr.explain(model, X, labels, loss)
    z = ex.forward[-1].z
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(ex.backward[-1].delta, (p - np.eye(3)[labels]) / 2, rtol=1e-10, atol=1e-14)
    assert "p − y" in " ".join(ex.to_text().split())


def output_labels(ex, precision: int = 8) -> tuple[list[str], list[float]]:
    """The ∂L/∂ŷ texts beside the output neurons of the backward diagram (in order), and their numbers."""
    pytest.importorskip("matplotlib")
    from chainrule.explain.diagram import draw

    fig = draw(ex, backward=True, precision=precision)
    texts = {t.get_gid(): t.get_text() for t in fig.axes[0].texts if (t.get_gid() or "").startswith("dL_dyhat_")}
    labels = [texts[f"dL_dyhat_{j}"] for j in range(1, len(texts) + 1)]
    return labels, [float(t.split("=")[1]) for t in labels]


def test_backward_diagram_labels_each_output_of_the_worked_2_2_2_example():
    """Mazur's "A Step by Step Backpropagation Example": out_o1 = 0.75136507, out_o2 = 0.772928465, so with
    E = Σ ½(target − out)² the gradients are ∂E/∂out_o1 = 0.74136507 and ∂E/∂out_o2 = −0.217071535."""
    _, ex = run("two-two-two")
    labels, values = output_labels(ex)
    assert [t.split(" =")[0] for t in labels] == ["∂L/∂ŷ₁", "∂L/∂ŷ₂"]
    np.testing.assert_allclose(values, [0.74136507, -0.217071535], rtol=1e-7)


def test_backward_diagram_output_labels_match_pytorch_for_a_batch():
    """A 3-4-2 tanh network with MSE on 3 samples: ∂L/∂ŷ of the first sample, by autograd."""
    torch = pytest.importorskip("torch")
    model = from_layers([3, 4, 2], "tanh", "mse", seed=2)
    X = np.array([[0.5, -1.0, 2.0], [0.1, 0.2, 0.3], [-1.5, 0.4, 0.0]])
    Y = np.array([[1.0, -0.5], [0.0, 0.3], [0.2, 0.9]])
    params = [torch.tensor(w, dtype=torch.float64, requires_grad=True) for w in model.get_weights()]
    a = torch.tensor(X, dtype=torch.float64)
    for W, b in zip(params[::2], params[1::2]):
        a = torch.tanh(a @ W + b)
    a.retain_grad()
    ((a - torch.tensor(Y)) ** 2).mean().backward()  # mean over the n·k = 6 entries
    expected = a.grad[0].numpy()
    _, values = output_labels(cr.explain(model, X, Y, "mse"), precision=8)
    assert len(values) == 2
    np.testing.assert_allclose(values, expected, rtol=1e-7)


def test_backward_diagram_output_labels_stay_readable_with_many_outputs():
    """10 outputs: the 8 drawn ones are labelled, inside the figure, without overlapping each other or the
    neurons; the other two are counted. Targets just above ŷ make the longest numbers (−1.23e-05)."""
    pytest.importorskip("matplotlib")
    from chainrule.explain.diagram import FIGURE_PX, draw

    model = from_layers([4, 8, 10], "sigmoid", "sse", seed=0)
    X = np.array([[0.3, -0.2, 0.8, 1.0]])
    ex = cr.explain(model, X, model.predict(X) + 1.234567e-5, "sse")
    labels, values = output_labels(ex, precision=3)
    assert [t.split(" =")[0] for t in labels] == [f"∂L/∂ŷ{s}" for s in "₁₂₃₄₅₆₇₈"]
    assert values == [-1.23e-05] * 8
    fig = draw(ex, backward=True, precision=3)
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[0]
    boxes = [t.get_window_extent(renderer) for t in ax.texts if (t.get_gid() or "").startswith("dL_dyhat_")]
    circles = [p.get_window_extent(renderer) for p in ax.patches]
    for i, box in enumerate(boxes):
        assert 0 <= box.x0 and box.x1 <= FIGURE_PX[0] and 0 <= box.y0 and box.y1 <= FIGURE_PX[1]
        assert not any(box.overlaps(other) for other in boxes[i + 1 :])
        assert not any(box.overlaps(c) for c in circles)
    assert not any(a.overlaps(b) for i, a in enumerate(circles) for b in circles[i + 1 :])
    assert "+2 more (not drawn)" in [t.get_text() for t in ax.texts]


def test_save_diagrams_draws_its_numbers_with_the_requested_precision(tmp_path, monkeypatch):
    """two-two-two's ∂E/∂out_o1 = 0.74136507 (Mazur): 3 significant digits by default, as many as asked."""
    pytest.importorskip("matplotlib")
    from chainrule.explain import diagram

    drawn, original = [], diagram.draw

    def recording_draw(ex, backward, precision=3):
        fig = original(ex, backward, precision)
        drawn.append((backward, fig))
        return fig

    monkeypatch.setattr(diagram, "draw", recording_draw)
    _, ex = run("two-two-two")
    for kwargs, shown in [({}, "0.741"), ({"precision": 6}, "0.741365"), ({"precision": 2}, "0.74")]:
        drawn.clear()
        assert [p.name for p in ex.save_diagrams(tmp_path, **kwargs)] == ["forward.png", "backward.png"]
        (fig,) = [f for backward, f in drawn if backward]
        texts = {t.get_gid(): t.get_text() for t in fig.axes[0].texts}
        assert texts["dL_dyhat_1"] == f"∂L/∂ŷ₁ = {shown}"


def test_backward_diagram_writes_out_the_fused_output_step():
    """bce-neuron: beside the output, δ₁ = 1/n·(ŷ₁ − y₁) with ŷ₁ = σ(0.59) and y₁ = 1 (n = 1), instead of
    ∂L/∂ŷ; the note on the fused step sits under the title."""
    pytest.importorskip("matplotlib")
    from chainrule.explain.diagram import draw

    y_hat = sig(0.7 * 0.4 + (-1.3) * (-0.2) + 0.05)
    _, ex = run("bce-neuron")
    for precision in (3, 5):
        fig = draw(ex, backward=True, precision=precision)
        texts = {t.get_gid(): t.get_text() for t in [*fig.texts, *fig.axes[0].texts] if t.get_gid()}
        assert "dL_dyhat_1" not in texts
        expected = f"δ₁ = 1/n·(ŷ₁ − y₁)\n= 1/1·({y_hat:.{precision}g} − 1)\n= {y_hat - 1:.{precision}g}"
        assert texts["delta_out_1"] == expected
        assert "sigmoid and bce are taken as one step" in texts["fused_note"]
        assert "∂L/∂a ∘ f'(z)" in texts["fused_note"]


def test_backward_diagram_fused_labels_stay_readable_with_many_outputs():
    """10 sigmoid outputs under bce, 16 samples: δⱼ = 1/160·(ŷⱼ − yⱼ) for the first sample, from z by hand; the
    8 drawn labels and the note lie inside the figure without overlapping each other, the neurons or the title."""
    pytest.importorskip("matplotlib")
    from chainrule.explain.diagram import FIGURE_PX, draw

    model = from_layers([4, 8, 10], "sigmoid", "bce", seed=0)
    X = np.random.default_rng(1).normal(size=(16, 4))
    Y = np.random.default_rng(2).integers(0, 2, size=(16, 10))
    ex = cr.explain(model, X, Y, "bce")
    delta = (1 / (1 + np.exp(-ex.forward[-1].z[0])) - Y[0]) / 160
    fig = draw(ex, backward=True, precision=5)
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[0]
    labels = [t for t in ax.texts if (t.get_gid() or "").startswith("delta_out_")]
    assert [t.get_gid() for t in labels] == [f"delta_out_{j}" for j in range(1, 9)]
    for t, d in zip(labels, delta):
        first, second, third = t.get_text().split("\n")
        assert first.startswith("δ") and first.endswith("= 1/(n·k)·(ŷ" + first[1] + " − y" + first[1] + ")")
        assert second.startswith("= 1/160·(")
        assert float(third.removeprefix("= ")) == pytest.approx(d, rel=1e-4)
    (note,) = [t for t in fig.texts if t.get_gid() == "fused_note"]
    (title,) = [t for t in fig.findobj(type(note)) if t.get_text().startswith("Backward pass")]
    boxes = [t.get_window_extent(renderer) for t in labels]
    circles = [p.get_window_extent(renderer) for p in ax.patches]
    fixed = [note.get_window_extent(renderer), title.get_window_extent(renderer)]
    fixed += [t.get_window_extent(renderer) for t in ax.texts if t.get_text().startswith(("layer", "input"))]
    for i, box in enumerate(boxes + fixed[:1]):
        assert 0 <= box.x0 and box.x1 <= FIGURE_PX[0] and 0 <= box.y0 and box.y1 <= FIGURE_PX[1]
        assert not any(box.overlaps(other) for other in (boxes + fixed)[i + 1 :])
        assert not any(box.overlaps(c) for c in circles)
