"""Conv1D against torch.nn.functional.conv1d: outputs and every gradient, float64 and float32, and its bad input."""

import itertools

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")
F = torch.nn.functional


def built(layer, in_shape, n_models=None, dtype=np.float64):
    """``layer`` built for samples of ``in_shape`` with parameters of ``dtype`` (model axis M in front when given)."""
    layer.build(in_shape, n_models)
    lead = () if n_models is None else (n_models,)
    for name, shape in layer.param_shapes().items():
        value = np.broadcast_to(layer.params[name], (*lead, *shape)).astype(dtype)
        layer.params[name], layer.grads[name] = value, np.zeros_like(value)
    return layer


def rel_err(mine, theirs):
    theirs = theirs.detach().numpy()
    return np.abs(mine - theirs).max() / np.abs(theirs).max()


def torch_conv(X, W, b, dZ, **kwargs):
    """PyTorch's output and gradients (X, W, b) for upstream gradient dZ."""
    Xt, Wt, bt = (torch.tensor(a, requires_grad=True) for a in (X, W, b))
    Zt = F.conv1d(Xt, Wt, bt, **kwargs)
    Zt.backward(torch.tensor(dZ))
    return Zt, Xt.grad, Wt.grad, bt.grad


GRID = list(itertools.product([1, 2, 3], [0, 1, 2], [1, 2], [11, 12]))  # stride, padding, dilation, length


@pytest.mark.parametrize("stride, padding, dilation, length", GRID)
def test_conv1d_matches_pytorch_in_float64(stride, padding, dilation, length):
    rng = np.random.default_rng(stride * 100 + padding * 10 + dilation + length)
    C, O, K, n = 3, 4, 3, 5  # noqa: E741
    W, b = rng.normal(size=(O, C, K)), rng.normal(size=O)
    layer = built(cr.Conv1D(C, O, K, stride, padding, dilation, W=W, b=b), (C, length))
    X = rng.normal(size=(n, C, length))
    Z = layer.forward(X)
    dZ = rng.normal(size=Z.shape)  # random upstream gradients: all-ones would hide a transposed index
    dX = layer.backward(dZ)
    Zt, dXt, dWt, dbt = torch_conv(X, W, b, dZ, stride=stride, padding=padding, dilation=dilation)
    assert Z.shape == tuple(Zt.shape) == (n, *layer.output_shape((C, length)))
    for mine, theirs in ((Z, Zt), (dX, dXt), (layer.grads["W"], dWt), (layer.grads["b"], dbt)):
        assert rel_err(mine, theirs) <= 1e-10


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")  # PyTorch's note on its own speed
@pytest.mark.parametrize("kernel_size, dilation, length", [(3, 1, 9), (4, 1, 10), (4, 2, 9), (2, 3, 8)])
def test_same_padding_matches_pytorch_including_even_kernels(kernel_size, dilation, length):
    rng = np.random.default_rng(kernel_size + dilation)
    W, b = rng.normal(size=(2, 3, kernel_size)), rng.normal(size=2)
    layer = built(cr.Conv1D(3, 2, kernel_size, padding="same", dilation=dilation, W=W, b=b), (3, length))
    X = rng.normal(size=(4, 3, length))
    Z = layer.forward(X)
    dZ = rng.normal(size=Z.shape)
    dX = layer.backward(dZ)
    Zt, dXt, dWt, dbt = torch_conv(X, W, b, dZ, padding="same", dilation=dilation)
    assert Z.shape == (4, 2, length)
    for mine, theirs in ((Z, Zt), (dX, dXt), (layer.grads["W"], dWt), (layer.grads["b"], dbt)):
        assert rel_err(mine, theirs) <= 1e-10


def test_float32_in_float32_out_close_to_pytorch():
    rng = np.random.default_rng(1)
    layer = built(cr.Conv1D(2, 5, 3, stride=2, padding=1), (2, 13), dtype=np.float32)
    W, b = rng.normal(size=(5, 2, 3)).astype(np.float32), rng.normal(size=5).astype(np.float32)
    layer.params["W"][...], layer.params["b"][...] = W, b
    X = rng.normal(size=(6, 2, 13)).astype(np.float32)
    Z = layer.forward(X)
    dZ = rng.normal(size=Z.shape).astype(np.float32)
    dX = layer.backward(dZ)
    assert Z.dtype == dX.dtype == layer.grads["W"].dtype == np.float32
    Zt, dXt, dWt, dbt = torch_conv(X, W, b, dZ, stride=2, padding=1)
    for mine, theirs in ((Z, Zt), (dX, dXt), (layer.grads["W"], dWt), (layer.grads["b"], dbt)):
        assert rel_err(mine, theirs) <= 1e-5


@pytest.mark.parametrize("shared_input", [True, False])
def test_with_a_model_axis_each_member_is_its_own_convolution(shared_input):
    rng = np.random.default_rng(2)
    M, C, O, K, L, n = 3, 2, 4, 3, 10, 5  # noqa: E741
    layer = built(cr.Conv1D(C, O, K, stride=2, padding=1), (C, L), n_models=M)
    layer.params["W"][...] = rng.normal(size=(M, O, C, K))
    layer.params["b"][...] = rng.normal(size=(M, O))
    X = rng.normal(size=(1 if shared_input else M, n, C, L))
    Z = layer.forward(X)
    dZ = rng.normal(size=Z.shape)
    dX = layer.backward(dZ)
    assert Z.shape == (M, n, O, 5) and dX.shape == (M, n, C, L)
    for m in range(M):
        W, b = layer.params["W"][m], layer.params["b"][m]
        Zt, dXt, dWt, dbt = torch_conv(X[0 if shared_input else m], W, b, dZ[m], stride=2, padding=1)
        for mine, theirs in ((Z[m], Zt), (dX[m], dXt), (layer.grads["W"][m], dWt), (layer.grads["b"][m], dbt)):
            assert rel_err(mine, theirs) <= 1e-10


def test_forward_leaves_its_input_alone_and_inference_keeps_nothing():
    rng = np.random.default_rng(3)
    layer = built(cr.Conv1D(2, 3, 3, padding=1, W=rng.normal(size=(3, 2, 3))), (2, 7))
    X = rng.normal(size=(4, 2, 7))
    before = X.copy()
    layer.forward(X, training=False, keep=False)
    np.testing.assert_array_equal(X, before)
    with pytest.raises(RuntimeError, match="before a forward that kept"):
        layer.backward(np.ones((4, 3, 7)))


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"kernel_size": 0}, "kernel_size must be a positive integer; received kernel_size=0"),
        ({"stride": 0}, "stride must be a positive integer; received stride=0"),
        ({"dilation": 0}, "dilation must be a positive integer; received dilation=0"),
        ({"padding": -1}, "padding must be a non-negative integer or \"same\"; received padding=-1"),
        ({"padding": "valid"}, "received padding='valid'"),
        ({"padding": "same", "stride": 2}, 'padding="same" needs stride 1; received stride=2'),
        ({"in_channels": 1.5}, "in_channels must be a positive integer"),
    ],
)
def test_bad_arguments_are_refused_naming_the_argument(kwargs, message):
    args = {"in_channels": 1, "out_channels": 2, "kernel_size": 3, **kwargs}
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        cr.Conv1D(**args)


def test_a_kernel_longer_than_the_padded_signal_names_the_length():
    layer = cr.Conv1D(1, 2, 7, padding=1)
    with pytest.raises(ValueError, match=r"Conv1D\(1, 2, 7, padding=1\) gets signals of length 4 \(padded to 6\)"):
        layer.output_shape((1, 4))
    assert cr.Conv1D(1, 2, 5, dilation=2).output_shape((1, 9)) == (2, 1)  # the span 9 fits exactly once
    with pytest.raises(ValueError, match="length 8 but its window spans 9"):
        cr.Conv1D(1, 2, 5, dilation=2).output_shape((1, 8))


def test_channels_that_do_not_match_are_refused_with_both_counts():
    with pytest.raises(
        ValueError,
        match=r"expects \(channels=3, length\) per sample but the layer before gives \(4, 10\)",
    ):
        cr.Conv1D(3, 2, 3).output_shape((4, 10))
    layer = built(cr.Conv1D(3, 2, 3), (3, 10))
    with pytest.raises(ValueError, match=r"got input of shape \(5, 4, 10\); it expects \(n_samples, 3, length\)"):
        layer.forward(np.ones((5, 4, 10)))


def test_a_two_dimensional_batch_is_told_to_add_the_channel_axis():
    layer = built(cr.Conv1D(1, 2, 3), (1, 40))
    with pytest.raises(ValueError, match=r"reshape it with X.reshape\(8, 1, 40\)"):
        layer.forward(np.ones((8, 40)))
    with pytest.raises(ValueError, match=r"\(1, L\)"):
        layer.output_shape((40,))


def test_config_round_trips_and_repr_shows_what_differs_from_the_defaults():
    layer = cr.Conv1D(1, 25, 5, stride=2, padding=1, init="he_uniform")
    assert repr(layer) == "Conv1D(1, 25, 5, stride=2, padding=1)"
    config = layer.get_config()
    again = cr.Layer.registry["Conv1D"].from_config(config)
    assert again.get_config() == config and repr(again) == repr(layer)
    assert cr.Conv1D.config_shapes(config) == {"W": (25, 1, 5), "b": (25,)}
    assert repr(cr.Conv1D(2, 3, 4, padding="same", dilation=2)) == "Conv1D(2, 3, 4, padding='same', dilation=2)"
    assert cr.Conv1D(3, 8, 5).fans() == (15, 40)
    with pytest.raises(ValueError, match="stride"):
        cr.Conv1D.from_config({**config, "stride": -2})


# ------------------------------------------------------------------ worked by hand
# x = [1, 2, 3, 4, 5] (one sample, one channel), w = [1, 0, −1], b = 0, upstream δ = [1, 2, 3].
HAND_X = np.array([[[1.0, 2.0, 3.0, 4.0, 5.0]]])
HAND_W = np.array([[[1.0, 0.0, -1.0]]])
HAND_DELTA = np.array([[[1.0, 2.0, 3.0]]])


def test_hand_worked_kernel_of_three_on_a_length_five_signal():
    layer = built(cr.Conv1D(1, 1, 3, W=HAND_W, b=[0.0]), (1, 5))
    # z[t] = x[t] − x[t + 2]: 1 − 3, 2 − 4, 3 − 5
    np.testing.assert_array_equal(layer.forward(HAND_X), [[[-2.0, -2.0, -2.0]]])
    dX = layer.backward(HAND_DELTA)
    # ∂L/∂w[k] = Σₜ δ[t]·x[t + k]: 1·1 + 2·2 + 3·3 = 14, 1·2 + 2·3 + 3·4 = 20, 1·3 + 2·4 + 3·5 = 26
    np.testing.assert_array_equal(layer.grads["W"], [[[14.0, 20.0, 26.0]]])
    assert layer.grads["b"][0] == 6.0  # 1 + 2 + 3
    # ∂L/∂x[i] = Σ_(t + k = i) w[k]·δ[t]: 1·1; 1·2 + 0·1; 1·3 + 0·2 − 1·1; 0·3 − 1·2; −1·3
    np.testing.assert_array_equal(dX, [[[1.0, 2.0, 2.0, -2.0, -3.0]]])
    terms = layer.weight_gradient_terms(HAND_DELTA, 0, 0, 1)
    assert terms == [(0, 0, 1, 1.0, 2.0), (0, 1, 2, 2.0, 3.0), (0, 2, 3, 3.0, 4.0)]  # (n, t, i, δ, x)
    assert layer.input_gradient_terms(HAND_DELTA, 0, 0, 2) == [
        (0, 0, 2, 1.0, 3.0),
        (0, 1, 1, 0.0, 2.0),
        (0, 2, 0, -1.0, 1.0),
    ]  # (o, k, t, w, δ)


def test_hand_worked_stride_two_with_padding_one():
    layer = built(cr.Conv1D(1, 1, 3, stride=2, padding=1, W=HAND_W, b=[0.0]), (1, 5))
    # padded x = [0, 1, 2, 3, 4, 5, 0]; windows start at 0, 2, 4: [0, 1, 2], [2, 3, 4], [4, 5, 0]
    np.testing.assert_array_equal(layer.forward(HAND_X), [[[-2.0, -2.0, 4.0]]])
    dX = layer.backward(HAND_DELTA)
    # ∂L/∂w[k] = Σₜ δ[t]·x[2t + k − 1]: 1·0 + 2·2 + 3·4 = 16, 1·1 + 2·3 + 3·5 = 22, 1·2 + 2·4 + 3·0 = 10
    np.testing.assert_array_equal(layer.grads["W"], [[[16.0, 22.0, 10.0]]])
    # ∂L/∂x[i] over 2t + k − 1 = i: i=0 w1·δ0 = 0; i=1 w2·δ0 + w0·δ1 = −1 + 2; i=2 w1·δ1 = 0;
    # i=3 w2·δ1 + w0·δ2 = −2 + 3; i=4 w1·δ2 = 0
    np.testing.assert_array_equal(dX, [[[0.0, 1.0, 0.0, 1.0, 0.0]]])
    terms = layer.weight_gradient_terms(HAND_DELTA, 0, 0, 0)
    assert terms == [(0, 0, -1, 1.0, 0.0), (0, 1, 1, 2.0, 2.0), (0, 2, 3, 3.0, 4.0)]  # i = −1: the padding
    assert layer.input_gradient_terms(HAND_DELTA, 0, 0, 3) == [(0, 0, 2, 1.0, 3.0), (0, 2, 1, -1.0, 2.0)]


def test_the_terms_sum_to_backwards_gradients_on_a_random_layer():
    rng = np.random.default_rng(7)
    layer = built(cr.Conv1D(2, 3, 3, stride=2, padding=2, dilation=2, W=rng.normal(size=(3, 2, 3))), (2, 9))
    Z = layer.forward(rng.normal(size=(2, 2, 9)))
    dZ = rng.normal(size=Z.shape)
    dX = layer.backward(dZ)
    for o, c, k in [(0, 0, 0), (2, 1, 2), (1, 0, 1)]:
        total = sum(d * x for *_, d, x in layer.weight_gradient_terms(dZ, o, c, k))
        assert total == pytest.approx(layer.grads["W"][o, c, k], rel=1e-12, abs=1e-12)
    for n, c, i in [(0, 0, 0), (1, 1, 8), (1, 0, 4)]:
        total = sum(w * d for *_, w, d in layer.input_gradient_terms(dZ, n, c, i))
        assert total == pytest.approx(dX[n, c, i], rel=1e-12, abs=1e-12)


# ------------------------------------------------------------------ in a model
def small_cnn(seed=0, dtype="float64", **kwargs):
    """Every signal layer in one network: (2, 16) -> Conv -> (3, 8) -> MaxPool -> (3, 4) -> Conv -> (2, 4) -> ..."""
    return cr.Sequential(
        cr.Conv1D(2, 3, 3, stride=2, padding=1),
        cr.Tanh(),
        cr.MaxPool1D(2),
        cr.Conv1D(3, 2, 2, padding="same", dilation=2),
        cr.AvgPool1D(2, stride=1),
        cr.Flatten(),
        cr.Dense(6, 3),
        input_shape=(2, 16),
        seed=seed,
        dtype=dtype,
        **kwargs,
    )


def signals(n=6, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 2, 16)), rng.integers(0, 3, size=n)


def test_gradcheck_passes_through_every_signal_layer():
    X, y = signals()
    result = cr.gradcheck(small_cnn(), X, y, "softmax_cross_entropy")
    assert result.passed, str(result)


@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "gelu", "sigmoid", "softplus"])
def test_batchnorm_and_activations_work_on_signals_per_channel(activation):
    X, y = signals(n=8)
    # the activation before BatchNorm: a bias right before it has a gradient of exactly 0, which no relative
    # finite-difference check can confirm
    model = cr.Sequential(cr.Conv1D(2, 3, 3, padding=1), cr.get_activation(activation), cr.BatchNorm(3),
                          cr.GlobalAvgPool1D(), cr.Dense(3, 3), input_shape=(2, 16), seed=1)  # fmt: skip
    result = cr.gradcheck(model, X, y, "softmax_cross_entropy")
    assert result.passed, str(result)


def test_gradcheck_can_fail_when_a_convolution_gradient_is_wrong(monkeypatch):
    X, y = signals()
    model = small_cnn()
    backward = cr.Conv1D.backward

    def off_by_a_tenth(self, dZ, need_input_grad=True):
        out = backward(self, dZ, need_input_grad)
        self.grads["W"][...] *= 1.1
        return out

    monkeypatch.setattr(cr.Conv1D, "backward", off_by_a_tenth)
    assert not cr.gradcheck(model, X, y, "softmax_cross_entropy").passed


def test_summary_shows_each_layers_output_shape():
    text = small_cnn().summary()
    for shape in ("(None, 3, 8)", "(None, 3, 4)", "(None, 2, 4)", "(None, 2, 3)", "(None, 6)", "(None, 3)"):
        assert shape in text, text


def test_save_and_load_give_the_same_predictions(tmp_path):
    X, y = signals()
    model = small_cnn()
    model.fit(X, y, loss="softmax_cross_entropy", optimizer=cr.Adam(lr=0.01), epochs=3, batch_size=3)
    model.save(tmp_path / "cnn.npz")
    again = cr.load(tmp_path / "cnn.npz")
    assert [repr(layer) for layer in again.layers] == [repr(layer) for layer in model.layers]
    np.testing.assert_array_equal(again.predict(X), model.predict(X))


def test_float32_model_trains_in_float32():
    X, y = signals()
    model = small_cnn(dtype="float32")
    model.fit(X.astype(np.float32), y, loss="softmax_cross_entropy", optimizer=cr.Adam(lr=0.01), epochs=2)
    assert model.predict(X.astype(np.float32)).dtype == np.float32


def test_an_ensemble_of_cnns_equals_separate_fits():
    X, y = signals(n=12)
    fit = dict(loss="softmax_cross_entropy", epochs=4, batch_size=4, shuffle=False)
    ens = cr.Ensemble.stack([small_cnn(seed=s) for s in range(3)])
    ens.fit(X, y, optimizer=cr.Adam(lr=0.01), **fit)
    for s in range(3):
        alone = small_cnn(seed=s)
        alone.fit(X, y, optimizer=cr.Adam(lr=0.01), **fit)
        for mine, theirs in zip(ens.member(s).get_weights(), alone.get_weights()):
            np.testing.assert_allclose(mine, theirs, rtol=1e-10, atol=1e-12)


def test_flatten_into_a_dense_of_the_wrong_width_names_the_width_it_needs():
    with pytest.raises(ValueError, match=r"gets 6; make it Dense\(6, 2\)"):
        cr.Sequential(cr.Conv1D(2, 3, 3, stride=2, padding=1), cr.MaxPool1D(4), cr.Flatten(), cr.Dense(5, 2),
                      input_shape=(2, 16))  # fmt: skip


def test_explain_writes_each_weights_gradient_as_its_sum_with_the_numbers():
    from chainrule.explain.text import layer_numbers
    from chainrule.layers.terms import Role, the, with_role

    layer = built(cr.Conv1D(1, 1, 3, stride=2, padding=1, W=HAND_W, b=[0.0]), (1, 5))
    layer.forward(HAND_X)
    text = layer_numbers(layer, HAND_DELTA)
    # the hand-worked sums of test_hand_worked_stride_two_with_padding_one, the padding's zeros included
    assert "∂L/∂w[0, 0, 0] = Σₙ Σₜ δ[n, 0, t]·x[n, 0, 2t − 1] = 1·0 + 2·2 + 3·4" in text
    assert "∂L/∂w[0, 0, 1] = Σₙ Σₜ δ[n, 0, t]·x[n, 0, 2t] = 1·1 + 2·3 + 3·5" in text
    assert "∂L/∂w[0, 0, 2] = Σₙ Σₜ δ[n, 0, t]·x[n, 0, 2t + 1] = 1·2 + 2·4 + 3·0" in text
    np.testing.assert_array_equal(layer.grads["W"], [[[16.0, 22.0, 10.0]]])  # filled as backward fills them
    windows = the(layer.forward_terms(), Role.INTERMEDIATE)  # the inputs under the kernel, one row per window
    np.testing.assert_array_equal(windows.array, [[0, 1, 2], [2, 3, 4], [4, 5, 0]])
    entries = with_role(layer.backward_terms(HAND_DELTA), Role.WEIGHT_GRADIENT_ENTRY)
    assert [float(t.array) for t in entries] == [16.0, 22.0, 10.0]
    big = built(cr.Conv1D(3, 8, 3), (3, 9))  # 72 weights: summarised by its arrays, no per-weight sums
    big.forward(np.ones((2, 3, 9)))
    assert not with_role(big.backward_terms(np.ones((2, 8, 7))), Role.WEIGHT_GRADIENT_ENTRY)
