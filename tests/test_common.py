"""Checks shared by every layer and every loss, driven by one registry of each."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import chainrule as cr
from chainrule.layers.activations import Activation

# every layer kind chainrule has, from the registry: each class gives a small example of itself
LAYERS = sorted(name for name, cls in cr.Layer.registry.items()
                if not name.startswith("_") and cls.__module__.startswith("chainrule."))  # not the tests' own


# name -> (factory, what the model's last layer must be, target kind, fewest outputs)
LOSSES = {
    "SSE": (lambda: cr.SSE(), None, "real", 1),
    "SSE_sum": (lambda: cr.SSE(reduction="sum"), None, "real", 1),
    "MSE": (lambda: cr.MSE(), None, "real", 1),
    "BinaryCrossEntropy": (lambda: cr.BinaryCrossEntropy(), "sigmoid", "binary", 1),
    "BCEWithLogits": (lambda: cr.BCEWithLogits(), "logits", "binary", 1),
    "SoftmaxCrossEntropy_labels": (lambda: cr.SoftmaxCrossEntropy(), "logits", "labels", 2),
    "SoftmaxCrossEntropy_onehot": (lambda: cr.SoftmaxCrossEntropy(), "logits", "onehot", 2),
    "CategoricalCrossEntropy": (lambda: cr.CategoricalCrossEntropy(), "softmax", "labels", 2),
    "CategoricalCrossEntropy_onehot": (lambda: cr.CategoricalCrossEntropy(), "softmax", "onehot", 2),
    "MultilabelBCE": (lambda: cr.MultilabelBCE(), "logits", "binary", 1),
    "PoissonDeviance": (lambda: cr.PoissonDeviance(), None, "counts", 1),
}


def test_registries_cover_every_exported_layer_and_loss():
    layer_types = {name for name in cr.__all__ if isinstance(getattr(cr, name), type)}
    exported_layers = {n for n in layer_types if issubclass(getattr(cr, n), cr.Layer) and n != "Layer"}
    exported_losses = {n for n in layer_types if issubclass(getattr(cr, n), cr.Loss) and n != "Loss"}
    assert exported_layers == set(LAYERS)
    assert exported_losses == {key.split("_")[0] for key in LOSSES}


def targets(rng, kind, n, k, dtype=np.float64):
    if kind == "real":
        return rng.normal(size=(n, k)).astype(dtype)
    if kind == "binary":
        return rng.integers(0, 2, size=(n, k)).astype(dtype)
    if kind == "labels":
        return rng.integers(0, k, size=n)
    if kind == "counts":
        return rng.poisson(2.0, size=(n, k)).astype(dtype)
    return np.eye(k, dtype=dtype)[rng.integers(0, k, size=n)]


def around(name, n_in=3):
    """The layer's own example between a trainable front and a Dense head, and the input shape of one sample.

    The front makes the example's input: Dense then Tanh for a vector (n_in values in), Conv1D then Tanh for
    a (C, L) signal (2 channels in), nothing for a layer that takes integer indices. The Tanh keeps a bias
    from sitting just before a normalisation (the batch mean would take its gradient away).
    """
    layer, in_shape = cr.Layer.registry[name].example()
    if layer.input_kind == "index":
        front, model_in = [], in_shape
    elif len(in_shape) == 1:
        front, model_in = [cr.Dense(n_in, in_shape[0]), cr.Tanh()], (n_in,)
    else:
        front, model_in = [cr.Conv1D(2, in_shape[0], 3, padding=1), cr.Tanh()], (2, *in_shape[1:])
    out = layer.output_shape(in_shape)
    return [*front, layer, cr.Flatten(), cr.Dense(int(np.prod(out)), 2)], model_in, in_shape


def layer_model(name, n_in=3, dtype="float64", seed=0):
    layers, model_in, _ = around(name, n_in)
    return cr.Sequential(*layers, seed=seed, dtype=dtype, input_shape=model_in)


def inputs(model, rng, batch):
    if model.layers[0].input_kind == "index":
        return rng.integers(0, model.layers[0].n_tokens, size=(batch, *model.in_shape))
    return rng.normal(size=(batch, *model.in_shape))


def under_test(model):
    """The layer under test: the one just before the Flatten of the head."""
    return model.layers[-3]


def loss_model(key, rng, n_in, hidden, dtype="float64"):
    _, last, _, min_out = LOSSES[key]
    k = max(int(rng.integers(1, 4)), min_out)
    layers = []
    width = n_in
    for h in hidden:
        layers += [cr.Dense(width, h), cr.get_activation(str(rng.choice(["tanh", "sigmoid", "leaky_relu"])))]
        width = h
    layers.append(cr.Dense(width, k))
    if last == "sigmoid":
        layers.append(cr.Sigmoid())
    elif last == "softmax":
        layers.append(cr.Softmax())
    return cr.Sequential(*layers, seed=int(rng.integers(1 << 30)), dtype=dtype), k


@pytest.mark.parametrize("name", LAYERS)
@given(seed=st.integers(0, 2**31 - 1), n_in=st.integers(1, 5), batch=st.integers(2, 6))
def test_layer_gradcheck(name, seed, n_in, batch):
    rng = np.random.default_rng(seed)
    model = layer_model(name, n_in, seed=seed)
    X, Y = inputs(model, rng, batch), rng.normal(size=(batch, 2))
    result = cr.gradcheck(model, X, Y, "mse", tol=1e-6)
    assert result.passed, str(result)


@pytest.mark.parametrize("key", list(LOSSES))
@given(
    seed=st.integers(0, 2**31 - 1),
    n_in=st.integers(1, 4),
    batch=st.integers(1, 6),
    hidden=st.lists(st.integers(1, 5), max_size=2),
)
def test_loss_gradcheck(key, seed, n_in, batch, hidden):
    rng = np.random.default_rng(seed)
    model, k = loss_model(key, rng, n_in, hidden)
    X = rng.normal(size=(batch, n_in))
    Y = targets(rng, LOSSES[key][2], batch, k)
    result = cr.gradcheck(model, X, Y, LOSSES[key][0](), tol=1e-6)
    assert result.passed, str(result)


def test_gradcheck_can_fail():
    """A wrong backward must be caught: gradcheck is a real check, not a rubber stamp."""

    class BadTanh(Activation):
        def f(self, Z):
            return np.tanh(Z)

        def chain(self, dA, Z, A):
            return dA * (1 - A)  # should be dA ∘ (1 − A²)

    model = cr.Sequential(cr.Dense(2, 3), BadTanh(), cr.Dense(3, 1), seed=0)
    rng = np.random.default_rng(0)
    result = cr.gradcheck(model, rng.normal(size=(4, 2)), rng.normal(size=(4, 1)), "mse")
    assert not result.passed


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", LAYERS)
def test_layer_shapes_dtype_and_no_mutation(name, dtype):
    rng = np.random.default_rng(1)
    model = layer_model(name, dtype=dtype)
    layer, in_shape = under_test(model), around(name)[2]
    indices = layer.input_kind == "index"
    X = inputs(model, rng, 5) if indices else rng.normal(size=(5, *in_shape)).astype(dtype)
    X0 = X.copy()
    out = layer.forward(X)
    assert out.shape == (5, *layer.output_shape(in_shape))
    assert out.dtype == dtype
    np.testing.assert_array_equal(X, X0)
    dA = rng.normal(size=out.shape).astype(dtype)  # random upstream gradient, not all ones
    dA0, out0 = dA.copy(), out.copy()
    dX = layer.backward(dA, need_input_grad=not indices)  # indices have no gradient
    assert indices or (dX.shape == X.shape and dX.dtype == dtype)
    np.testing.assert_array_equal(dA, dA0)
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(out, out0)
    for key, p in layer.params.items():
        assert layer.grads[key].shape == p.shape and layer.grads[key].dtype == dtype
    assert layer.backward(dA, need_input_grad=False) is None
    # inference keeps nothing and gives the same output (where the two modes compute the same)
    if not layer.modes_differ:
        np.testing.assert_array_equal(layer.forward(X, training=False, keep=False), out0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("key", list(LOSSES))
def test_loss_shapes_dtype_and_no_mutation(key, dtype):
    rng = np.random.default_rng(2)
    factory, last, kind, min_out = LOSSES[key]
    k = max(3, min_out)
    Z = rng.normal(size=(6, k)).astype(dtype)
    P = {"sigmoid": cr.Sigmoid().forward(Z), "softmax": cr.Softmax().forward(Z)}.get(last, Z)
    Y = targets(rng, kind, 6, k, dtype)
    P0, Y0 = P.copy(), Y.copy()
    loss = factory()
    value = loss.forward(P, Y)
    assert isinstance(value, float) and np.isfinite(value)
    G = loss.backward()
    assert G.shape == P.shape and G.dtype == dtype
    np.testing.assert_array_equal(P, P0)
    np.testing.assert_array_equal(Y, Y0)
    G0 = G.copy()
    assert loss.forward(P, Y) == value  # a second forward gives the same, from unchanged inputs
    np.testing.assert_array_equal(loss.backward(), G0)


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "rmsprop"])
@pytest.mark.parametrize("key", list(LOSSES))
def test_float32_fit_step_stays_float32(key, optimizer):
    rng = np.random.default_rng(3)
    model, k = loss_model(key, rng, 3, [4], dtype="float32")
    X = rng.normal(size=(8, 3)).astype(np.float32)
    Y = targets(rng, LOSSES[key][2], 8, k, np.float32)
    loss = LOSSES[key][0]()
    out = model.forward(X)
    assert out.dtype == np.float32
    loss.forward(out, Y)
    d = loss.backward()
    assert d.dtype == np.float32
    for layer in reversed(model.layers):
        d = layer.backward(d)
        assert d.dtype == np.float32, f"{layer!r} backward upcast to {d.dtype}"
    before = model.get_weights()
    history = model.fit(X, Y, loss=loss, optimizer=optimizer, epochs=2, batch_size=3)
    after = model.get_weights()
    assert all(w.dtype == np.float32 for w in after)
    assert any(not np.array_equal(a, b) for a, b in zip(before, after))
    assert all(slot.dtype == np.float32 for s in model.optimizer_.state for slot in s.values())
    assert model.predict(X).dtype == np.float32
    assert np.isfinite(history["loss"]).all()


@pytest.mark.parametrize("name", LAYERS)
def test_backward_assigns_gradients_and_never_accumulates(name):
    rng = np.random.default_rng(4)
    model = layer_model(name)
    X, Y = inputs(model, rng, 5), rng.normal(size=(5, 2))
    loss = cr.MSE()
    passes, generator = [], model.rng.bit_generator.state
    for _ in range(2):  # a second identical pass must give identical, not doubled, gradients
        model.rng.bit_generator.state = generator  # the same Dropout mask both times
        loss.forward(model.forward(model.check_input(X)), Y)
        model.backward(loss.backward())
        passes.append([g.copy() for layer in model.layers for g in layer.grads.values()])
    for a, b in zip(*passes):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", LAYERS)
def test_inference_keeps_nothing_for_backward(name):
    model = layer_model(name)
    layer = under_test(model)
    X = model.forward(model.check_input(inputs(model, np.random.default_rng(5), 2)), stop=len(model.layers) - 3)
    out = layer.forward(X, training=False, keep=False)
    with pytest.raises(RuntimeError, match="forward"):
        layer.backward(np.ones_like(out))


def test_every_layer_kind_declares_its_facts_once():
    """Config round trip, shapes from the config alone, and the repr, for each kind's own example."""
    for name in LAYERS:
        layer, _ = cr.Layer.registry[name].example()
        config = layer.get_config()
        twin = cr.Layer.registry[name].from_config(config)
        assert twin.get_config() == config and repr(twin) == repr(layer), name
        assert type(layer).config_shapes(config) == layer.param_shapes(), name
        assert {k: v.shape for k, v in layer.params.items()} == layer.param_shapes(), name
