"""PNG plots of a training run: learning curves, decision boundary (2-D inputs), confusion matrix."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..core.callbacks import History
from ..datasets._base import need


def _figure(width: float = 6.0, height: float = 4.0):
    need("matplotlib", "cli")
    from matplotlib.figure import Figure  # no pyplot: no GUI backend is ever chosen

    return Figure(figsize=(width, height), dpi=100, layout="tight")


def curves(history: History, path: Path) -> Path:
    """Loss (left) and the metric, if any (right), per epoch, train and validation."""
    metric = next((k for k in ("accuracy", "mae") if k in history), None)
    fig = _figure(10 if metric else 6, 4)
    axes = fig.subplots(1, 2 if metric else 1)
    axes = np.atleast_1d(axes)
    epochs = np.arange(1, len(history) + 1)
    for ax, key in zip(axes, ["loss", metric]):
        ax.plot(epochs, history[key], label=f"train {key}")
        if f"val_{key}" in history:
            ax.plot(epochs, history[f"val_{key}"], label=f"validation {key}")
        ax.set_xlabel("epoch")
        ax.set_ylabel(key)
        if key == "loss" and min(history["loss"]) > 0:
            ax.set_yscale("log")
        ax.legend()
        ax.grid(alpha=0.3)
    fig.savefig(path)
    return path


def decision_boundary(
    predict: Callable[[np.ndarray], np.ndarray], X: np.ndarray, y: np.ndarray, path: Path, classes: list[str]
) -> Path:
    """Predicted class over a grid spanning the 2-D inputs ``X`` (raw units), with the points on top."""
    pad = 0.1 * (X.max(axis=0) - X.min(axis=0) + 1e-9)
    lo, hi = X.min(axis=0) - pad, X.max(axis=0) + pad
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], 200), np.linspace(lo[1], hi[1], 200))
    Z = predict(np.c_[gx.ravel(), gy.ravel()]).reshape(gx.shape)
    fig = _figure(5.5, 5)
    ax = fig.subplots()
    k = max(len(classes), 2)
    ax.contourf(gx, gy, Z, levels=np.arange(k + 1) - 0.5, cmap="coolwarm" if k == 2 else "tab10", alpha=0.35)
    scatter = ax.scatter(
        X[:, 0], X[:, 1], c=y, cmap="coolwarm" if k == 2 else "tab10", vmin=0, vmax=k - 1, edgecolors="k", s=25
    )
    ax.legend(*scatter.legend_elements(), title="class", loc="best")
    ax.set_title("decision boundary (test points)")
    fig.savefig(path)
    return path


def confusion(cm: np.ndarray, classes: list[str], path: Path) -> Path:
    """The confusion matrix: rows true class, columns predicted class."""
    k = len(classes)
    fig = _figure(1.5 + 0.5 * k, 1.2 + 0.5 * k)
    ax = fig.subplots()
    ax.imshow(cm, cmap="Blues")
    ax.set_xticks(range(k), classes, rotation=45 if k > 4 else 0)
    ax.set_yticks(range(k), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(k):
        for j in range(k):
            ax.text(j, i, str(cm[i, j]), ha="center", va="center", color="white" if cm[i, j] > cm.max() / 2 else "k")
    fig.savefig(path)
    return path


def regression_fit(predict: Callable[[np.ndarray], np.ndarray], X: np.ndarray, y: np.ndarray, path: Path) -> Path:
    """Predicted against true values on the test split (and the fitted curve for 1-D inputs)."""
    fig = _figure(5.5, 4.5)
    ax = fig.subplots()
    if X.shape[1] == 1:
        grid = np.linspace(X.min(), X.max(), 300)[:, None]
        ax.scatter(X[:, 0], y, s=12, label="test data")
        ax.plot(grid[:, 0], predict(grid), color="C3", label="model")
        ax.set_xlabel("x")
        ax.set_ylabel("y")
    else:
        pred = predict(X)
        ax.scatter(y, pred, s=12)
        lims = [min(y.min(), pred.min()), max(y.max(), pred.max())]
        ax.plot(lims, lims, "k--", lw=1, label="ideal")
        ax.set_xlabel("true")
        ax.set_ylabel("predicted")
    ax.legend()
    fig.savefig(path)
    return path
