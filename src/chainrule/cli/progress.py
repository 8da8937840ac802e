"""A tqdm progress bar for ``fit``: one tick per epoch with loss, validation loss, accuracy and samples/s."""

from __future__ import annotations

import sys
import time
from typing import Any

from ..core.callbacks import Callback
from ..datasets._base import need


class ProgressBar(Callback):
    """Shows ``epochs`` ticks on stderr; tqdm adds the elapsed time and the ETA."""

    def __init__(self, epochs: int, n_samples: int, desc: str = "train", file: Any = None) -> None:
        self.tqdm = need("tqdm", "cli").tqdm
        self.epochs, self.n_samples, self.desc = epochs, n_samples, desc
        self.file = file if file is not None else sys.stderr
        self.bar: Any = None

    def on_train_begin(self, model) -> None:
        self.start = time.perf_counter()
        self.bar = self.tqdm(
            total=self.epochs, desc=self.desc, unit="epoch", file=self.file, dynamic_ncols=True, mininterval=0.2
        )

    def on_epoch_end(self, model, epoch: int, logs: dict[str, float]) -> None:
        seen = self.n_samples * (self.bar.n + 1)
        rate = seen / max(time.perf_counter() - self.start, 1e-9)
        post = {"loss": f"{logs['loss']:.4f}"}
        if "val_loss" in logs:
            post["val_loss"] = f"{logs['val_loss']:.4f}"
        if "val_accuracy" in logs:
            post["val_acc"] = f"{logs['val_accuracy']:.3f}"
        elif "accuracy" in logs:
            post["acc"] = f"{logs['accuracy']:.3f}"
        post["samples/s"] = f"{rate:,.0f}"
        self.bar.set_postfix(post, refresh=False)
        self.bar.update(1)

    def on_train_end(self, model) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
