"""Ensemble: many networks trained at once, each equal to the same network trained alone by Sequential.fit."""

import json
import tracemalloc
import zipfile

import numpy as np
import pytest

import chainrule as cr

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
XOR_Y = np.array([0, 1, 1, 0])


def xor_layers():
    return [cr.Dense(2, 2), cr.Tanh(), cr.Dense(2, 2), cr.Tanh(), cr.Dense(2, 1), cr.Sigmoid()]


def blobs(n=24, d=3, k=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)), rng.integers(0, k, size=n)


# name -> (layers factory, loss, data, optimizer factory)
CASES = {
    "xor tanh, sigmoid + bce (fused), SGD": (xor_layers, "bce", (XOR_X, XOR_Y), lambda: cr.SGD(lr=0.5)),
    "relu, softmax_cross_entropy on logits, Adam": (
        lambda: [cr.Dense(3, 5), cr.ReLU(), cr.Dense(5, 3)],
        "softmax_cross_entropy",
        blobs(),
        lambda: cr.Adam(lr=0.01),
    ),
    "tanh, Softmax + categorical (fused), momentum": (
        lambda: [cr.Dense(3, 4), cr.Tanh(), cr.Dense(4, 3), cr.Softmax()],
        "categorical_cross_entropy",
        blobs(seed=1),
        lambda: cr.SGD(lr=0.1, momentum=0.9, nesterov=True),
    ),
    "sigmoid, mse regression, RMSProp with weight decay and clipping": (
        lambda: [cr.Dense(3, 4), cr.Sigmoid(), cr.Dense(4, 2)],
        "mse",
        (blobs()[0], np.random.default_rng(2).normal(size=(24, 2))),
        lambda: cr.RMSProp(lr=0.01, weight_decay=0.01, clip_norm=0.5),
    ),
}


def close(mine, theirs, rel=1e-10):
    scale = np.maximum(np.abs(theirs), 1e-12)
    worst = float(np.max(np.abs(mine - theirs) / scale))
    assert worst <= rel, f"mine vs theirs: worst relative difference {worst:.2e}\nmine   {mine}\ntheirs {theirs}"


@pytest.mark.parametrize("case", list(CASES))
def test_full_batch_members_equal_separate_fits(case):
    layers, loss, (X, y), opt = CASES[case]
    ens = cr.Ensemble(*layers(), n_models=4, seed=10)
    hist = ens.fit(X, y, loss=loss, optimizer=opt(), epochs=60)
    assert hist["loss"].shape == (60, 4)
    for i in range(4):
        alone = cr.Sequential(*layers(), seed=10 + i)
        h = alone.fit(X, y, loss=loss, optimizer=opt(), epochs=60)
        close(ens.flat_params[i], alone.flat_params)
        close(hist["loss"][:, i], np.array(h["loss"]))


def test_members_start_from_the_weights_of_sequential_with_their_seeds():
    ens = cr.Ensemble(*xor_layers(), n_models=3, seeds=[7, 3, 11])
    for i, s in enumerate([7, 3, 11]):
        assert np.array_equal(ens.flat_params[i], cr.Sequential(*xor_layers(), seed=s).flat_params)
    # weights a user set on a layer are every member's, as they would be any Sequential's
    first = cr.Dense(2, 2, W=[[1.0, 2.0], [3.0, 4.0]])
    ens = cr.Ensemble(first, cr.Tanh(), cr.Dense(2, 1), n_models=3, seed=0)
    assert all(np.array_equal(ens.member(i).layers[0].params["W"], [[1, 2], [3, 4]]) for i in range(3))
    assert not np.array_equal(ens.flat_params[0, 6:], ens.flat_params[1, 6:])  # the rest is drawn per member


def test_per_member_hyperparameters_equal_separate_fits():
    lrs, mus, decays = [0.1, 0.5, 1.0], [0.0, 0.5, 0.9], [0.0, 0.01, 0.001]
    ens = cr.Ensemble(*xor_layers(), n_models=3, seed=0)
    ens.fit(XOR_X, XOR_Y, loss="bce", optimizer=cr.SGD(lr=lrs, momentum=mus, weight_decay=decays), epochs=80)
    for i in range(3):
        alone = cr.Sequential(*xor_layers(), seed=i)
        alone.fit(XOR_X, XOR_Y, loss="bce", optimizer=cr.SGD(lr=lrs[i], momentum=mus[i], weight_decay=decays[i]),
                  epochs=80)  # fmt: skip
        close(ens.flat_params[i], alone.flat_params)


def test_per_member_init_equals_separate_models_with_that_init():
    inits = ["glorot_uniform", "uniform", "he_normal"]
    ens = cr.Ensemble(*xor_layers(), n_models=3, seed=5, init=inits)
    for i, init in enumerate(inits):
        layers = [cr.Dense(2, 2, init=init), cr.Tanh(), cr.Dense(2, 2, init=init), cr.Tanh(),
                  cr.Dense(2, 1, init=init), cr.Sigmoid()]  # fmt: skip
        assert np.array_equal(ens.flat_params[i], cr.Sequential(*layers, seed=5 + i).flat_params)
    assert (ens.member(1).layers[0].params["W"] >= 0).all()  # the seed project's all-positive U(0, 1)


def test_mini_batches_share_the_ensembles_shuffle_order():
    X, y = blobs(n=30)
    layers = lambda: [cr.Dense(3, 4), cr.Tanh(), cr.Dense(4, 3)]  # noqa: E731
    ens = cr.Ensemble(*layers(), n_models=2, seed=0)
    ens.fit(X, y, loss="softmax_cross_entropy", optimizer=cr.Adam(lr=0.01), epochs=5, batch_size=8, seed=99)
    for i in range(2):
        alone = cr.Sequential(*layers(), seed=i)
        alone.fit(X, y, loss="softmax_cross_entropy", optimizer=cr.Adam(lr=0.01), epochs=5, batch_size=8, seed=99)
        close(ens.flat_params[i], alone.flat_params)


def test_a_diverging_member_is_frozen_and_the_others_carry_on():
    lrs = [0.1, 1e12, 0.1]
    ens = cr.Ensemble(cr.Dense(2, 4), cr.Tanh(), cr.Dense(4, 1), n_models=3, seed=0)
    y = np.array([0.0, 3.0, 3.0, 0.0])
    hist = ens.fit(XOR_X, y, loss="mse", optimizer=cr.SGD(lr=lrs), epochs=20)
    [(member, epoch)] = hist["diverged"]
    assert member == 1 and epoch == 0
    assert np.isnan(hist["loss"][:, 1]).all() and np.isfinite(hist["loss"][:, [0, 2]]).all()
    start = cr.Sequential(cr.Dense(2, 4), cr.Tanh(), cr.Dense(4, 1), seed=1).flat_params
    assert np.array_equal(ens.flat_params[1], start)  # put back to its last good weights, then no more steps
    for i in (0, 2):
        alone = cr.Sequential(cr.Dense(2, 4), cr.Tanh(), cr.Dense(4, 1), seed=i)
        alone.fit(XOR_X, y, loss="mse", optimizer=cr.SGD(lr=0.1), epochs=20)
        close(ens.flat_params[i], alone.flat_params)


def test_predict_reductions_and_converged():
    ens = cr.Ensemble(*xor_layers(), n_models=6, seed=0)
    ens.fit(XOR_X, XOR_Y, loss="bce", optimizer=cr.SGD(lr=0.5), epochs=3000)
    out = ens.predict(XOR_X)
    assert out.shape == (6, 4, 1)
    np.testing.assert_array_equal(ens.predict(XOR_X, reduce="mean"), out.mean(axis=0))
    np.testing.assert_array_equal(ens.predict(XOR_X, reduce="std"), out.std(axis=0))
    expected = np.abs(out[:, :, 0] - XOR_Y).max(axis=1) <= 0.05  # by hand from the outputs
    np.testing.assert_array_equal(ens.converged(XOR_X, XOR_Y, tol=0.05), expected)
    for i in range(6):
        np.testing.assert_array_equal(ens.member(i).predict(XOR_X), out[i])


def test_save_and_load_round_trip_with_a_bumped_format_version(tmp_path, monkeypatch):
    ens = cr.Ensemble(cr.Dense(2, 3), cr.Tanh(), cr.Dense(3, 1), cr.Sigmoid(), n_models=4, seeds=[4, 1, 9, 2])
    ens.fit(XOR_X, XOR_Y, loss="bce", optimizer=cr.Adam(lr=[0.01, 0.02, 0.03, 0.04]), epochs=7)
    path = tmp_path / "ens.npz"
    ens.save(path)
    with zipfile.ZipFile(path) as zf:
        doc = json.loads(zf.read("model.json"))
    assert (doc["version"], doc["model"], doc["config"]["n_models"]) == (2, "Ensemble", 4)
    back = cr.load(path)
    assert isinstance(back, cr.Ensemble) and back.seeds == [4, 1, 9, 2] and back.optimizer_.t == 7
    np.testing.assert_array_equal(back.predict(XOR_X), ens.predict(XOR_X))
    # both continue identically from the file (weights, moments, per-member rates)
    ens.fit(XOR_X, XOR_Y, epochs=3)
    back.fit(XOR_X, XOR_Y, epochs=3)
    np.testing.assert_array_equal(back.flat_params, ens.flat_params)
    # a reader of format version 1 only refuses it, naming the version
    monkeypatch.setattr(cr.io, "VERSION", 1)
    with pytest.raises(cr.ModelFileError, match="version 2"):
        cr.load(path)


def test_stack_builds_an_ensemble_from_models_of_one_architecture():
    models = [cr.Sequential(*xor_layers(), seed=s) for s in (3, 8)]
    ens = cr.Ensemble.stack(models)
    for i, m in enumerate(models):
        np.testing.assert_array_equal(ens.predict(XOR_X)[i], m.predict(XOR_X))
    other = cr.Sequential(cr.Dense(2, 3), cr.Tanh(), cr.Dense(3, 1), cr.Sigmoid(), seed=0)
    with pytest.raises(ValueError, match=r"member 1 .*Dense\(2, 3\).*Dense\(2, 2\)"):
        cr.Ensemble.stack([models[0], other])


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: cr.Ensemble(*xor_layers(), n_models=0), "n_models"),
        (lambda: cr.Ensemble(*xor_layers(), n_models=2.5), "n_models"),
        (lambda: cr.Ensemble(*xor_layers(), n_models=3, seeds=[1, 2]), "seeds has 2 entries"),
        (lambda: cr.Ensemble(*xor_layers(), n_models=2, init=["uniform"]), "init has 1 entries"),
        (lambda: cr.Ensemble(cr.Dense(2, 3), cr.Dense(2, 1), n_models=2), "expects 2 inputs.*gets 3"),
        (lambda: cr.SGD(lr=[0.1, -1.0]), "lr must be a positive"),
        (lambda: cr.SGD(lr=[[0.1, 0.2]]), "one number per ensemble member"),
    ],
)
def test_bad_arguments_are_refused(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_per_member_values_must_match_the_member_count():
    ens = cr.Ensemble(*xor_layers(), n_models=3, seed=0)
    before = ens.flat_params.copy()
    with pytest.raises(ValueError, match="2 per-member values; this ensemble has 3 members"):
        ens.fit(XOR_X, XOR_Y, loss="bce", optimizer=cr.SGD(lr=[0.1, 0.2]), epochs=1)
    np.testing.assert_array_equal(ens.flat_params, before)
    single = cr.Sequential(*xor_layers(), seed=0)
    with pytest.raises(ValueError, match="per-member"):
        single.fit(XOR_X, XOR_Y, loss="bce", optimizer=cr.SGD(lr=[0.1, 0.2]), epochs=1)


def test_sequential_only_features_point_to_member():
    ens = cr.Ensemble(*xor_layers(), n_models=2, seed=0)
    with pytest.raises(TypeError, match=r"member\(i\)"):
        cr.gradcheck(ens, XOR_X, XOR_Y, "bce")
    with pytest.raises(TypeError, match=r"member\(i\)"):
        cr.explain(ens, XOR_X, XOR_Y, "bce")
    with pytest.raises(IndexError, match="out of range"):
        ens.member(2)


def test_ten_thousand_members_stay_within_the_memory_budget():
    ens = cr.Ensemble(*xor_layers(), n_models=10_000, seed=0, dtype="float32")
    tracemalloc.start()
    try:
        ens.fit(XOR_X, XOR_Y, loss="bce", optimizer=cr.SGD(lr=0.5), epochs=5)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 200 * 2**20, f"peak {peak / 2**20:.1f} MiB"


def test_a_member_without_an_init_keeps_its_layers_own_after_one_with():
    ens = cr.Ensemble(*xor_layers(), n_models=3, seeds=[5, 5, 5], init=["uniform", None, "uniform"])
    assert np.array_equal(ens.flat_params[1], cr.Sequential(*xor_layers(), seed=5).flat_params)
    assert not np.array_equal(ens.flat_params[0], ens.flat_params[1])


def test_a_member_frozen_in_one_fit_stays_frozen_in_the_next():
    ens = cr.Ensemble(cr.Dense(2, 4), cr.Tanh(), cr.Dense(4, 1), n_models=2, seed=0)
    y = np.array([0.0, 3.0, 3.0, 0.0])
    first = ens.fit(XOR_X, y, loss="mse", optimizer=cr.SGD(lr=[0.1, 1e12]), epochs=3)
    frozen = ens.flat_params[1].copy()
    second = ens.fit(XOR_X, y, epochs=4)
    assert first["diverged"] == [(1, 0)] and second["diverged"] == [] and ens.diverged_ == [(1, 0)]
    assert np.isnan(second["loss"][:, 1]).all() and np.isfinite(second["loss"][:, 0]).all()
    np.testing.assert_array_equal(ens.flat_params[1], frozen)


@pytest.mark.parametrize(
    "layers, loss, y, shape",
    [
        (lambda: [cr.Dense(3, 4), cr.Tanh(), cr.Dense(4, 3)], "softmax_cross_entropy", blobs()[1], (5, 24)),
        (lambda: [cr.Dense(3, 4), cr.Tanh(), cr.Dense(4, 1), cr.Sigmoid()], "bce", blobs(k=2)[1], (5, 24)),
        (lambda: [cr.Dense(3, 2), cr.Sigmoid()], "bce", np.eye(2, dtype=int)[blobs(k=2)[1]], (5, 24, 2)),
    ],
    ids=["softmax labels", "binary", "multilabel"],
)
def test_predict_classes_gives_every_members_labels(layers, loss, y, shape):
    X = blobs()[0]
    ens = cr.Ensemble(*layers(), n_models=5, seed=3)
    ens.fit(X, y, loss=loss, optimizer=cr.Adam(lr=0.05), epochs=20)
    labels = ens.predict_classes(X)
    assert labels.shape == shape and labels.dtype == np.int64
    for i in range(5):  # each member's labels are those its Sequential gives
        np.testing.assert_array_equal(labels[i], ens.member(i).predict_classes(X))


def test_summary_counts_one_member_then_all():
    ens = cr.Ensemble(cr.Dense(3, 4), cr.Tanh(), cr.Dense(4, 1), n_models=3, seed=0)
    lines = ens.summary().splitlines()
    assert lines[2].split()[-1] == "16" and lines[4].split()[-1] == "5"  # 3·4 + 4 and 4·1 + 1
    assert "total parameters: 21 (float64)" in lines
    assert lines[-1] == "an ensemble of 3 such members: 63 parameters in all"
