"""Metrics computed from raw model outputs during fit and evaluate."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ._validate import lookup
from .losses import Loss

Metric = Callable[[np.ndarray, np.ndarray], float]


def _accuracy(loss: Loss) -> Metric:
    if not loss.classification:
        raise ValueError(f"metric 'accuracy' needs a classification loss; {loss.name} is for regression.")

    def accuracy(out: np.ndarray, Y: np.ndarray) -> float:
        pred = loss.decide(out)
        if Y.ndim == 2 and pred.ndim == 1:  # one-hot or probability targets
            truth = np.argmax(Y, axis=1)
        elif pred.ndim == 2:  # binary or multilabel: a row is right when every label is
            hits = pred == (Y >= 0.5)
            return float(np.mean(hits.all(axis=1)))
        else:
            truth = Y
        return float(np.mean(pred == truth))

    return accuracy


def _mae(loss: Loss) -> Metric:
    def mae(out: np.ndarray, Y: np.ndarray) -> float:
        return float(np.mean(np.abs(out - Y)))

    if loss.classification:
        raise ValueError(f"metric 'mae' needs a regression loss; {loss.name} is for classification.")
    return mae


METRICS: dict[str, Callable[[Loss], Metric]] = {"accuracy": _accuracy, "mae": _mae}


def get_metric(name: str, loss: Loss) -> Metric:
    """The metric ``name`` for outputs trained with ``loss``."""
    return lookup("metric", name, METRICS)(loss)
