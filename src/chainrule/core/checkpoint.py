"""ModelCheckpoint, and the callback state that a checkpoint carries into ``fit(resume_from=…)``."""

from __future__ import annotations

import math
import os
from typing import Any

from .. import io
from .callbacks import Callback, check_monitor, monitored

CallbackState = tuple[str, "str | None", dict[str, Any]]  # (type name, monitor, state)


class ModelCheckpoint(Callback):
    """Save the model to ``path`` every ``every`` epochs, or only when ``monitor`` improves.

    Each write is atomic (see ``chainrule.io.save``): the file on disk is always
    a complete model, the previous one or the new one, even if the process is
    killed mid-write (tests/test_checkpoint_kill.py). A kill during a write can
    leave a ``.chainrule-*.tmp`` file beside ``path``; it is never read, and is
    safe to delete once no process is saving into that folder.

    The file holds everything ``fit(..., resume_from=path)`` needs to continue
    bit-identically: weights, optimiser moments and step count, the epoch
    count (hence the schedule position), the loss, the generator state, and
    the state of the fit's callbacks (an EarlyStopping's best value, patience
    count and best weights). ``fit`` runs checkpoints after its other
    callbacks, so the file holds their state after the same epoch.
    """

    def __init__(self, path: str | os.PathLike, every: int = 1, monitor: str | None = None, mode: str = "min") -> None:
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max'; received {mode!r}.")
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"every must be a positive integer; received every={every!r}.")
        os.fspath(path)  # a TypeError now for a path that is not one, not at the end of the first epoch
        self.path, self.every, self.monitor, self.mode = path, every, monitor, mode
        self.best = math.inf if mode == "min" else -math.inf
        self.peers: list[Callback] = []

    def set_peers(self, callbacks):
        self.peers = list(callbacks)

    def check_logs(self, keys):
        check_monitor(keys, self.monitor)

    def on_epoch_end(self, model, epoch, logs):
        if self.monitor is not None:
            value = monitored(logs, self.monitor)
            better = value < self.best if self.mode == "min" else value > self.best
            if not better:
                return
            self.best = value
        elif (epoch + 1) % self.every:
            return
        io.save(model, self.path, callback_states(self.peers or [self]))

    def get_state(self):
        return {"best": self.best}

    def set_state(self, state):
        self.best = float(state.get("best", self.best))


def runs_last(callback: Callback) -> bool:
    """The sort key that puts checkpoints after every other callback."""
    return isinstance(callback, ModelCheckpoint)


def callback_states(callbacks: list[Callback]) -> list[CallbackState]:
    """The state of every callback that has one, keyed by its type and monitor."""
    out = []
    for cb in callbacks:
        state = cb.get_state()
        if state is not None:
            out.append((type(cb).__name__, getattr(cb, "monitor", None), state))
    return out


def restore_callbacks(callbacks: list[Callback], states: list[CallbackState]) -> None:
    """Give each callback the state saved for the callback of the same type and monitor (in order)."""
    pending = list(states)
    for cb in callbacks:
        key = (type(cb).__name__, getattr(cb, "monitor", None))
        for i, (kind, monitor, state) in enumerate(pending):
            if (kind, monitor) == key:
                cb.set_state(state)
                del pending[i]
                break
