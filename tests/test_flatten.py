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
