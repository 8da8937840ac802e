"""scikit-learn's MLP parameters on chainrule's estimators: learning_rate and power_t against the documented
rules (hand-computed rates), solver="lbfgs" against scikit-learn's lbfgs and a PyTorch twin of its objective,
to_onnx(dtype=), and Pipelines through skl2onnx against predict_proba under onnxruntime."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")
pytest.importorskip("scipy")

from sklearn.datasets import load_breast_cancer, load_digits, load_wine  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.neural_network import MLPClassifier as SkMLPClassifier  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

import chainrule as cr  # noqa: E402
from chainrule.core.losses import get_loss  # noqa: E402
from chainrule.sklearn import MLPClassifier, MLPRegressor  # noqa: E402


def blobs(n=20, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    return rng.standard_normal((n, 3)) + 2.0 * y[:, None], y


class RateLog(cr.Callback):
    """The learning rate each epoch trained with."""

    def __init__(self):
        self.rates = []

    def on_epoch_end(self, model, epoch, logs):
        self.rates.append(model.optimizer_.current_lr)


def rates(**params):
    X, y = blobs()
    log = RateLog()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = MLPClassifier((4,), solver="sgd", batch_size=20, random_state=0, callbacks=[log], **params).fit(X, y)
    return log.rates, est


# ---------------------------------------------------------------- learning_rate and power_t
def test_constant_keeps_the_initial_rate():
    got, _ = rates(learning_rate="constant", learning_rate_init=0.05, max_iter=4, tol=0.0, n_iter_no_change=10)
    assert got == [0.05] * 4


@pytest.mark.parametrize(
    "power_t, expected",
    [  # η₀ / (t + 1)^p with η₀ = 0.1 and t = 0, 20, 40, 60 samples seen (20 per epoch), worked by hand
        (0.5, [0.1, 0.1 / 21**0.5, 0.1 / 41**0.5, 0.1 / 61**0.5]),  # 0.1, 0.0218218, 0.0156174, 0.0128037
        (0.25, [0.1, 0.1 / 21**0.25, 0.1 / 41**0.25, 0.1 / 61**0.25]),  # 0.1, 0.0467138, 0.0395189, 0.0357821
    ],
)
def test_invscaling_divides_by_the_samples_seen_to_the_power_t(power_t, expected):
    got, _ = rates(learning_rate="invscaling", learning_rate_init=0.1, power_t=power_t, max_iter=4, tol=0.0,
                   n_iter_no_change=10)  # fmt: skip
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    np.testing.assert_allclose(got[1], [0.0218218, 0.0467138][power_t == 0.25], rtol=1e-5)


def test_adaptive_divides_by_five_where_fitting_would_stop_and_stops_below_1e_6():
    # tol=1e9: every epoch after the first fails to improve, so the count passes n_iter_no_change=2 after
    # epochs 4, 7, 10, …; each time η is divided by 5, until at the end of epoch 22 η = 6.4e-7 ≤ 1e-6 stops it.
    params = dict(learning_rate="adaptive", learning_rate_init=0.01, tol=1e9, n_iter_no_change=2, max_iter=100)
    got, est = rates(**params)
    expected = [0.01] * 4 + [2e-3] * 3 + [4e-4] * 3 + [8e-5] * 3 + [1.6e-5] * 3 + [3.2e-6] * 3 + [6.4e-7] * 3
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert est.n_iter_ == 22
    X, y = blobs()
    theirs = SkMLPClassifier((4,), solver="sgd", batch_size=20, random_state=0, **params).fit(X, y)
    assert theirs.n_iter_ == est.n_iter_


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_the_schedule_applies_to_sgd_only():
    X, y = blobs()
    log = RateLog()
    MLPClassifier((4,), solver="adam", learning_rate="invscaling", learning_rate_init=0.01, max_iter=3, tol=0.0,
                  random_state=0, callbacks=[log]).fit(X, y)  # fmt: skip
    assert log.rates == [0.01] * 3


# ---------------------------------------------------------------- lbfgs
def _split(loader, seed):
    X, y = loader(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.25, random_state=seed, stratify=y)
    scaler = StandardScaler().fit(Xtr)
    return scaler.transform(Xtr), scaler.transform(Xte), ytr, yte


@pytest.mark.parametrize("loader", [load_digits, load_breast_cancer, load_wine], ids=lambda f: f.__name__[5:])
def test_lbfgs_reaches_scikit_learns_lbfgs_accuracy_within_a_point(loader):
    ours, theirs = [], []
    for seed in range(3):
        Xtr, Xte, ytr, yte = _split(loader, seed)
        params = dict(hidden_layer_sizes=(50,), solver="lbfgs", max_iter=200, random_state=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            ours.append(MLPClassifier(**params).fit(Xtr, ytr).score(Xte, yte))
            theirs.append(SkMLPClassifier(**params).fit(Xtr, ytr).score(Xte, yte))
    assert np.mean(ours) >= np.mean(theirs) - 0.01, (ours, theirs)


def test_the_penalised_objective_lbfgs_minimises_has_the_gradient_pytorch_computes():
    torch = pytest.importorskip("torch")

    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((30, 4)), rng.integers(0, 3, 30)
    model = cr.mlp([4, 6, 3], "tanh", None, seed=1)
    value, _, _ = model.gradient(X, y, model.objective(get_loss("softmax_cross_entropy"), l2=0.3))
    grad = model.flat_grads

    W1, b1, W2, b2 = (torch.tensor(p, requires_grad=True) for p in model.get_weights())
    Z = torch.tanh(torch.from_numpy(X) @ W1 + b1) @ W2 + b2
    penalty = 0.3 / (2 * 30) * (W1.square().sum() + W2.square().sum())  # α/(2n)·Σ‖W‖², biases not penalised
    f = torch.nn.functional.cross_entropy(Z, torch.from_numpy(y)) + penalty
    f.backward()
    assert value == pytest.approx(f.item(), rel=1e-12)
    theirs = np.concatenate([t.grad.numpy().ravel() for t in (W1, b1, W2, b2)])
    np.testing.assert_allclose(grad, theirs, rtol=1e-10, atol=1e-14)


def test_lbfgs_stops_at_max_iter_with_a_convergence_warning_and_refuses_partial_fit():
    X, y = blobs(40)
    with pytest.warns(ConvergenceWarning, match="lbfgs stopped after"):
        est = MLPClassifier((5,), solver="lbfgs", max_iter=2, random_state=0).fit(X, y)
    assert est.n_iter_ <= 2
    before = est.model_.flat_params.copy()
    assert not hasattr(est, "partial_fit")  # as scikit-learn hides it for lbfgs
    with pytest.raises(AttributeError, match="has no attribute .partial_fit."):
        est.partial_fit(X, y)
    np.testing.assert_array_equal(est.model_.flat_params, before)


def test_lbfgs_fits_a_regressor_as_well_as_scikit_learns():
    from sklearn.neural_network import MLPRegressor as SkMLPRegressor

    rng = np.random.default_rng(3)
    X = rng.uniform(-2, 2, (200, 2))
    y = np.sin(X[:, 0]) + X[:, 1] ** 2
    params = dict(hidden_layer_sizes=(20,), solver="lbfgs", max_iter=300, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = MLPRegressor(**params).fit(X[:150], y[:150]).score(X[150:], y[150:])
        theirs = SkMLPRegressor(**params).fit(X[:150], y[:150]).score(X[150:], y[150:])
    assert ours >= theirs - 0.01 and ours > 0.95


# ---------------------------------------------------------------- ONNX: to_onnx(dtype=) and skl2onnx
onnx_needed = pytest.mark.skipif(
    not all(__import__("importlib").util.find_spec(m) for m in ("onnx", "onnxruntime")), reason="needs onnx"
)


@onnx_needed
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_a_model_fitted_on_float64_exports_float32(tmp_path):
    import onnxruntime as ort

    X, y = blobs(40)
    est = MLPClassifier((5,), max_iter=30, random_state=0).fit(X, y)
    assert est.model_.dtype == np.float64
    est.to_onnx(tmp_path / "m.onnx", dtype="float32")
    session = ort.InferenceSession(str(tmp_path / "m.onnx"))
    assert session.get_inputs()[0].type == "tensor(float)"
    (P,) = session.run(None, {"X": X.astype(np.float32)})
    assert P.dtype == np.float32
    np.testing.assert_allclose(P, est.predict_proba(X), rtol=0, atol=1e-6)
    with pytest.raises(ValueError, match="dtype must be 'float32' or 'float64'"):
        est.to_onnx(tmp_path / "bad.onnx", dtype="int32")
    assert not (tmp_path / "bad.onnx").exists()


def _pipeline_outputs(pipe, X, dtype=np.float32, **options):
    import onnxruntime as ort
    import skl2onnx

    opts = {id(pipe.steps[-1][1]): options} if options else None
    proto = skl2onnx.to_onnx(pipe, X[:1].astype(dtype), options=opts)
    return ort.InferenceSession(proto.SerializeToString()).run(None, {"X": X.astype(dtype)})


@onnx_needed
@pytest.mark.parametrize("zipmap", [False, True])
@pytest.mark.parametrize("labels", ["numbers", "strings", "binary"])
def test_a_pipeline_holding_the_classifier_goes_through_skl2onnx(labels, zipmap):
    pytest.importorskip("skl2onnx")
    X, y = load_wine(return_X_y=True)
    if labels == "binary":
        y = (y == 1).astype(int)
    elif labels == "strings":
        y = np.array(["barolo", "grignolino", "barbera"])[y]
    pipe = Pipeline([("scale", StandardScaler()), ("mlp", MLPClassifier((8,), solver="lbfgs", random_state=0))])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        pipe.fit(X, y)
    label, proba = _pipeline_outputs(pipe, X, zipmap=zipmap)
    if zipmap:
        proba = np.array([[row[c] for c in pipe.classes_] for row in proba])
    np.testing.assert_allclose(proba, pipe.predict_proba(X), rtol=0, atol=1e-6)
    np.testing.assert_array_equal(label, pipe.predict(X))


@onnx_needed
def test_a_pipeline_holding_the_regressor_goes_through_skl2onnx():
    pytest.importorskip("skl2onnx")
    X, _ = load_wine(return_X_y=True)
    y = X[:, :2] @ np.array([[1.0, -2.0], [0.5, 3.0]])
    mlp = MLPRegressor(hidden_layer_sizes=(8,), solver="lbfgs", random_state=0)
    pipe = Pipeline([("scale", StandardScaler()), ("mlp", mlp)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        pipe.fit(X, y)
    (pred,) = _pipeline_outputs(pipe, X)
    expected = pipe.predict(X)
    assert pred.shape == expected.shape
    assert np.max(np.abs(pred - expected) / np.maximum(1, np.abs(expected))) <= 1e-6


def test_the_estimators_import_and_fit_without_skl2onnx():
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['skl2onnx'] = None\n"
        "import numpy as np\n"
        "from chainrule.sklearn import MLPClassifier\n"
        "X = np.arange(8.0).reshape(4, 2)\n"
        "print(MLPClassifier((3,), solver='lbfgs', random_state=0).fit(X, [0, 1, 0, 1]).n_iter_ > 0)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "True", out.stderr[-2000:]


@onnx_needed
def test_a_float64_pipeline_converts_in_float64():
    pytest.importorskip("skl2onnx")
    X, y = load_wine(return_X_y=True)
    pipe = Pipeline([("scale", StandardScaler()), ("mlp", MLPClassifier((8,), solver="lbfgs", random_state=0))])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        pipe.fit(X, y)
    label, proba = _pipeline_outputs(pipe, X, np.float64, zipmap=False)
    assert proba.dtype == np.float64
    np.testing.assert_allclose(proba, pipe.predict_proba(X), rtol=0, atol=1e-12)
    np.testing.assert_array_equal(label, pipe.predict(X))


@onnx_needed
def test_skl2onnx_refuses_a_multilabel_classifier_with_a_value_error():
    skl2onnx = pytest.importorskip("skl2onnx")
    X, _ = blobs(40)
    Y = np.stack([X[:, 0] > 1, X[:, 1] > 1], axis=1).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = MLPClassifier((4,), max_iter=5, random_state=0).fit(X, Y)
    with pytest.raises(ValueError, match="multilabel MLPClassifier is not supported"):
        skl2onnx.to_onnx(est, X[:1].astype(np.float32))
