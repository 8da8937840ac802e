"""Flatten against PyTorch's flatten order, with and without a model axis."""

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")


def built(layer, in_shape, n_models=None):
    layer.build(in_shape, n_models)
    return layer


def test_flatten_lays_out_channels_then_positions_as_pytorch():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(4, 3, 5))
    layer = built(cr.Flatten(), (3, 5))
    Z = layer.forward(X)
    Xt = torch.tensor(X, requires_grad=True)
    Zt = torch.flatten(Xt, 1)
    np.testing.assert_array_equal(Z, Zt.detach().numpy())
    dZ = rng.normal(size=Z.shape)
    Zt.backward(torch.tensor(dZ))
    np.testing.assert_array_equal(layer.backward(dZ), Xt.grad.numpy())
    assert layer.output_shape((3, 5)) == (15,)
    assert Z[1, 2 * 5 + 4] == X[1, 2, 4]  # Z[n, c·L + i] = X[n, c, i]


def test_flatten_keeps_the_model_axis_and_the_dtype():
    X = np.arange(2 * 4 * 3 * 5, dtype=np.float32).reshape(2, 4, 3, 5)
    layer = built(cr.Flatten(), (3, 5), n_models=2)
    Z = layer.forward(X)
    assert Z.shape == (2, 4, 15) and Z.dtype == np.float32
    np.testing.assert_array_equal(Z[1], X[1].reshape(4, 15))
    assert layer.backward(Z).shape == X.shape


def test_flatten_bad_input():
    layer = built(cr.Flatten(), (3, 5))
    with pytest.raises(TypeError, match="float NumPy array"):
        layer.forward(np.ones((4, 3, 5), dtype=int))
    with pytest.raises(ValueError, match=r"got input of shape \(4,\)"):
        layer.forward(np.ones(4))
    with pytest.raises(ValueError, match=r"received \(3, 0\)"):
        layer.output_shape((3, 0))
    assert repr(layer) == "Flatten()" and cr.Layer.registry["Flatten"] is cr.Flatten


def test_its_numbers_for_explain_and_a_cnn_explained_end_to_end():
    from chainrule.layers.terms import Role, the

    layer = cr.Flatten()
    layer.build((2, 2), None)
    layer.forward(np.array([[[1.0, 2.0], [3.0, 4.0]]]))
    terms = layer.forward_terms()
    # row-major, by hand
    np.testing.assert_array_equal(the(terms, Role.OUTPUT).array, [[1.0, 2.0, 3.0, 4.0]])
    back = layer.backward_terms(np.array([[5.0, 6.0, 7.0, 8.0]]))
    np.testing.assert_array_equal(the(back, Role.INPUT_GRADIENT).array, [[[5.0, 6.0], [7.0, 8.0]]])
    # a whole CNN: explain's gradients are the model's own
    model = cr.Sequential(cr.Conv1D(1, 2, 3), cr.ReLU(), cr.GlobalAvgPool1D(), cr.Dense(2, 1), input_shape=(1, 6),
                          seed=0)  # fmt: skip
    X, y = np.random.default_rng(0).standard_normal((4, 1, 6)), np.array([0.0, 1.0, 1.0, 0.0])
    ex = cr.explain(model, X, y, "bce_logits")
    text = ex.to_text()
    assert "GlobalAvgPool1D" in text and "Conv1D" in text
    model.gradient(X, y[:, None], model.objective("bce_logits"))
    for step, layer in zip(ex.layers, model.layers):
        assert set(step.grads) == set(layer.grads)
        for name, g in layer.grads.items():
            np.testing.assert_allclose(step.grads[name], g, rtol=1e-12, atol=1e-15)
