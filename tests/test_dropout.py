"""Dropout against PyTorch's, with the same mask; its rate checks; its draws from the model's generator."""

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")


class Replay:
    """A generator stand-in whose uniform draws reproduce a given keep-mask (kept → 0.999, dropped → 0)."""

    def __init__(self, kept):
        self.kept = kept

    def random(self, shape):
        assert shape == self.kept.shape
        return np.where(self.kept, 0.999, 0.0)


def torch_dropout(X, dY, rate, seed):
    torch.manual_seed(seed)
    Xt = torch.tensor(X, requires_grad=True)
    Yt = torch.nn.functional.dropout(Xt, p=rate, training=True)
    Yt.backward(torch.tensor(dY))
    return Yt.detach().numpy(), Xt.grad.numpy()


@pytest.mark.parametrize("rate", [0.1, 0.5, 0.8])
@pytest.mark.parametrize("shape", [(20, 6), (5, 3, 8)])
def test_training_matches_pytorch_with_the_same_mask(rate, shape):
    rng = np.random.default_rng(0)
    X, dY = rng.normal(size=shape), rng.normal(size=shape)  # never exactly 0, so Yt ≠ 0 marks what torch kept
    Yt, dXt = torch_dropout(X, dY, rate, seed=1)
    layer = cr.Dropout(rate)
    layer.build(shape[1:], None)
    layer.generator = lambda: Replay(Yt != 0)
    Y = layer.forward(X, training=True)
    dX = layer.backward(dY)
    np.testing.assert_allclose(Y, Yt, rtol=1e-10, atol=0)
    np.testing.assert_allclose(dX, dXt, rtol=1e-10, atol=0)


def test_inference_is_the_identity_like_pytorch():
    rng = np.random.default_rng(1)
    X, dY = rng.normal(size=(7, 4)), rng.normal(size=(7, 4))
    layer = cr.Dropout(0.5)
    layer.build((4,), None)
    Y, dX = layer.forward(X, training=False), layer.backward(dY)
    Xt = torch.tensor(X, requires_grad=True)
    Yt = torch.nn.functional.dropout(Xt, p=0.5, training=False)
    Yt.backward(torch.tensor(dY))
    np.testing.assert_array_equal(Y, Yt.detach().numpy())
    np.testing.assert_array_equal(dX, Xt.grad.numpy())


def test_the_mask_comes_from_the_generator_at_the_rate():
    layer = cr.Dropout(0.3)
    layer.build((100,), None)
    rng = np.random.default_rng(5)
    layer.generator = lambda: rng
    Y = layer.forward(np.ones((1000, 100)))
    dropped = np.mean(Y == 0)
    assert abs(dropped - 0.3) < 0.005  # 100,000 draws: the standard error is 0.0015
    np.testing.assert_allclose(Y[Y != 0], 1 / 0.7)
    rng2 = np.random.default_rng(5)
    layer.generator = lambda: rng2
    np.testing.assert_array_equal(layer.forward(np.ones((1000, 100))), Y)  # same generator state, same mask


def test_each_member_of_an_ensemble_draws_its_own_mask():
    layer = cr.Dropout(0.5)
    layer.build((50,), 3)
    Y = layer.forward(np.ones((1, 40, 50)))  # the model's input, broadcast against the members
    assert Y.shape == (3, 40, 50)
    assert not np.array_equal(Y[0], Y[1])


def test_terms_show_mask_and_scale():
    from chainrule.layers.terms import Role, the

    layer = cr.Dropout(0.25)
    layer.build((3,), None)
    X = np.arange(1.0, 13.0).reshape(4, 3)
    Y = layer.forward(X)
    terms = layer.forward_terms()
    mask = the(terms, Role.MASK).array
    assert float(the(terms, Role.CONSTANT).array) == pytest.approx(4 / 3)
    np.testing.assert_allclose(Y, X * mask * 4 / 3)
    dY = np.ones_like(Y)
    np.testing.assert_allclose(the(layer.backward_terms(dY), Role.INPUT_GRADIENT).array, mask * 4 / 3)


def test_float32_stays_float32():
    layer = cr.Dropout(0.5)
    layer.build((8,), None)
    X = np.ones((10, 8), dtype=np.float32)
    Y = layer.forward(X)
    assert Y.dtype == layer.backward(np.ones_like(Y)).dtype == np.float32
    assert set(np.unique(Y)) <= {0.0, 2.0}


@pytest.mark.parametrize("rate", [-0.1, 1, 1.5, True, "0.5", float("nan"), None])
def test_bad_rate(rate):
    with pytest.raises(ValueError, match=r"Dropout rate must be a number in \[0, 1\); received rate="):
        cr.Dropout(rate)


def test_rate_zero_keeps_everything():
    layer = cr.Dropout(0)
    layer.build((3,), None)
    X = np.random.default_rng(0).normal(size=(4, 3))
    np.testing.assert_array_equal(layer.forward(X), X)


def test_config_round_trip():
    again = cr.Layer.registry["Dropout"].from_config(cr.Dropout(0.2).get_config())
    assert repr(again) == "Dropout(0.2)"
    with pytest.raises(ValueError, match="rate"):
        cr.Dropout.from_config({"type": "Dropout", "rate": 1.0})


# ---------------------------------------------------------------- in a model
def blobs(n=40, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    return X, (X[:, 0] > X[:, 1]).astype(int)


def dropout_layers(rate=0.5):
    return [cr.Dense(3, 8), cr.Tanh(), cr.Dropout(rate), cr.Dense(8, 2)]


def test_gradcheck_with_the_mask_frozen():
    X, y = blobs(10)
    model = cr.Sequential(*dropout_layers(), seed=0)
    result = cr.gradcheck(model, X, y, "softmax_cross_entropy")
    assert result.passed, str(result)


def test_gradcheck_can_fail_when_backward_forgets_the_scale(monkeypatch):
    X, y = blobs(10)
    model = cr.Sequential(*dropout_layers(), seed=0)
    monkeypatch.setattr(cr.Dropout, "backward", lambda self, dY, need_input_grad=True: dY * (self._cache[1] != 0))
    assert not cr.gradcheck(model, X, y, "softmax_cross_entropy").passed


def test_predict_is_deterministic_and_training_is_not():
    X, _ = blobs()
    model = cr.Sequential(*dropout_layers(), seed=0)
    np.testing.assert_array_equal(model.predict(X), model.predict(X))  # inference: no mask
    a, b = model.forward(X, training=True, keep=False), model.forward(X, training=True, keep=False)
    assert not np.array_equal(a, b)  # a fresh mask each training pass


def test_a_seeded_fit_is_reproducible_and_resume_is_bit_identical(tmp_path):
    X, y = blobs()
    fit = dict(loss="softmax_cross_entropy", batch_size=8, seed=5)
    straight = cr.Sequential(*dropout_layers(), seed=1)
    straight.fit(X, y, epochs=6, **fit)
    again = cr.Sequential(*dropout_layers(), seed=1)
    again.fit(X, y, epochs=6, **fit)
    np.testing.assert_array_equal(again.flat_params, straight.flat_params)
    first = cr.Sequential(*dropout_layers(), seed=1)
    first.fit(X, y, epochs=3, callbacks=[cr.ModelCheckpoint(tmp_path / "c.zip")], **fit)
    resumed = cr.Sequential(*dropout_layers(), seed=1)
    resumed.initialize(seed=999)  # another generator state: the file's must be restored
    resumed.fit(X, y, epochs=6, resume_from=tmp_path / "c.zip", **fit)
    np.testing.assert_array_equal(resumed.flat_params, straight.flat_params)


def test_save_load_and_summary(tmp_path):
    X, y = blobs()
    model = cr.Sequential(*dropout_layers(0.3), seed=0)
    model.fit(X, y, loss="softmax_cross_entropy", epochs=2)
    model.save(tmp_path / "m.zip")
    again = cr.load(tmp_path / "m.zip")
    assert repr(again.layers[2]) == "Dropout(0.3)"
    np.testing.assert_array_equal(again.predict(X), model.predict(X))
    assert "Dropout(0.3)" in model.summary()


def test_an_ensemble_trains_and_predicts_with_dropout():
    X, y = blobs()
    ens = cr.Ensemble(*dropout_layers(), n_models=3, seed=0)
    ens.fit(X, y, loss="softmax_cross_entropy", epochs=3, batch_size=8)
    assert ens.predict(X).shape == (3, 40, 2)
    np.testing.assert_array_equal(ens.predict(X)[1], ens.member(1).predict(X))


def test_its_numbers_in_text():
    from chainrule.explain.text import layer_numbers

    layer = cr.Dropout(0.5)
    layer.build((2,), None)
    layer.generator = lambda: Replay(np.array([[True, False]]))
    layer.forward(np.array([[3.0, 4.0]]))
    text = layer_numbers(layer, np.array([[1.0, 1.0]]))
    assert "m (1 kept, 0 dropped) = [1.00000  0.00000]" in text and "1/(1 − p) = [2.00000]" in text
    assert "Y = X ∘ m/(1 − p) = [6.00000  0.00000]" in text and "dX = dY ∘ m/(1 − p) = [2.00000  0.00000]" in text
