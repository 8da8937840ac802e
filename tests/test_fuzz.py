"""Fuzzed inputs: every public entry point gives a documented exception or a correct result, and a failed call
changes nothing (weights, optimiser state, epoch count, random generator).

Documented exceptions: ValueError (including ModelFileError), TypeError, FileNotFoundError for missing paths, and
DivergenceError (a FloatingPointError) when finite but huge inputs overflow the loss during training.
Set CHAINRULE_COUNTS=path to append the number of examples run.
"""

from __future__ import annotations

import copy
import os
import shutil
import tempfile

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import chainrule as cr

EXAMPLES = int(os.environ.get("CHAINRULE_FUZZ_EXAMPLES", "250"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
DOCUMENTED = (ValueError, TypeError)
COUNTS: dict[str, int] = {}

VALUES = [0.0, 1.0, -1.0, 0.5, 1e-308, 5e-324, -1e-300, 1e300, -1e308, 1.7e308, np.nan, np.inf, -np.inf, 3.0, 2.0]
DTYPES = ["float64", "float32", "float16", "int64", "int8", "uint8", "bool", "complex128", "object", "<U3", "S2"]


@st.composite
def arrays(draw, max_dims: int = 3):
    """Arrays of any dtype, shape (empty included) and layout, filled with ordinary and extreme values."""
    ndim = draw(st.integers(0, max_dims))
    shape = tuple(draw(st.lists(st.integers(0, 5), min_size=ndim, max_size=ndim)))
    dtype = draw(st.sampled_from(DTYPES))
    values = draw(st.lists(st.sampled_from(VALUES), min_size=1, max_size=8))
    size = int(np.prod(shape)) if shape else 1
    flat = np.array([values[i % len(values)] for i in range(size)], dtype=np.float64)
    with np.errstate(all="ignore"):
        try:
            arr = flat.astype(dtype).reshape(shape)
        except (ValueError, TypeError):
            arr = flat.reshape(shape)
    layout = draw(st.sampled_from(["c", "fortran", "strided", "readonly", "list"]))
    if layout == "fortran":
        arr = np.asfortranarray(arr)
    elif layout == "strided" and arr.ndim >= 1:
        arr = np.repeat(arr, 2, axis=0)[::2]
    elif layout == "readonly":
        arr = arr.copy()
        arr.setflags(write=False)
    elif layout == "list":
        return arr.tolist()
    return arr


@st.composite
def good_X(draw, n_features: int = 3):
    """Valid inputs (possibly extreme), n in 1..6, any layout."""
    n = draw(st.integers(1, 6))
    values = draw(st.lists(st.sampled_from([0.0, 1.0, -2.5, 1e-300, 1e150, -1e150, 7.0]), min_size=1, max_size=6))
    X = np.array([values[i % len(values)] for i in range(n * n_features)]).reshape(n, n_features)
    layout = draw(st.sampled_from(["c", "fortran", "readonly", "int"]))
    if layout == "fortran":
        X = np.asfortranarray(X)
    elif layout == "readonly":
        X.setflags(write=False)
    elif layout == "int":
        X = np.clip(X, -10, 10).astype(np.int64)
    return X


ANY = st.one_of(arrays(), good_X(), st.none(), st.integers(-3, 3), st.text(max_size=3), st.just([[1, 2], [3]]))
LOSSES = ["mse", "sse", "bce", "bce_logits", "softmax_cross_entropy", "categorical_cross_entropy"]


_TRAINED: dict[str, cr.Sequential] = {}


def trained_model(loss: str = "mse"):
    """A fresh copy of a small model trained one epoch with Adam (so it has optimiser state)."""
    if loss not in _TRAINED:
        _TRAINED[loss] = _train(loss)
    return copy.deepcopy(_TRAINED[loss])


def _train(loss: str):
    rng = np.random.default_rng(0)
    n_out = 1 if loss in ("mse", "sse", "bce", "bce_logits") else 2
    last = [cr.Sigmoid()] if loss == "bce" else [cr.Softmax()] if loss == "categorical_cross_entropy" else []
    model = cr.Sequential(cr.Dense(3, 4), cr.Tanh(), cr.Dense(4, n_out), *last, seed=0)
    X = rng.normal(size=(8, 3))
    y = rng.integers(0, 2, size=8) if n_out == 1 else rng.integers(0, n_out, size=8)
    model.fit(X, y, loss=loss, optimizer=cr.Adam(lr=0.01), epochs=1, batch_size=4)
    return model


def snapshot(model):
    opt = model.optimizer_
    state = None if opt is None else (opt, opt.t, [{k: v.copy() for k, v in s.items()} for s in opt.state])
    return model.flat_params.copy(), state, model.epochs_trained_, model.rng.bit_generator.state, model.loss_


def assert_unchanged(model, before, what: str):
    flat, state, epochs, rng, loss = before
    assert np.array_equal(model.flat_params, flat), f"{what} changed the weights"
    assert model.epochs_trained_ == epochs, f"{what} changed epochs_trained_"
    assert model.rng.bit_generator.state == rng, f"{what} advanced the generator"
    assert model.loss_ is loss, f"{what} replaced the loss"
    opt = model.optimizer_
    assert opt is state[0] and opt.t == state[1], f"{what} changed the optimiser"
    for s, t in zip(opt.state, state[2]):
        for k in t:
            assert np.array_equal(s[k], t[k]), f"{what} changed optimiser slot {k}"


def count(name: str) -> None:
    COUNTS[name] = COUNTS.get(name, 0) + 1


@pytest.fixture(scope="module", autouse=True)
def record_counts():
    yield
    shutil.rmtree(_FILES, ignore_errors=True)
    target = os.environ.get("CHAINRULE_COUNTS")
    if target:
        with open(target, "a", encoding="utf-8") as fh:
            for name, n in sorted(COUNTS.items()):
                fh.write(f"fuzz {name} {n}\n")


def valid_targets(draw, loss: str, n: int):
    if loss in ("mse", "sse"):
        return draw(st.sampled_from([np.zeros(n), np.linspace(-1e150, 1e150, n), np.arange(n) * 0.5]))
    k = 2 if loss in ("bce", "bce_logits") else 2
    return np.arange(n) % k


def some_targets(data, loss: str, X):
    """Valid targets for X when X is a valid 2-D input (half the time), otherwise anything."""
    if isinstance(X, np.ndarray) and X.ndim == 2 and len(X) and data.draw(st.booleans()):
        return valid_targets(data.draw, loss, len(X))
    return data.draw(ANY)


_FILES = tempfile.mkdtemp(prefix="chainrule-fuzz-")


def bad_resume_files() -> list:
    """Paths that fit(resume_from=...) must refuse: missing, junk, another architecture, untrained, not a path."""
    junk = os.path.join(_FILES, "junk.npz")
    with open(junk, "wb") as fh:
        fh.write(b"PK\x03\x04 not really")
    other = cr.Sequential(cr.Dense(3, 5), cr.Tanh(), cr.Dense(5, 1), seed=0)
    other.fit(np.ones((4, 3)), np.ones(4), loss="mse", epochs=1)
    other.save(os.path.join(_FILES, "other.npz"))
    cr.Sequential(cr.Dense(3, 4), cr.Tanh(), cr.Dense(4, 1), seed=0).save(os.path.join(_FILES, "untrained.npz"))
    names = ["missing.npz", "junk.npz", "other.npz", "untrained.npz"]
    return [os.path.join(_FILES, n) for n in names] + [3, b"\x00", _FILES]


BAD_FIT_ARGS = {
    "X": ANY,
    "y": ANY,
    "epochs": st.sampled_from([0, -1, 1.5, "2", True, None, 10**20 * 0.5]),
    "batch_size": st.sampled_from([0, -2, 2.0, "4", False]),
    "validation_split": st.sampled_from([0.99, 1.0, -0.1, np.nan, "0.1", 0.5]),
    "optimizer": st.sampled_from(["nope", 3, object(), "adam "]),
    "sample_weight": ANY,
    "validation_data": st.one_of(ANY, st.tuples(ANY, ANY), st.tuples(ANY)),
    "callbacks": st.sampled_from([[1], ["stop"], None, [cr.EarlyStopping(monitor="nonexistent")]]),
    "metrics": st.sampled_from([["nope"], "accuracy", [1]]),
    "resume_from": st.sampled_from(bad_resume_files()),
}


@FUZZ
@given(
    data=st.data(),
    loss=st.sampled_from(LOSSES),
    bad=st.sampled_from(["none", "none", "all", *BAD_FIT_ARGS]),
    batch_size=st.sampled_from([None, 1, 2, 100]),
    shuffle=st.booleans(),
    pass_loss=st.booleans(),
    optimizer=st.sampled_from([None, "adam", "sgd", "rmsprop"]),
)
def test_fit_fails_cleanly_or_trains(data, loss, bad, batch_size, shuffle, pass_loss, optimizer):
    """Valid arguments (extreme values included) with one argument made bad, or none, or all."""
    count("fit")
    X = data.draw(good_X())
    args = dict(
        X=X,
        y=valid_targets(data.draw, loss, len(X)),
        epochs=data.draw(st.sampled_from([1, 2])),
        batch_size=batch_size,
        validation_split=0.0,
        optimizer=optimizer,
        sample_weight=None,
        validation_data=None,
        callbacks=(),
        metrics=(),
        resume_from=None,
    )
    if bad == "all":
        args.update({name: data.draw(strategy) for name, strategy in BAD_FIT_ARGS.items()})
    elif bad != "none":
        args[bad] = data.draw(BAD_FIT_ARGS[bad])
    model = trained_model(loss)
    before = snapshot(model)
    X, y, epochs = args.pop("X"), args.pop("y"), args["epochs"]
    try:
        model.fit(X, y, loss=loss if pass_loss else None, shuffle=shuffle, **args)
    except cr.DivergenceError:
        event("fit: DivergenceError")
        assert np.isfinite(model.flat_params).all()
    except (FileNotFoundError, *DOCUMENTED) as exc:
        event(f"fit: {type(exc).__name__}")
        assert str(exc), "an exception without a message"
        assert_unchanged(model, before, f"fit raising {type(exc).__name__}")
    else:
        event("fit: trained")
        assert model.epochs_trained_ == before[2] + epochs


@FUZZ
@given(
    data=st.data(),
    X=st.one_of(good_X(), ANY),
    loss=st.sampled_from(LOSSES),
    method=st.sampled_from(["predict", "proba", "classes", "evaluate"]),
)
def test_inference_fails_cleanly_and_changes_nothing(data, X, loss, method):
    count("inference")
    y = some_targets(data, loss, X)
    model = trained_model(loss)
    before = snapshot(model)
    try:
        with np.errstate(all="ignore"):
            if method == "predict":
                out = model.predict(X)
                assert out.shape == (len(out), model.n_out) and out.dtype == model.dtype
            elif method == "proba":
                model.predict_proba(X)
            elif method == "classes":
                model.predict_classes(X)
            else:
                model.evaluate(X, y)
        event(f"{method}: ok")
    except DOCUMENTED as exc:
        event(f"{method}: {type(exc).__name__}")
        assert str(exc)
    assert_unchanged(model, before, method)


@FUZZ
@given(P=ANY, Y=ANY, w=st.one_of(st.none(), ANY), loss=st.sampled_from(LOSSES))
def test_losses_fail_cleanly_and_do_not_mutate(P, Y, w, loss):
    count("losses")
    fn = cr.get_loss(loss)
    copies = [np.array(a, copy=True) if isinstance(a, np.ndarray) else a for a in (P, Y, w)]
    try:
        with np.errstate(all="ignore"):
            value = fn.forward(P, Y, w)
            grad = fn.backward()
        assert isinstance(value, float)
        assert grad.shape == np.asarray(P).shape
    except DOCUMENTED as exc:
        assert str(exc)
    for a, c in zip((P, Y, w), copies):
        if isinstance(a, np.ndarray) and a.dtype.kind in "biuf":
            assert np.array_equal(a, c, equal_nan=True), "the loss mutated its input"


LAYERS = [
    lambda: cr.Dense(3, 2),
    cr.Sigmoid,
    cr.Tanh,
    cr.ReLU,
    lambda: cr.LeakyReLU(0.1),
    cr.Identity,
    cr.Softmax,
]


@FUZZ
@given(X=st.one_of(good_X(), ANY), dA=st.one_of(good_X(2), good_X(), ANY), make=st.sampled_from(LAYERS))
def test_layers_fail_cleanly_on_bad_batches_and_gradients(X, dA, make):
    """A layer's forward takes only 2-D float arrays of its width; backward only a gradient of its output's shape."""
    count("layers")
    layer = make()
    params = {k: v.copy() for k, v in layer.params.items()}
    try:
        with np.errstate(all="ignore"):
            out = layer.forward(X)
    except DOCUMENTED as exc:
        assert str(exc)
        ok = isinstance(X, np.ndarray) and X.ndim == 2 and X.dtype.kind == "f" and X.shape[1] == 3
        assert not ok or not isinstance(layer, cr.Dense), f"{layer!r} refused a valid batch: {exc}"
        return
    assert isinstance(X, np.ndarray) and X.ndim == 2 and X.dtype.kind == "f", f"{layer!r} took {X!r}"
    assert out.shape[0] == X.shape[0]
    try:
        with np.errstate(all="ignore"):
            dX = layer.backward(dA)
    except DOCUMENTED as exc:
        assert str(exc)
        assert getattr(dA, "shape", None) != out.shape, f"{layer!r} refused a gradient of the right shape: {exc}"
    else:
        assert dA.shape == out.shape and dX.shape == X.shape
    for k, v in params.items():
        assert np.array_equal(layer.params[k], v), "a layer changed its own parameters"


@FUZZ
@given(data=st.data(), X=st.one_of(good_X(), ANY), loss=st.sampled_from(LOSSES))
def test_gradcheck_fails_cleanly(data, X, loss):
    count("gradcheck")
    y = some_targets(data, loss, X)
    model = trained_model(loss)
    before = snapshot(model)
    try:
        with np.errstate(all="ignore"):
            cr.gradcheck(model, X, y, loss)
        event("gradcheck: ok")
    except DOCUMENTED as exc:
        event(f"gradcheck: {type(exc).__name__}")
        assert str(exc)
    assert_unchanged(model, before, "gradcheck")


@FUZZ
@given(weights=st.lists(ANY, max_size=5))
def test_set_weights_is_all_or_nothing(weights):
    count("set_weights")
    model = trained_model()
    before = snapshot(model)
    try:
        model.set_weights(weights)
    except DOCUMENTED as exc:
        assert str(exc)
        assert_unchanged(model, before, "set_weights")


@FUZZ
@given(path=st.one_of(st.none(), st.integers(), st.just(b"\x00"), st.text(max_size=5), st.just([]), st.just(3.5)))
def test_load_and_save_with_bad_paths(tmp_path_factory, path):
    count("paths")
    try:
        cr.load(path)
    except (FileNotFoundError, *DOCUMENTED) as exc:
        assert str(exc)
    model = trained_model()
    before = snapshot(model)
    if isinstance(path, str) and path:
        return  # a writable relative name: saving it would succeed, which is not the point here
    try:
        model.save(path)
    except (OSError, *DOCUMENTED) as exc:
        assert str(exc)
    assert_unchanged(model, before, "save")
