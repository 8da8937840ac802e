"""Workload 7: chainrule.sklearn.MLPClassifier against scikit-learn's MLPClassifier, fit time and accuracy.

Two data sets: digits (1,797 × 64, float64, scaled to [0, 1]) and an MNIST-shaped random set (20,000 × 784
float32; ten classes given by the argmax of a fixed random linear map, so it is learnable). Both
estimators get the same parameters: one hidden layer of 100 ReLU units, Adam, lr 1e-3, batch 200, α 1e-4,
and a fixed number of epochs (``tol=0`` with ``n_iter_no_change`` = ``max_iter``: neither stops early).
Fits alternate between the contenders after a warm-up; the metric is accuracy on a held-out 20 %.

Run alone with ``python -m benchmarks --only sklearn_estimators``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from ._harness import Row, optional, rows_with_ratios, time_alternating

SEED = 0


def mnist_shaped(n: int, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """``n`` × 784 float32 pixels in [0, 1) and labels 0..9 from a fixed random linear map."""
    rng = np.random.default_rng(seed)
    X = rng.random((n, 784), dtype=np.float32)  # (n, 784)
    W = rng.normal(size=(784, 10)).astype(np.float32)
    return X, np.argmax((X - 0.5) @ W, axis=1)


def _datasets(quick: bool) -> list[tuple[str, np.ndarray, np.ndarray, int]]:
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    n_mnist = 2_000 if quick else 20_000
    Xm, ym = mnist_shaped(n_mnist)
    return [("digits", X / 16.0, y, 3 if quick else 50), (f"mnist-shaped {n_mnist}x784", Xm, ym, 2 if quick else 10)]


def _estimators(epochs: int) -> dict[str, Any]:
    from sklearn.neural_network import MLPClassifier as SkMLPClassifier

    from chainrule.sklearn import MLPClassifier

    params = dict(
        hidden_layer_sizes=(100,),
        batch_size=200,
        max_iter=epochs,
        tol=0.0,
        n_iter_no_change=epochs,
        random_state=SEED,
    )
    return {"chainrule": MLPClassifier(**params), "scikit-learn": SkMLPClassifier(**params)}


def _fitter(fitted: dict[str, Any], label: str, est: Any, X: np.ndarray, y: np.ndarray) -> Callable[[], None]:
    """A closure that fits a fresh clone of ``est`` and keeps it in ``fitted[label]``."""
    from sklearn.base import clone

    def fit() -> None:
        fitted[label] = clone(est).fit(X, y)

    return fit


def run(quick: bool = False, dtype: Any = None) -> list[Row]:
    """Median fit time of each estimator per data set, with its held-out accuracy in the note.

    ``dtype`` is accepted for the runner's calling convention and ignored: each data set keeps its own
    dtype (digits float64, the MNIST-shaped set float32), and both contenders train in it.
    """
    if optional("sklearn") is None:
        return []
    from sklearn.base import clone
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import train_test_split

    rows = []
    for name, X, y, epochs in _datasets(quick):
        Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.2, random_state=SEED, stratify=y)
        fitted: dict[str, Any] = {}
        fns = {label: _fitter(fitted, label, clone(est), Xtr, ytr) for label, est in _estimators(epochs).items()}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            medians = time_alternating(fns, 1 if quick else 3, warmup=1)
        notes = {
            label: f"test accuracy {est.score(Xte, yte):.4f}, trained in {est.coefs_[0].dtype}"
            for label, est in fitted.items()
        }
        rows += rows_with_ratios(f"7 sklearn estimators, {name}", medians, "epoch", epochs, notes)
    return rows
