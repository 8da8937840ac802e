"""Checks shared by every layer and every loss, driven by one registry of each."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import chainrule as cr
from chainrule.layers.activations import Activation

# name -> factory(n_in) returning a layer; every layer chainrule exports
LAYERS = {
    "Dense": lambda n: cr.Dense(n, 3),
    "Sigmoid": lambda n: cr.Sigmoid(),
    "Tanh": lambda n: cr.Tanh(),
    "ReLU": lambda n: cr.ReLU(),
    "LeakyReLU": lambda n: cr.LeakyReLU(0.2),
    "Identity": lambda n: cr.Identity(),
    "Softmax": lambda n: cr.Softmax(),
    "ELU": lambda n: cr.ELU(0.5),
    "GELU": lambda n: cr.GELU(),
    "GELUTanh": lambda n: cr.GELUTanh(),
    "SiLU": lambda n: cr.SiLU(),
    "Softplus": lambda n: cr.Softplus(),
    "Dropout": lambda n: cr.Dropout(0.3),
    "BatchNorm": lambda n: cr.BatchNorm(n),
    "LayerNorm": lambda n: cr.LayerNorm(n),
    "Residual": lambda n: cr.Residual(cr.Dense(n, n), cr.Tanh()),
}
TRAINING_DIFFERS = {"Dropout", "BatchNorm"}  # their training output is not their inference output
BATCH_STATISTICS = {"BatchNorm"}  # training needs two samples or more

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


# name -> factory(channels) returning a layer on (n, C, L) signals
SIGNAL_LAYERS = {
    "Conv1D": lambda c: cr.Conv1D(c, 2, 3, stride=2, padding=1, dilation=2),
    "MaxPool1D": lambda c: cr.MaxPool1D(3, stride=2),
    "AvgPool1D": lambda c: cr.AvgPool1D(2),
    "GlobalAvgPool1D": lambda c: cr.GlobalAvgPool1D(),
    "Flatten": lambda c: cr.Flatten(),
}


def test_registries_cover_every_exported_layer_and_loss():
    layer_types = {name for name in cr.__all__ if isinstance(getattr(cr, name), type)}
    exported_layers = {n for n in layer_types if issubclass(getattr(cr, n), cr.Layer) and n != "Layer"}
    exported_losses = {n for n in layer_types if issubclass(getattr(cr, n), cr.Loss) and n != "Loss"}
    assert exported_layers == set(LAYERS) | set(SIGNAL_LAYERS)
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


def layer_model(name, n_in, dtype="float64", seed=0):
    """Dense(n_in, 4) -> the layer under test -> Dense(…, 2): the layer sits between two trainable layers."""
    layer = LAYERS[name](4)
    width = layer.output_shape((4,))[0]
    # a bias just before BatchNorm gets no gradient at all (the batch mean subtracts it), so a Tanh goes between
    between = [cr.Tanh()] if name in BATCH_STATISTICS else []
    return cr.Sequential(cr.Dense(n_in, 4), *between, layer, cr.Dense(width, 2), seed=seed, dtype=dtype)


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


@pytest.mark.parametrize("name", list(LAYERS))
@given(seed=st.integers(0, 2**31 - 1), n_in=st.integers(1, 5), batch=st.integers(1, 6))
def test_layer_gradcheck(name, seed, n_in, batch):
    rng = np.random.default_rng(seed)
    model = layer_model(name, n_in, seed=seed)
    batch += name in BATCH_STATISTICS and batch == 1
    X = rng.normal(size=(batch, n_in))
    Y = rng.normal(size=(batch, 2))
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
@pytest.mark.parametrize("name", list(LAYERS))
def test_layer_shapes_dtype_and_no_mutation(name, dtype):
    rng = np.random.default_rng(1)
    model = layer_model(name, 3, dtype=dtype)
    layer = model.layers[-2]
    X = rng.normal(size=(5, 4)).astype(dtype)
    X0 = X.copy()
    out = layer.forward(X)
    assert out.shape == (5, layer.output_shape((4,))[0])
    assert out.dtype == dtype
    np.testing.assert_array_equal(X, X0)
    dA = rng.normal(size=out.shape).astype(dtype)  # random upstream gradient, not all ones
    dA0, out0 = dA.copy(), out.copy()
    dX = layer.backward(dA)
    assert dX.shape == X.shape and dX.dtype == dtype
    np.testing.assert_array_equal(dA, dA0)
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(out, out0)
    for key, p in layer.params.items():
        assert layer.grads[key].shape == p.shape and layer.grads[key].dtype == dtype
    assert layer.backward(dA, need_input_grad=False) is None
    # inference keeps nothing and gives the same output (where the two modes compute the same)
    if name not in TRAINING_DIFFERS:
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


@pytest.mark.parametrize("name", list(LAYERS))
def test_backward_assigns_gradients_and_never_accumulates(name):
    rng = np.random.default_rng(4)
    model = layer_model(name, 3)
    X, Y = rng.normal(size=(5, 3)), rng.normal(size=(5, 2))
    loss = cr.MSE()
    passes, generator = [], model.rng.bit_generator.state
    for _ in range(2):  # a second identical pass must give identical, not doubled, gradients
        model.rng.bit_generator.state = generator  # the same Dropout mask both times
        loss.forward(model.forward(X), Y)
        model.backward(loss.backward())
        passes.append([g.copy() for layer in model.layers for g in layer.grads.values()])
    for a, b in zip(*passes):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", list(LAYERS))
def test_inference_keeps_nothing_for_backward(name):
    layer = LAYERS[name](4)
    if layer.params:
        cr.Sequential(layer, seed=0, input_shape=(4,))
    layer.forward(np.ones((2, 4)), training=False, keep=False)
    with pytest.raises(RuntimeError, match="forward"):
        layer.backward(np.ones((2, layer.output_shape((4,))[0])))


# ------------------------------------------------------------------ layers on signals
def signal_model(name, length, dtype="float64", seed=0):
    """(2, length) signals -> Conv1D(2, 3, 3) -> the layer under test -> Flatten -> Dense(…, 2)."""
    conv, layer = cr.Conv1D(2, 3, 3, padding=1), SIGNAL_LAYERS[name](3)
    width = int(np.prod(layer.output_shape(conv.output_shape((2, length)))))
    return cr.Sequential(conv, layer, cr.Flatten(), cr.Dense(width, 2), input_shape=(2, length), seed=seed, dtype=dtype)


@pytest.mark.parametrize("name", list(SIGNAL_LAYERS))
@given(seed=st.integers(0, 2**31 - 1), length=st.integers(5, 9), batch=st.integers(1, 4))
def test_signal_layer_gradcheck(name, seed, length, batch):
    rng = np.random.default_rng(seed)
    model = signal_model(name, length, seed=seed)
    X, Y = rng.normal(size=(batch, 2, length)), rng.normal(size=(batch, 2))
    result = cr.gradcheck(model, X, Y, "mse", tol=1e-6)
    assert result.passed, str(result)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(SIGNAL_LAYERS))
def test_signal_layer_shapes_dtype_and_no_mutation(name, dtype):
    rng = np.random.default_rng(1)
    layer = signal_model(name, 8, dtype=dtype).layers[1]
    X = rng.normal(size=(5, 3, 8)).astype(dtype)
    X0 = X.copy()
    out = layer.forward(X)
    assert out.shape == (5, *layer.output_shape((3, 8))) and out.dtype == dtype
    dA = rng.normal(size=out.shape).astype(dtype)
    dA0, out0 = dA.copy(), out.copy()
    dX = layer.backward(dA)
    assert dX.shape == X.shape and dX.dtype == dtype
    for array, before in ((X, X0), (dA, dA0), (out, out0)):
        np.testing.assert_array_equal(array, before)
    for key, p in layer.params.items():
        assert layer.grads[key].shape == p.shape and layer.grads[key].dtype == dtype
    assert layer.backward(dA, need_input_grad=False) is None
    np.testing.assert_array_equal(layer.forward(X, training=False, keep=False), out0)


@pytest.mark.parametrize("name", list(SIGNAL_LAYERS))
def test_signal_backward_assigns_gradients_and_never_accumulates(name):
    rng = np.random.default_rng(4)
    model = signal_model(name, 7)
    X, Y = rng.normal(size=(4, 2, 7)), rng.normal(size=(4, 2))
    loss, passes = cr.MSE(), []
    for _ in range(2):
        loss.forward(model.forward(X), Y)
        model.backward(loss.backward())
        passes.append([g.copy() for layer in model.layers for g in layer.grads.values()])
    for a, b in zip(*passes):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", list(SIGNAL_LAYERS))
def test_signal_inference_keeps_nothing_for_backward(name):
    layer = signal_model(name, 8).layers[1]
    out = layer.forward(np.ones((2, 3, 8)), training=False, keep=False)
    with pytest.raises(RuntimeError, match="forward"):
        layer.backward(np.ones_like(out))
