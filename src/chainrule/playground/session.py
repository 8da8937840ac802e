"""One browser tab's run: its data, its network and optimiser, and the training loop it steps on request.

Training is chainrule's own path, one batch at a time: ``model.gradient`` (the backward path ``fit`` takes)
under the tab's objective, then ``optimizer.step`` over the model's flat buffers. For classification the loss
is ``bce_logits`` on one output unit: the network's output is the logit z and P(class 1) = σ(z); for
regression it is ``mse`` on the output ŷ itself.

The L1 or L2 penalty is an objective term (``model.objective(loss, l1=…, l2=…)``), so it is part of every
gradient the tab computes, explains and checks. Its rate λ acts per step, as in TensorFlow Playground: on a
batch of n rows the objective's coefficient is λ·n, whose gradient is λ·n·W/n = λ·W.

    L1:  L + λ·Σ|W|    ∂/∂W adds λ·sign(W)          L2:  L + ½λ·Σ W²    ∂/∂W adds λ·W

A run that diverges (a loss or weight that is NaN, infinite or above ``MAX_WEIGHT``) stops with a message and
keeps the weights of the last good epoch.
"""

from __future__ import annotations

import base64
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ..builders import mlp
from ..core.objective import Objective
from ..core.optimizers import get_optimizer
from ..explain import explain
from ..explain.html import drawable, explanation_data
from ..explain.text import num
from ..explain.trace import blocks
from ..layers import Dense
from ..replay import Replay
from .data import EXTENT, FEATURE_LABELS, REGRESSION, features, generate, split
from .settings import MAX_EPOCHS, Settings
from .update import real_update

LOSS = "bce_logits"  # classification; regression trains on "mse"
GRID = 40
MAX_WEIGHT = 1e6
MAX_EDIT = 100.0  # the most a weight or bias may be set to by hand
EXPLAIN_BATCH = 16


def _b64(a: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(a).tobytes()).decode("ascii")


class Stopped(RuntimeError):
    """Training cannot go on: the message says why and what to do."""


class Diverged(Stopped):
    """Training stopped: the message says at which epoch and why; the weights are the last good ones."""


class Session:
    """The state of one tab: settings, data split, model, optimiser, epoch and the loss curves."""

    def __init__(self, settings: Settings, upload: tuple | None = None) -> None:
        self.upload = upload
        self.reset(settings)

    # ---------------------------------------------------------------- building
    def reset(self, settings: Settings | None = None) -> None:
        """A fresh network from the seed: the same settings give the same data, weights and training."""
        if settings is not None:
            if settings.dataset == "upload" and self.upload is None:
                raise ValueError("the dataset 'upload' needs a CSV file: choose one with 'Upload CSV' first.")
            self.settings = settings
        s = self.settings
        if s.dataset == "upload":
            P, y, self.point_names, self.class_names = self.upload
        else:
            P, y = generate(s.dataset, s.noise, s.seed)
            self.point_names, self.class_names = ["x₁", "x₂"], ["class 0", "class 1"]
        self.regression = s.dataset in REGRESSION
        self.loss_name = "mse" if self.regression else LOSS
        if self.regression:
            self.class_names = ["−1", "+1"]  # the two ends of the colour scale
        self.P_train, self.y_train, self.P_test, self.y_test = split(P, y, s.train_ratio, s.seed)
        self.X_train, self.X_test = features(self.P_train, s.features), features(self.P_test, s.features)
        self.model = mlp([len(s.features), *s.layers, 1], s.activation if s.layers else "tanh", None, seed=s.seed)
        self.optimizer = get_optimizer(s.optimizer, lr=s.lr)
        self.objective = self.model.objective(self.loss_name)
        self._objectives: dict[int, Objective] = {}
        # what fit records on a model, so that saving, ONNX and the replay see a trained model
        self.model.loss_, self.model.objective_ = self.objective.loss, self.objective
        self.model.optimizer_ = self.optimizer
        self.epoch = 0
        self.history: dict[str, list[float]] = {"loss": [], "val_loss": []}
        self.stopped: str | None = None
        self._denses = [layer for layer in self.model.layers if isinstance(layer, Dense)]

    @property
    def output_name(self) -> str:
        return "ŷ" if self.regression else "logit"

    def objective_for(self, rows: int) -> Objective:
        """The tab's objective on a batch of ``rows`` rows: the loss, and the penalty at λ·rows (see the top)."""
        if rows not in self._objectives:
            s = self.settings
            rate = {s.regularization: s.reg_rate * rows}
            terms = {"l2": rate.get("l2", 0.0), "l1": rate.get("l1", 0.0)}
            self._objectives[rows] = self.model.objective(self.loss_name, **terms)
        return self._objectives[rows]

    @property
    def targets(self) -> np.ndarray:
        return self.y_train[:, None].astype(float)

    # ---------------------------------------------------------------- training
    def step(self) -> dict[str, float]:
        """One epoch: every batch's gradient, penalty and optimiser step; the epoch's losses. Raises Diverged."""
        if self.stopped:
            raise Diverged(self.stopped)
        if self.epoch >= MAX_EPOCHS:
            raise Stopped(f"the playground trains a tab for at most {MAX_EPOCHS:,} epochs; press Reset to start "
                          "again, or export the model to go on elsewhere.")  # fmt: skip
        s, model, opt = self.settings, self.model, self.optimizer
        good = model.flat_params.copy()
        n = len(self.X_train)
        size = min(s.batch_size, n)
        order = model.rng.permutation(n) if size < n else np.arange(n)
        X, Y = self.X_train, self.targets
        opt.start_epoch(self.epoch)
        with np.errstate(all="ignore"):
            for start in range(0, n, size):
                idx = order[start : start + size]
                value, _, _ = model.gradient(X[idx], Y[idx], self.objective_for(len(idx)))
                if not np.isfinite(value):
                    self._stop(good, f"the loss became {value} at epoch {self.epoch + 1}")
                opt.step([model.flat_params], [model.flat_grads])
            w = model.flat_params
            if not np.isfinite(w).all() or np.abs(w).max() > MAX_WEIGHT:
                self._stop(good, f"the weights grew past {MAX_WEIGHT:g} or became NaN at epoch {self.epoch + 1}")
            logs = {"loss": self.loss(self.X_train, self.y_train), "val_loss": self.loss(self.X_test, self.y_test)}
        if not all(np.isfinite(v) for v in logs.values()):
            self._stop(good, f"the loss became NaN or infinite at epoch {self.epoch + 1}")
        self.epoch += 1
        model.epochs_trained_ = self.epoch
        for key, value in logs.items():
            self.history[key].append(value)
        return logs

    def _stop(self, good: np.ndarray, why: str) -> None:
        self.model.flat_params[...] = good
        self.stopped = (
            f"Training diverged: {why}. Stopped, with the weights of epoch {self.epoch}; lower the learning rate "
            "and press Reset."
        )
        raise Diverged(self.stopped)

    def loss(self, X: np.ndarray, y: np.ndarray) -> float:
        """The data loss (without the penalty), as the curve and the status line show it."""
        return float(self.model.evaluate(X, y[:, None].astype(float), self.loss_name)["loss"])

    def accuracy(self, X: np.ndarray, y: np.ndarray) -> float | None:
        if self.regression:
            return None
        return float(((self.model.predict(X)[:, 0] > 0) == (y == 1)).mean())

    def edit(self, layer: int, param: str, i: int, j: int, value: float) -> None:
        """Set one weight W(layer)[i, j] or bias b(layer)[j] (1-based, as the diagram names them)."""
        denses = self._denses
        if not (isinstance(layer, int) and 1 <= layer <= len(denses)) or param not in ("W", "b"):
            raise ValueError(f"no parameter {param!r} in layer {layer!r}; the layers are 1 to {len(denses)}.")
        array = denses[layer - 1].params[param]
        index = (i - 1, j - 1) if param == "W" else (j - 1,)
        if not all(isinstance(q, int) and 0 <= q < n for q, n in zip(index, array.shape)):
            entry = tuple(q + 1 for q in index)
            raise ValueError(f"{param}({layer}) has shape {array.shape}; received the entry {entry}.")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not abs(value) <= MAX_EDIT:
            raise ValueError(f"a weight must be a number from {-MAX_EDIT:g} to {MAX_EDIT:g}; received {value!s:.30}.")
        array[index] = value

    # ---------------------------------------------------------------- what the page shows
    def grid_points(self) -> np.ndarray:
        xs, ys = np.linspace(-EXTENT, EXTENT, GRID), np.linspace(EXTENT, -EXTENT, GRID)  # top row first
        return np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2)

    def frame(self, since: int = 0, detail: bool = True) -> dict[str, Any]:
        """The page's update: epoch, the losses of the epochs from ``since`` on (the page keeps the earlier
        ones), accuracy and the boundary; with ``detail``, also the live diagram's numbers and each neuron's
        output over the plane."""
        since = since if since <= self.epoch else 0
        record: list = []
        model = self.model
        out = model.forward(features(self.grid_points(), self.settings.features), False, False, record)
        outputs = {id(entry[1]): entry[3] for entry in record}
        neurons = []
        for dense, act in blocks(model)[:-1]:
            A = outputs[id(act)] if act is not None else outputs[id(dense)]
            lo, hi = (-1.0, 1.0) if act is not None and act.name == "tanh" else (float(A.min()), float(A.max()))
            scaled = np.clip((A - lo) / max(hi - lo, 1e-12), 0, 1)
            neurons.append([_b64(np.round(scaled[:, j] * 255).astype(np.uint8)) for j in range(A.shape[1])])
        if self.regression:  # the colour scale from −1 to +1
            p = np.clip((out[:, 0] + 1) / 2, 0, 1)
        else:
            p = 1 / (1 + np.exp(-np.clip(out[:, 0], -500, 500)))
        return {
            "type": "frame",
            "epoch": self.epoch,
            "since": since,
            "logs": {key: values[since:] for key, values in self.history.items()},
            "accuracy": {
                "train": self.accuracy(self.X_train, self.y_train),
                "test": self.accuracy(self.X_test, self.y_test),
            },
            "surface": _b64(np.round(p * 255).astype(np.uint8)),
            **({"neurons": neurons, "step": self.live_step()} if detail else {}),
            "stopped": self.stopped,
        }

    def net(self) -> dict[str, Any]:
        """What the diagram needs that stays the same through a run (as the explain page's ``network_data``)."""
        s = self.settings
        sizes = [len(s.features), *s.layers, 1]
        acts = [a for _, a in blocks(self.model)]
        return {
            "model": repr(self.model), "n": 1, "nParams": int(self.model.n_params), "precision": 3, "sizes": sizes,
            "activations": ["identity" if a is None else a.name for a in acts], "drawn": drawable(sizes),
            "inputNames": self.input_names(), "outputNames": self.output_names(),
            "formulas": [], "equations": [], "one": num(1.0, 3),
        }  # fmt: skip

    def input_names(self) -> list[str] | None:
        """The features' names, or None where they are the diagram's own x₁, x₂ (it would write each twice)."""
        names = [FEATURE_LABELS[f] for f in self.settings.features]
        return None if names == ["x₁", "x₂"][: len(names)] else names

    def output_names(self) -> list[str] | None:
        return None if self.regression else [self.output_name]  # ŷ₁ is already the regression output's name

    def live_step(self) -> dict[str, Any]:
        """The forward numbers of the first training sample, formatted for the shared diagram (3 decimals)."""
        record: list = []
        self.model.forward(self.X_train[:1], False, False, record)
        outputs = {id(entry[1]): entry[3] for entry in record}
        out = []
        for dense, act in blocks(self.model):
            z = outputs[id(dense)]
            a = outputs[id(act)] if act is not None else z
            W, b = dense.params["W"], dense.params["b"]
            out.append({"W": [[num(v, 3) for v in row] for row in W], "b": [num(v, 3) for v in b],
                        "z": [[num(v, 3) for v in z[0]]], "a": [[num(v, 3) for v in a[0]]],
                        "fused": False, "softmax": False})  # fmt: skip
        return {"x": [[num(v, 3) for v in self.X_train[0]]], "blocks": out}

    def points(self) -> dict[str, Any]:
        """The data as the boundary draws it: training points, then test points (marked)."""
        P = np.vstack([self.P_train, self.P_test])
        y = np.concatenate([self.y_train, self.y_test])
        y = np.round(y, 4) if self.regression else y
        return {"X": np.round(P, 3).tolist(), "y": y.tolist(), "nTrain": len(self.P_train)}

    def feature_images(self) -> list[str]:
        """Each input feature over the plane, scaled to its own range there (bytes 0-255, as the neurons)."""
        X = features(self.grid_points(), self.settings.features)
        lo, hi = X.min(axis=0), X.max(axis=0)
        scaled = (X - lo) / np.maximum(hi - lo, 1e-12)
        return [_b64(np.round(scaled[:, j] * 255).astype(np.uint8)) for j in range(X.shape[1])]

    def explain_data(self, precision: int = 5) -> dict[str, Any]:
        """``cr.explain`` on the current weights and the first training samples: the page's explain step, with
        the tab's penalty and the optimiser's real update written out beside it (``update.real_update``).

        explain writes the plain SGD update w − α·∂L/∂w only where that is what the tab does (SGD without
        momentum and no penalty); otherwise the real update is the one shown."""
        n = min(EXPLAIN_BATCH, len(self.X_train))
        X, Y = self.X_train[:n], self.targets[:n]
        s, opt = self.settings, self.optimizer
        plain = s.optimizer == "sgd" and not getattr(opt, "momentum", 0) and s.regularization == "none"
        ex = explain(self.model, X, Y, self.loss_name, lr=float(opt.current_lr) if plain else None)
        data = explanation_data(ex, precision, self.input_names(), self.output_names())
        rate = f"λ = {s.reg_rate:g} per step, the objective term {s.reg_rate * n:g}"
        penalty = {"none": "no penalty", "l1": f"L1: g adds λ·sign(W) ({rate}/n·Σ|W|)",
                   "l2": f"L2: g adds λ·W ({rate}/(2n)·Σ‖W‖²)"}[s.regularization]  # fmt: skip
        data["update"] = update = real_update(self.model, opt, self.objective_for(n), X, Y, penalty)
        if not plain:  # the equations name the update the tab really takes
            real = f"update ({update['optimizer']}, {penalty}):  {update['formula']}"
            net = data["net"]
            net["equations"] = [real if e.startswith("update (plain SGD)") else e for e in net.get("equations", [])]
        return data

    # ---------------------------------------------------------------- export
    def export(self, kind: str) -> tuple[bytes, str]:
        """The model as a chainrule file (.npz) or ONNX, or the replay page of this run; (content, file name)."""
        with tempfile.TemporaryDirectory() as folder:
            if kind == "npz":
                path = Path(folder) / "model.npz"
                self.model.save(path)
            elif kind == "onnx":
                path = Path(folder) / "model.onnx"
                self.model.to_onnx(path)
            elif kind == "replay":
                path = self.replay(Path(folder) / "replay.html")
            else:
                raise ValueError(f"unknown export {kind!r}; choose npz, onnx or replay.")
            return path.read_bytes(), path.name

    def replay(self, path: Path) -> Path:
        """The replay page of this run: the same settings trained again from the seed, with a Replay recording."""
        if self.epoch == 0:
            raise ValueError("nothing to replay yet: train for at least one epoch first.")
        twin = Session(self.settings, self.upload)
        names = [FEATURE_LABELS[f] for f in self.settings.features]
        replay = Replay(twin.X_train, twin.y_train, epochs=self.epoch, feature_names=names,
                        class_names=self.class_names, title=f"playground, {self.settings.dataset}")  # fmt: skip
        replay.on_train_begin(twin.model)
        for e in range(self.epoch):
            replay.on_epoch_end(twin.model, e, twin.step())
        replay.on_train_end(twin.model)
        return replay.to_html(path)
