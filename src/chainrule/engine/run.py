"""A fit's epochs run by the compiled kernel, handed to the fit loop one epoch's logs at a time.

Without callbacks or validation nothing looks at the model between epochs, so the whole run is one kernel
call (in chunks of at most ``CHUNK_ROWS`` shuffled rows); otherwise each epoch is one call, and the
callbacks see the weights, the optimiser's moments and the guard exactly as after a NumPy epoch. Between
calls the model's flat buffer, the optimiser's state and the guard are the one record: each call reads
them, with the model axis turned innermost, and writes them back.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _kernels
from .spec import Spec

CHUNK_ROWS = 1_000_000  # epochs × samples of shuffle order held at once


class CompiledRun:
    """``run(guard, epoch)`` gives the logs of ``epoch``, computing it (and those after it) when needed."""

    def __init__(self, model: Any, plan: Any, spec: Spec) -> None:
        self.model, self.plan, self.spec = model, plan, spec
        self.per_epoch = bool(plan.callbacks) or plan.validation is not None
        batches = plan.batches
        self.X = np.ascontiguousarray(batches.X)
        Y = batches.Y
        self.Y = np.ascontiguousarray(np.eye(model.n_out, dtype=model.dtype)[Y] if Y.ndim == 1 else Y)
        self.done = 0  # epochs of this fit computed so far
        self.block = (0, np.empty((0, 1)))  # (its first epoch, the losses of the epochs computed last)
        self.failure: tuple | None = None  # (epoch, kind, batch, weights at the start of it, weights then)

    def __call__(self, guard: Any, epoch: int) -> dict[str, Any]:
        first, losses = self.block
        if not first <= epoch < first + len(losses) and self.failure is None:
            n_rows = max(len(self.X), 1)
            count = 1 if self.per_epoch else max(1, min(self.plan.epochs - self.done, CHUNK_ROWS // n_rows))
            self._run(guard, epoch, count)
            first, losses = self.block
        if self.failure is not None and self.failure[0] == epoch:
            self._raise(guard)
        row = losses[epoch - first]  # the logs are made as they are asked for: nothing grows with the epochs
        return {"loss": row if self.model.stacked else float(row[0])}

    def _run(self, guard: Any, first: int, count: int) -> None:
        model, plan, spec, opt = self.model, self.plan, self.spec, self.plan.optimizer
        M, dtype, N = model.n_models or 1, model.dtype, len(self.X)
        flat = model.flat_params
        theta = np.ascontiguousarray(flat.reshape(M, -1).T)  # (P, M)
        names = tuple(opt.slots)
        moments = [np.ascontiguousarray(opt.state[0][s].reshape(M, -1).T) if opt.state else np.zeros_like(theta)
                   for s in names]  # fmt: skip
        slot1, slot2 = (moments + [np.zeros_like(theta) for _ in range(2)])[:2]
        active = guard.active[:, 0] > 0 if model.stacked else np.ones(1, bool)
        lr_epochs = np.ones(count)
        for e in range(count):
            opt.start_epoch(first + e)  # the optimiser's own record of the rate, as after a NumPy epoch
            if callable(opt.lr):
                lr_epochs[e] = opt.lr(first + e)
        lr_members = np.ones(M) if callable(opt.lr) else np.broadcast_to(np.asarray(opt.lr, float), (M,)).copy()
        guard.start_epoch()
        orders = self._orders(count, N)
        codes = np.array([spec.loss_code, spec.scaled, spec.per_element, spec.optimizer_code, not model.stacked,
                          opt.t], np.int64)  # fmt: skip
        h = np.array([getattr(opt, "beta_1", 0.0), getattr(opt, "beta_2", 0.0), getattr(opt, "eps", 0.0),
                      getattr(opt, "rho", 0.0), opt.clip_norm or 0.0, opt.clip_value or 0.0,
                      bool(getattr(opt, "nesterov", False)), "velocity" in names, plan.objective.l2,
                      guard.max_weight, np.finfo(dtype).eps, np.finfo(dtype).tiny,
                      np.floor(np.log(np.finfo(dtype).max))], np.float64)  # fmt: skip
        mu = np.broadcast_to(np.asarray(getattr(opt, "momentum", 0.0), np.float64), (M,)).copy()
        decay = np.broadcast_to(np.asarray(opt.weight_decay, np.float64), (M,)).copy()
        snapshot = np.empty_like(theta)
        div_key = np.full(M, -1, np.int64)
        losses = np.empty((count, M))
        status = np.zeros(4, np.int64)
        _kernels.train(self.X, self.Y, orders, self.plan.batches.size, lr_epochs, lr_members, theta, slot1, slot2,
                       snapshot, active, div_key, losses, spec.offsets, spec.dims, spec.acts, spec.alphas, codes, h,
                       mu, decay, status)  # fmt: skip
        kind, failed_at, batch, steps = (int(v) for v in status)
        flat[...] = theta.T.reshape(flat.shape)
        if steps > opt.t:
            if not opt.state:  # as the first NumPy step makes it
                opt.state = [{s: np.zeros_like(flat) for s in names}]
            for s, values in zip(names, (slot1, slot2)):
                opt.state[0][s][...] = values.T.reshape(flat.shape)
        opt.t = steps
        ran = failed_at + 1 if kind else count
        if kind:
            self.failure = (first + failed_at, kind, batch, snapshot.T.reshape(flat.shape), flat.copy())
        if model.stacked:
            losses = self._freeze_diverged(guard, first, div_key, losses)
        self.block = (first, losses[: ran - bool(kind)])
        self.done += ran

    def _orders(self, count: int, N: int) -> np.ndarray:
        """Each epoch's sample order: the model's generator draws a permutation per epoch, as ``Batches`` does."""
        batches = self.plan.batches
        if batches.shuffle and batches.size < N:
            return np.stack([self.model.rng.permutation(N) for _ in range(count)]).astype(np.int64, copy=False)
        return np.arange(N, dtype=np.int64)[None]  # one order for every epoch

    def _freeze_diverged(self, guard: Any, first: int, div_key: np.ndarray, losses: np.ndarray) -> np.ndarray:
        """Record the members the kernel froze, in the order NumPy's guard would; NaN for every diverged member's
        loss from its epoch on."""
        n_batches = -(-len(self.X) // self.plan.batches.size)
        new = np.flatnonzero(div_key >= 0)
        since = np.full(len(div_key), np.inf)
        since[[member for member, _ in guard.diverged]] = -1
        since[new] = first + div_key[new] // 2 // n_batches
        if len(new):
            mask = np.zeros(len(div_key), bool)
            mask[new] = True
            guard.halt(mask)
            guard.diverged += [(int(m), int(since[m])) for m in sorted(new, key=lambda m: (div_key[m], m))]
        if np.isfinite(since).any():  # in place: the losses are the size of the history
            losses[since[None, :] <= first + np.arange(len(losses))[:, None]] = np.nan
        return losses

    def _raise(self, guard: Any) -> None:
        """Stop as NumPy's guard does at the failed batch: it is given the weights of then and raises."""
        epoch, kind, batch, start, then = self.failure
        flat = self.model.flat_params
        flat[...] = start
        guard.start_epoch()
        flat[...] = then
        if kind == 1:
            guard.check_loss(float("nan"), epoch, batch)
        guard.check_weights(epoch, batch)
        raise AssertionError("the compiled engine saw a divergence that the guard does not confirm")
