"""explain on networks holding Dropout, BatchNorm and Residual: hand-calculated numbers, PyTorch parity, the
renderings, the refusal of a layer without terms, and ``chainrule train mnist1d --html``."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest

import chainrule as cr
from chainrule.explain.html.data import explanation_data

EPS = 1e-5
MASK = "m (1 kept, 0 dropped)"


def terms(ex, index: int, side: str = "forward") -> dict[str, np.ndarray]:
    return getattr(ex.layers[index - 1], side)


# --------------------------------------------------------------- BatchNorm by hand
def batchnorm_by_hand():
    """Two samples, one feature: x = 1, 3; γ = 2, β = 0.5; loss sse (L = 1/n·Σ ½(ŷ − y)²) against 0."""
    s = math.sqrt(1.0 + EPS)
    mu, var = 2.0, 1.0  # mean of 1 and 3; ((1 − 2)² + (3 − 2)²)/2
    xh = [-1.0 / s, 1.0 / s]
    y = [2.0 * v + 0.5 for v in xh]
    dy = [(v - 0.0) / 2 for v in y]  # 1/n·(ŷ − y), n = 2
    dxh = [2.0 * v for v in dy]  # dy·γ
    direct = [v / s for v in dxh]
    through_mu = [-(dxh[0] + dxh[1]) / 2 / s] * 2
    m = (dxh[0] * xh[0] + dxh[1] * xh[1]) / 2
    through_var = [-v * m / s for v in xh]
    return {
        "mu": mu, "var": var, "xh": xh, "y": y, "dy": dy, "dgamma": dy[0] * xh[0] + dy[1] * xh[1],
        "dbeta": dy[0] + dy[1], "dxh": dxh, "direct": direct, "mu_path": through_mu, "var_path": through_var,
    }  # fmt: skip


@pytest.fixture
def bn_explained():
    model = cr.Sequential(cr.BatchNorm(1, eps=EPS), input_shape=(1,))
    model.layers[0].params["gamma"][...] = 2.0
    model.layers[0].params["beta"][...] = 0.5
    return cr.explain(model, np.array([[1.0], [3.0]]), np.zeros((2, 1)), "sse", lr=0.1)


def test_batchnorm_forward_and_its_three_backward_paths_by_hand(bn_explained):
    ex, hand = bn_explained, batchnorm_by_hand()
    fw, bw = terms(ex, 1), terms(ex, 1, "backward")
    assert fw["μ"].ravel() == pytest.approx([hand["mu"]], abs=1e-12)
    assert fw["σ²"].ravel() == pytest.approx([hand["var"]], abs=1e-12)
    assert fw["x̂ = (x − μ)/√(σ² + ε)"].ravel() == pytest.approx(hand["xh"], abs=1e-12)
    assert fw["γ"].ravel() == pytest.approx([2.0]) and fw["β"].ravel() == pytest.approx([0.5])
    assert fw["y = γ ∘ x̂ + β"].ravel() == pytest.approx(hand["y"], abs=1e-12)
    assert bw["dy"].ravel() == pytest.approx(hand["dy"], abs=1e-12)
    assert bw["dγ = Σ dy ∘ x̂"].ravel() == pytest.approx([hand["dgamma"]], abs=1e-12)
    assert bw["dβ = Σ dy"].ravel() == pytest.approx([hand["dbeta"]], abs=1e-12)
    assert bw["dx̂ = dy ∘ γ"].ravel() == pytest.approx(hand["dxh"], abs=1e-12)
    direct, mu_path, var_path = (bw[k].ravel() for k in list(bw)[4:7])
    assert direct == pytest.approx(hand["direct"], abs=1e-12)  # [−1.5, 2.5]
    assert np.broadcast_to(mu_path, (2,)) == pytest.approx(hand["mu_path"], abs=1e-12)  # [−0.5, −0.5]
    assert var_path == pytest.approx(hand["var_path"], abs=1e-12)  # [2, −2]
    # two samples: x̂ is ±1 whatever x is, so the three paths cancel (up to ε)
    assert direct + mu_path + var_path == pytest.approx([0.0, 0.0], abs=1e-4)
    # the explained gradients are those backward stored, and the update is θ − α·∂L/∂θ
    assert ex.layers[0].grads["gamma"] == pytest.approx([hand["dgamma"]], abs=1e-12)
    new = {up.param: up.new for up in ex.updates}
    assert new["gamma"] == pytest.approx([2.0 - 0.1 * hand["dgamma"]], abs=1e-12)


def test_batchnorm_numbers_in_text_markdown_and_page(bn_explained):
    ex, hand = bn_explained, batchnorm_by_hand()
    text, md = ex.to_text(), ex.to_markdown()
    assert "Layer 1: BatchNorm(1)" in text and "μ = [2.00000]" in text and "σ² = [1.00000]" in text
    for v in (*hand["xh"], *hand["direct"], hand["mu_path"][0], *hand["var_path"], hand["dgamma"]):
        assert f"{v:.5f}" in text and f"{v:.5f}" in md
    assert "(through μ)" in text and "(through σ²)" in text and "(direct)" in text
    assert r"μ: $$\begin{bmatrix} 2.00000 \end{bmatrix}$$" in md
    step = explanation_data(ex)["step"]
    forward = dict(step["blocks"][0]["forward"])
    backward = dict(step["blocks"][0]["backward"])
    assert forward["μ"] == [["2.00000"]] and forward["σ²"] == [["1.00000"]]
    assert [row[0] for row in backward["−x̂ ∘ mean(dx̂ ∘ x̂)/√(σ² + ε) (through σ²)"]] == [
        f"{v:.5f}" for v in hand["var_path"]
    ]


# --------------------------------------------------------------- Dropout
def test_dropout_shows_the_mask_the_step_drew_and_its_scale():
    model = cr.Sequential(cr.Dense(2, 3), cr.Dropout(0.5), seed=3)
    X = np.array([[1.0, 2.0], [0.5, -1.0], [2.0, 0.0], [-1.0, 1.5]])
    t = np.zeros((4, 3))
    twin = np.random.Generator(np.random.PCG64())
    twin.bit_generator.state = model.rng.bit_generator.state
    kept = (twin.random((4, 3)) >= 0.5).astype(float)  # the model's next draw: P(kept) = 1 − p
    state = model.rng.bit_generator.state
    ex = cr.explain(model, X, t, "sse")
    assert model.rng.bit_generator.state == state  # the user's generator is left as it was
    fw, bw = terms(ex, 2), terms(ex, 2, "backward")
    W, b = model.layers[0].params["W"], model.layers[0].params["b"]
    z = X @ W + b
    assert np.array_equal(fw[MASK], kept) and 0 < kept.sum() < kept.size
    assert float(fw["1/(1 − p)"]) == 2.0
    assert fw["Y = X ∘ m/(1 − p)"] == pytest.approx(z * kept * 2.0, abs=1e-12)
    dY = (z * kept * 2.0 - t) / 4  # sse: 1/n·(ŷ − y)
    assert bw["dY"] == pytest.approx(dY, abs=1e-12)
    assert bw["dX = dY ∘ m/(1 − p)"] == pytest.approx(dY * kept * 2.0, abs=1e-12)
    text = ex.to_text()
    assert "m (1 kept, 0 dropped) =" in text and "1/(1 − p) = [2.00000]" in text
    assert "1/(1 − p)" in ex.to_markdown()
    again = cr.explain(model, X, t, "sse")
    assert np.array_equal(terms(again, 2)[MASK], kept)  # the same model explains the same mask
    assert ex.gradcheck_passed  # the check ran with that mask too


def test_apply_leaves_the_model_as_a_training_step_would():
    model = cr.Sequential(cr.Dense(2, 2), cr.BatchNorm(2), cr.Dropout(0.5), seed=5)
    X, t = np.array([[1.0, 2.0], [0.5, -1.0], [2.0, 0.0]]), np.zeros((3, 2))
    twin = np.random.Generator(np.random.PCG64())
    twin.bit_generator.state = model.rng.bit_generator.state
    twin.random((3, 2))  # the one draw of the step: Dropout's mask
    ex = cr.explain(model, X, t, "sse", lr=0.1, apply=True)
    mu, var = terms(ex, 2)["μ"].ravel(), terms(ex, 2)["σ²"].ravel()
    bn = model.layers[1]
    np.testing.assert_allclose(bn.state["running_mean"], 0.1 * mu, rtol=1e-12)  # 0.9·0 + 0.1·μ
    np.testing.assert_allclose(bn.state["running_var"], 0.9 + 0.1 * var * 3 / 2, rtol=1e-12)  # unbiased: n/(n − 1)
    assert model.rng.bit_generator.state == twin.bit_generator.state
    for up in ex.updates:
        np.testing.assert_array_equal(model.layers[up.layer - 1].params[up.param], up.new)
    assert "layer 2 γ new" in ex.to_text()


# --------------------------------------------------------------- Residual
def test_residual_two_paths_by_hand():
    model = cr.Sequential(cr.Residual(cr.Dense(1, 1)))
    model.layers[0].params["0.W"][...] = 2.0
    model.layers[0].params["0.b"][...] = 1.0
    ex = cr.explain(model, np.array([[1.0], [2.0]]), np.zeros((2, 1)), "sse")
    fw, bw = terms(ex, 1), terms(ex, 1, "backward")
    assert fw["x (skip path)"].ravel() == pytest.approx([1.0, 2.0])
    assert fw["f(x) (inner path)"].ravel() == pytest.approx([3.0, 5.0])  # 2x + 1
    assert fw["y = x + f(x)"].ravel() == pytest.approx([4.0, 7.0])
    assert bw["dy (skip path)"].ravel() == pytest.approx([2.0, 3.5])  # 1/2·(y − 0)
    assert bw["(∂f/∂x)ᵀ·dy (inner path)"].ravel() == pytest.approx([4.0, 7.0])  # dy·W
    assert bw["dx = dy + (∂f/∂x)ᵀ·dy"].ravel() == pytest.approx([6.0, 10.5])
    grads = ex.layers[0].grads
    assert grads["0.W"].ravel() == pytest.approx([1 * 2.0 + 2 * 3.5]) and grads["0.b"].ravel() == pytest.approx([5.5])
    text = ex.to_text()
    assert "f(x) (inner path) =" in text and "dx = dy + (∂f/∂x)ᵀ·dy =" in text
    assert "∂L/∂W of inner layer 0 (stored by backward) = [9.00000]" in text


# --------------------------------------------------------------- parity
def small_network():
    model = cr.Sequential(
        cr.Dense(3, 4), cr.BatchNorm(4), cr.ReLU(), cr.Dropout(0.4), cr.Residual(cr.Dense(4, 4), cr.Tanh()),
        cr.Dense(4, 1), seed=7,
    )  # fmt: skip
    X = np.random.default_rng(1).normal(size=(6, 3))
    y = np.random.default_rng(2).normal(size=(6, 1))
    return model, X, y


def test_explained_gradients_equal_model_gradient_and_pytorch():
    torch = pytest.importorskip("torch")
    model, X, y = small_network()
    twin = model.copy()
    twin.rng.bit_generator.state = model.rng.bit_generator.state  # the same next mask
    ex = cr.explain(model, X, y, "mse")
    twin.gradient(X, y, twin.objective("mse"))
    for step, layer in zip(ex.layers, twin.layers):
        for name, g in step.grads.items():
            np.testing.assert_allclose(g, layer.grads[name], rtol=0, atol=1e-14)

    mask = torch.tensor(terms(ex, 4)[MASK])
    P = {f"{i}.{k}": torch.tensor(v, requires_grad=True) for i, layer in enumerate(model.layers) for k, v in
         layer.params.items()}  # fmt: skip
    xt = torch.tensor(X)
    h1 = xt @ P["0.W"] + P["0.b"]
    h1.retain_grad()
    bn = torch.nn.functional.batch_norm(h1, None, None, P["1.gamma"], P["1.beta"], training=True, eps=1e-5)
    drop = torch.relu(bn) * mask / (1 - 0.4)
    res = drop + torch.tanh(drop @ P["4.0.W"] + P["4.0.b"])
    out = res @ P["5.W"] + P["5.b"]
    loss = ((out - torch.tensor(y)) ** 2).mean()
    loss.backward()
    assert ex.loss.value == pytest.approx(loss.item(), rel=1e-12)
    for step in ex.layers:
        for name, g in step.grads.items():
            np.testing.assert_allclose(g, P[f"{step.index - 1}.{name}"].grad.numpy(), rtol=1e-10, atol=1e-13)
    paths = list(terms(ex, 2, "backward").values())[4:7]  # BatchNorm's three paths sum to torch's ∂L/∂x
    np.testing.assert_allclose(sum(np.broadcast_to(p, (6, 4)) for p in paths), h1.grad.numpy(), rtol=1e-9, atol=1e-13)
    assert ex.gradcheck_passed


# --------------------------------------------------------------- the page
def test_page_shows_batchnorm_and_dropout_numbers_in_chromium(tmp_path, browser):
    model, X, y = small_network()
    ex = cr.explain(model, X, y, "mse", lr=0.1)
    path = ex.to_html(tmp_path / "bn.html")
    mu = "[" + "  ".join(f"{v:.5f}".rjust(8) for v in terms(ex, 2)["μ"].ravel()) + "]"
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(path.as_uri())
    forward, backward = page.inner_text("#layers-forward"), page.inner_text("#layers-backward")
    table = page.inner_text("#layer-table")
    page.close()
    assert errors == []
    assert "Layer 2: BatchNorm(4)" in forward and re.sub(r"\s+", " ", mu) in re.sub(r"\s+", " ", forward)
    assert "m (1 kept, 0 dropped) =" in forward and "1/(1 − p) = [1.66667]" in forward
    assert "(through σ²)" in backward and "dy (skip path)" in backward
    assert backward.index("Layer 6") < backward.index("Layer 1")  # from the output down
    assert "5: Residual(Dense(4, 4), Tanh())" in table


# --------------------------------------------------------------- refusal
class Doubler(cr.Layer):
    def forward(self, X, training=True, keep=True):
        return 2 * X


def test_a_layer_without_terms_is_refused_clearly():
    model = cr.Sequential(cr.Dense(2, 2), Doubler(), seed=0)
    refusal = r"layer 1, Doubler\(\) \(Doubler\): it lacks forward_terms\(\) and backward_terms"
    with pytest.raises(TypeError, match=refusal):
        cr.explain(model, np.ones((1, 2)), np.ones((1, 2)), "sse")
    with pytest.raises(TypeError, match="Doubler"):
        replay = cr.Replay(np.ones((4, 2)), np.ones((4, 2)))
        model.fit(np.ones((4, 2)), np.ones((4, 2)), loss="sse", epochs=1, callbacks=[replay])


def test_save_diagrams_refuses_a_network_beyond_dense(tmp_path):
    model, X, y = small_network()
    ex = cr.explain(model, X, y, "mse")
    with pytest.raises(TypeError, match="to_html"):
        ex.save_diagrams(tmp_path / "d")
    assert not (tmp_path / "d").exists()


# --------------------------------------------------------------- the command line
def test_train_mnist1d_html_writes_the_replay(tmp_path):
    pytest.importorskip("mnist1d")
    from chainrule.cli import main

    out = tmp_path / "run"
    rc = main(["train", "mnist1d", "--epochs", "1", "--html", "--no-plots", "--quiet", "--out", str(out)])
    assert rc == 0
    page = (out / "replay.html").read_text(encoding="utf-8")
    data = json.loads(re.search(r'id="cr-data">(.*?)</script>', page, re.S).group(1))
    assert "Dropout(0.3)" in data["net"]["layerNames"]
    first = data["snapshots"][0]["step"]["blocks"]
    drop = data["net"]["layerNames"].index("Dropout(0.3)")
    assert [label for label, _ in first[drop]["forward"]][:3] == ["X", MASK, "1/(1 − p)"]
    assert dict(first[drop]["forward"])["1/(1 − p)"] == [["1.42857"]]
    assert len(data["snapshots"]) >= 2


def test_a_fused_output_after_batchnorm_is_one_step_from_the_loss():
    model = cr.Sequential(cr.Dense(2, 3), cr.BatchNorm(3), cr.Dense(3, 2), cr.Softmax(), seed=1)
    X, y = np.array([[1.0, 2.0], [0.5, -1.0], [2.0, 0.0], [-1.0, 0.3]]), np.array([0, 1, 1, 0])
    ex = cr.explain(model, X, y, "categorical_cross_entropy")
    assert ex.layers[3].backward is None  # the softmax's step is the loss's
    p = ex.loss.y_hat
    delta = (p - np.eye(2)[y]) / 4  # 1/n·(ŷ − y), y one-hot
    np.testing.assert_allclose(terms(ex, 3, "backward")["dz"], delta, rtol=1e-12, atol=1e-15)
    assert "fused with the loss: δ = ∂L/∂z = 1/n·(ŷ − y) =" in ex.to_text()
    assert np.allclose(p.sum(axis=1), 1.0) and ex.gradcheck_passed


class TermsFlatten(cr.Flatten):
    """Flatten with the two methods explain reads (Flatten itself has none yet)."""

    def forward(self, X, training=True, keep=True):
        Z = super().forward(X, training, keep)
        if keep:
            self.shown = (X, Z)
        return Z

    def forward_terms(self):
        return {"X": self.shown[0], "Z = X laid out as one row": self.shown[1]}

    def backward_terms(self, dZ):
        return {"dZ": dZ, "dX = dZ reshaped": self.backward(dZ)}


def test_any_layer_with_terms_is_explained_conv1d_and_pooling():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    model = cr.Sequential(
        cr.Conv1D(1, 2, 3), cr.ReLU(), cr.MaxPool1D(2), TermsFlatten(), cr.Dense(6, 1), input_shape=(1, 8), seed=4
    )
    X = np.random.default_rng(3).normal(size=(3, 1, 8))
    y = np.random.default_rng(4).normal(size=(3, 1))
    ex = cr.explain(model, X, y, "mse")
    assert [step.kind for step in ex.layers] == ["Conv1D", "ReLU", "MaxPool1D", "TermsFlatten", "Dense"]
    assert any(label.startswith("j*") for label in terms(ex, 3))  # the pool's winners
    P = {f"{i}.{k}": torch.tensor(v, requires_grad=True) for i, layer in enumerate(model.layers) for k, v in
         layer.params.items()}  # fmt: skip
    h = F.max_pool1d(torch.relu(F.conv1d(torch.tensor(X), P["0.W"], P["0.b"])), 2)
    loss = ((h.flatten(1) @ P["4.W"] + P["4.b"] - torch.tensor(y)) ** 2).mean()
    loss.backward()
    for step in ex.layers:
        for name, g in step.grads.items():
            np.testing.assert_allclose(g, P[f"{step.index - 1}.{name}"].grad.numpy(), rtol=1e-10, atol=1e-13)
    text = ex.to_text()
    assert "Layer 1: Conv1D(1, 2, 3)" in text and "Layer 3: MaxPool1D(2)" in text and ex.gradcheck_passed
