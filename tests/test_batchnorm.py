"""BatchNorm against PyTorch's BatchNorm1d: values, every gradient and the running statistics, in both modes."""

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")


def close(mine, theirs, rtol=1e-10):
    """Relative to the largest value: max |mine − theirs| ≤ rtol · max |theirs|."""
    theirs = np.asarray(theirs.detach().numpy() if hasattr(theirs, "detach") else theirs)
    assert mine.shape == theirs.shape
    err = np.max(np.abs(mine - theirs))
    assert err <= rtol * max(np.max(np.abs(theirs)), 1e-300), f"mine vs theirs differ by {err:.3g}"


def twins(C, momentum=0.1, eps=1e-5, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    gamma, beta = rng.normal(size=C) + 1, rng.normal(size=C)
    mine = cr.BatchNorm(C, momentum=momentum, eps=eps)
    mine.params["gamma"][...], mine.params["beta"][...] = gamma, beta
    theirs = torch.nn.BatchNorm1d(C, momentum=momentum, eps=eps, dtype=torch.float64)
    with torch.no_grad():
        theirs.weight[...], theirs.bias[...] = torch.tensor(gamma), torch.tensor(beta)
    return mine, theirs


def torch_step(theirs, X, dY):
    Xt = torch.tensor(X, requires_grad=True)
    theirs.weight.grad = theirs.bias.grad = None
    Yt = theirs(Xt)
    Yt.backward(torch.tensor(dY))
    return Yt, Xt.grad


@pytest.mark.parametrize("sample_shape", [(5,), (3, 7)], ids=["(n, C)", "(n, C, L)"])
@pytest.mark.parametrize("momentum", [0.1, 0.5])
def test_training_steps_match_pytorch(sample_shape, momentum):
    C = sample_shape[0]
    mine, theirs = twins(C, momentum=momentum)
    mine.build(sample_shape, None)
    rng = np.random.default_rng(1)
    for step in range(4):
        X = rng.normal(loc=step, scale=1 + step, size=(8, *sample_shape))
        dY = rng.normal(size=X.shape)
        Y = mine.forward(X, training=True)
        dX = mine.backward(dY)
        Yt, dXt = torch_step(theirs, X, dY)
        close(Y, Yt)
        close(dX, dXt)
        close(mine.grads["gamma"], theirs.weight.grad)
        close(mine.grads["beta"], theirs.bias.grad)
        close(mine.state["running_mean"], theirs.running_mean)
        close(mine.state["running_var"], theirs.running_var)


@pytest.mark.parametrize("sample_shape", [(5,), (3, 7)], ids=["(n, C)", "(n, C, L)"])
def test_inference_uses_running_statistics_like_pytorch(sample_shape):
    mine, theirs = twins(sample_shape[0])
    mine.build(sample_shape, None)
    rng = np.random.default_rng(2)
    for _ in range(3):  # move the running statistics away from 0 and 1
        X = rng.normal(loc=2, scale=3, size=(6, *sample_shape))
        mine.forward(X, training=True, keep=False)
        theirs(torch.tensor(X))
    theirs.eval()
    X, dY = rng.normal(size=(4, *sample_shape)), rng.normal(size=(4, *sample_shape))
    before = {k: v.copy() for k, v in mine.state.items()}
    Y = mine.forward(X, training=False)
    dX = mine.backward(dY)
    Yt, dXt = torch_step(theirs, X, dY)
    close(Y, Yt)
    close(dX, dXt)
    close(mine.grads["gamma"], theirs.weight.grad)
    close(mine.grads["beta"], theirs.bias.grad)
    for name, value in before.items():
        np.testing.assert_array_equal(mine.state[name], value)  # inference leaves them alone


def test_backward_terms_sum_to_backward():
    from chainrule.layers.terms import Role, with_role

    layer = cr.BatchNorm(3)
    layer.build((3,), None)
    rng = np.random.default_rng(3)
    X, dY = rng.normal(size=(10, 3)), rng.normal(size=(10, 3))
    layer.forward(X)
    terms = layer.backward_terms(dY)
    paths = [t.array for t in with_role(terms, Role.PATH)]
    assert len(paths) == 3
    np.testing.assert_allclose(sum(paths), layer.backward(dY), rtol=1e-12, atol=1e-15)
    mu, var = (t.array for t in with_role(layer.forward_terms(), Role.STATISTIC))
    np.testing.assert_allclose(mu.ravel(), X.mean(axis=0))
    np.testing.assert_allclose(var.ravel(), X.var(axis=0))


def test_float32_stays_float32_and_agrees():
    layer = cr.BatchNorm(4)
    layer.build((4,), None)
    X = np.random.default_rng(4).normal(size=(16, 4))
    Y64 = layer.forward(X).copy()
    layer.reset_state()
    layer.params = {k: v.astype(np.float32) for k, v in layer.params.items()}
    layer.grads = {k: v.astype(np.float32) for k, v in layer.grads.items()}
    layer.state = {k: v.astype(np.float32) for k, v in layer.state.items()}
    Y = layer.forward(X.astype(np.float32))
    dX = layer.backward(np.ones_like(Y))
    assert Y.dtype == dX.dtype == layer.state["running_var"].dtype == np.float32
    np.testing.assert_allclose(Y, Y64, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("momentum", [-0.1, 1.5, True, "0.1", float("nan")])
def test_bad_momentum(momentum):
    with pytest.raises(ValueError, match=r"BatchNorm momentum must be a number in \[0, 1\]; received momentum="):
        cr.BatchNorm(3, momentum=momentum)


@pytest.mark.parametrize("eps", [0, -1e-5, float("inf"), float("nan"), None])
def test_bad_eps(eps):
    with pytest.raises(ValueError, match="BatchNorm eps must be a positive finite number; received eps="):
        cr.BatchNorm(3, eps=eps)


@pytest.mark.parametrize("n", [0, -2, 2.5])
def test_bad_width(n):
    with pytest.raises(ValueError, match="BatchNorm n_features must be a positive integer"):
        cr.BatchNorm(n)


def test_training_on_one_sample_is_refused_and_changes_nothing():
    layer = cr.BatchNorm(3)
    layer.build((3,), None)
    with pytest.raises(ValueError, match=r"BatchNorm\(3\) in training mode needs more than one value per channel"):
        layer.forward(np.ones((1, 3)))
    with pytest.raises(ValueError):  # PyTorch refuses it too
        torch.nn.BatchNorm1d(3)(torch.ones(1, 3))
    np.testing.assert_array_equal(layer.state["running_mean"], 0)
    np.testing.assert_array_equal(layer.state["running_var"], 1)
    assert layer.forward(np.ones((1, 3)), training=False).shape == (1, 3)  # inference is fine


def test_one_sample_of_a_signal_has_enough_values():
    layer = cr.BatchNorm(2)
    layer.build((2, 5), None)
    assert layer.forward(np.random.default_rng(0).normal(size=(1, 2, 5))).shape == (1, 2, 5)


@pytest.mark.parametrize("shape", [(4,), (4, 6), (3, 6, 2), ()])
def test_shapes_that_do_not_fit(shape):
    with pytest.raises(ValueError, match=r"BatchNorm\(3\) normalises per-sample inputs of shape \(3,\) or \(3, L\)"):
        cr.BatchNorm(3).output_shape(shape)


@pytest.mark.parametrize("bad", [-1.0, np.nan, np.inf])
def test_unusable_running_variance_is_refused(bad):
    layer = cr.BatchNorm(3)
    layer.state["running_var"][1] = bad
    with pytest.raises(ValueError, match=r"BatchNorm\(3\) has running_var .* at index \(1,\)"):
        layer.check_state()


def test_config_round_trip():
    layer = cr.BatchNorm(7, momentum=0.3, eps=1e-3)
    again = cr.Layer.registry["BatchNorm"].from_config(layer.get_config())
    assert (again.n_features, again.momentum, again.eps) == (7, 0.3, 1e-3)
    assert cr.BatchNorm.config_shapes(layer.get_config()) == {"gamma": (7,), "beta": (7,)}
    with pytest.raises(ValueError, match="momentum"):
        cr.BatchNorm.config_shapes({"type": "BatchNorm", "n_features": 3, "momentum": 2})


# ---------------------------------------------------------------- in a model
def blobs(n=32, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(loc=2, scale=3, size=(n, 3))
    return X, (X[:, 0] + X[:, 1] > 4).astype(int)


def bn_layers():
    return [cr.Dense(3, 5), cr.Tanh(), cr.BatchNorm(5), cr.Dense(5, 2)]


def test_gradcheck_in_training_mode_through_the_batch_statistics():
    X, y = blobs(12)
    model = cr.Sequential(*bn_layers(), seed=0)
    model.layers[2].params["gamma"][...] = [0.5, 1.5, 2.0, -1.0, 1.2]  # away from 1, so each path weighs
    result = cr.gradcheck(model, X, y, "softmax_cross_entropy")
    assert result.passed, str(result)


def test_gradcheck_can_fail_on_a_wrong_backward(monkeypatch):
    """The check above can fail: drop the term through σ² and it does."""
    X, y = blobs(12)
    model = cr.Sequential(*bn_layers(), seed=0)

    def two_terms(self, dY, need_input_grad=True):
        Xhat, inv_std, _, _, gamma, _, over = self._cached(dY)
        self.grads["gamma"][...] = self._param_sum(dY * Xhat)
        self.grads["beta"][...] = self._param_sum(dY)
        dXhat = dY * gamma
        return (dXhat - dXhat.mean(axis=over, keepdims=True)) * inv_std

    monkeypatch.setattr(cr.BatchNorm, "backward", two_terms)
    assert not cr.gradcheck(model, X, y, "softmax_cross_entropy").passed


def test_save_and_load_keep_the_running_statistics(tmp_path):
    X, y = blobs()
    model = cr.Sequential(*bn_layers(), seed=0)
    model.fit(X, y, loss="softmax_cross_entropy", epochs=3, batch_size=8)
    model.save(tmp_path / "m.zip")
    again = cr.load(tmp_path / "m.zip")
    for name in ("running_mean", "running_var"):
        np.testing.assert_array_equal(again.layers[2].state[name], model.layers[2].state[name])
    assert not np.allclose(model.layers[2].state["running_var"], 1)  # they did move
    np.testing.assert_array_equal(again.predict(X), model.predict(X))


def test_a_model_file_with_a_negative_running_variance_is_refused(tmp_path):
    import zipfile

    model = cr.Sequential(*bn_layers(), seed=0)
    model.layers[2].state["running_var"][3] = -2.0  # as a damaged or hostile file would hold it
    model.save(tmp_path / "m.zip")
    with zipfile.ZipFile(tmp_path / "m.zip") as z:
        assert any("running_var" in name for name in z.namelist())
    with pytest.raises(cr.ModelFileError, match=r"BatchNorm\(5\).*running_var -2.0 at index \(3,\)"):
        cr.load(tmp_path / "m.zip")


def test_full_batch_ensemble_members_equal_separate_fits():
    X, y = blobs()
    ens = cr.Ensemble(*bn_layers(), n_models=3, seed=4)
    ens.fit(X, y, loss="softmax_cross_entropy", optimizer=cr.Adam(lr=0.01), epochs=20)
    for i in range(3):
        alone = cr.Sequential(*bn_layers(), seed=4 + i)
        alone.fit(X, y, loss="softmax_cross_entropy", optimizer=cr.Adam(lr=0.01), epochs=20)
        np.testing.assert_allclose(ens.flat_params[i], alone.flat_params, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(ens.member(i).layers[2].state["running_var"], alone.layers[2].state["running_var"],
                                   rtol=1e-10)  # fmt: skip
        np.testing.assert_allclose(ens.predict(X)[i], alone.predict(X), rtol=1e-10, atol=1e-12)


def test_summary_shows_the_layer_and_its_parameters():
    text = cr.Sequential(*bn_layers(), seed=0).summary()
    row = next(line for line in text.splitlines() if "BatchNorm(5)" in line)
    assert row.split()[-1] == "10"  # γ and β, 5 each; the running statistics are not parameters


def test_resume_is_bit_identical(tmp_path):
    """The weights follow already (training normalises with batch statistics); the running statistics must too."""
    X, y = blobs()
    fit = dict(loss="softmax_cross_entropy", batch_size=8, seed=5)
    straight = cr.Sequential(*bn_layers(), seed=1)
    straight.fit(X, y, epochs=6, **fit)
    first = cr.Sequential(*bn_layers(), seed=1)
    first.fit(X, y, epochs=3, callbacks=[cr.ModelCheckpoint(tmp_path / "c.zip")], **fit)
    resumed = cr.Sequential(*bn_layers(), seed=1)
    resumed.fit(X, y, epochs=6, resume_from=tmp_path / "c.zip", **fit)
    np.testing.assert_array_equal(resumed.flat_params, straight.flat_params)
    np.testing.assert_array_equal(resumed.flat_state, straight.flat_state)


def test_its_numbers_in_text_and_markdown():
    from chainrule.explain.markdown import layer_numbers_markdown
    from chainrule.explain.text import layer_numbers

    layer = cr.BatchNorm(1)
    layer.build((1,), None)
    layer.forward(np.array([[1.0], [3.0]]))  # by hand: μ = 2, σ² = ((1 − 2)² + (3 − 2)²)/2 = 1, x̂ = ∓1/√(1 + ε)
    text = layer_numbers(layer, np.array([[1.0], [0.0]]))
    assert "μ = [2.00000]" in text and "σ² = [1.00000]" in text
    # dy = (1, 0): the path through μ is −mean(dx̂)/√(σ² + ε) = −0.5/√(1 + 1e-5) for both samples
    assert "(through μ) = [-0.50000]" in text and "dβ = Σ dy = [1.00000]" in text
    assert "dγ = Σ dy ∘ x̂ = [-1.00000]" in text  # 1·(−1/√(1 + ε)) + 0·(+1/√(1 + ε))
    md = layer_numbers_markdown(layer)
    assert md.startswith("**BatchNorm(1)**, forward:") and r"\begin{bmatrix} 2.00000 \end{bmatrix}" in md


def test_input_of_another_shape_is_refused_by_name():
    layer = cr.BatchNorm(3)
    layer.build((3,), None)
    with pytest.raises(ValueError, match=r"BatchNorm\(3\) got input of shape \(4, 5\); it expects \(n_samples, 3\)"):
        layer.forward(np.ones((4, 5)))
    with pytest.raises(TypeError, match=r"BatchNorm\(3\) got input of dtype int64"):
        layer.forward(np.ones((4, 3), dtype=np.int64))
