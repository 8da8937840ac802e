"""Callbacks: hooks into the fit loop, the History it returns, and EarlyStopping.

ModelCheckpoint, with what resuming needs, is in ``chainrule.checkpoint``.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .model import Sequential


class Callback:
    """Base class: override the hooks you need. Set ``model.stop_training = True`` to stop."""

    def check_logs(self, keys: list[str]) -> None:
        """Called by ``fit`` before training with the names each epoch's logs will hold; raise if unusable."""

    def set_peers(self, callbacks: list[Callback]) -> None:
        """Called by ``fit`` before training with all of its callbacks (this one included)."""

    def on_train_begin(self, model: Sequential) -> None:
        pass

    def on_epoch_end(self, model: Sequential, epoch: int, logs: dict[str, float]) -> None:
        pass

    def on_train_end(self, model: Sequential) -> None:
        pass

    def get_state(self) -> dict[str, Any] | None:
        """What this callback must carry over a ``fit(resume_from=…)``, or None.

        Values are numbers, None, or arrays shaped like the model's flat parameters.
        A ``ModelCheckpoint`` stores the state of every callback of its fit.
        """
        return None

    def set_state(self, state: dict[str, Any]) -> None:
        """Take back what ``get_state`` gave; ``fit(resume_from=…)`` calls it after ``on_train_begin``."""


class History:
    """Per-epoch logs of one ``fit``: ``history["loss"]``, ``history["val_loss"]``, …"""

    def __init__(self) -> None:
        self.epoch: list[int] = []
        self.history: dict[str, list[float]] = {}

    def record(self, epoch: int, logs: dict[str, float]) -> None:
        self.epoch.append(epoch)
        history = self.history
        for key, value in logs.items():
            if key not in history:  # not setdefault: it builds a throwaway list on every call
                history[key] = []
            history[key].append(float(value))

    def __getitem__(self, key: str) -> list[float]:
        return self.history[key]

    def __contains__(self, key: str) -> bool:
        return key in self.history

    def __len__(self) -> int:
        return len(self.epoch)

    def to_dict(self) -> dict[str, Any]:
        return {"epoch": list(self.epoch), **{k: list(v) for k, v in self.history.items()}}

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    def to_csv(self) -> str:
        keys = list(self.history)
        lines = [",".join(["epoch", *keys])]
        for i, epoch in enumerate(self.epoch):
            lines.append(",".join([str(epoch + 1), *(repr(self.history[k][i]) for k in keys)]))
        return "\n".join(lines) + "\n"

    def __repr__(self) -> str:
        last = {k: v[-1] for k, v in self.history.items()}
        return f"History(epochs={len(self)}, last={last})"


def check_monitor(keys: list[str], monitor: str | None) -> None:
    if monitor is not None and monitor not in keys:
        monitored(dict.fromkeys(keys, 0.0), monitor)


def monitored(logs: dict[str, float], monitor: str) -> float:
    if monitor not in logs:
        raise ValueError(
            f"cannot monitor {monitor!r}: the epoch logs hold {sorted(logs)}. "
            "Pass validation data for 'val_loss', or monitor='loss'."
        )
    return logs[monitor]


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs.

    With ``restore_best_weights=True`` the model ends with the weights of its best epoch.
    ``mode`` is "min" (losses) or "max" (accuracies); "auto" picks "max" for names
    containing "acc".
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        patience: int = 10,
        min_delta: float = 0.0,
        mode: str = "auto",
        restore_best_weights: bool = False,
    ) -> None:
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"mode must be 'auto', 'min' or 'max'; received {mode!r}.")
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
            raise ValueError(f"patience must be a non-negative integer; received {patience!r}.")
        self.monitor, self.patience, self.min_delta = monitor, patience, abs(float(min_delta))
        self.mode = ("max" if "acc" in monitor else "min") if mode == "auto" else mode
        self.restore_best_weights = restore_best_weights

    def check_logs(self, keys):
        check_monitor(keys, self.monitor)

    def on_train_begin(self, model):
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch = -1
        self.best_weights: np.ndarray | None = None
        self.wait = 0
        self.stopped_epoch: int | None = None

    def _improved(self, value: float) -> bool:
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def on_epoch_end(self, model, epoch, logs):
        value = monitored(logs, self.monitor)
        if self._improved(value):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights:
                self.best_weights = model.flat_params.copy()
            return
        self.wait += 1
        if self.wait > self.patience:
            self.stopped_epoch = epoch
            model.stop_training = True

    def on_train_end(self, model):
        if self.restore_best_weights and self.best_weights is not None:
            model.flat_params[...] = self.best_weights

    def get_state(self):
        return {"best": self.best, "best_epoch": self.best_epoch, "wait": self.wait, "best_weights": self.best_weights}

    def set_state(self, state):
        self.best = float(state.get("best", self.best))
        self.best_epoch, self.wait = int(state.get("best_epoch", -1)), int(state.get("wait", 0))
        weights = state.get("best_weights")
        self.best_weights = weights if isinstance(weights, np.ndarray) else None
