"""Metrics computed from raw model outputs during fit and evaluate."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ._validate import lookup
from .core.losses import Loss

Metric = Callable[[np.ndarray, np.ndarray], Any]  # a float, or one per Ensemble member


def _accuracy(loss: Loss, stacked: bool) -> Metric:
    if not loss.classification:
        raise ValueError(f"metric 'accuracy' needs a classification loss; {loss.name} is for regression.")
    lead = 1 if stacked else 0  # an Ensemble's outputs lead with the model axis; targets never do

    def accuracy(out: np.ndarray, Y: np.ndarray) -> Any:
        pred = loss.decide(out)
        if pred.ndim - lead == 2:  # binary or multilabel: a row is right when every label is
            hits = (pred == (Y >= 0.5)).all(axis=-1)
        else:  # class labels against labels, or against one-hot or probability targets
            hits = pred == (np.argmax(Y, axis=1) if Y.ndim == 2 else Y)
        return _per_model(hits, stacked)

    return accuracy


def _mae(loss: Loss, stacked: bool) -> Metric:
    def mae(out: np.ndarray, Y: np.ndarray) -> Any:
        return _per_model(np.abs(out - Y), stacked)

    if loss.classification:
        raise ValueError(f"metric 'mae' needs a regression loss; {loss.name} is for classification.")
    return mae


def _per_model(values: np.ndarray, stacked: bool) -> Any:
    """The mean: one number, or one per member of an Ensemble."""
    return values.reshape(len(values), -1).mean(axis=1) if stacked else float(np.mean(values))


METRICS: dict[str, Callable[[Loss, bool], Metric]] = {"accuracy": _accuracy, "mae": _mae}


def get_metric(name: str, loss: Loss, stacked: bool = False) -> Metric:
    """The metric ``name`` for outputs trained with ``loss``; ``stacked``: one value per Ensemble member."""
    return lookup("metric", name, METRICS)(loss, stacked)
