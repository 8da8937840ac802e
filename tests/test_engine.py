"""The compiled engine: every fit it covers ends with the NumPy engine's weights, losses and optimiser state.

The NumPy layers are the reference (each checked elsewhere against hand calculation and PyTorch); here the
same fit runs twice, engine="numpy" and engine="compiled", from the same weights. Float64 agrees to 1e-12
relative, float32 to 1e-5 (the two sum in different orders and round differently).
"""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr

pytest.importorskip("numba")

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
XOR_Y = np.array([0, 1, 1, 0])
RNG = np.random.default_rng(0)
BLOB_X = RNG.normal(size=(24, 3))
BLOB_LABELS = RNG.integers(0, 3, size=24)
BLOB_Y = RNG.normal(size=(24, 2))
TOL = {"float64": 1e-12, "float32": 1e-5}


def xor_layers():
    return [cr.Dense(2, 2), cr.Tanh(), cr.Dense(2, 2), cr.Tanh(), cr.Dense(2, 1), cr.Sigmoid()]


# name -> (layers, loss, (X, y), optimizer factory, fit options)
CASES = {
    "xor 2-2-2-1, sigmoid + bce fused, SGD": (xor_layers, "bce", (XOR_X, XOR_Y), lambda: cr.SGD(lr=0.5), {}),
    "relu, softmax_cross_entropy on labels, Adam, shuffled mini-batches": (
        lambda: [cr.Dense(3, 5), cr.ReLU(), cr.Dense(5, 3)],
        "softmax_cross_entropy",
        (BLOB_X, BLOB_LABELS),
        lambda: cr.Adam(lr=0.01),
        {"batch_size": 7, "seed": 3},
    ),
    "tanh, Softmax + categorical fused on one-hot rows, Nesterov": (
        lambda: [cr.Dense(3, 4), cr.Tanh(), cr.Dense(4, 3), cr.Softmax()],
        "categorical_cross_entropy",
        (BLOB_X, np.eye(3)[BLOB_LABELS]),
        lambda: cr.SGD(lr=0.1, momentum=0.9, nesterov=True),
        {},
    ),
    "sigmoid, mse, RMSProp with weight decay and clip_norm": (
        lambda: [cr.Dense(3, 4), cr.Sigmoid(), cr.Dense(4, 2)],
        "mse",
        (BLOB_X, BLOB_Y),
        lambda: cr.RMSProp(lr=0.01, weight_decay=0.01, clip_norm=0.5),
        {},
    ),
    "leaky relu and elu, sse, momentum with clip_value, in-order mini-batches": (
        lambda: [cr.Dense(3, 6), cr.LeakyReLU(0.1), cr.Dense(6, 4), cr.ELU(0.7), cr.Dense(4, 2)],
        "sse",
        (BLOB_X, BLOB_Y),
        lambda: cr.SGD(lr=0.01, momentum=0.5, clip_value=0.05),
        {"batch_size": 10, "shuffle": False},
    ),
    "softplus and silu, bce_logits, Adam with a step schedule": (
        lambda: [cr.Dense(3, 5), cr.Softplus(), cr.Dense(5, 4), cr.SiLU(), cr.Dense(4, 1)],
        "bce_logits",
        (BLOB_X, BLOB_LABELS % 2),
        lambda: cr.Adam(lr=cr.StepDecay(0.05, step_size=10, gamma=0.5)),
        {},
    ),
    "gelu and gelu_tanh, bce on a tanh-free output, cosine schedule": (
        lambda: [cr.Dense(3, 4), cr.GELU(), cr.Dense(4, 4), cr.GELUTanh(), cr.Dense(4, 1), cr.Sigmoid()],
        "bce",
        (BLOB_X, BLOB_LABELS % 2),
        lambda: cr.SGD(lr=cr.CosineDecay(0.3, epochs=40)),
        {"batch_size": 5},
    ),
    "identity output, mse summed, Adam with decay": (
        lambda: [cr.Dense(3, 3), cr.Identity(), cr.Dense(3, 2)],
        cr.MSE(reduction="sum"),
        (BLOB_X, BLOB_Y),
        lambda: cr.Adam(lr=0.01, weight_decay=0.1),
        {},
    ),
}


def rel_error(mine, theirs):
    """‖mine − theirs‖ / ‖theirs‖, the worst over the members (rows) of a stacked array."""
    mine, theirs = np.atleast_2d(np.asarray(mine, float)), np.atleast_2d(np.asarray(theirs, float))
    gap = np.linalg.norm(mine - theirs, axis=-1)
    return float(np.max(gap / np.maximum(np.linalg.norm(theirs, axis=-1), 1e-300)))


def twin_fits(make, n_models, dtype, loss, X, y, opt, epochs, **options):
    """The same fit on both engines, from the same weights: the two models and their histories."""
    models, hists = [], []
    for engine in ("numpy", "compiled"):
        model = make(dtype)
        objective = loss(model) if callable(loss) else loss
        hists.append(model.fit(X, y, loss=objective, optimizer=opt(), epochs=epochs, engine=engine, **options))
        models.append(model)
    return models, hists


def assert_same(models, hists, dtype):
    (ref, mine), (h_ref, h_mine) = models, hists
    tol = TOL[dtype]
    err = rel_error(mine.flat_params, ref.flat_params)
    assert err <= tol, f"weights: mine vs theirs, worst relative difference {err:.2e}"
    err = rel_error(np.array(h_mine["loss"]), np.array(h_ref["loss"]))
    assert err <= tol, f"losses: mine vs theirs, worst relative difference {err:.2e}"
    o_ref, o_mine = ref.optimizer_, mine.optimizer_
    assert o_mine.t == o_ref.t and len(o_mine.state) == len(o_ref.state)
    for slot_ref, slot_mine in zip(o_ref.state, o_mine.state):
        for name in slot_ref:
            assert rel_error(slot_mine[name], slot_ref[name]) <= 10 * tol, name


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", list(CASES))
def test_ensemble_fit_equals_numpy(case, dtype):
    layers, loss, (X, y), opt, options = CASES[case]
    make = lambda dt: cr.Ensemble(*layers(), n_models=3, seed=4, dtype=dt)  # noqa: E731
    models, hists = twin_fits(make, 3, dtype, loss, X, y, opt, 40, **options)
    assert_same(models, hists, dtype)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", list(CASES)[:4])
def test_sequential_fit_equals_numpy(case, dtype):
    layers, loss, (X, y), opt, options = CASES[case]
    make = lambda dt: cr.Sequential(*layers(), seed=1, dtype=dt)  # noqa: E731
    models, hists = twin_fits(make, None, dtype, loss, X, y, opt, 40, **options)
    assert_same(models, hists, dtype)
    assert isinstance(hists[1]["loss"][0], float)


def test_per_member_hyperparameters_and_l2_equal_numpy():
    opt = lambda: cr.SGD(lr=[0.1, 0.5, 1.0], momentum=[0.0, 0.5, 0.9], weight_decay=[0.0, 0.01, 0.001])  # noqa: E731
    make = lambda dt: cr.Ensemble(*xor_layers(), n_models=3, seed=0, dtype=dt)  # noqa: E731
    models, hists = twin_fits(make, 3, "float64", lambda m: m.objective("bce", l2=0.05), XOR_X, XOR_Y, opt, 80)
    assert_same(models, hists, "float64")


def test_a_second_fit_continues_the_optimiser_as_numpy_does():
    models = [cr.Ensemble(*xor_layers(), n_models=2, seed=0) for _ in range(2)]
    for model, engine in zip(models, ("numpy", "compiled")):
        model.fit(XOR_X, XOR_Y, loss="bce", optimizer=cr.Adam(lr=0.05), epochs=150, engine=engine)
        model.fit(XOR_X, XOR_Y, epochs=150, engine=engine)  # 300 steps: the subnormal flush at 128 and 256 too
    assert rel_error(models[1].flat_params, models[0].flat_params) <= 1e-12
    assert models[1].optimizer_.t == 300


def test_a_diverging_member_is_frozen_with_the_same_history():
    make = lambda dt: cr.Ensemble(cr.Dense(2, 4), cr.Tanh(), cr.Dense(4, 1), n_models=3, seed=0)  # noqa: E731
    y = np.array([0.0, 3.0, 3.0, 0.0])
    opt = lambda: cr.SGD(lr=[0.1, 1e12, 0.1])  # noqa: E731
    models, hists = twin_fits(make, 3, "float64", "mse", XOR_X, y, opt, 20)
    assert hists[0]["diverged"] == hists[1]["diverged"] == [(1, 0)]
    assert models[1].diverged_ == [(1, 0)]
    np.testing.assert_array_equal(np.isnan(hists[1]["loss"]), np.isnan(hists[0]["loss"]))
    np.testing.assert_array_equal(models[1].flat_params[1], models[0].flat_params[1])  # put back, then frozen
    assert rel_error(models[1].flat_params, models[0].flat_params) <= 1e-12


def test_a_diverging_sequential_raises_the_same_error_with_the_same_weights():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 3)) * 100, rng.normal(size=(40, 1)) * 100
    errors, models = [], []
    for engine in ("numpy", "compiled"):
        model = cr.Sequential(cr.Dense(3, 16), cr.ReLU(), cr.Dense(16, 1), seed=0)
        with pytest.raises(cr.DivergenceError) as info:
            model.fit(X, y, loss="mse", optimizer=cr.SGD(lr=10.0, momentum=0.9), epochs=200, batch_size=8,
                      engine=engine)  # fmt: skip
        errors.append(info.value)
        models.append(model)
    assert str(errors[1]) == str(errors[0]) and (errors[1].epoch, errors[1].batch) == (errors[0].epoch, errors[0].batch)
    np.testing.assert_array_equal(models[1].flat_params, models[0].flat_params)
    assert models[1].epochs_trained_ == models[0].epochs_trained_


def test_callbacks_and_validation_see_every_epoch_as_on_numpy():
    make = lambda dt: cr.Ensemble(*xor_layers(), n_models=3, seed=2, dtype=dt)  # noqa: E731
    opt = lambda: cr.SGD(lr=[0.5, 0.05, 0.5])  # noqa: E731
    options = dict(validation_data=(XOR_X, XOR_Y), callbacks=[])
    results = []
    for engine in ("numpy", "compiled"):
        stop = cr.EarlyStopping(monitor="val_loss", patience=3, min_delta=1e-3)
        model = make("float64")
        hist = model.fit(XOR_X, XOR_Y, loss="bce", optimizer=opt(), epochs=200, engine=engine,
                         **{**options, "callbacks": [stop]})  # fmt: skip
        results.append((model, hist))
    (ref, h_ref), (mine, h_mine) = results
    assert len(h_mine["loss"]) == len(h_ref["loss"])
    assert rel_error(h_mine["val_loss"], h_ref["val_loss"]) <= 1e-12
    assert rel_error(mine.flat_params, ref.flat_params) <= 1e-12


def test_auto_uses_the_engine_and_falls_back_saying_why(capsys):
    model = cr.Sequential(cr.Dense(2, 3), cr.Dropout(0.2), cr.Dense(3, 1), seed=0)
    model.fit(XOR_X, XOR_Y, loss="mse", optimizer=cr.SGD(lr=0.1), epochs=2, verbose=1)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("engine: NumPy, because") and "Dropout" in lines[0]
    assert len([line for line in lines if "engine" in line]) == 1
    with pytest.raises(ValueError, match=r"engine='compiled' cannot run this fit: .*Dropout\(0.2\)"):
        model.fit(XOR_X, XOR_Y, epochs=1, engine="compiled")


@pytest.mark.parametrize(
    "make, options, match",
    [
        (lambda: cr.Sequential(cr.Dense(2, 2), cr.Tanh(), cr.Tanh(), cr.Dense(2, 1)), {}, r"Tanh\(\) after Tanh"),
        (lambda: cr.Sequential(cr.Dense(2, 2), cr.Softmax(), cr.Dense(2, 1)), {}, "Softmax.*only as the output"),
        (lambda: cr.Sequential(cr.Dense(2, 1)), {"sample_weight": [1, 2, 1, 1]}, "sample_weight"),
        (lambda: cr.Sequential(cr.Dense(2, 1)), {"metrics": ["mae"]}, "metrics"),
    ],
)
def test_compiled_refuses_what_it_does_not_cover_before_anything_changes(make, options, match):
    model = make()
    before = model.flat_params.copy()
    with pytest.raises(ValueError, match=match):
        model.fit(XOR_X, XOR_Y, loss="mse", optimizer=cr.SGD(lr=0.1), epochs=1, engine="compiled", **options)
    np.testing.assert_array_equal(model.flat_params, before)


def test_an_unknown_engine_is_refused():
    model = cr.Sequential(cr.Dense(2, 1), seed=0)
    with pytest.raises(ValueError, match="engine must be one of 'auto', 'numpy', 'compiled'; received engine='fast'"):
        model.fit(XOR_X, XOR_Y, loss="mse", epochs=1, engine="fast")


def test_large_layers_stay_on_numpy_under_auto(capsys):
    model = cr.Sequential(cr.Dense(100, 100), cr.ReLU(), cr.Dense(100, 1), seed=0)
    X = np.random.default_rng(0).normal(size=(8, 100))
    model.fit(X, X[:, 0], loss="mse", optimizer=cr.SGD(lr=0.01), epochs=1, verbose=1)
    assert "Dense(100, 100) is large" in capsys.readouterr().out


def _ulps(mine: np.ndarray, theirs: np.ndarray) -> float:
    """The largest difference in units in the last place of NumPy's result (equal values, infinities: 0)."""
    same = (mine == theirs) | (np.isnan(mine) & np.isnan(theirs))
    with np.errstate(invalid="ignore"):  # inf − inf where both are infinite: counted as equal above
        gap = np.abs(mine - theirs) / np.spacing(np.abs(theirs))
    return float(np.max(np.where(same, 0.0, gap)))


def _over_array(f):
    """f (a compiled scalar function) applied to each element of x, into out."""
    from numba import njit

    @njit
    def apply(x, out):
        for i in range(len(x)):
            out[i] = f(x[i])

    return apply


def test_the_vectorised_exp_tanh_and_log1p_are_within_two_ulp_of_numpys_over_their_whole_range():
    from chainrule.engine import _vmath

    rng = np.random.default_rng(0)
    specials = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-300, -1e-300, 5e-324])
    x = np.concatenate([np.linspace(-746, 710, 400_001), rng.normal(size=100_000) * 30, specials])
    out = np.empty_like(x)
    _over_array(_vmath.exp)(x, out)
    with np.errstate(over="ignore"):
        theirs = np.exp(x)
    tiny = ~(theirs >= np.finfo(float).tiny) & ~np.isnan(x)  # subnormal or zero results
    assert _ulps(out[~tiny], theirs[~tiny]) <= 1
    assert np.max(np.abs(out[tiny] - theirs[tiny])) <= 5e-324  # within one step of the subnormal grid
    x = np.concatenate([np.linspace(-25, 25, 400_001), rng.normal(size=100_000), np.geomspace(1e-300, 0.6, 20_000),
                        -np.geomspace(1e-300, 0.6, 20_000), specials])  # fmt: skip
    out = np.empty_like(x)
    _over_array(_vmath.tanh)(x, out)
    assert _ulps(out, np.tanh(x)) <= 2
    u = np.concatenate([np.linspace(0, 1, 400_001), np.geomspace(1e-320, 1, 100_000)])  # log1p(e^−|z|)'s range
    out = np.empty_like(u)
    _over_array(_vmath.log1p_unit)(u, out)
    assert _ulps(out, np.log1p(u)) <= 2
