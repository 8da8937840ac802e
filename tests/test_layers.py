"""The Layer protocol and Dense: forward and backward against hand NumPy, and who owns a layer's values.

Expected numbers come from NumPy written out here and from the chain rule worked by hand with math.exp.
"""

import gc
import math
import pickle

import numpy as np
import pytest

import chainrule as cr


def sig(z: float) -> float:
    return 1 / (1 + math.exp(-z))


def bound_dense(n_in, n_out, seed=0):
    """A Dense layer inside a model, so that its values are drawn from ``seed``."""
    layer = cr.Dense(n_in, n_out)
    cr.Sequential(layer, seed=seed)
    return layer


# ------------------------------------------------------------------ the protocol
def test_the_base_layer_leaves_forward_and_backward_to_subclasses():
    layer = cr.Layer()
    assert layer.params == {} and layer.grads == {}
    assert layer.param_shapes() == {} and layer.output_shape((7,)) == (7,)
    assert layer.get_config() == {"type": "Layer"}
    with pytest.raises(NotImplementedError):
        layer.forward(np.ones((2, 3)))
    with pytest.raises(NotImplementedError):
        layer.backward(np.ones((2, 3)))


def test_every_layer_class_is_registered_by_its_name():
    for name in ("Dense", "Sigmoid", "Tanh", "ReLU", "LeakyReLU", "Identity", "Softmax"):
        assert cr.Layer.registry[name] is getattr(cr, name)

    class _Private(cr.Layer):  # a leading underscore keeps a helper class out of the registry
        pass

    assert "_Private" not in cr.Layer.registry


def test_dense_params_and_grads_share_keys_and_shapes():
    layer = cr.Dense(3, 5)
    assert set(layer.params) == set(layer.grads) == {"W", "b"}
    assert layer.param_shapes() == {"W": (3, 5), "b": (5,)}
    for name, shape in layer.param_shapes().items():
        assert layer.params[name].shape == layer.grads[name].shape == shape
    assert layer.output_shape((3,)) == (5,) and layer.input_shape == (3,)
    assert repr(layer) == "Dense(3, 5)"


def test_dense_config_round_trips_without_weights():
    layer = cr.Dense(4, 2, init="he_normal")
    config = layer.get_config()
    assert config == {"type": "Dense", "n_in": 4, "n_out": 2, "init": "he_normal"}
    twin = cr.Layer.registry[config["type"]].from_config(config)
    assert isinstance(twin, cr.Dense) and (twin.n_in, twin.n_out, twin.init) == (4, 2, "he_normal")
    assert cr.Dense.config_shapes(config) == {"W": (4, 2), "b": (2,)}


@pytest.mark.parametrize("n_in, n_out", [(0, 2), (2, 0), (-1, 3), (2.5, 1), (True, 1)])
def test_dense_sizes_must_be_positive_integers(n_in, n_out):
    with pytest.raises((ValueError, TypeError), match="n_in|n_out"):
        cr.Dense(n_in, n_out)


# ------------------------------------------------------------------ Dense maths
def test_dense_forward_is_x_w_plus_b():
    rng = np.random.default_rng(0)
    layer = bound_dense(3, 4)
    X = rng.normal(size=(5, 3))
    W, b = layer.params["W"], layer.params["b"]
    b[...] = rng.normal(size=4)  # non-zero, so a missing bias would show
    Z = layer.forward(X)
    assert Z.shape == (5, 4)
    expected = np.array([[sum(X[n, i] * W[i, j] for i in range(3)) + b[j] for j in range(4)] for n in range(5)])
    np.testing.assert_allclose(Z, expected, rtol=1e-13, atol=1e-15)
    np.testing.assert_array_equal(layer.forward(X, training=False, keep=False), Z)


def test_dense_backward_gives_xt_dz_column_sums_and_dz_wt():
    rng = np.random.default_rng(1)
    layer = bound_dense(3, 4)
    X = rng.normal(size=(6, 3))
    dZ = rng.normal(size=(6, 4))  # a random upstream gradient: all ones would hide a transpose
    layer.forward(X)
    dX = layer.backward(dZ)
    W = layer.params["W"]
    dW = np.array([[sum(X[n, i] * dZ[n, j] for n in range(6)) for j in range(4)] for i in range(3)])
    db = np.array([sum(dZ[n, j] for n in range(6)) for j in range(4)])
    dX_hand = np.array([[sum(dZ[n, j] * W[i, j] for j in range(4)) for i in range(3)] for n in range(6)])
    assert layer.grads["W"].shape == (3, 4) and layer.grads["b"].shape == (4,) and dX.shape == (6, 3)
    np.testing.assert_allclose(layer.grads["W"], dW, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(layer.grads["b"], db, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(dX, dX_hand, rtol=1e-12, atol=1e-14)


def test_dense_grads_are_assigned_not_accumulated():
    rng = np.random.default_rng(2)
    layer = bound_dense(2, 3)
    X, dZ1, dZ2 = rng.normal(size=(4, 2)), rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    layer.forward(X)
    layer.backward(dZ1)
    layer.backward(dZ1)  # twice the same: the same gradient, not twice it
    np.testing.assert_allclose(layer.grads["W"], X.T @ dZ1, rtol=1e-12)
    layer.backward(dZ2)  # a new gradient replaces the old one
    np.testing.assert_allclose(layer.grads["W"], X.T @ dZ2, rtol=1e-12)
    np.testing.assert_allclose(layer.grads["b"], dZ2.sum(axis=0), rtol=1e-12)


def test_need_input_grad_false_returns_none_and_still_fills_grads():
    rng = np.random.default_rng(3)
    layer = bound_dense(2, 3)
    X, dZ = rng.normal(size=(4, 2)), rng.normal(size=(4, 3))
    layer.forward(X)
    assert layer.backward(dZ, need_input_grad=False) is None
    np.testing.assert_allclose(layer.grads["W"], X.T @ dZ, rtol=1e-12)
    np.testing.assert_allclose(layer.grads["b"], dZ.sum(axis=0), rtol=1e-12)


def test_backward_before_forward_is_an_error():
    layer = bound_dense(2, 3)
    with pytest.raises(RuntimeError, match=r"Dense\(2, 3\)\.backward.*before a forward"):
        layer.backward(np.ones((1, 3)))
    layer.forward(np.ones((1, 2)), training=False, keep=False)  # inference keeps nothing for backward
    with pytest.raises(RuntimeError, match="before a forward"):
        layer.backward(np.ones((1, 3)))


def test_backward_with_a_gradient_of_the_wrong_shape_names_the_expected_shape():
    layer = bound_dense(2, 3)
    layer.forward(np.ones((4, 2)))
    with pytest.raises(ValueError, match=r"\(4, 3\).*received shape \(4, 2\)"):
        layer.backward(np.ones((4, 2)))


def test_forward_refuses_the_wrong_width_naming_the_layer():
    layer = bound_dense(3, 2)
    with pytest.raises(ValueError, match=r"Dense\(3, 2\).*\(5, 4\).*\(n_samples, 3\)"):
        layer.forward(np.ones((5, 4)))
    with pytest.raises(TypeError, match=r"Dense\(3, 2\)"):
        layer.forward(np.ones((5, 3), dtype=np.int64))


# ------------------------------------------------------------------ ownership: values kept
def test_values_written_in_place_before_joining_are_kept():
    W = np.array([[1.0, -2.0, 3.0], [0.5, 0.25, -0.125]])
    first = cr.Dense(2, 3)
    first.params["W"][...] = W
    first.params["b"][...] = [0.1, 0.2, 0.3]
    replaced = cr.Dense(3, 1)
    replaced.params["W"] = np.array([[4.0], [5.0], [6.0]])  # a new array, not an in-place write: kept too
    model = cr.Sequential(first, cr.Tanh(), replaced, seed=0)
    np.testing.assert_array_equal(model.layers[0].params["W"], W)
    np.testing.assert_array_equal(model.layers[0].params["b"], [0.1, 0.2, 0.3])
    np.testing.assert_array_equal(model.layers[2].params["W"], [[4.0], [5.0], [6.0]])
    np.testing.assert_array_equal(model.layers[2].params["b"], [0.0])  # drawn: biases start at zero


def test_values_given_to_the_constructor_are_kept():
    W, b = [[0.5, -1.0], [2.0, 0.0], [0.25, 4.0]], [3.0, -3.0]
    model = cr.Sequential(cr.Dense(3, 2, W=W, b=b), cr.Sigmoid(), seed=123)
    np.testing.assert_array_equal(model.layers[0].params["W"], W)
    np.testing.assert_array_equal(model.layers[0].params["b"], b)
    for dtype in ("float32", "float64"):
        integers = np.array([[1, -2], [3, 0], [0, 4]], dtype=np.int64)
        typed = cr.Sequential(cr.Dense(3, 2, W=integers, b=b), dtype=dtype)
        assert typed.layers[0].params["W"].dtype == dtype
        np.testing.assert_array_equal(typed.layers[0].params["W"], integers)


def test_only_b_set_keeps_b_and_draws_w_as_a_fresh_model_with_that_seed_would():
    b = [0.7, -0.7, 0.1, 0.0]
    model = cr.Sequential(cr.Dense(3, 4, b=b), cr.Tanh(), cr.Dense(4, 2), seed=42)
    fresh = cr.Sequential(cr.Dense(3, 4), cr.Tanh(), cr.Dense(4, 2), seed=42)
    np.testing.assert_array_equal(model.layers[0].params["b"], b)
    np.testing.assert_array_equal(model.layers[0].params["W"], fresh.layers[0].params["W"])
    np.testing.assert_array_equal(model.layers[2].params["W"], fresh.layers[2].params["W"])
    other_seed = cr.Sequential(cr.Dense(3, 4), cr.Tanh(), cr.Dense(4, 2), seed=43)
    assert not np.array_equal(model.layers[0].params["W"], other_seed.layers[0].params["W"])


BAD_GIVEN = {
    "W of the wrong shape": (dict(W=np.zeros((3, 2))), ValueError, r"\(2, 3\)"),
    "W flat": (dict(W=np.zeros(6)), ValueError, r"\(2, 3\)"),
    "b of the wrong shape": (dict(b=np.zeros(2)), ValueError, r"\(3,\)"),
    "b as a column": (dict(b=np.zeros((3, 1))), ValueError, r"\(3,\)"),
    "W of strings": (dict(W=[["a", "b", "c"], ["d", "e", "f"]]), TypeError, r"\(2, 3\)"),
    "b of strings": (dict(b=["x", "y", "z"]), TypeError, r"\(3,\)"),
    "W complex": (dict(W=np.ones((2, 3), dtype=complex)), TypeError, r"\(2, 3\)"),
    "b of objects": (dict(b=np.array([1.0, None, 2.0], dtype=object)), TypeError, r"\(3,\)"),
    "NaN in W": (dict(W=[[0.0, np.nan, 0.0], [0.0, 0.0, 0.0]]), ValueError, r"\(2, 3\)"),
    "inf in b": (dict(b=[0.0, np.inf, 0.0]), ValueError, r"\(3,\)"),
}


@pytest.mark.parametrize("case", list(BAD_GIVEN))
def test_bad_given_values_name_the_layer_and_the_expected_shape(case):
    kwargs, exc, shape = BAD_GIVEN[case]
    with pytest.raises(exc, match=r"Dense\(2, 3\).*" + shape):
        cr.Dense(2, 3, **kwargs)


@pytest.mark.parametrize("case", ["NaN in W", "inf in b"])
def test_non_finite_given_values_are_refused_naming_the_layer(case):
    kwargs, _, _ = BAD_GIVEN[case]
    with pytest.raises(ValueError, match=r"Dense\(2, 3\).*NaN or infinity"):
        cr.Dense(2, 3, **kwargs)


def test_a_value_of_the_wrong_shape_written_before_joining_is_refused_and_nothing_is_built():
    good, bad = cr.Dense(2, 3), cr.Dense(3, 1)
    good.params["W"][...] = 1.5
    bad.params["W"] = np.zeros((1, 3))
    with pytest.raises(ValueError, match=r"Dense\(3, 1\).*W of shape \(1, 3\); expected \(3, 1\)"):
        cr.Sequential(good, cr.Tanh(), bad, seed=0)
    bad.params["W"] = np.full((3, 1), 2.0)
    model = cr.Sequential(good, cr.Tanh(), bad, seed=0)  # both layers are still free, with their values
    np.testing.assert_array_equal(model.layers[0].params["W"], np.full((2, 3), 1.5))
    np.testing.assert_array_equal(model.layers[2].params["W"], np.full((3, 1), 2.0))


@pytest.mark.parametrize("value", [np.array([[np.nan], [1.0]]), np.array([["a"], ["b"]])], ids=["NaN", "strings"])
def test_values_written_before_joining_are_checked_like_constructor_values(value):
    layer = cr.Dense(2, 1)
    layer.params["W"] = value
    with pytest.raises((ValueError, TypeError), match=r"Dense\(2, 1\)"):
        cr.Sequential(layer, seed=0)


# ------------------------------------------------------------------ ownership: one model per layer
def test_a_layer_in_a_living_model_is_refused_by_a_second_and_nothing_of_the_second_is_built():
    shared = cr.Dense(2, 1)
    first = cr.Sequential(shared, seed=0)
    before = first.flat_params.copy()
    other = cr.Dense(3, 2)
    other.params["W"][...] = 9.0
    with pytest.raises(ValueError, match=r"Dense\(2, 1\) already belongs to another model"):
        cr.Sequential(other, cr.Tanh(), shared, seed=1)
    np.testing.assert_array_equal(first.flat_params, before)
    assert shared.params["W"].base is not None and np.shares_memory(shared.params["W"], first.flat_params)
    # the other layer was not taken by the refused model: it joins a new one with its own values
    model = cr.Sequential(other, cr.Tanh(), cr.Dense(2, 1), seed=1)
    np.testing.assert_array_equal(model.layers[0].params["W"], np.full((3, 2), 9.0))


def test_a_layer_whose_model_is_gone_joins_another_keeping_its_values():
    layer = cr.Dense(2, 2)
    first = cr.Sequential(layer, cr.Sigmoid(), seed=7)
    first.fit(np.array([[0.0, 1.0], [1.0, 0.0]]), np.array([[0.2, 0.8], [0.9, 0.1]]), loss="mse", epochs=3)
    trained = [p.copy() for p in layer.params.values()]
    del first
    gc.collect()
    second = cr.Sequential(layer, cr.Tanh(), cr.Dense(2, 1), seed=99)
    for got, want in zip(second.layers[0].params.values(), trained):
        np.testing.assert_array_equal(got, want)
    assert np.shares_memory(layer.params["W"], second.flat_params)


def test_the_same_layer_twice_in_one_model_is_refused():
    layer = cr.Dense(2, 2)
    with pytest.raises(ValueError, match="twice"):
        cr.Sequential(layer, cr.Tanh(), layer, seed=0)
    act = cr.Tanh()
    with pytest.raises(ValueError, match="twice"):
        cr.Sequential(cr.Dense(2, 2), act, cr.Dense(2, 2), act, seed=0)


def test_params_are_views_of_the_flat_buffer():
    model = cr.mlp([2, 3, 1], "tanh", "sigmoid", seed=0)
    layer = model.layers[0]
    layer.params["W"][1, 2] = 123.0
    assert 123.0 in model.flat_params
    model.flat_params[:] = 0.5
    assert (layer.params["W"] == 0.5).all() and (model.layers[2].params["b"] == 0.5).all()


def test_a_pickled_model_round_trips_and_still_trains():
    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = np.array([0.0, 1.0, 1.0, 0.0])
    model = cr.mlp([2, 4, 1], "tanh", "sigmoid", seed=3)
    model.fit(X, y, loss="bce", optimizer=cr.SGD(lr=0.5), epochs=2)
    twin = pickle.loads(pickle.dumps(model))
    for a, b in zip(model.get_weights(), twin.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert repr(twin) == repr(model) and type(twin.loss_) is type(model.loss_)
    np.testing.assert_array_equal(twin.predict(X), model.predict(X))
    # the unpickled layers are views of the unpickled model's flat buffer
    twin.layers[0].params["W"][0, 0] = 77.0
    assert twin.flat_params[0] == 77.0
    twin.layers[0].params["W"][0, 0] = model.layers[0].params["W"][0, 0]
    # and both train the same way from here, each on its own buffer
    model.fit(X, y, epochs=3)
    twin.fit(X, y, epochs=3)
    for a, b in zip(model.get_weights(), twin.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert not np.shares_memory(model.flat_params, twin.flat_params)
    assert twin.epochs_trained_ == 5


# ------------------------------------------------------------------ the seed-001 neuron, built either way
def neuron_in_place():
    layer = cr.Dense(1, 1)
    layer.params["W"][...] = 0.3
    layer.params["b"][...] = 0.1
    return cr.Sequential(layer, cr.Sigmoid(), seed=0)


def neuron_given():
    return cr.Sequential(cr.Dense(1, 1, W=[[0.3]], b=[0.1]), cr.Sigmoid(), seed=0)


@pytest.mark.parametrize("build", [neuron_in_place, neuron_given], ids=["in place", "Dense(W=, b=)"])
def test_the_seed_001_neuron_takes_one_sse_step_as_by_hand(build):
    x, y, w, b, lr = 0.5, 1.5, 0.3, 0.1, 0.1
    # L = ½(y − ŷ)², ŷ = σ(wx + b): ∂L/∂w = −(y − ŷ)·ŷ(1 − ŷ)·x, ∂L/∂b = −(y − ŷ)·ŷ(1 − ŷ)
    y_hat = sig(w * x + b)
    delta = -(y - y_hat) * y_hat * (1 - y_hat)
    w_new, b_new = w - lr * delta * x, b - lr * delta
    model = build()
    model.fit(np.array([[x]]), np.array([y]), loss="sse", optimizer=cr.SGD(lr=lr), epochs=1)
    W, B = model.get_weights()
    assert W[0, 0] == pytest.approx(w_new, rel=1e-14)
    assert B[0] == pytest.approx(b_new, rel=1e-14)
    assert (round(W[0, 0], 5), round(B[0], 5)) == (0.31154, 0.12308)  # the hand calculation's five decimals
    assert W[0, 0] == pytest.approx(0.312, abs=2.5e-3)  # the post's rounded figures
    assert B[0] == pytest.approx(0.125, abs=2.5e-3)
