"""Residual blocks against PyTorch twins: y = x + f(x), its two paths, and every inner gradient."""

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")


def close(mine, theirs, rtol=1e-10):
    theirs = theirs.detach().numpy()
    assert mine.shape == theirs.shape
    err = np.max(np.abs(mine - theirs))
    assert err <= rtol * np.max(np.abs(theirs)), f"mine vs theirs differ by {err:.3g}"


def dense_twin(layer):
    lin = torch.nn.Linear(layer.n_in, layer.n_out, dtype=torch.float64)
    with torch.no_grad():
        lin.weight[...] = torch.tensor(layer.params["W"].T)
        lin.bias[...] = torch.tensor(layer.params["b"])
    return lin


@pytest.mark.parametrize("training", [True, False])
def test_matches_pytorch(training):
    rng = np.random.default_rng(0)
    d1, d2 = cr.Dense(5, 8), cr.Dense(8, 5)
    for d in (d1, d2):
        d.params["W"][...] = rng.normal(size=d.params["W"].shape)
        d.params["b"][...] = rng.normal(size=d.params["b"].shape)
    norm = cr.BatchNorm(8)
    block = cr.Residual(d1, norm, cr.Tanh(), d2)
    block.build((5,), None)
    f = torch.nn.Sequential(dense_twin(d1), torch.nn.BatchNorm1d(8, dtype=torch.float64), torch.nn.Tanh(),
                            dense_twin(d2))  # fmt: skip
    f.train(training)
    X, dY = rng.normal(size=(12, 5)), rng.normal(size=(12, 5))
    Y = block.forward(X, training=training)
    dX = block.backward(dY)
    Xt = torch.tensor(X, requires_grad=True)
    Yt = Xt + f(Xt)
    Yt.backward(torch.tensor(dY))
    close(Y, Yt)
    close(dX, Xt.grad)
    for name, theirs in [("0.W", f[0].weight.grad.T), ("1.gamma", f[1].weight.grad), ("1.beta", f[1].bias.grad),
                         ("3.W", f[3].weight.grad.T), ("3.b", f[3].bias.grad)]:  # fmt: skip
        close(block.grads[name], theirs)
    if training:  # batch statistics subtract any shift: a bias just before BatchNorm gets no gradient
        assert np.max(np.abs(block.grads["0.b"])) < 1e-13
    else:
        close(block.grads["0.b"], f[0].bias.grad)
    close(block.state["1.running_mean"], f[1].running_mean)
    close(block.state["1.running_var"], f[1].running_var)


def test_two_paths_sum():
    from chainrule.layers.terms import Role, the, with_role

    block = cr.Residual(cr.Dense(3, 3), cr.Tanh())
    block.build((3,), None)
    rng = np.random.default_rng(1)
    X, dY = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    Y = block.forward(X)
    shown = block.forward_terms()
    x, fx = the(shown, Role.INPUT).array, the(shown, Role.PATH).array
    np.testing.assert_array_equal(x, X)
    np.testing.assert_allclose(fx, np.tanh(X @ block.params["0.W"] + block.params["0.b"]))
    np.testing.assert_allclose(Y, x + fx)
    np.testing.assert_allclose(the(shown, Role.OUTPUT).array, Y)
    terms = block.backward_terms(dY)
    np.testing.assert_allclose(the(terms, Role.INPUT_GRADIENT).array, block.backward(dY))
    np.testing.assert_allclose(sum(t.array for t in with_role(terms, Role.PATH)), block.backward(dY))


def test_inner_layers_that_change_the_shape_are_refused():
    block = cr.Residual(cr.Dense(4, 3), cr.ReLU())
    with pytest.raises(ValueError, match=r"Residual\(Dense\(4, 3\), ReLU\(\)\): .* shape \(4,\) into \(3,\)"):
        block.build((4,), None)
    assert block.n_models is None and block.in_shape is None  # nothing changed


def test_bad_arguments():
    with pytest.raises(ValueError, match="at least one inner layer"):
        cr.Residual()
    with pytest.raises(TypeError, match="Residual takes layers"):
        cr.Residual("relu")
    d = cr.Dense(2, 2)
    with pytest.raises(ValueError, match="same layer object twice"):
        cr.Residual(d, d)


def test_config_round_trip():
    block = cr.Residual(cr.Dense(4, 4), cr.LayerNorm(4), cr.ReLU(), cr.Dropout(0.1))
    config = block.get_config()
    again = cr.Layer.registry["Residual"].from_config(config)
    assert repr(again) == repr(block) == "Residual(Dense(4, 4), LayerNorm(4), ReLU(), Dropout(0.1))"
    assert cr.Residual.config_shapes(config) == {"0.W": (4, 4), "0.b": (4,), "1.gamma": (4,), "1.beta": (4,)}
    with pytest.raises(ValueError, match="unknown inner layer"):
        cr.Residual.config_shapes({"type": "Residual", "layers": [{"type": "Nope"}]})


def test_a_model_file_cannot_nest_blocks_without_bound(tmp_path):
    import json
    import zipfile

    model = cr.Sequential(cr.Residual(cr.Dense(2, 2)), seed=0)
    model.save(tmp_path / "m.zip")
    with zipfile.ZipFile(tmp_path / "m.zip") as z:
        files = {name: z.read(name) for name in z.namelist()}
    doc = json.loads(files["model.json"])
    block = doc["config"]["layers"][0]
    for _ in range(200):  # a hostile file: blocks inside blocks
        block = {"type": "Residual", "layers": [block]}
    doc["config"]["layers"][0] = block
    files["model.json"] = json.dumps(doc).encode()
    with zipfile.ZipFile(tmp_path / "deep.zip", "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    with pytest.raises(cr.ModelFileError, match="nests more than 16 Residual layers"):
        cr.load(tmp_path / "deep.zip")


# ---------------------------------------------------------------- in a model
def blobs(n=32, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    return X, (X[:, 0] * X[:, 1] > 0).astype(int)


def res_layers(dropout=0.0):
    inner = [cr.Dense(6, 6), cr.Tanh(), cr.BatchNorm(6)] + ([cr.Dropout(dropout)] if dropout else [])
    return [cr.Dense(3, 6), cr.Tanh(), cr.Residual(*inner), cr.Dense(6, 2)]


def test_gradcheck_through_both_paths():
    X, y = blobs(10)
    result = cr.gradcheck(cr.Sequential(*res_layers(0.3), seed=0), X, y, "softmax_cross_entropy")
    assert result.passed, str(result)


def test_gradcheck_can_fail_without_the_skip_path(monkeypatch):
    X, y = blobs(10)
    model = cr.Sequential(*res_layers(), seed=0)
    original = cr.Residual.backward
    monkeypatch.setattr(cr.Residual, "backward", lambda self, dY, need_input_grad=True: original(self, dY) - dY)
    assert not cr.gradcheck(model, X, y, "softmax_cross_entropy").passed


def test_inner_dropout_draws_from_the_models_generator():
    X, y = blobs()
    fits = []
    for _ in range(2):
        model = cr.Sequential(*res_layers(0.5), seed=3)
        model.fit(X, y, loss="softmax_cross_entropy", epochs=3, batch_size=8, seed=1)
        fits.append(model.flat_params.copy())
    np.testing.assert_array_equal(fits[0], fits[1])


def test_save_load_keeps_inner_parameters_and_statistics(tmp_path):
    X, y = blobs()
    model = cr.Sequential(*res_layers(0.2), seed=0)
    model.fit(X, y, loss="softmax_cross_entropy", epochs=3, batch_size=8)
    model.save(tmp_path / "m.zip")
    again = cr.load(tmp_path / "m.zip")
    assert repr(again) == repr(model)
    np.testing.assert_array_equal(again.flat_params, model.flat_params)
    np.testing.assert_array_equal(again.layers[2].layers[2].state["running_var"],
                                  model.layers[2].layers[2].state["running_var"])  # fmt: skip
    np.testing.assert_array_equal(again.predict(X), model.predict(X))


def test_the_inner_layers_compute_with_the_models_weights():
    model = cr.Sequential(*res_layers(), seed=0)
    block = model.layers[2]
    assert np.shares_memory(block.layers[0].params["W"], model.flat_params)
    assert np.shares_memory(block.layers[2].state["running_mean"], model.flat_state)
    with pytest.raises(ValueError, match="already belongs to another model"):
        cr.Sequential(cr.Dense(6, 6), block.layers[0])


def test_full_batch_ensemble_members_equal_separate_fits():
    X, y = blobs()
    ens = cr.Ensemble(*res_layers(), n_models=2, seed=6)
    ens.fit(X, y, loss="softmax_cross_entropy", optimizer=cr.Adam(lr=0.01), epochs=15)
    for i in range(2):
        alone = cr.Sequential(*res_layers(), seed=6 + i)
        alone.fit(X, y, loss="softmax_cross_entropy", optimizer=cr.Adam(lr=0.01), epochs=15)
        np.testing.assert_allclose(ens.flat_params[i], alone.flat_params, rtol=1e-10, atol=1e-12)


def test_summary_counts_the_inner_parameters():
    row = next(line for line in cr.Sequential(*res_layers(), seed=0).summary().splitlines() if "Residual(" in line)
    assert row.split()[-1] == str(6 * 6 + 6 + 12)


def test_its_two_paths_in_markdown():
    from chainrule.explain.markdown import layer_numbers_markdown

    block = cr.Residual(cr.Dense(1, 1, W=[[2.0]], b=[1.0]))
    block.build((1,), None)
    block.forward(np.array([[3.0]]))  # by hand: f(x) = 2·3 + 1 = 7, y = 3 + 7 = 10; dx = dy + 2·dy = 3
    md = layer_numbers_markdown(block, np.array([[1.0]]))
    for label, value in [("f(x) (inner path)", "7.00000"), ("y = x + f(x)", "10.00000"),
                         ("dx = dy + (∂f/∂x)ᵀ·dy", "3.00000")]:  # fmt: skip
        assert f"{label}: $$\\begin{{bmatrix}} {value} \\end{{bmatrix}}$$" in md
