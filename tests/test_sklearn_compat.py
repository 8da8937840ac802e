"""chainrule.sklearn where it meets scikit-learn's behaviour: the objective's numbers, sparse X, Poisson, partial_fit's
label checks, early stopping's refusals, assignable weights and divergence; scikit-learn's MLP is the reference."""

import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")
sparse = pytest.importorskip("scipy.sparse")

from scipy.special import xlogy  # noqa: E402
from sklearn.datasets import load_digits, make_multilabel_classification  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.neural_network import MLPClassifier as SkMLPClassifier  # noqa: E402

import chainrule as cr  # noqa: E402
from chainrule.sklearn import MLPClassifier, MLPRegressor  # noqa: E402


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def _sklearn_initial_and_one_step(X, Y, **params):
    """scikit-learn's initial weights (a step of 1e-300 changes none of them), then its weights and loss_ after one
    full-batch SGD step from them."""
    still = SkMLPClassifier(**{**params, "learning_rate_init": 1e-300}).fit(X, Y)
    stepped = SkMLPClassifier(**params).fit(X, Y)
    return still, stepped


@pytest.mark.parametrize("alpha", [0.0, 0.5])
def test_a_multilabel_step_equals_scikit_learns(alpha):
    """The log-loss summed over the labels and averaged over the samples, plus α/(2n)·Σ‖W‖²: one SGD step from
    scikit-learn's own initial weights lands on scikit-learn's weights, and the loss equals its loss_."""
    X, Y = make_multilabel_classification(n_samples=40, n_classes=5, random_state=0, return_indicator=True)
    X = X / X.max()
    params = dict(hidden_layer_sizes=(7,), activation="tanh", solver="sgd", momentum=0.0, alpha=alpha,
                  learning_rate_init=0.3, batch_size=40, max_iter=1, shuffle=False, random_state=0)  # fmt: skip
    still, stepped = _sklearn_initial_and_one_step(X, Y, **params)
    ours = MLPClassifier(**params)
    ours.coefs_ = [W.copy() for W in still.coefs_]
    ours.intercepts_ = [b.copy() for b in still.intercepts_]
    ours.partial_fit(X, Y, classes=np.arange(5))
    assert type(ours.model_.loss_) is cr.MultilabelBCE
    assert ours.loss_ == pytest.approx(stepped.loss_, rel=1e-12)
    for mine, theirs in zip(ours.coefs_ + ours.intercepts_, stepped.coefs_ + stepped.intercepts_):
        np.testing.assert_allclose(mine, theirs, rtol=1e-12, atol=1e-15)


def test_the_estimators_train_on_the_plain_objective():
    X, Y = make_multilabel_classification(n_samples=30, n_classes=3, random_state=1, return_indicator=True)
    clf = MLPClassifier((5,), max_iter=3, random_state=0, alpha=0.2).fit(X, Y)
    objective = clf.model_.objective_
    assert type(objective.loss) is cr.MultilabelBCE and objective.l2 == 0.2  # no wrapper: the loss and the α


# ------------------------------------------------------------------ sparse X
def _watch_densifying(monkeypatch, n_features):
    """The rows of every X densified from now on (the label binarizer's sparse Y has other columns)."""
    rows = []
    for kind in (sparse.csr_matrix, sparse.csr_array):
        original = kind.toarray

        def toarray(self, *args, _original=original, **kwargs):
            if self.shape[1] == n_features:
                rows.append(self.shape[0])
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(kind, "toarray", toarray)
    return rows


@pytest.mark.parametrize("container", [sparse.csr_matrix, sparse.csc_matrix, sparse.csr_array, sparse.csc_array])
@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_sparse_x_trains_and_predicts_as_dense_a_batch_at_a_time(container, solver, monkeypatch):
    X, y = load_digits(return_X_y=True)
    X = X[:1500] / 16.0
    y = y[:1500]
    params = dict(hidden_layer_sizes=(12,), solver=solver, max_iter=3, batch_size=100, random_state=0)
    dense = MLPClassifier(**params).fit(X, y)
    rows = _watch_densifying(monkeypatch, X.shape[1])
    fitted = MLPClassifier(**params).fit(container(X), y)
    assert rows and max(rows) <= 1024 < len(X)  # a batch (or a chunk of 1024 rows for lbfgs), never all 1500
    np.testing.assert_allclose(fitted.model_.flat_params, dense.model_.flat_params, rtol=1e-9, atol=1e-12)
    rows.clear()
    np.testing.assert_allclose(fitted.predict_proba(container(X)), dense.predict_proba(X), rtol=1e-9)
    assert max(rows) <= 1024


def test_sparse_x_with_early_stopping_scores_the_held_out_rows():
    X, y = load_digits(n_class=3, return_X_y=True)
    clf = MLPClassifier((10,), early_stopping=True, max_iter=20, random_state=0).fit(sparse.csr_matrix(X), y)
    dense = MLPClassifier((10,), early_stopping=True, max_iter=20, random_state=0).fit(X, y)
    np.testing.assert_allclose(clf.validation_scores_, dense.validation_scores_)


# ------------------------------------------------------------------ Poisson
def test_poisson_is_half_the_deviance_on_log_rates():
    rng = np.random.default_rng(0)
    Z, Y = rng.normal(size=(6, 2)), rng.poisson(2.0, size=(6, 2)).astype(float)
    mu = np.exp(Z)
    by_hand = np.sum(xlogy(Y, Y / mu) - Y + mu) / 6  # summed over outputs, averaged over samples
    loss = cr.PoissonDeviance()
    assert loss.forward(Z, Y) == pytest.approx(by_hand, rel=1e-12)
    np.testing.assert_allclose(loss.backward(), (mu - Y) / 6, rtol=1e-12)
    with pytest.raises(ValueError, match="counts"):
        loss.forward(Z, -Y)


def test_the_poisson_regressor_predicts_rates_with_loss_first():
    rng = np.random.default_rng(0)
    X = rng.uniform(size=(200, 2))
    y = rng.poisson(np.exp(1 + X @ [1.0, -0.5]))
    reg = MLPRegressor("poisson", (4,), solver="lbfgs", random_state=0).fit(X, y)
    assert reg.loss == "poisson" and reg.out_activation_ == "exp"
    np.testing.assert_allclose(reg.predict(X), np.exp(reg.model_.predict(X)[:, 0]))
    assert reg.predict(X).min() > 0
    with pytest.raises(ValueError, match="counts"):
        MLPRegressor("poisson").fit(X, -y)
    with pytest.raises(ValueError, match="poisson"):
        reg.to_onnx("never-written.onnx")


# ------------------------------------------------------------------ partial_fit, early stopping, weights
def test_partial_fit_refuses_unseen_labels_before_training():
    X = np.array([[3.0, 2.0], [1.0, 6.0]])
    clf = MLPClassifier(solver="sgd", random_state=0)
    with pytest.raises(ValueError, match=r"`y` has classes not in `self.classes_`"):
        clf.partial_fit(X, [1, 0], classes=[2])
    assert not hasattr(clf, "model_") and not hasattr(clf, "classes_")  # nothing trained, nothing set
    clf.partial_fit(X, [0, 1], classes=[0, 1, 2])
    before = clf.model_.flat_params.copy()
    with pytest.raises(ValueError, match="not in `self.classes_`"):
        clf.partial_fit(X, [5, 0])
    with pytest.raises(ValueError, match="is not the same as on last call"):
        clf.partial_fit(X, [0, 1], classes=[0, 1])
    np.testing.assert_array_equal(clf.model_.flat_params, before)
    assert not hasattr(MLPClassifier(solver="lbfgs"), "partial_fit")
    assert not hasattr(MLPRegressor(solver="lbfgs"), "partial_fit")


def test_early_stopping_refusals_change_nothing():
    X, y = np.random.default_rng(0).normal(size=(10, 3)), np.arange(10.0)
    reg = MLPRegressor(early_stopping=True, random_state=0)
    with pytest.raises(ValueError, match="The validation set is too small"):
        reg.fit(X, y)  # 0.1 of 10 samples is 1
    assert not hasattr(reg, "model_")
    reg.set_params(validation_fraction=0.2).fit(X, y)
    with pytest.raises(ValueError, match="partial_fit does not support early_stopping=True"):
        reg.partial_fit(X, y)


def test_assigned_weights_are_what_predict_uses():
    X, y = load_digits(n_class=2, return_X_y=True)
    clf = MLPClassifier((4,), max_iter=5, random_state=0).fit(X, y)
    coefs = [np.zeros_like(W) for W in clf.coefs_]
    clf.coefs_ = coefs
    clf.intercepts_[-1][...] = 3.0  # in place, into the network
    np.testing.assert_allclose(clf.predict_proba(X)[:, 1], 1 / (1 + np.exp(-3.0)))
    assert np.shares_memory(clf.coefs_[0], clf.model_.flat_params)  # held again as views
    clf.coefs_ = [np.zeros((3, 4)), coefs[1]]
    with pytest.raises(ValueError, match=r"coefs_\[0\] has shape \(3, 4\)"):
        clf.predict(X)


def test_one_class_trains_predicts_it_and_is_not_exported():
    X = np.random.default_rng(0).normal(size=(12, 3))
    clf = MLPClassifier((4,), max_iter=3, random_state=0).fit(X, ["a"] * 12)
    assert clf.predict(X).tolist() == ["a"] * 12
    np.testing.assert_array_equal(clf.predict_proba(X), np.ones((12, 1)))
    with pytest.raises(ValueError, match="2 classes or more"):
        clf.onnx_network()


def test_divergence_is_a_value_error_in_scikit_learns_words():
    X, y = np.full((8, 2), 1e150), np.arange(8.0)
    with pytest.raises(ValueError, match="Solver produced non-finite parameter weights") as info:
        MLPRegressor(hidden_layer_sizes=(3,), solver="sgd", learning_rate_init=1.0, random_state=0).fit(X, y)
    assert isinstance(info.value, cr.DivergenceError) and isinstance(info.value, FloatingPointError)
    assert info.value.epoch >= 1 and "learning_rate_init" in str(info.value)


def test_divergence_with_early_stopping_keeps_the_best_weights():
    X, y = load_digits(n_class=2, return_X_y=True)
    reg = MLPRegressor(hidden_layer_sizes=(20,), activation="identity", solver="sgd", learning_rate_init=1.0,
                       early_stopping=True, max_iter=20, random_state=0)  # fmt: skip
    with pytest.warns(ConvergenceWarning, match="diverged"):
        warnings.simplefilter("always", ConvergenceWarning)
        reg.fit(X, y)
    assert np.isnan(reg.validation_scores_[-1]) and len(reg.validation_scores_) == reg.n_iter_
    assert np.isfinite(reg.model_.flat_params).all()


def test_n_iter_no_change_inf_trains_to_max_iter():
    X, y = load_digits(n_class=2, return_X_y=True)
    clf = MLPClassifier((5,), solver="sgd", tol=1e9, n_iter_no_change=np.inf, max_iter=30, random_state=0).fit(X, y)
    assert clf.n_iter_ == 30
    with pytest.raises(ValueError, match=r"n_iter_no_change must be a positive integer or np.inf"):
        MLPClassifier(n_iter_no_change=0.5).fit(X, y)


def test_fit_takes_a_sparse_x_one_batch_at_a_time(monkeypatch):
    """``model.fit`` itself: a CSR X trains as its dense rows do, on NumPy (the compiled engine takes dense X)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 6)) * (rng.uniform(size=(300, 6)) < 0.3)
    y = X @ rng.normal(size=6)
    runs = []
    for data in (X, sparse.csr_matrix(X)):
        model = cr.mlp([6, 5, 1], "tanh", seed=0)
        model.fit(data, y, loss="mse", optimizer=cr.SGD(lr=0.05), epochs=3, batch_size=32, seed=1, engine="numpy")
        runs.append(model.flat_params.copy())
    np.testing.assert_allclose(runs[1], runs[0], rtol=1e-12)
    with pytest.raises(ValueError, match="sparse"):
        cr.mlp([6, 5, 1], seed=0).fit(sparse.csr_matrix(X), y, loss="mse", engine="compiled")
