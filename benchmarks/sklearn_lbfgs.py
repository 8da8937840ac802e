"""Workload 9: ``solver="lbfgs"``, chainrule.sklearn.MLPClassifier against scikit-learn's, fit time and accuracy.

Three small data sets, as scikit-learn recommends lbfgs for: digits (1,797 × 64), breast_cancer (569 × 30)
and wine (178 × 13), each standardised on a stratified 75/25 split. Both estimators get the same
parameters: one hidden layer of 100 ReLU units, α 1e-4, ``max_iter=200``, float64. One timed run fits
``SPLITS`` estimators, one per split seed (the seed also seeds the weights), so the accuracy in the note is
the mean test accuracy over those splits and the per-fit column is one fit. Contenders alternate after a
warm-up round.

Run alone with ``python -m benchmarks --only sklearn_lbfgs``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from ._harness import Row, optional, rows_with_ratios, time_alternating

SPLITS = 5


def _splits(loader: Callable, n: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X, y = loader(return_X_y=True)
    out = []
    for seed in range(n):
        Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.25, random_state=seed, stratify=y)
        scaler = StandardScaler().fit(Xtr)
        out.append((scaler.transform(Xtr), scaler.transform(Xte), ytr, yte))
    return out


def _fitter(cls: type, splits: list, scores: list[float], max_iter: int) -> Callable[[], None]:
    """A closure that fits one ``cls`` per split and records the mean test accuracy in ``scores``."""

    def fit() -> None:
        accuracies = []
        for seed, (Xtr, Xte, ytr, yte) in enumerate(splits):
            est = cls(hidden_layer_sizes=(100,), solver="lbfgs", max_iter=max_iter, random_state=seed)
            accuracies.append(est.fit(Xtr, ytr).score(Xte, yte))
        scores.append(float(np.mean(accuracies)))

    return fit


def run(quick: bool = False, dtype: Any = None) -> list[Row]:
    """Median time of fitting every split with each estimator; the note has the mean test accuracy.

    ``dtype`` is accepted for the runner's calling convention and ignored: both train in float64.
    """
    if optional("sklearn") is None or optional("scipy") is None:
        return []
    from sklearn.datasets import load_breast_cancer, load_digits, load_wine
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier as SkMLPClassifier

    from chainrule.sklearn import MLPClassifier

    rows = []
    n_splits, max_iter = (1, 20) if quick else (SPLITS, 200)
    for name, loader in (("digits", load_digits), ("breast_cancer", load_breast_cancer), ("wine", load_wine)):
        splits = _splits(loader, n_splits)
        scores: dict[str, list[float]] = {"chainrule": [], "scikit-learn": []}
        fns = {
            label: _fitter(cls, splits, scores[label], max_iter)
            for label, cls in (("chainrule", MLPClassifier), ("scikit-learn", SkMLPClassifier))
        }
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            medians = time_alternating(fns, 1 if quick else 5, warmup=1)
        notes = {label: f"mean test accuracy {s[-1]:.4f} over {n_splits} splits" for label, s in scores.items()}
        rows += rows_with_ratios(f"9 sklearn lbfgs, {name}", medians, "fit", n_splits, notes)
    return rows
