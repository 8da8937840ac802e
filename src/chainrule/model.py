"""Sequential: a stack of layers, trained by forward, backward and an optimiser step.

    X ─► layer.forward … ─► loss.forward ─► L
    grads ◄─ layer.backward (reverse order) ◄─ loss.backward = ∂L/∂ŷ
    optimizer.step(params, grads)

All parameters live in one contiguous buffer, and all gradients in another;
each layer's ``params``/``grads`` entries are views into them.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from . import initializers
from ._math import sigmoid, softmax
from ._validate import (
    check_array,
    check_dtype,
    check_fraction,
    check_positive_float,
    check_positive_int,
    check_same_length,
)
from .activations import Activation, Sigmoid, Softmax
from .callbacks import Callback, History, ModelCheckpoint
from .layers import Layer
from .losses import Loss, check_sample_weight, get_loss
from .metrics import METRICS, get_metric
from .optimizers import Optimizer, get_optimizer


class DivergenceError(FloatingPointError):
    """Training produced a NaN or infinite loss, or weights beyond ``max_weight``.

    ``epoch`` and ``batch`` (counted from 1) say where; ``peak`` is the largest
    weight magnitude found (NaN or inf when weights were not finite; None when
    only the loss was).
    """

    def __init__(self, message: str, epoch: int = 0, batch: int = 0, peak: float | None = None) -> None:
        super().__init__(message)
        self.epoch, self.batch, self.peak = epoch, batch, peak

    def __reduce__(self):  # keep the fields through pickling (worker processes send exceptions back)
        return type(self), (str(self), self.epoch, self.batch, self.peak)


class Sequential:
    """Layers applied in order; owns the parameters, their gradients and the random generator.

    ``Sequential(Dense(2, 4), Tanh(), Dense(4, 1), Sigmoid(), seed=0)``

    ``seed`` seeds the model's ``numpy.random.Generator`` (weights, shuffling);
    ``dtype`` (float64 or float32) is the dtype of every parameter and of every
    array the model computes with.
    """

    _fit_callbacks: list[Callback] = []  # during fit: its callbacks, whose state a checkpoint saves
    _callback_states: list[tuple[str, str | None, dict[str, Any]]] = []  # read from a file, for resume_from

    def __init__(self, *layers: Layer, seed: int | None = None, dtype: Any = "float64") -> None:
        if len(layers) == 1 and isinstance(layers[0], (list, tuple)):
            layers = tuple(layers[0])
        if not layers:
            raise ValueError("Sequential needs at least one layer, e.g. Sequential(Dense(2, 1)).")
        for i, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise TypeError(f"layer {i} is {layer!r}, not a chainrule Layer.")
        self.layers: list[Layer] = list(layers)
        self.dtype = check_dtype(dtype)
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.n_in, self.n_out = self._check_dims()
        self.loss_: Loss | None = None
        self.optimizer_: Optimizer | None = None
        self.epochs_trained_ = 0
        self.stop_training = False
        self._build()

    # ---------------------------------------------------------------- building
    def _check_dims(self) -> tuple[int, int]:
        first = next((layer for layer in self.layers if hasattr(layer, "n_in")), None)
        if first is None:
            raise ValueError("Sequential needs a layer that fixes the input size, such as Dense.")
        n = n_in = first.n_in
        for layer in self.layers:
            expected = getattr(layer, "n_in", n)
            if expected != n:
                raise ValueError(
                    f"{layer!r} expects {expected} inputs but the layer before it gives {n}; "
                    f"make it {type(layer).__name__}({n}, …)."
                )
            n = layer.output_dim(n)
        return n_in, n

    def _build(self) -> None:
        """Move every parameter into one flat buffer (and every gradient into another)."""
        total = sum(math.prod(shape) for layer in self.layers for shape in layer.param_shapes().values())
        self._flat = np.zeros(total, dtype=self.dtype)
        self._flat_grad = np.zeros(total, dtype=self.dtype)
        self._bind_views()
        self._plan_backward()
        self.initialize()

    def _plan_backward(self) -> None:
        """The layers backward visits, last first, down to the first with parameters (which gives no dX)."""
        first = next((i for i, layer in enumerate(self.layers) if layer.params), len(self.layers))
        self._backward_plan = [(self.layers[i], i > first) for i in range(len(self.layers) - 1, first - 1, -1)]

    def _bind_views(self) -> None:
        """Make every layer's params and grads entries views into the flat buffers, in layer order."""
        self._flat_lists = ([self._flat], [self._flat_grad])  # what the optimiser steps over, made once
        offset = 0
        for layer in self.layers:
            for name, shape in layer.param_shapes().items():
                size = math.prod(shape)
                layer.params[name] = self._flat[offset : offset + size].reshape(shape)
                layer.grads[name] = self._flat_grad[offset : offset + size].reshape(shape)
                offset += size

    def initialize(self, seed: int | None = None) -> None:
        """Draw fresh weights from the model's generator (reseeded first when ``seed`` is given)."""
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        for i, layer in enumerate(self.layers):
            if layer.params:
                nxt = self.layers[i + 1] if i + 1 < len(self.layers) else None
                name = nxt.name if isinstance(nxt, Activation) else ""
                default = initializers.DEFAULT_FOR_ACTIVATION.get(name, initializers.DEFAULT_INIT)
                layer.initialize(self.rng, default)

    @property
    def n_params(self) -> int:
        return self._flat.size

    def get_weights(self) -> list[np.ndarray]:
        """Copies of every parameter array, layer by layer."""
        return [p.copy() for layer in self.layers for p in layer.params.values()]

    def set_weights(self, weights: Sequence[Any]) -> None:
        """Set every parameter from arrays in the order of ``get_weights``; checked before any write."""
        targets = [p for layer in self.layers for p in layer.params.values()]
        if len(weights) != len(targets):
            raise ValueError(f"set_weights needs {len(targets)} arrays; received {len(weights)}.")
        arrays = []
        for i, (w, p) in enumerate(zip(weights, targets)):
            a = check_array(w, f"weights[{i}]", dtype=self.dtype, ndim=None)
            if a.shape != p.shape:
                raise ValueError(f"weights[{i}] has shape {a.shape}; expected {p.shape}.")
            arrays.append(a)
        for a, p in zip(arrays, targets):
            p[...] = a

    # ------------------------------------------------------------ the data path
    def forward(self, X: np.ndarray, train: bool = True) -> np.ndarray:
        """Run every layer in order; with ``train=True`` each keeps what backward needs."""
        for layer in self.layers:
            X = layer.forward(X, train)
        return X

    def backward(self, dOut: np.ndarray) -> None:
        """Propagate ∂L/∂output back through every layer, filling each layer's ``grads``.

        Layers below the first one with parameters are skipped, and that one is
        not asked for its input gradient: nothing would use it.
        """
        self._backward_along(dOut, self._backward_plan)

    @staticmethod
    def _backward_along(dOut: np.ndarray, plan: list[tuple[Layer, bool]]) -> None:
        """Run backward through ``plan``'s layers in order, each told whether its input gradient is needed."""
        for layer, need_input_grad in plan:
            dOut = layer.backward(dOut, need_input_grad)

    def _as_input(self, X: Any, name: str = "X") -> np.ndarray:
        X = check_array(X, name, dtype=self.dtype)
        if X.shape[1] != self.n_in:
            raise ValueError(
                f"{name} has {X.shape[1]} features (shape {X.shape}) but the model's first layer "
                f"{self._first_sized()!r} expects {self.n_in}."
            )
        return X

    def _first_sized(self) -> Layer:
        return next(layer for layer in self.layers if hasattr(layer, "n_in"))

    # ---------------------------------------------------------------- training
    def fit(
        self,
        X: Any,
        y: Any,
        loss: str | Loss | None = None,
        optimizer: str | Optimizer | None = None,
        epochs: int = 1,
        batch_size: int | None = None,
        shuffle: bool = True,
        validation_data: tuple[Any, Any] | None = None,
        validation_split: float = 0.0,
        callbacks: Iterable[Callback] = (),
        seed: int | None = None,
        verbose: int = 0,
        metrics: Sequence[str] = (),
        sample_weight: Any = None,
        resume_from: str | os.PathLike | None = None,
        max_weight: float | None = 1e8,
    ) -> History:
        """Train for ``epochs`` passes over (X, y); return the per-epoch History.

        ``batch_size=None`` trains on the full batch (as the seeds do). ``loss``
        and ``optimizer`` default to those of the previous ``fit``; a first fit
        needs a loss, and the optimiser then defaults to Adam. ``seed`` reseeds
        the model's generator before shuffling. ``validation_split`` holds out
        the last fraction of the samples (before shuffling). ``metrics`` may
        contain "accuracy" (classification losses). Everything is checked
        before any weight changes.

        ``resume_from`` names a file written by ``save`` or ``ModelCheckpoint``
        from a model of the same architecture: its weights, optimiser state
        (moments, step count, schedule), loss, epoch count and random
        generator state replace this model's; each callback passed here gets
        back the state saved for the callback of the same type and monitor
        (an EarlyStopping's patience count, for one). ``epochs`` then counts
        the total, so ``epochs - epochs_trained`` more are run (``seed`` is
        ignored: the generator continues where the file left it). The result
        is bit-identical to a run that never stopped.

        Training that diverges raises ``DivergenceError`` naming the epoch and
        batch, with the weights put back to the last good ones: a NaN or
        infinite loss is caught at its batch; weights that became NaN or
        infinite, or grew past ``max_weight`` in magnitude (None: no bound
        but the dtype's range), are caught at the end of the epoch.
        """
        resumed = None if resume_from is None else self._load_resume(resume_from, optimizer)
        if resumed is not None:
            loss = resumed.loss_ if loss is None else loss
            optimizer, seed = resumed.optimizer_ if optimizer is None else optimizer, None
        loss_obj = self._resolve_loss(loss)
        opt = optimizer if optimizer is not None else self.optimizer_ or "adam"
        opt = get_optimizer(opt)
        epochs = check_positive_int(epochs, "epochs")
        if resumed is not None:
            if epochs <= resumed.epochs_trained_:
                raise ValueError(
                    f"epochs={epochs} is the total to reach when resuming, but {os.fspath(resume_from)!r} "
                    f"has already trained {resumed.epochs_trained_}."
                )
            epochs -= resumed.epochs_trained_
        batch_size = check_positive_int(batch_size, "batch_size", allow_none=True)
        if max_weight is not None:
            max_weight = check_positive_float(max_weight, "max_weight")
        bound = float(np.finfo(self.dtype).max) if max_weight is None else max_weight
        validation_split = check_fraction(validation_split, "validation_split")
        metric_fns = {name: get_metric(name, loss_obj) for name in metrics}
        X = self._as_input(X)
        Y = loss_obj.prepare_targets(y, self.n_out, self.dtype)
        check_same_length(X, Y)
        w = None if sample_weight is None else check_sample_weight(sample_weight, len(X), self.dtype)
        if validation_data is not None and validation_split:
            raise ValueError("Pass validation_data or validation_split, not both.")
        val = None
        if validation_split:
            n_val = int(round(len(X) * validation_split))
            if n_val < 1 or n_val >= len(X):
                raise ValueError(f"validation_split={validation_split} leaves no training or no validation samples.")
            val = (X[-n_val:], Y[-n_val:])
            X, Y = X[:-n_val], Y[:-n_val]
            w = None if w is None else w[:-n_val]
        elif validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise ValueError("validation_data must be a pair (X_val, y_val).")
            Xv = self._as_input(validation_data[0], "X_val")
            Yv = loss_obj.prepare_targets(validation_data[1], self.n_out, self.dtype)
            check_same_length(Xv, Yv, "X_val", "y_val")
            val = (Xv, Yv)
        callbacks = list(callbacks)
        for cb in callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks must be Callback instances; received {cb!r}.")
        # checkpoints last: the file they write then holds every other callback's state after the same epoch
        callbacks.sort(key=lambda cb: isinstance(cb, ModelCheckpoint))
        log_keys = ["loss", *metric_fns]
        log_keys += [f"val_{k}" for k in log_keys] if val is not None else []
        for cb in callbacks:
            cb.check_logs(log_keys)  # a monitor naming a missing log fails now, before any weight changes

        if resumed is not None:
            self._flat[...] = resumed._flat
            self.rng.bit_generator.state = resumed.rng.bit_generator.state
            self.epochs_trained_ = resumed.epochs_trained_
            opt.t, opt.state = resumed.optimizer_.t, resumed.optimizer_.state
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        self.loss_, self.optimizer_, self._max_weight = loss_obj, opt, bound
        # a Sigmoid/Softmax output whose loss takes its backward over: (p − y)/n straight into the layer below
        output = {"sigmoid": Sigmoid, "softmax": Softmax}.get(loss_obj.fuses or "")
        self._through_output = output is not None and type(self.layers[-1]) is output
        self._train_plan = self._backward_plan[1:] if self._through_output else self._backward_plan
        self._max_square_sum = min(bound * bound, float(np.finfo(self.dtype).max))  # see _check_weights
        history = History()
        self.stop_training = False
        for cb in callbacks:
            cb.on_train_begin(self)
        if resumed is not None:
            _restore_callbacks(callbacks, resumed._callback_states)
        self._fit_callbacks = callbacks  # saved with the model by a checkpoint during this fit
        snapshot = np.empty_like(self._flat)  # the last good weights, should an epoch diverge
        try:
            with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
                for _ in range(epochs):
                    epoch = self.epochs_trained_
                    logs = self._run_epoch(X, Y, w, loss_obj, opt, epoch, batch_size, shuffle, metric_fns, snapshot)
                    if val is not None:
                        logs.update({f"val_{k}": v for k, v in self._scores(*val, loss_obj, metric_fns).items()})
                    self.epochs_trained_ += 1
                    history.record(epoch, logs)
                    if verbose and (epoch % verbose == 0 or self.epochs_trained_ == epoch + 1 == epochs):
                        print(f"epoch {epoch + 1}: " + "  ".join(f"{k}={v:.6g}" for k, v in logs.items()))
                    for cb in callbacks:
                        cb.on_epoch_end(self, epoch, logs)
                    if self.stop_training:
                        break
        finally:
            self._fit_callbacks = []
        for cb in callbacks:
            cb.on_train_end(self)
        return history

    def _load_resume(self, path: str | os.PathLike, optimizer: str | Optimizer | None) -> Sequential:
        """The saved model to resume from, checked against this one (and against ``optimizer``'s kind)."""
        from .io import load

        saved, where = load(path), os.fspath(path)
        mine, theirs = self.get_config(), saved.get_config()
        if mine["layers"] != theirs["layers"] or mine["dtype"] != theirs["dtype"]:
            raise ValueError(f"cannot resume from {where!r}: it holds {saved!r} ({theirs['dtype']}), not {self!r}.")
        if saved.optimizer_ is None:
            raise ValueError(f"cannot resume from {where!r}: it was saved before any training (no optimiser state).")
        opt = saved.optimizer_ if optimizer is None else get_optimizer(optimizer)
        if type(opt) is not type(saved.optimizer_):
            raise ValueError(f"cannot resume from {where!r} with {opt!r}: it was trained with {saved.optimizer_!r}.")
        return saved

    def _resolve_loss(self, loss: str | Loss | None) -> Loss:
        if loss is None:
            if self.loss_ is None:
                raise ValueError("fit needs a loss, e.g. loss='mse', 'bce_logits' or 'softmax_cross_entropy'.")
            return self.loss_
        return get_loss(loss)

    def _run_epoch(self, X, Y, w, loss, opt, epoch, batch_size, shuffle, metric_fns, snapshot) -> dict[str, float]:
        n = len(X)
        bs = n if batch_size is None else min(batch_size, n)
        opt.start_epoch(epoch)
        params, grads = self._flat_lists
        if bs == n:
            return self._full_batch_step(X, Y, w, loss, opt, epoch, metric_fns, params, grads, snapshot)
        snapshot[...] = self._flat
        order = self.rng.permutation(n) if shuffle else None
        total, weight_seen = 0.0, 0.0
        correct = dict.fromkeys(metric_fns, 0.0)
        if order is not None:
            # shuffled batches are gathered into buffers made once per epoch, not allocated per batch
            Xbuf, Ybuf = np.empty((bs, *X.shape[1:]), X.dtype), np.empty((bs, *Y.shape[1:]), Y.dtype)
        for b, start in enumerate(range(0, n, bs)):
            if order is None:
                Xb, Yb, wb = X[start : start + bs], Y[start : start + bs], None if w is None else w[start : start + bs]
            else:
                idx = order[start : start + bs]
                m = len(idx)
                # mode="clip" (idx is always in range): with the default "raise", out= is buffered, ~3x slower
                Xb = np.take(X, idx, axis=0, out=Xbuf[:m], mode="clip")
                Yb = np.take(Y, idx, axis=0, out=Ybuf[:m], mode="clip")
                wb = None if w is None else w[idx]
            out = self.forward(Xb)
            value, dout = loss.value_and_grad(out, Yb, wb, self._through_output)
            if not math.isfinite(value):
                self._diverged(epoch, b, snapshot, opt)
            self._backward_along(dout, self._train_plan)
            opt.step(params, grads)
            share = len(Xb) if wb is None else float(wb.sum())
            total += value * share
            weight_seen += share
            for name, fn in metric_fns.items():
                correct[name] += fn(out, Yb) * len(Xb)
        self._check_weights(epoch, b, snapshot, opt)
        logs = {"loss": total / weight_seen}
        logs.update({name: c / n for name, c in correct.items()})
        return logs

    def _full_batch_step(self, X, Y, w, loss, opt, epoch, metric_fns, params, grads, snapshot) -> dict[str, float]:
        """One epoch of full-batch training: one step, with no shuffling or slicing to pay for."""
        out = self.forward(X)
        value, dout = loss.value_and_grad(out, Y, w, self._through_output)
        if not math.isfinite(value):
            self._diverged(epoch, 0, None, opt)  # nothing has moved this epoch: no snapshot is needed
        self._backward_along(dout, self._train_plan)
        snapshot[...] = self._flat
        opt.step(params, grads)
        self._check_weights(epoch, 0, snapshot, opt)
        logs = {"loss": value}
        for name, fn in metric_fns.items():
            logs[name] = fn(out, Y)
        return logs

    def _weight_peak(self) -> float:
        """The largest weight magnitude (NaN if any weight is NaN), without a |w| temporary."""
        flat = self._flat
        return float(max(np.maximum.reduce(flat), -np.minimum.reduce(flat)))

    def _check_weights(self, epoch: int, batch: int, snapshot: np.ndarray, opt: Optimizer) -> None:
        # a finite loss can still be followed by a step to inf, or by weights growing without bound.
        # Σw² ≤ bound² proves every |w| ≤ bound in one BLAS call; NaN and inf fail it, and so may huge
        # finite weights whose squares overflow: only then is the exact peak looked at.
        flat = self._flat
        if not float(np.dot(flat, flat)) <= self._max_square_sum:
            if not self._weight_peak() <= self._max_weight:
                self._diverged(epoch, batch, snapshot, opt)

    def _diverged(self, epoch: int, batch: int, snapshot: np.ndarray | None, opt: Optimizer) -> None:
        peak: float | None = self._weight_peak()
        what = "The loss or the weights became NaN or infinite"
        if peak <= self._max_weight:
            peak = None  # the weights are fine: only the loss went bad
        else:
            if snapshot is not None:
                self._flat[...] = snapshot
            opt.state, opt.t = [], 0  # its moments may hold NaN or huge values too: start them afresh
            if math.isfinite(peak):
                what = f"A weight reached {peak:.3g}, beyond max_weight={self._max_weight:g},"
        raise DivergenceError(
            f"{what} at epoch {epoch + 1}, batch {batch + 1}; training stopped and the weights are "
            "the last good ones. Lower the learning rate, scale the inputs and targets, or clip gradients "
            "(e.g. SGD(clip_norm=1.0)); pass max_weight=None to allow any finite weight.",
            epoch + 1,
            batch + 1,
            peak,
        )

    def _scores(self, X, Y, loss: Loss, metric_fns) -> dict[str, float]:
        out = self.forward(X, train=False)
        value, _ = loss.value_and_grad(out, Y)
        scores = {"loss": value}
        scores.update({name: fn(out, Y) for name, fn in metric_fns.items()})
        return scores

    # --------------------------------------------------------------- inference
    def predict(self, X: Any) -> np.ndarray:
        """The last layer's output for every row of X, shape (n_samples, n_outputs)."""
        return self.forward(self._as_input(X), train=False)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Probabilities: the output of a final Sigmoid/Softmax, or of the fitted logits loss."""
        out = self.predict(X)
        act = self.loss_.output_activation if self.loss_ is not None else None
        if act == "sigmoid":
            return sigmoid(out)
        if act == "softmax":
            return softmax(out, axis=1)
        if isinstance(self.layers[-1], (Sigmoid, Softmax)):
            return out
        raise TypeError(
            "predict_proba needs a model that ends in Sigmoid or Softmax, or one fitted with "
            "loss='bce_logits' or 'softmax_cross_entropy'."
        )

    def predict_classes(self, X: Any) -> np.ndarray:
        """Class labels: argmax over several outputs; probability ≥ 0.5 for a binary or multilabel model."""
        P = self.predict_proba(X)
        multiclass = isinstance(self.layers[-1], Softmax) or (
            self.loss_ is not None and self.loss_.output_activation == "softmax"
        )
        if multiclass:
            return np.argmax(P, axis=1)
        labels = (P >= 0.5).astype(np.int64)
        return labels.ravel() if labels.shape[1] == 1 else labels

    def evaluate(self, X: Any, y: Any, loss: str | Loss | None = None, metrics: Sequence[str] = ()) -> dict[str, float]:
        """The loss (and ``metrics``) on (X, y), without changing anything."""
        loss_obj = self._resolve_loss(loss)
        metric_fns = {name: get_metric(name, loss_obj) for name in metrics}
        X = self._as_input(X)
        Y = loss_obj.prepare_targets(y, self.n_out, self.dtype)
        check_same_length(X, Y)
        return self._scores(X, Y, loss_obj, metric_fns)

    # ----------------------------------------------------------------- display
    def summary(self) -> str:
        """A table of layers, output shapes and parameter counts."""
        rows = [("layer", "output shape", "params")]
        n = self.n_in
        for i, layer in enumerate(self.layers):
            n = layer.output_dim(n)
            count = sum(p.size for p in layer.params.values())
            rows.append((f"{i}: {layer!r}", f"(None, {n})", f"{count:,}"))
        widths = [max(len(r[c]) for r in rows) for c in range(3)]
        line = "-" * (sum(widths) + 4)
        fmt = lambda r: f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:>{widths[2]}}"  # noqa: E731
        body = [fmt(rows[0]), line, *map(fmt, rows[1:]), line]
        body.append(f"total parameters: {self.n_params:,} ({self.dtype})")
        return "\n".join(body)

    def save(self, path: Any) -> None:
        """Write the model to ``path`` atomically (see ``chainrule.io``)."""
        from .io import save

        save(self, path)

    def get_config(self) -> dict[str, Any]:
        return {"layers": [layer.get_config() for layer in self.layers], "dtype": str(self.dtype), "seed": self.seed}

    def __repr__(self) -> str:
        inner = ", ".join(repr(layer) for layer in self.layers)
        return f"Sequential({inner})"

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Unpickle, then make every layer's params and grads views into the flat buffers again.

        Pickle stores each view as a separate copy; without this the optimiser
        would update ``_flat`` while the layers kept computing with stale copies.
        """
        self.__dict__.update(state)
        self._bind_views()
        self._plan_backward()


def _restore_callbacks(callbacks: list[Callback], states: list[tuple[str, str | None, dict[str, Any]]]) -> None:
    """Give each callback the state saved for the callback of the same type and monitor (in order)."""
    pending = list(states)
    for cb in callbacks:
        key = (type(cb).__name__, getattr(cb, "monitor", None))
        for i, (kind, monitor, state) in enumerate(pending):
            if (kind, monitor) == key:
                cb.set_state(state)
                del pending[i]
                break


__all__ = ["Sequential", "DivergenceError", "METRICS"]
