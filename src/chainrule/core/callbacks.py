"""Callbacks: hooks into the fit loop, the History it returns, and EarlyStopping.

ModelCheckpoint, with what resuming needs, is in ``chainrule.core.checkpoint``.
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

    On an Ensemble every member is watched on its own: a member that stops improving
    is halted (``Ensemble.halt``: its best weights back if asked, no more steps), and
    the fit ends when every member has stopped. ``best``, ``best_epoch`` and ``wait``
    then hold one value per member.
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
        members = () if model.n_models is None else (model.n_models,)
        self.best: Any = np.full(members, math.inf if self.mode == "min" else -math.inf)
        self.best_epoch: Any = np.full(members, -1)
        self.wait: Any = np.zeros(members, dtype=int)
        self.best_weights: np.ndarray | None = None
        self.stopped_epoch: int | None = None
        self.stopped = np.zeros(members, dtype=bool)  # members halted (one model: the whole fit)

    def _improved(self, value: Any) -> Any:
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def on_epoch_end(self, model, epoch, logs):
        value = np.asarray(monitored(logs, self.monitor), dtype=float)
        better = self._improved(value) & ~self.stopped
        self.best, self.best_epoch = np.where(better, value, self.best), np.where(better, epoch, self.best_epoch)
        self.wait = np.where(better, 0, self.wait + ~self.stopped)
        if self.restore_best_weights and better.any():
            if self.best_weights is None:
                self.best_weights = model.flat_params.copy()
            self.best_weights[better] = model.flat_params[better]
        done = (self.wait > self.patience) & ~self.stopped
        if not done.any():
            return
        self.stopped = self.stopped | done
        if model.n_models is not None:
            best = None if self.best_weights is None else self.best_weights[done]
            model.halt(done, best)
        if self.stopped.all():
            self.stopped_epoch = epoch
            model.stop_training = True

    def on_train_end(self, model):
        if self.restore_best_weights and self.best_weights is not None:
            model.flat_params[...] = self.best_weights

    def get_state(self):
        plain = lambda a: a.item() if a.ndim == 0 else a.tolist()  # noqa: E731  (an Ensemble's: one per member)
        return {"best": plain(self.best), "best_epoch": plain(self.best_epoch), "wait": plain(self.wait),
                "best_weights": self.best_weights}  # fmt: skip

    def set_state(self, state):
        shape = self.best.shape
        self.best = np.broadcast_to(np.asarray(state.get("best", self.best), dtype=float), shape).copy()
        self.best_epoch = np.broadcast_to(np.asarray(state.get("best_epoch", -1)).astype(int), shape).copy()
        self.wait = np.broadcast_to(np.asarray(state.get("wait", 0)).astype(int), shape).copy()
        weights = state.get("best_weights")
        self.best_weights = weights.copy() if isinstance(weights, np.ndarray) else None
