"""LayerNorm against PyTorch's LayerNorm: values and every gradient, on (n, D) and (n, C, L)."""

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")


def close(mine, theirs, rtol=1e-10):
    """Relative to the largest value: max |mine − theirs| ≤ rtol · max |theirs|."""
    theirs = theirs.detach().numpy()
    assert mine.shape == theirs.shape
    err = np.max(np.abs(mine - theirs))
    assert err <= rtol * np.max(np.abs(theirs)), f"mine vs theirs differ by {err:.3g}"


@pytest.mark.parametrize("sample_shape", [(6,), (3, 6)], ids=["(n, D)", "(n, C, L)"])
@pytest.mark.parametrize("training", [True, False])
def test_matches_pytorch(sample_shape, training):
    D = sample_shape[-1]
    rng = np.random.default_rng(0)
    gamma, beta = rng.normal(size=D) + 1, rng.normal(size=D)
    layer = cr.LayerNorm(D, eps=1e-4)
    layer.build(sample_shape, None)
    layer.params["gamma"][...], layer.params["beta"][...] = gamma, beta
    theirs = torch.nn.LayerNorm(D, eps=1e-4, dtype=torch.float64)
    with torch.no_grad():
        theirs.weight[...], theirs.bias[...] = torch.tensor(gamma), torch.tensor(beta)
    theirs.train(training)
    X = rng.normal(loc=3, scale=2, size=(9, *sample_shape))
    dY = rng.normal(size=X.shape)
    Y = layer.forward(X, training=training)
    dX = layer.backward(dY)
    Xt = torch.tensor(X, requires_grad=True)
    Yt = theirs(Xt)
    Yt.backward(torch.tensor(dY))
    close(Y, Yt)
    close(dX, Xt.grad)
    close(layer.grads["gamma"], theirs.weight.grad)
    close(layer.grads["beta"], theirs.bias.grad)


def test_backward_terms_sum_to_backward():
    from chainrule.layers.terms import Role, with_role

    layer = cr.LayerNorm(5)
    layer.build((5,), None)
    rng = np.random.default_rng(1)
    X, dY = rng.normal(size=(4, 5)), rng.normal(size=(4, 5))
    layer.forward(X)
    terms = layer.backward_terms(dY)
    paths = [t.array for t in with_role(terms, Role.PATH)]
    assert len(paths) == 3
    np.testing.assert_allclose(sum(paths), layer.backward(dY), rtol=1e-12, atol=1e-15)
    _, var = (t.array for t in with_role(layer.forward_terms(), Role.STATISTIC))
    np.testing.assert_allclose(var.ravel(), X.var(axis=1))


def test_ensemble_members_use_their_own_gamma():
    layer = cr.LayerNorm(4)
    layer.build((4,), 2)
    layer.params = {"gamma": np.array([[1.0] * 4, [2.0] * 4]), "beta": np.zeros((2, 4))}
    layer.grads = {k: np.zeros_like(v) for k, v in layer.params.items()}
    X = np.random.default_rng(2).normal(size=(1, 3, 4))
    Y = layer.forward(X)
    assert Y.shape == (2, 3, 4)
    np.testing.assert_allclose(Y[1], 2 * Y[0])
    layer.backward(np.ones((2, 3, 4)))
    assert layer.grads["gamma"].shape == (2, 4)


def test_float32_stays_float32():
    layer = cr.LayerNorm(4)
    layer.build((4,), None)
    layer.params = {k: v.astype(np.float32) for k, v in layer.params.items()}
    layer.grads = {k: v.astype(np.float32) for k, v in layer.grads.items()}
    X = np.random.default_rng(3).normal(size=(5, 4))
    Y = layer.forward(X.astype(np.float32))
    assert Y.dtype == layer.backward(np.ones_like(Y)).dtype == np.float32
    np.testing.assert_allclose(Y, (X - X.mean(1, keepdims=True)) / np.sqrt(X.var(1, keepdims=True) + 1e-5),
                               rtol=1e-4, atol=1e-5)  # fmt: skip


@pytest.mark.parametrize("eps", [0, -1.0, float("inf"), "1e-5"])
def test_bad_eps(eps):
    with pytest.raises(ValueError, match="LayerNorm eps must be a positive finite number; received eps="):
        cr.LayerNorm(4, eps=eps)


def test_last_axis_must_fit():
    with pytest.raises(ValueError, match=r"LayerNorm\(4\) normalises the last axis, of length 4; .* \(4, 3\)"):
        cr.LayerNorm(4).output_shape((4, 3))
    assert cr.LayerNorm(4).output_shape((3, 4)) == (3, 4)


# ---------------------------------------------------------------- in a model
def blobs(n=32, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(loc=1, scale=2, size=(n, 3))
    return X, (X[:, 0] * X[:, 1] > 0).astype(int)


def ln_layers():
    return [cr.Dense(3, 6), cr.LayerNorm(6), cr.Tanh(), cr.Dense(6, 2)]


def test_gradcheck():
    X, y = blobs(8)
    model = cr.Sequential(*ln_layers(), seed=0)
    model.layers[1].params["gamma"][...] = np.linspace(0.5, 2, 6)
    result = cr.gradcheck(model, X, y, "softmax_cross_entropy")
    assert result.passed, str(result)


def test_full_batch_ensemble_members_equal_separate_fits():
    X, y = blobs()
    ens = cr.Ensemble(*ln_layers(), n_models=3, seed=2)
    ens.fit(X, y, loss="softmax_cross_entropy", optimizer=cr.Adam(lr=0.01), epochs=20)
    for i in range(3):
        alone = cr.Sequential(*ln_layers(), seed=2 + i)
        alone.fit(X, y, loss="softmax_cross_entropy", optimizer=cr.Adam(lr=0.01), epochs=20)
        np.testing.assert_allclose(ens.flat_params[i], alone.flat_params, rtol=1e-10, atol=1e-12)


def test_save_load_and_summary(tmp_path):
    X, y = blobs()
    model = cr.Sequential(*ln_layers(), seed=0)
    model.fit(X, y, loss="softmax_cross_entropy", epochs=3)
    model.save(tmp_path / "m.zip")
    again = cr.load(tmp_path / "m.zip")
    np.testing.assert_array_equal(again.predict(X), model.predict(X))
    row = next(line for line in model.summary().splitlines() if "LayerNorm(6)" in line)
    assert row.split()[-1] == "12"


def test_input_of_another_shape_is_refused_by_name():
    layer = cr.LayerNorm(4)
    layer.build((4,), None)
    with pytest.raises(ValueError, match=r"LayerNorm\(4\) got input of shape \(2, 3\); it expects \(n_samples, 4\)"):
        layer.forward(np.ones((2, 3)))
