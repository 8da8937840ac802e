"""The fit loop: a prepared plan, a batch iterator, and one gradient step per batch.

``prepare`` checks everything before any weight changes and returns a
``Plan``; ``fit`` runs it. Each step is ``model.gradient`` (the one backward
path) followed by ``optimizer.step`` over the flat buffers. The full batch is
simply the only batch.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import io
from .._validate import check_fraction, check_positive_float, check_positive_int, check_same_length
from ..engine import select as select_engine
from ..metrics import get_metric
from . import checkpoint
from ._guard import Guard
from .callbacks import Callback, History
from .frozen import Frozen
from .losses import Loss, check_sample_weight
from .objective import Objective
from .optimizers import Optimizer, get_optimizer

if TYPE_CHECKING:
    from .model import Sequential

Batch = tuple[np.ndarray, np.ndarray, "np.ndarray | None"]


def fit(
    model: Sequential,
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
    engine: str = "auto",
    frozen: Iterable[str] | None = None,
) -> History:
    """Train for ``epochs`` passes over (X, y); return the per-epoch History.

    ``batch_size=None`` trains on the full batch (as the seeds do). ``loss``
    and ``optimizer`` default to those of the previous ``fit``; a first fit
    needs a loss, and the optimiser then defaults to Adam. A loss that fuses
    with the model's output (Sigmoid + bce, Softmax + categorical
    cross-entropy) is one step of the backward path; one that would squash
    twice is refused (see ``chainrule.core.objective``). ``seed`` reseeds the
    model's generator before shuffling. ``validation_split`` holds out the
    last fraction of the samples (before shuffling). ``metrics`` may contain
    "accuracy" (classification losses) or "mae" (regression). Everything is
    checked before any weight changes.

    ``resume_from`` names a file written by ``save`` or ``ModelCheckpoint``
    from a model of the same architecture: its weights, optimiser state
    (moments, step count, schedule), loss, epoch count and random generator
    state replace this model's; each callback passed here gets back the state
    saved for the callback of the same type and monitor (an EarlyStopping's
    patience count, for one). ``epochs`` then counts the total, so
    ``epochs - epochs_trained`` more are run (``seed`` is ignored: the
    generator continues where the file left it). The result is bit-identical
    to a run that never stopped.

    X may be a scipy sparse matrix (CSR or CSC) where the model takes feature vectors: each batch is
    densified as it is taken, so the whole matrix never is (unless one batch is the whole of it).

    Training that diverges raises ``DivergenceError`` naming the epoch and
    batch, with the weights put back to the last good ones: a NaN or infinite
    loss is caught at its batch; weights that became NaN or infinite, or grew
    past ``max_weight`` in magnitude (None: no bound but the dtype's range),
    are caught at the end of the epoch.

    ``engine`` picks what runs the epochs: "numpy", "compiled" (``chainrule.engine``: needs numba, and
    refuses a model or option it does not cover) or "auto", the compiled engine where it covers the fit.

    ``frozen`` names parameters the steps leave as they are: ``{"b"}`` every layer's bias, ``{"2.W"}`` the W
    of ``model.layers[2]`` (see ``chainrule.core.frozen``). A fit with frozen parameters runs on NumPy.
    """
    freeze = Frozen(model, frozen)  # checked before anything changes
    if freeze and engine == "compiled":
        raise ValueError("engine='compiled' cannot run a fit with frozen parameters; use engine='numpy' or 'auto'.")
    engine = "numpy" if freeze and engine == "auto" else engine  # select_engine still refuses an unknown name
    plan = prepare(model, X, y, loss, optimizer, epochs, batch_size, shuffle, validation_data, validation_split,
                   callbacks, seed, metrics, sample_weight, resume_from, max_weight)  # fmt: skip
    plan.frozen = freeze
    compiled = select_engine(model, plan, engine, verbose)  # None: NumPy runs the epochs
    model.loss_, model.objective_, model.optimizer_ = plan.objective.loss, plan.objective, plan.optimizer
    guard = model.guard(plan.optimizer, plan.max_weight)
    guard.watch(plan.objective.l2, plan.batches.w)  # to name what made a loss NaN or infinite
    history, model.stop_training = model.new_history(), False
    for cb in plan.callbacks:
        cb.set_peers(plan.callbacks)
        cb.on_train_begin(model)
    checkpoint.restore_callbacks(plan.callbacks, plan.callback_states)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        for i in range(plan.epochs):
            epoch = model.epochs_trained_
            logs = run_epoch(model, plan, guard, epoch) if compiled is None else compiled(guard, epoch)
            if plan.validation is not None:
                val_scores = scores(model, *plan.validation, plan.objective, plan.metrics)
                logs.update({f"val_{k}": v for k, v in val_scores.items()})
            model.epochs_trained_ += 1
            history.record(epoch, logs)
            if verbose and (epoch % verbose == 0 or i + 1 == plan.epochs):
                print(f"epoch {epoch + 1}: " + "  ".join(f"{k}={_shown(v)}" for k, v in logs.items()))
            for cb in plan.callbacks:
                cb.on_epoch_end(model, epoch, logs)
            if model.stop_training:
                break
    for cb in plan.callbacks:
        cb.on_train_end(model)
    guard.finish(history)
    return history


def _shown(value: Any) -> str:
    """A log value for the verbose line: the number, or an Ensemble's mean over the members still training."""
    if isinstance(value, np.ndarray):
        return f"{np.nanmean(value):.6g} (mean of {value.size})" if np.isfinite(value).any() else "nan"
    return f"{value:.6g}"


def run_epoch(model: Sequential, plan: Plan, guard: Guard, epoch: int) -> dict[str, Any]:
    """One pass over the batches: gradient, divergence check, optimiser step; the epoch's logs.

    An Ensemble runs it too, with its guard (``model.guard``): its loss and metrics are then one value per member.
    """
    opt, objective, metrics, (params, grads) = plan.optimizer, plan.objective, plan.metrics, plan.buffers
    opt.start_epoch(epoch)
    guard.start_epoch()
    total = seen = 0.0
    hits = dict.fromkeys(metrics, 0.0)
    for b, (Xb, Yb, wb) in enumerate(plan.batches(model.rng)):
        value, out, _ = model.gradient(Xb, Yb, objective, wb)
        guard.check_loss(value, epoch, b)
        plan.frozen.step(opt, params, grads)
        share = len(Xb) if wb is None else float(wb.sum())
        total += value * share
        seen += share
        for name, fn in metrics.items():
            hits[name] += fn(out, Yb) * len(Xb)
    guard.check_weights(epoch, b)
    logs = {"loss": guard.epoch_loss(total / seen, epoch, b)}
    if hits:
        n = plan.batches.n
        logs.update({name: h / n for name, h in hits.items()})
    return logs


def evaluate(
    model: Sequential, X: Any, y: Any, loss: str | Loss | None = None, metrics: Sequence[str] = ()
) -> dict[str, float]:
    """The loss (and ``metrics``) of ``model`` on (X, y), without changing anything."""
    if loss is None and model.loss_ is None:
        raise ValueError("evaluate needs a loss, e.g. loss='mse'; this model has not been fitted with one.")
    objective = model.objective(model.loss_ if loss is None else loss)  # refuses a pair that squashes twice
    metric_fns = {name: get_metric(name, objective.loss, model.stacked) for name in metrics}
    X = model.check_input(X)
    Y = objective.loss.prepare_targets(y, model.n_out, model.dtype)
    check_same_length(X, Y)
    return scores(model, X, Y, objective, metric_fns)


def scores(model: Sequential, X: np.ndarray, Y: np.ndarray, objective: Objective, metrics: dict) -> dict[str, float]:
    """The loss and metrics of the model's output in inference mode on checked (X, Y)."""
    top = model.forward(X, training=False, keep=False, stop=objective.start)
    value, _, out = objective.evaluate(top, Y, training=False)
    return {"loss": value, **{name: fn(out, Y) for name, fn in metrics.items()}}


class Batches:
    """The batches of one epoch, ``batches(rng)``: the full batch as one, or shuffled slices.

    Shuffled batches are gathered into buffers made once, not allocated per batch.
    """

    def __init__(self, X: np.ndarray, Y: np.ndarray, w: np.ndarray | None, size: int | None, shuffle: bool) -> None:
        self.X, self.Y, self.w, self.n = X, Y, w, X.shape[0]
        self.size = self.n if size is None else min(size, self.n)
        self.shuffle = shuffle
        self.sparse = is_sparse(X)  # a scipy CSR X: each batch is densified as it is taken
        whole = X.toarray() if self.sparse and self.size == self.n else X  # a sparse X is dense only as one batch
        self.full: tuple[Batch] = ((whole, Y, w),)
        if shuffle and self.size < self.n:
            self.Xbuf = np.empty((self.size, *X.shape[1:]), X.dtype)
            self.Ybuf = np.empty((self.size, *Y.shape[1:]), Y.dtype)

    def __call__(self, rng: np.random.Generator) -> Iterable[Batch]:
        if self.size == self.n:
            return self.full
        return self._shuffled(rng) if self.shuffle else self._in_order()

    def _in_order(self) -> Iterator[Batch]:
        X, Y, w, bs = self.X, self.Y, self.w, self.size
        for start in range(0, self.n, bs):
            Xb = X[start : start + bs].toarray() if self.sparse else X[start : start + bs]
            yield Xb, Y[start : start + bs], None if w is None else w[start : start + bs]

    def _shuffled(self, rng: np.random.Generator) -> Iterator[Batch]:
        order = rng.permutation(self.n)
        for start in range(0, len(order), self.size):
            idx = order[start : start + self.size]
            m = len(idx)
            if self.sparse:
                Xb = self.X[idx].toarray(out=self.Xbuf[:m])
            else:  # mode="clip": idx is always in range, and "raise" would buffer out= (benchmarks/NOTES.md)
                Xb = np.take(self.X, idx, axis=0, out=self.Xbuf[:m], mode="clip")
            Yb = np.take(self.Y, idx, axis=0, out=self.Ybuf[:m], mode="clip")
            yield Xb, Yb, None if self.w is None else self.w[idx]


@dataclass
class Plan:
    """Everything a fit needs, checked: objective, optimiser, batches, validation, callbacks."""

    objective: Objective
    optimizer: Optimizer
    epochs: int
    batches: Batches
    validation: tuple[np.ndarray, np.ndarray] | None
    callbacks: list[Callback]
    metrics: dict[str, Callable[[np.ndarray, np.ndarray], float]]
    max_weight: float | None
    callback_states: list = field(default_factory=list)
    buffers: tuple[list[np.ndarray], list[np.ndarray]] = ([], [])  # what the optimiser steps over
    frozen: Frozen = field(default_factory=Frozen)  # parameters the steps leave as they are


def prepare(model, X, y, loss, optimizer, epochs, batch_size, shuffle, validation_data, validation_split,
            callbacks, seed, metrics, sample_weight, resume_from, max_weight) -> Plan:  # fmt: skip
    """Check every argument of ``fit`` and build its Plan; on resume, load the saved state into ``model``.

    Nothing in ``model`` changes unless every check passes.
    """
    saved = None if resume_from is None else _resume_file(model, resume_from, optimizer)
    if saved is not None:
        state = saved.model.get_state()
        loss = state["loss"] if loss is None else loss
        optimizer, seed = state["optimizer"] if optimizer is None else optimizer, None
    if loss is None and model.loss_ is None:
        raise ValueError("fit needs a loss, e.g. loss='mse', 'bce_logits' or 'softmax_cross_entropy'.")
    objective = model.objective(model.loss_ if loss is None else loss)
    opt = get_optimizer(optimizer if optimizer is not None else model.optimizer_ or "adam")
    if opt.n_values is not None and not model.stacked:
        raise ValueError(f"{opt!r} holds per-member values, which only an Ensemble takes; give one value each.")
    if opt.n_values is not None and opt.n_values != model.n_models:
        raise ValueError(f"the optimiser holds {opt.n_values} per-member values; this ensemble has "
                         f"{model.n_models} members.")  # fmt: skip
    epochs = check_positive_int(epochs, "epochs")
    if saved is not None:
        done = saved.model.epochs_trained_
        if epochs <= done:
            raise ValueError(
                f"epochs={epochs} is the total to reach when resuming, but {os.fspath(resume_from)!r} "
                f"has already trained {done}."
            )
        epochs -= done
    batch_size = check_positive_int(batch_size, "batch_size", allow_none=True)
    if max_weight is not None:
        max_weight = check_positive_float(max_weight, "max_weight")
    validation_split = check_fraction(validation_split, "validation_split")
    metric_fns = {name: get_metric(name, objective.loss, model.stacked) for name in metrics}
    X = _sparse_rows(model, X) if is_sparse(X) else model.check_input(X)
    Y = objective.loss.prepare_targets(y, model.n_out, model.dtype)
    check_same_length(X if isinstance(X, np.ndarray) else np.broadcast_to(0, X.shape[:1]), Y)  # a sparse X's rows
    w = None if sample_weight is None else check_sample_weight(sample_weight, X.shape[0], model.dtype)
    X, Y, w, val = _split_validation(model, objective.loss, X, Y, w, validation_data, validation_split)
    callbacks = list(callbacks)
    for cb in callbacks:
        if not isinstance(cb, Callback):
            raise TypeError(f"callbacks must be Callback instances; received {cb!r}.")
    callbacks.sort(key=checkpoint.runs_last)  # a checkpoint then holds the other callbacks' state after the epoch
    log_keys = ["loss", *metric_fns]
    log_keys += [f"val_{k}" for k in log_keys] if val is not None else []
    for cb in callbacks:
        cb.check_logs(log_keys)  # a monitor naming a missing log fails now, before any weight changes

    if saved is not None:
        model.flat_params[...], model.flat_state[...] = saved.model.flat_params, saved.model.flat_state
        model.set_state({**state, "seed": model.seed})
        opt.t, opt.state = state["optimizer"].t, state["optimizer"].state
    if seed is not None:
        model.rng = np.random.default_rng(seed)
    batches = Batches(X, Y, w, batch_size, shuffle)
    states = saved.callback_states if saved is not None else []
    buffers = ([model.flat_params], [model.flat_grads])
    return Plan(objective, opt, epochs, batches, val, callbacks, metric_fns, max_weight, states, buffers)


def is_sparse(X: Any) -> bool:
    """Whether X is a scipy sparse matrix or array (told by its methods: scipy is not imported)."""
    return callable(getattr(X, "tocsr", None)) and callable(getattr(X, "toarray", None))


def _sparse_rows(model: Sequential, X: Any) -> Any:
    """A scipy sparse X of the model's dtype as CSR rows, which ``Batches`` densifies one batch at a time."""
    if len(model.in_shape) != 1 or X.ndim != 2 or X.shape[1] != model.n_in:
        raise ValueError(f"a sparse X must be (n_samples, {model.n_in}) for {model.layers[0]!r}; received {X.shape}.")
    X = X.tocsr().astype(model.dtype, copy=False)
    if X.shape[0] == 0 or not np.isfinite(X.data).all():
        raise ValueError("a sparse X must hold at least one sample and only finite values.")
    return X


def _split_validation(model, loss, X, Y, w, validation_data, validation_split):
    if validation_data is not None and validation_split:
        raise ValueError("Pass validation_data or validation_split, not both.")
    if validation_split:
        n_val = int(round(X.shape[0] * validation_split))
        if n_val < 1 or n_val >= X.shape[0]:
            raise ValueError(f"validation_split={validation_split} leaves no training or no validation samples.")
        return X[:-n_val], Y[:-n_val], None if w is None else w[:-n_val], (X[-n_val:], Y[-n_val:])
    if validation_data is None:
        return X, Y, w, None
    if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
        raise ValueError("validation_data must be a pair (X_val, y_val).")
    Xv = model.check_input(validation_data[0], "X_val")
    Yv = loss.prepare_targets(validation_data[1], model.n_out, model.dtype)
    check_same_length(Xv, Yv, "X_val", "y_val")
    return X, Y, w, (Xv, Yv)


def _resume_file(model: Sequential, path: str | os.PathLike, optimizer: str | Optimizer | None) -> io.ModelFile:
    """The saved model to resume from, checked against ``model`` (and against ``optimizer``'s kind)."""
    saved, where = io.read(path), os.fspath(path)
    mine, theirs = model.get_config(), saved.model.get_config()
    if mine["layers"] != theirs["layers"] or mine["dtype"] != theirs["dtype"]:
        raise ValueError(f"cannot resume from {where!r}: it holds {saved.model!r} ({theirs['dtype']}), not {model!r}.")
    opt = saved.model.optimizer_
    if opt is None:
        raise ValueError(f"cannot resume from {where!r}: it was saved before any training (no optimiser state).")
    if optimizer is not None and type(get_optimizer(optimizer)) is not type(opt):
        raise ValueError(f"cannot resume from {where!r} with {optimizer!r}: it was trained with {opt!r}.")
    return saved
