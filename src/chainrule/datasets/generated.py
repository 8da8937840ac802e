"""Datasets generated with NumPy alone: logic gates, the seed project's planar problem, moons, circles,
spirals and a regression curve. Each is a function of ``seed``, so the same seed gives the same data."""

from __future__ import annotations

import numpy as np

from ._base import Dataset, split

SMALL = {"layers": [8], "activation": "tanh", "optimizer": "adam", "lr": 0.05, "epochs": 500, "batch_size": None}
PLANE = {"layers": [32, 32], "activation": "tanh", "optimizer": "adam", "lr": 0.01, "epochs": 300, "batch_size": 32}


def _gate(name: str, y: list[int]) -> Dataset:
    """The four corners of the unit square; train and test are the same four points."""
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    labels = np.array(y, dtype=np.int64)
    return Dataset(
        name,
        X,
        labels,
        X.copy(),
        labels.copy(),
        classes=["0", "1"],
        feature_names=["a", "b"],
        defaults=dict(SMALL, standardize=False),
    )


def xor(seed: int = 0) -> Dataset:
    return _gate("xor", [0, 1, 1, 0])


def and_(seed: int = 0) -> Dataset:
    return _gate("and", [0, 0, 0, 1])


def or_(seed: int = 0) -> Dataset:
    return _gate("or", [0, 1, 1, 1])


def _two_class(name: str, X: np.ndarray, y: np.ndarray, seed: int, **defaults) -> Dataset:
    Xtr, ytr, Xte, yte = split(X, y.astype(np.int64), 0.25, seed, stratify=True)
    return Dataset(
        name, Xtr, ytr, Xte, yte, classes=["0", "1"], feature_names=["x1", "x2"], defaults=dict(PLANE, **defaults)
    )


def planar(seed: int = 0, n: int = 200) -> Dataset:
    """Gaussian quantiles: a 2-D standard normal cloud split at the median radius into 2 classes."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 2))
    r2 = (X**2).sum(axis=1)
    y = (r2 > np.median(r2)).astype(np.int64)  # inner half class 0, outer half class 1
    return _two_class("planar", X, y, seed)


def moons(seed: int = 0, n: int = 400, noise: float = 0.15) -> Dataset:
    rng = np.random.default_rng(seed)
    half = n // 2
    t_out, t_in = np.pi * rng.random(half), np.pi * rng.random(n - half)
    X = np.vstack([np.c_[np.cos(t_out), np.sin(t_out)], np.c_[1 - np.cos(t_in), 0.5 - np.sin(t_in)]])
    X += noise * rng.standard_normal(X.shape)
    y = np.r_[np.zeros(half), np.ones(n - half)]
    return _two_class("moons", X, y, seed)


def circles(seed: int = 0, n: int = 400, noise: float = 0.08, factor: float = 0.5) -> Dataset:
    rng = np.random.default_rng(seed)
    t = 2 * np.pi * rng.random(n)
    y = np.arange(n) % 2
    radius = np.where(y == 1, factor, 1.0)
    X = np.c_[radius * np.cos(t), radius * np.sin(t)] + noise * rng.standard_normal((n, 2))
    return _two_class("circles", X, y, seed)


def spirals(seed: int = 0, n: int = 600, k: int = 3, noise: float = 0.2) -> Dataset:
    """``k`` interleaved spiral arms (the CS231n toy problem)."""
    rng = np.random.default_rng(seed)
    per = n // k
    X, y = [], []
    for c in range(k):
        r = np.linspace(0.0, 1.0, per)
        t = np.linspace(c * 4, (c + 1) * 4, per) + noise * rng.standard_normal(per)
        X.append(np.c_[r * np.sin(t), r * np.cos(t)])
        y.append(np.full(per, c))
    X, y = np.vstack(X), np.concatenate(y)
    Xtr, ytr, Xte, yte = split(X, y, 0.25, seed, stratify=True)
    defaults = dict(PLANE, layers=[64, 64], activation="relu", epochs=400, lr=0.01)
    return Dataset(
        "spirals", Xtr, ytr, Xte, yte, classes=[str(c) for c in range(k)], feature_names=["x1", "x2"], defaults=defaults
    )


def curve(seed: int = 0, n: int = 300, noise: float = 0.1) -> Dataset:
    """Regression: y = sin(2x) + x/2 + noise on x in [-3, 3]."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-3, 3, n)
    y = np.sin(2 * x) + 0.5 * x + noise * rng.standard_normal(n)
    Xtr, ytr, Xte, yte = split(x[:, None], y, 0.25, seed, stratify=False)
    defaults = dict(PLANE, layers=[64, 64], epochs=400, lr=0.01)
    return Dataset("curve", Xtr, ytr, Xte, yte, task="regression", feature_names=["x"], defaults=defaults)
