"""PReLU: learned negative slopes, one shared or one per channel, checked against PyTorch's nn.PReLU."""

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("n_channels", [1, 3])
@pytest.mark.parametrize("sample", [(3,), (3, 5)])
def test_values_and_gradients_match_torch(n_channels, sample):
    rng = np.random.default_rng(n_channels + len(sample))
    X = rng.normal(size=(4, *sample))
    X[0, 0] = 0.0  # the derivative at 0 is the slope, as in PyTorch
    a = rng.uniform(0.05, 0.5, size=n_channels)
    layer = cr.PReLU(n_channels, a=a)
    cr.Sequential(layer, input_shape=sample)
    dY = rng.normal(size=X.shape)
    Y = layer.forward(X)
    dX = layer.backward(dY)
    theirs = torch.nn.PReLU(n_channels).double()
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(a))
    x = torch.tensor(X, requires_grad=True)
    y = theirs(x)
    y.backward(torch.tensor(dY))
    np.testing.assert_allclose(Y, y.detach().numpy(), rtol=1e-13)
    np.testing.assert_allclose(dX, x.grad.numpy(), rtol=1e-13)
    np.testing.assert_allclose(layer.grads["a"], theirs.weight.grad.numpy(), rtol=1e-12)


def test_by_hand_one_shared_slope():
    layer = cr.PReLU(a=[0.5])
    cr.Sequential(layer, input_shape=(2,))
    Y = layer.forward(np.array([[-2.0, 3.0], [4.0, -1.0]]))
    np.testing.assert_array_equal(Y, [[-1.0, 3.0], [4.0, -0.5]])
    dX = layer.backward(np.array([[1.0, 1.0], [1.0, 2.0]]))
    np.testing.assert_array_equal(dX, [[0.5, 1.0], [1.0, 1.0]])
    assert layer.grads["a"][0] == -2.0 * 1.0 + -1.0 * 2.0  # Σ dY·x over the negative inputs


def test_a_slope_count_that_does_not_match_the_channels_is_refused_naming_the_layer():
    message = r"PReLU\(n_channels=3\) has 3 slopes, one per channel, but its input has 4 channels.*PReLU\(4\)"
    with pytest.raises(ValueError, match=message + r", or PReLU\(\) for one shared slope"):
        cr.Sequential(cr.Dense(2, 4), cr.PReLU(3))


def test_starts_at_a_quarter_and_gradchecks_in_a_cnn():
    model = cr.Sequential(cr.Conv1D(2, 3, 3), cr.PReLU(3), cr.Flatten(), cr.Dense(12, 1), seed=0)
    np.testing.assert_array_equal(model.layers[1].params["a"], [0.25, 0.25, 0.25])
    X = np.random.default_rng(0).normal(size=(4, 2, 6))
    assert cr.gradcheck(model, X, np.ones((4, 1)), "mse").passed


def test_an_ensemble_of_prelu_networks_equals_its_members():
    rng = np.random.default_rng(4)
    X, Y = rng.normal(size=(8, 2)), rng.normal(size=(8, 1))
    ens = cr.Ensemble(cr.Dense(2, 3), cr.PReLU(3), cr.Dense(3, 1), n_models=2, seed=1)
    members = [ens.member(i) for i in range(2)]
    ens.fit(X, Y, loss="mse", optimizer="sgd", epochs=4, batch_size=None)
    for i, m in enumerate(members):
        m.fit(X, Y, loss="mse", optimizer="sgd", epochs=4, batch_size=None)
        for a, b in zip(m.get_weights(), ens.member(i).get_weights()):
            np.testing.assert_allclose(a, b, rtol=1e-12)


def test_save_and_load(tmp_path):
    model = cr.Sequential(cr.Dense(2, 3), cr.PReLU(3), cr.Dense(3, 1), seed=0)
    model.layers[1].params["a"][...] = [0.1, 0.2, 0.3]
    model.save(tmp_path / "p.npz")
    again = cr.load(tmp_path / "p.npz")
    np.testing.assert_array_equal(again.layers[1].params["a"], [0.1, 0.2, 0.3])


def test_explain_writes_the_slopes_and_their_gradient_by_hand():
    layer = cr.PReLU(a=[0.5])
    model = cr.Sequential(cr.Dense(2, 2, W=np.eye(2), b=[0.0, 0.0]), layer, cr.Dense(2, 1, W=[[1.0], [1.0]], b=[0.0]))
    text = str(cr.explain(model, np.array([[-2.0, 3.0]]), np.array([[0.0]]), "mse"))
    # by hand: y = (−1, 3), ŷ = 2, ∂L/∂ŷ = 2·(2 − 0) = 4, ∂L/∂y = (4, 4), ∂L/∂a = 4·(−2) = −8
    assert "a (one slope per channel, or one shared)" in text
    assert "∂L/∂a = Σ dy ∘ x where x ≤ 0, per channel = [-8.00000]" in text


def test_onnx_both_ways_and_what_torch_writes_for_nn_prelu(tmp_path):
    import warnings

    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    net = torch.nn.Sequential(torch.nn.Conv1d(2, 3, 3), torch.nn.PReLU(3), torch.nn.Flatten(), torch.nn.Linear(12, 2))
    with torch.no_grad():
        net[1].weight.copy_(torch.tensor([0.1, 0.2, 0.3]))
    X = np.random.default_rng(0).normal(size=(5, 2, 6)).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net.eval(), (torch.tensor(X),), str(tmp_path / "t.onnx"), dynamo=False, input_names=["X"],
                          dynamic_axes={"X": {0: "N"}})  # fmt: skip
    with torch.no_grad():
        expected = net(torch.tensor(X)).numpy()
    mine = cr.from_onnx(tmp_path / "t.onnx")
    assert "PReLU(n_channels=3)" in repr(mine)
    np.testing.assert_allclose(mine.layers[1].params["a"], [0.1, 0.2, 0.3], rtol=1e-7)
    np.testing.assert_allclose(mine.predict(X), expected, rtol=1e-5, atol=1e-6)
    mine.to_onnx(tmp_path / "back.onnx")  # and out again: onnxruntime computes what chainrule does
    (theirs,) = ort.InferenceSession(str(tmp_path / "back.onnx")).run(None, {"X": X})
    np.testing.assert_allclose(theirs, mine.predict(X), rtol=1e-5, atol=1e-6)
