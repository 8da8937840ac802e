"""chainrule.sklearn: scikit-learn's own estimator checks, workflows, and accuracy against scikit-learn's MLP."""

import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_diabetes, load_digits, load_iris, make_classification  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split  # noqa: E402
from sklearn.neural_network import MLPClassifier as SkMLPClassifier  # noqa: E402
from sklearn.neural_network import MLPRegressor as SkMLPRegressor  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import chainrule as cr  # noqa: E402
from chainrule.gradcheck import relative_error  # noqa: E402
from chainrule.sklearn import MLPClassifier, MLPRegressor  # noqa: E402

FAST = dict(hidden_layer_sizes=(16,), max_iter=50, learning_rate_init=0.01, random_state=0)


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


@parametrize_with_checks([MLPClassifier(**FAST), MLPRegressor(**FAST)])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_import_chainrule_does_not_import_sklearn():
    code = "import sys, chainrule; print('sklearn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_package_exports_the_two_estimators():
    import chainrule.sklearn as sk

    assert sk.__all__ == ["MLPClassifier", "MLPRegressor"]
    assert [getattr(sk, name) for name in sk.__all__] == [MLPClassifier, MLPRegressor]


def blobs(n=300, classes=3, seed=0):
    return make_classification(
        n_samples=n, n_features=8, n_informative=5, n_classes=classes, n_clusters_per_class=1, random_state=seed
    )


def test_string_labels_binary_proba_and_decision():
    X, y = blobs(classes=2)
    labels = np.array(["no", "yes"])[y]
    clf = MLPClassifier(**FAST).fit(X, labels)
    assert list(clf.classes_) == ["no", "yes"]
    assert clf.coefs_[-1].shape == (16, 1) and clf.out_activation_ == "logistic"
    P = clf.predict_proba(X)
    assert P.shape == (300, 2)
    np.testing.assert_allclose(P.sum(axis=1), 1)
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X)), P, rtol=1e-7)
    z = clf.decision_function(X)
    assert z.shape == (300,)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[(z > 0).astype(int)])
    assert clf.score(X, labels) > 0.85


def test_multiclass_shapes_match_sklearn():
    X, y = blobs()
    ours = MLPClassifier(hidden_layer_sizes=(7, 5), max_iter=5).fit(X, y)
    theirs = SkMLPClassifier(hidden_layer_sizes=(7, 5), max_iter=5).fit(X, y)
    assert [c.shape for c in ours.coefs_] == [c.shape for c in theirs.coefs_]
    assert [b.shape for b in ours.intercepts_] == [b.shape for b in theirs.intercepts_]
    assert ours.predict_proba(X).shape == (300, 3) and ours.out_activation_ == "softmax"
    assert ours.n_layers_ == theirs.n_layers_ and ours.n_outputs_ == theirs.n_outputs_
    assert isinstance(ours.model_, cr.Sequential)


def test_multilabel_indicator():
    X, y = blobs()
    Y = np.stack([y == 0, y == 1, y >= 1], axis=1).astype(int)
    clf = MLPClassifier(**FAST).fit(X, Y)
    assert clf.predict(X).shape == (300, 3) and clf.predict_proba(X).shape == (300, 3)
    assert clf.score(X, Y) > 0.7  # subset accuracy


def test_multi_output_regression_and_1d_targets():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4))
    Y = np.stack([X[:, 0] - X[:, 1], X[:, 2] * 0.5], axis=1)
    reg = MLPRegressor(**FAST).fit(X, Y)
    assert reg.predict(X).shape == (200, 2) and reg.score(X, Y) > 0.8
    assert MLPRegressor(**FAST).fit(X, Y[:, 0]).predict(X).shape == (200,)


def test_alpha_penalises_weights_only_as_sklearn_defines_it():
    X, y = blobs()
    alpha = 3.0
    clf = MLPClassifier(hidden_layer_sizes=(4,), alpha=alpha, max_iter=1, random_state=0).fit(X, y)
    model, objective = clf.model_, clf.model_.objective_
    plain = model.objective(objective.loss)  # the same data loss without the penalty
    Y = objective.loss.prepare_targets(y, 3, model.dtype)
    value, _, _ = model.gradient(X, Y, objective)
    grads = [{k: v.copy() for k, v in layer.grads.items()} for layer in model.layers]
    data_value, _, _ = model.gradient(X, Y, plain)
    squares = sum(float((W**2).sum()) for W in clf.coefs_)
    assert value - data_value == pytest.approx(alpha / (2 * len(X)) * squares, rel=1e-12)
    for layer, penalised in zip(model.layers, grads):
        if "W" in layer.params:  # dW gains α·W/n; biases are not penalised
            np.testing.assert_allclose(penalised["W"], layer.grads["W"] + alpha * layer.params["W"] / len(X))
            np.testing.assert_array_equal(penalised["b"], layer.grads["b"])


def test_the_penalty_is_part_of_what_gradcheck_checks():
    X, y = blobs(n=60)
    clf = MLPClassifier(hidden_layer_sizes=(4,), alpha=5.0, max_iter=1, random_state=0).fit(X, y)
    objective = clf.model_.objective_
    assert objective.l2 == 5.0 and "penalty" in objective.describe()
    result = cr.gradcheck(clf.model_, X, y, objective)
    assert result.passed, str(result)
    # the finite differences see the penalty: without its gradient, backprop's would disagree with them
    Y = objective.loss.prepare_targets(y, 3, clf.model_.dtype)
    clf.model_.gradient(X, Y, objective)
    with_penalty = clf.model_.flat_grads.copy()
    clf.model_.gradient(X, Y, clf.model_.objective(objective.loss))
    assert relative_error(with_penalty, clf.model_.flat_grads) > 1e-3


def test_sample_weight_zero_equals_dropping_samples():
    X, y = blobs()
    w = np.ones(len(X))
    w[::3] = 0
    a = MLPClassifier(**FAST, batch_size=300, shuffle=False).fit(X, y, sample_weight=w)
    b = MLPClassifier(**FAST, batch_size=200, shuffle=False).fit(X[w > 0], y[w > 0])
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X), rtol=1e-6, atol=1e-9)


def test_early_stopping_records_validation_scores_and_keeps_best():
    X, y = blobs(n=400)
    clf = MLPClassifier(**{**FAST, "max_iter": 200}, early_stopping=True, n_iter_no_change=3).fit(X, y)
    assert len(clf.validation_scores_) == clf.n_iter_ == len(clf.loss_curve_)
    assert clf.best_validation_score_ == max(clf.validation_scores_) and clf.best_loss_ is None
    assert "val_loss" in clf.history_
    reg = MLPRegressor(**FAST, early_stopping=True).fit(X, y.astype(float))
    assert reg.best_validation_score_ == max(reg.validation_scores_)


def test_without_early_stopping_stops_on_training_loss():
    X, y = blobs()
    clf = MLPClassifier(**{**FAST, "max_iter": 1000}, tol=1e-2, n_iter_no_change=2).fit(X, y)
    assert clf.n_iter_ < 1000 and clf.validation_scores_ is None and clf.best_loss_ == min(clf.loss_curve_)
    with pytest.warns(ConvergenceWarning, match="Maximum iterations"):
        warnings.simplefilter("always", ConvergenceWarning)
        MLPClassifier(**{**FAST, "max_iter": 2}).fit(X, y)


def test_partial_fit_needs_classes_then_accumulates():
    X, y = blobs()
    clf = MLPClassifier(**FAST)
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        clf.partial_fit(X, y)
    for _ in range(3):
        clf.partial_fit(X[:100], y[:100], classes=[0, 1, 2])
    assert clf.n_iter_ == 1 and len(clf.loss_curve_) == 3  # n_iter_ counts this call's epochs, as scikit-learn's
    before = clf.model_.flat_params.copy()
    with pytest.raises(ValueError, match="classes not in"):
        clf.partial_fit(X, y + 5)
    np.testing.assert_array_equal(clf.model_.flat_params, before)


def test_warm_start_continues():
    X, y = blobs()
    clf = MLPClassifier(**{**FAST, "max_iter": 5}, warm_start=True, tol=0).fit(X, y)
    before = clf.coefs_[0].copy()
    clf.fit(X, y)
    assert clf.n_iter_ == 5 and len(clf.loss_curve_) == 10 and not np.array_equal(before, clf.coefs_[0])


def test_callbacks_and_model_for_gradcheck():
    X, y = blobs(n=100)
    seen = []

    class Record(cr.Callback):
        def on_epoch_end(self, model, epoch, logs):
            seen.append(logs["loss"])

    clf = MLPClassifier(**{**FAST, "max_iter": 4}, tol=0, callbacks=(Record(),)).fit(X, y)
    assert seen == clf.loss_curve_
    result = cr.gradcheck(clf.model_, X[:5], y[:5], "softmax_cross_entropy")
    assert result.passed, result.errors


def test_float32_stays_float32():
    X, y = blobs()
    X32 = X.astype(np.float32)
    clf = MLPClassifier(**FAST).fit(X32, y)
    assert clf.model_.dtype == np.float32
    assert all(c.dtype == np.float32 for c in clf.coefs_ + clf.intercepts_)
    assert clf.predict_proba(X32).dtype == np.float32
    reg = MLPRegressor(**FAST).fit(X32, y.astype(np.float32))
    assert reg.model_.dtype == np.float32 and reg.predict(X32).dtype == np.float32
    assert MLPClassifier(**FAST).fit(X, y).model_.dtype == np.float64
    assert MLPClassifier(**FAST, dtype="float32").fit(X, y).coefs_[0].dtype == np.float32


def test_pickle_round_trip_keeps_training():
    X, y = blobs()
    clf = MLPClassifier(**FAST).fit(X, y)
    copy = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(copy.predict_proba(X), clf.predict_proba(X))
    assert np.shares_memory(copy.coefs_[0], copy.model_.flat_params)  # the views survive unpickling
    clf.partial_fit(X, y)
    copy.partial_fit(X, y)
    np.testing.assert_allclose(copy.predict_proba(X), clf.predict_proba(X), rtol=1e-12)


def test_regressor_pickle_round_trip_keeps_training():
    X, y = blobs()
    reg = MLPRegressor(**FAST).fit(X, y.astype(float))
    copy = pickle.loads(pickle.dumps(reg))
    np.testing.assert_array_equal(copy.predict(X), reg.predict(X))
    reg.partial_fit(X, y.astype(float))
    copy.partial_fit(X, y.astype(float))
    np.testing.assert_allclose(copy.predict(X), reg.predict(X), rtol=1e-12)


def test_sequential_pickle_rebuilds_views():
    model = cr.Sequential(cr.Dense(3, 4), cr.Tanh(), cr.Dense(4, 1), seed=0)
    X, y = np.random.default_rng(0).normal(size=(20, 3)), np.arange(20.0)
    copy = pickle.loads(pickle.dumps(model))
    for m in (model, copy):
        m.fit(X, y, loss="mse", optimizer=cr.SGD(lr=0.01), epochs=3)
    np.testing.assert_array_equal(copy.predict(X), model.predict(X))
    assert all(np.shares_memory(p, copy.flat_params) for layer in copy.layers for p in layer.params.values())


def test_pipeline_cross_val_and_grid_search():
    X, y = load_iris(return_X_y=True)
    pipe = make_pipeline(StandardScaler(), MLPClassifier(**FAST))
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.mean() > 0.85
    grid = GridSearchCV(
        MLPClassifier(**FAST),
        {"hidden_layer_sizes": [(4,), (16,)], "alpha": [1e-4, 1.0]},
        cv=2,
    ).fit(StandardScaler().fit_transform(X), y)
    assert set(grid.best_params_) == {"hidden_layer_sizes", "alpha"} and grid.best_score_ > 0.8


def test_invalid_parameters_name_the_argument():
    X, y = blobs(n=20)
    for params, match in [
        ({"solver": "newton"}, "solver"),
        ({"learning_rate": "optimal"}, "learning_rate"),
        ({"power_t": -0.5}, "power_t"),
        ({"max_fun": 0}, "max_fun"),
        ({"hidden_layer_sizes": (0,)}, "hidden_layer_sizes"),
        ({"activation": "mish"}, "activation"),
        ({"batch_size": 0}, "batch_size"),
        ({"max_iter": 0}, "max_iter"),
    ]:
        with pytest.raises(ValueError, match=match):
            MLPClassifier(**params).fit(X, y)
    one_class = MLPClassifier(**FAST).fit(X, np.zeros(20))  # as scikit-learn's: trains, and predicts that class
    assert one_class.predict(X).tolist() == [0.0] * 20 and one_class.predict_proba(X).shape == (20, 1)


# ------------------------------------------------------------------ against scikit-learn's MLP, same data and seeds
def _both(ours, theirs, X, y, seeds=(0, 1, 2)):
    Xtr, Xte, ytr, yte = train_test_split(X, y, random_state=0, test_size=0.3)
    scaler = StandardScaler().fit(Xtr)
    Xtr, Xte = scaler.transform(Xtr), scaler.transform(Xte)
    a = [clone(ours).set_params(random_state=s).fit(Xtr, ytr).score(Xte, yte) for s in seeds]
    b = [clone(theirs).set_params(random_state=s).fit(Xtr, ytr).score(Xte, yte) for s in seeds]
    return float(np.mean(a)), float(np.mean(b))


def test_digits_accuracy_matches_sklearn():
    X, y = load_digits(return_X_y=True)
    params = dict(hidden_layer_sizes=(64,), max_iter=40)
    ours, theirs = _both(MLPClassifier(**params), SkMLPClassifier(**params), X, y)
    assert ours >= theirs - 0.02, (ours, theirs)


def test_iris_accuracy_matches_sklearn():
    X, y = load_iris(return_X_y=True)
    params = dict(hidden_layer_sizes=(16,), max_iter=300, learning_rate_init=0.01)
    ours, theirs = _both(MLPClassifier(**params), SkMLPClassifier(**params), X, y)
    assert ours >= theirs - 0.04, (ours, theirs)


def test_diabetes_r2_matches_sklearn():
    X, y = load_diabetes(return_X_y=True)
    params = dict(hidden_layer_sizes=(32,), max_iter=300, learning_rate_init=0.05)
    ours, theirs = _both(MLPRegressor(**params), SkMLPRegressor(**params), X, y)
    assert ours >= theirs - 0.05, (ours, theirs)
