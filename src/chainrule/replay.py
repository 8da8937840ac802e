"""``Replay``: a callback that records a training run, and writes it as one self-contained page.

    replay = cr.Replay(X, y)
    model.fit(X, y, loss="softmax_cross_entropy", epochs=500, callbacks=[replay])
    replay.to_html("replay.html")          # or show ``replay`` in a notebook

Every epoch's logs (the History's numbers) are kept for the loss curve. Every k-th epoch a
snapshot is taken: the weights, the step ``chainrule.explain`` writes out for them on the first
few samples (at most 16), and, for 2-D inputs, the predicted probabilities on a grid over the
data (the decision boundary). The first snapshot holds the weights before training; the last,
those after it. The page plays them back.

The page stays within ``budget_bytes``. The first snapshot is measured before any epoch runs:
a budget too small for it and the last raises a ValueError then. k comes from ``epochs`` when
given (the most snapshots the budget holds); otherwise it starts at ``every`` (default 1) and,
whenever the snapshots would outgrow the budget, every other one is dropped and k doubles.
The per-epoch curve is never thinned. A snapshot with a NaN or infinite value raises a ValueError.

The same seed gives the same training and so the same page, byte for byte.
"""

from __future__ import annotations

import base64
import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ._validate import check_array, check_positive_int, check_same_length
from .core.callbacks import Callback
from .explain.explanation import MAX_BATCH, explain
from .explain.html import check_target, drawable, iframe, network_data, replay_html, sizes_of, step_data, write_replay
from .explain.layers import check_explainable
from .explain.text import num
from .layers import Dense

if TYPE_CHECKING:
    from .core.model import Sequential

MIN_SNAPSHOTS = 24
"""Below this many snapshots in the budget, the explained batch is halved (down to one sample)."""

MAX_POINTS = 500
"""Most data points drawn over the decision boundary."""

LOG_BYTES = 20
"""About the bytes one logged number takes in the page (its repr and a comma)."""

SLACK = 4096
"""Bytes kept free in the budget for what the estimate does not see (a longer epoch label, say)."""


def _b64(a: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(a).tobytes()).decode("ascii")


def _size(obj: Any) -> int:
    """Bytes of ``obj`` as the page embeds it (compact UTF-8 JSON)."""
    return len(json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")) + 1


class Replay(Callback):
    """Record a training run for a self-contained replay page (``to_html``); pass it to ``fit(callbacks=…)``.

    Parameters
    ----------
    X, y : array-like
        The training data passed to ``fit`` (or any data of the same form): its first ``samples`` rows
        are the batch each snapshot explains, and, for 2-D inputs, it sets the decision boundary's range.
    every : int, optional
        Take a snapshot every ``every`` epochs to start with (see the module's notes on the budget).
    epochs : int, optional
        The epochs ``fit`` will run; when given (and ``every`` is not), k is chosen from it.
    budget_bytes : int
        The most bytes the page may take (default 1,000,000).
    grid : int
        The decision boundary is predicted on ``grid`` × ``grid`` points (2 to 200; default 60).
    samples : int
        Samples explained at each snapshot (1 to 16); fewer when the budget is tight.
    precision : int
        Digits of the explained numbers, as in ``Explanation.to_text(precision)``.
    seed : int, optional
        The seed the page shows (default: the model's).
    feature_names, class_names : sequence of str, optional
        Shown as text on the page (never interpreted as HTML).
    title : str, optional
        The page's title (default: the model).
    """

    def __init__(
        self,
        X: Any,
        y: Any,
        *,
        every: int | None = None,
        epochs: int | None = None,
        budget_bytes: int = 1_000_000,
        grid: int = 60,
        samples: int = 16,
        precision: int = 5,
        seed: int | None = None,
        feature_names: Sequence[str] | None = None,
        class_names: Sequence[str] | None = None,
        title: str | None = None,
    ) -> None:
        self.X = check_array(X, "X", ndim=None)
        self.y = np.asarray(y)
        check_same_length(self.X, self.y)
        self.every = check_positive_int(every, "every", allow_none=True)
        self.epochs = check_positive_int(epochs, "epochs", allow_none=True)
        self.budget_bytes = check_positive_int(budget_bytes, "budget_bytes")
        ranges = (("grid", grid, 2, 200), ("samples", samples, 1, MAX_BATCH), ("precision", precision, 1, 17))
        for name, value, lo, hi in ranges:
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not lo <= value <= hi:
                raise ValueError(f"{name} must be a whole number from {lo} to {hi}; received {name}={value!r}.")
        self.grid, self.samples, self.precision = int(grid), int(samples), int(precision)
        self.seed = seed
        self.feature_names = None if feature_names is None else [str(s) for s in feature_names]
        self.class_names = None if class_names is None else [str(s) for s in class_names]
        self.title = title
        self.snapshots_: list[dict[str, Any]] = []

    # ------------------------------------------------------------------ recording
    def check_logs(self, keys: list[str]) -> None:
        self._log_keys = list(keys)  # to size the per-epoch curve before training

    def on_train_begin(self, model: Sequential) -> None:
        if getattr(model, "stacked", False):
            raise TypeError("Replay records one network; pass it to a Sequential's fit, not an Ensemble's.")
        check_explainable(model)  # TypeError for layers explain cannot write out
        X = model.check_input(self.X)
        self._model, self._X = model, X
        self.first_epoch_ = model.epochs_trained_
        self.logs_: dict[str, list[float]] = {}
        self._log_bytes, self._sizes, self._keep, self.snapshots_ = 0, [], [], []
        self._last_logs: dict[str, float] | None = None
        self._grid_points, self._surface = self._grid_spec(model, X)
        n = min(self.samples, len(X))
        while True:
            snap, ex = self._snapshot(model, self.first_epoch_, None, n)
            self._net = network_data(ex, self.precision, self.feature_names, self.class_names)
            self.samples_ = n
            self._fixed = len(replay_html(self._data([])).encode("utf-8")) + SLACK
            curve = LOG_BYTES * len(getattr(self, "_log_keys", ["loss"])) * (self.epochs or 0)
            room = self.budget_bytes - self._fixed - curve
            capacity = room // _size(snap) if room > 0 else 0
            if capacity >= MIN_SNAPSHOTS or n == 1:
                break
            n = max(1, n // 2)
        if capacity < 2:
            fixed, each = self._fixed + curve, _size(snap)
            raise ValueError(
                f"budget_bytes={self.budget_bytes:,} is too small for a replay of {model!r}: the page needs about "
                f"{fixed:,} bytes for its script and data, and {each:,} bytes for each snapshot, with room for at "
                f"least the first and the last; pass budget_bytes={fixed + 2 * each:,} or more."
            )
        if self.every is not None:
            self.every_ = self.every
        elif self.epochs is not None:
            self.every_ = max(1, math.ceil(self.epochs / (capacity - 1)))
        else:
            self.every_ = 1
        self._add(snap, keep=True)

    def on_epoch_end(self, model: Sequential, epoch: int, logs: dict[str, float]) -> None:
        for key, value in logs.items():
            if not math.isfinite(value):
                raise ValueError(f"Replay: the log {key!r} of epoch {epoch + 1} is {value}; training has diverged.")
            self.logs_.setdefault(key, []).append(float(value))
            self._log_bytes += len(repr(float(value))) + 1
        self._last_logs = dict(logs)
        if (epoch + 1) % self.every_ == 0:
            self._add(self._snapshot(model, epoch + 1, logs, self.samples_)[0])
        self._fit_budget()

    def on_train_end(self, model: Sequential) -> None:
        if not self.snapshots_:
            return
        final = model.epochs_trained_
        if self.snapshots_[-1]["epoch"] == final:
            self._keep[-1] = True
        elif np.isfinite(model.flat_params).all():  # a run stopped by an error keeps what it has
            self._add(self._snapshot(model, final, self._last_logs, self.samples_)[0], keep=True)
        self._fit_budget()

    def _grid_spec(self, model: Sequential, X: np.ndarray) -> tuple[np.ndarray | None, dict[str, Any] | None]:
        """The points where a 2-D classifier's probabilities are drawn, and their range; None otherwise."""
        if model.n_in != 2:
            return None, None
        lo, hi = X.min(axis=0), X.max(axis=0)
        pad = np.where(hi > lo, 0.1 * (hi - lo), 1.0)
        lo, hi = lo - pad, hi + pad
        xs, ys = np.linspace(lo[0], hi[0], self.grid), np.linspace(hi[1], lo[1], self.grid)  # top row first
        points = np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2)  # (grid², 2), row-major
        try:
            P = model.predict_proba(points)
        except TypeError:  # not a classifier: no probabilities to draw
            return None, None
        channels = 1 if P.shape[1] <= 2 else P.shape[1]
        spec = {"grid": self.grid, "channels": channels, "x0": float(lo[0]), "x1": float(hi[0])}
        spec.update(y0=float(lo[1]), y1=float(hi[1]))
        return points, spec

    def _snapshot(self, model: Sequential, epoch: int, logs: dict[str, float] | None, n: int):
        """One snapshot of ``model`` after ``epoch`` epochs, and the Explanation it holds."""
        weights = np.concatenate([np.r_[d.params["W"].ravel(), d.params["b"].ravel()] for d in dense_layers(model)])
        bad = int(np.size(weights) - np.isfinite(weights).sum())
        if bad:
            when, why = (
                ("before training", "set finite weights")
                if logs is None
                else (f"after epoch {epoch}", "training has diverged: lower the learning rate")
            )
            raise ValueError(
                f"Replay: the weights {when} hold {bad} NaN or infinite value(s) of {weights.size}, so no snapshot "
                f"can be taken; {why}."
            )
        opt = model.optimizer_
        lr = getattr(opt, "current_lr", None)
        lr = float(lr) if isinstance(lr, (float, int, np.floating)) and np.isfinite(lr) and lr > 0 else None
        ex = explain(model, self._X[:n], self.y[:n], model.loss_, lr=lr)
        if not math.isfinite(ex.loss.value):
            raise ValueError(f"Replay: the explained step after epoch {epoch} has loss {ex.loss.value}.")
        surface = None
        if self._surface is not None:
            P = model.predict_proba(self._grid_points)
            if not np.isfinite(P).all():
                raise ValueError(f"Replay: the decision boundary after epoch {epoch} holds NaN probabilities.")
            P = P[:, 1:] if P.shape[1] == 2 else P
            surface = _b64(np.round(np.clip(P, 0.0, 1.0) * 255).astype(np.uint8))
        step = step_data(ex, self.precision, ex.dense and drawable(sizes_of(ex)))
        return {
            "epoch": int(epoch),
            "logs": None if logs is None else {k: num(v, self.precision) for k, v in logs.items()},
            "weights": _b64(weights.astype("<f4")),
            "surface": surface,
            "step": step,
        }, ex

    def _add(self, snap: dict[str, Any], keep: bool = False) -> None:
        self.snapshots_.append(snap)
        self._sizes.append(_size(snap))
        self._keep.append(keep)

    def _fit_budget(self) -> None:
        """Drop every other snapshot (k doubles) while the page would outgrow the budget."""
        while self._fixed + self._log_bytes + sum(self._sizes) > self.budget_bytes and len(self.snapshots_) > 2:
            self.every_ *= 2
            kept = [q for q, s in enumerate(self.snapshots_) if self._keep[q] or s["epoch"] % self.every_ == 0]
            if len(kept) == len(self.snapshots_):
                break
            self.snapshots_ = [self.snapshots_[q] for q in kept]
            self._sizes = [self._sizes[q] for q in kept]
            self._keep = [self._keep[q] for q in kept]

    # ------------------------------------------------------------------ the page
    def _data(self, snapshots: list[dict[str, Any]]) -> dict[str, Any]:
        model, n = self._model, self.samples_
        labels = self.y if self.y.ndim == 1 else np.argmax(self.y.reshape(len(self.y), -1), axis=1)
        points = None
        if self._surface is not None:
            m = min(MAX_POINTS, len(self._X))
            points = {"X": np.round(self._X[:m], 4).tolist(), "y": np.asarray(labels[:m]).astype(int).tolist()}
        epochs = snapshots[-1]["epoch"] if snapshots else self.first_epoch_ + (self.epochs or 0)
        seed = self.seed if self.seed is not None else model.seed
        return {
            "kind": "replay",
            "title": f"Training replay: {self.title if self.title is not None else repr(model)}",
            "net": self._net,
            "seed": "not set" if seed is None else str(seed),
            "epochs": int(epochs),
            "every": int(getattr(self, "every_", 1)),
            "firstEpoch": int(self.first_epoch_),
            "lossName": model.loss_.name,
            "optimizer": repr(model.optimizer_),
            "logs": self.logs_,
            "layout": [[int(d.params["W"].shape[0]), int(d.params["W"].shape[1])] for d in dense_layers(model)],
            "surface": self._surface,
            "points": points,
            "featureNames": self.feature_names,
            "classNames": self.class_names,
            "batch": {"X": self._X[:n].tolist(), "y": self.y[:n].tolist()},
            "nTrain": int(len(self._X)),
            "snapshots": snapshots,
        }

    def _recorded(self) -> dict[str, Any]:
        if not self.snapshots_:
            raise ValueError("this Replay has recorded nothing: pass it to fit, e.g. fit(X, y, callbacks=[replay]).")
        return self._data(self.snapshots_)

    def to_html(self, path: str | os.PathLike) -> Path:
        """Write the replay page to ``path`` (its folder must exist); return the path."""
        check_target(path)  # a missing folder fails before anything is built
        return write_replay(self._recorded(), path)

    def _repr_html_(self) -> str:
        return iframe(replay_html(self._recorded()), 1150)

    def __repr__(self) -> str:
        shown = f"{len(self.snapshots_)} snapshots, every {getattr(self, 'every_', self.every)} epochs"
        return f"Replay({shown}, budget_bytes={self.budget_bytes:,})"


def dense_layers(model: Sequential) -> list[Dense]:
    """The model's Dense layers in order, those inside blocks (a Residual's ``layers``) included: their weights
    are what a snapshot stores and the page draws as heatmaps."""
    found, todo = [], list(reversed(model.layers))
    while todo:
        layer = todo.pop()
        if type(layer) is Dense:
            found.append(layer)
        todo.extend(reversed(getattr(layer, "layers", None) or []))
    return found
