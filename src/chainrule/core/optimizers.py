"""Optimisers update parameters in place from their gradients; schedules set the rate.

``step(params, grads)`` takes parallel sequences of arrays. A Sequential hands
over its single flat parameter buffer and its flat gradient buffer, so one
step costs a few NumPy calls whatever the depth of the network.

The update rules follow PyTorch's definitions (so trajectories can be
compared step for step), with g the gradient, plus λ·w when ``weight_decay``
λ is set (L2, applied to every parameter handed over, as PyTorch does).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .._validate import check_positive_float, check_positive_int, lookup

Schedule = Callable[[int], float]
FLUSH_EVERY = 128  # steps between flushes of subnormal optimiser state (see Optimizer._flush_subnormals)


def per_model(value: Any, name: str, check: Callable[[Any], float]) -> float | np.ndarray:
    """A hyperparameter: one number, or one per member of an Ensemble (a 1-D sequence), each ``check``ed."""
    if not isinstance(value, (list, tuple, np.ndarray)):
        return check(value)
    arr = np.asarray(value, dtype=np.float64) if np.asarray(value).dtype.kind in "biuf" else None
    if arr is None or arr.ndim != 1 or arr.size == 0:
        raise ValueError(
            f"{name} takes one number, or one number per ensemble member (a 1-D sequence); received {value!r}."
        )
    for v in arr:
        check(float(v))
    return arr


def _column(value: float | np.ndarray) -> Any:
    """A per-member array as a column (n_models, 1), to broadcast over an Ensemble's (n_models, P) buffers."""
    return value[:, None] if isinstance(value, np.ndarray) else value


class Optimizer:
    """Base class: learning rate (a number or a schedule of the epoch), weight decay, clipping.

    ``clip_norm`` rescales the whole gradient when its global L2 norm exceeds
    it; ``clip_value`` clamps each component to [−clip_value, clip_value].
    For an Ensemble, ``lr``, ``weight_decay`` (and SGD's ``momentum``) may be
    one value per member, and ``clip_norm`` applies to each member's gradient.
    """

    slots: tuple[str, ...] = ()

    def __init__(
        self,
        lr: float | Schedule | Sequence[float] = 0.01,
        weight_decay: float | Sequence[float] = 0.0,
        clip_norm: float | None = None,
        clip_value: float | None = None,
    ) -> None:
        if not callable(lr):
            lr = per_model(lr, "lr", lambda v: check_positive_float(v, "lr"))
        self.lr = lr
        self.weight_decay = per_model(
            weight_decay, "weight_decay", lambda v: check_positive_float(v, "weight_decay", allow_zero=True)
        )
        self.clip_norm = None if clip_norm is None else check_positive_float(clip_norm, "clip_norm")
        self.clip_value = None if clip_value is None else check_positive_float(clip_value, "clip_value")
        self.current_lr = float(lr(0)) if callable(lr) else _column(lr)
        self.t = 0  # steps taken
        self.state: list[dict[str, np.ndarray]] = []
        self._scratch: dict[tuple[int, ...], np.ndarray] = {}

    @property
    def n_values(self) -> int | None:
        """How many per-member values the hyperparameters hold (None: one value for every member)."""
        sizes = {len(v) for v in self._per_member().values() if isinstance(v, np.ndarray)}
        if len(sizes) > 1:
            raise ValueError(f"per-member hyperparameters have different lengths: {self._per_member()}.")
        return sizes.pop() if sizes else None

    def _per_member(self) -> dict[str, Any]:
        return {"lr": self.lr, "weight_decay": self.weight_decay}

    def reset(self) -> None:
        """Forget the moments and the step count, as a fresh optimiser of the same settings."""
        self.state, self.t = [], 0

    def start_epoch(self, epoch: int) -> float:
        """Set the rate for ``epoch`` (counted from 0) from the schedule, if any."""
        if callable(self.lr):
            self.current_lr = float(self.lr(epoch))
        return self.current_lr

    def step(self, params: Sequence[np.ndarray], grads: Sequence[np.ndarray]) -> None:
        """Update every array of ``params`` in place from the matching ``grads``."""
        if not self.state:
            self.state = [{s: np.zeros_like(p) for s in self.slots} for p in params]
        self.t += 1
        decay = self.weight_decay
        if self.clip_norm is None and self.clip_value is None and not (
            decay.any() if isinstance(decay, np.ndarray) else decay
        ):
            for p, g, slot in zip(params, grads, self.state):  # nothing rewrites g: skip the checks below
                self._update(p, g, slot, self.current_lr)
        else:
            scale = self._clip_scale(grads)
            decay = _column(decay)
            for p, g, slot in zip(params, grads, self.state):
                if scale is not None:
                    g = g * scale
                if self.clip_value is not None:
                    g = np.clip(g, -self.clip_value, self.clip_value)
                if np.any(decay):
                    g = g + decay * p
                self._update(p, g, slot, self.current_lr)
        if self.t % FLUSH_EVERY == 0:
            self._flush_subnormals()

    def _flush_subnormals(self) -> None:
        """Set state values below the dtype's smallest normal number (~1e-38 in float32) to exactly zero.

        The moments of a unit whose gradient has become zero (a dead ReLU) decay
        geometrically and pass through the subnormal range, where x86 arithmetic
        is many times slower (benchmarks/NOTES.md has the measurement). A step
        they would give is far below the spacing of any weight above ~1e-30, so
        zeroing them leaves the weights as they were.
        """
        for slot in self.state:
            for a in slot.values():
                np.copyto(a, 0, where=np.abs(a) < np.finfo(a.dtype).tiny)

    def _clip_scale(self, grads: Sequence[np.ndarray]) -> Any:
        """The factor that brings the gradient's L2 norm down to ``clip_norm`` (per member: a column), or None."""
        if self.clip_norm is None:
            return None
        # ‖g‖ along the flat buffer's last axis, kept as an axis: (1,), or (n_models, 1) for an Ensemble's
        norm = np.sqrt(sum(np.einsum("...i,...i->...", g, g)[..., None] for g in grads))
        return np.minimum(1.0, self.clip_norm / np.maximum(norm, np.finfo(norm.dtype).tiny))

    def _update(self, p: np.ndarray, g: np.ndarray, slot: dict[str, np.ndarray], lr: float) -> None:
        raise NotImplementedError

    def _buffer(self, p: np.ndarray) -> np.ndarray:
        """A scratch array like ``p``, kept between steps: a fresh temporary each step costs an allocation."""
        buf = self._scratch.get(p.shape)  # keyed by shape; the dtype is compared below
        if buf is None or buf.dtype != p.dtype:
            buf = self._scratch[p.shape] = np.empty_like(p)
        return buf

    def get_config(self) -> dict[str, Any]:
        lr = self.lr.get_config() if isinstance(self.lr, LRSchedule) else self.lr
        if callable(lr):
            lr = self.current_lr  # a plain function cannot be stored; keep its last value
        config = {
            "type": type(self).__name__,
            "lr": lr,
            "weight_decay": self.weight_decay,
            "clip_norm": self.clip_norm,
            "clip_value": self.clip_value,
            **self._hyper(),
        }
        return {k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in config.items()}

    def _hyper(self) -> dict[str, Any]:
        return {}

    def __repr__(self) -> str:
        cfg = self.get_config()
        cfg.pop("type")
        args = ", ".join(f"{k}={v!r}" for k, v in cfg.items() if v not in (None, 0.0, False))
        return f"{type(self).__name__}({args})"


class SGD(Optimizer):
    """Stochastic gradient descent, with optional (Nesterov) momentum μ.

    Plain (μ = 0), as in the seeds:   w ← w − α·g
    Momentum:                          v ← μ·v + g;   w ← w − α·v
    Nesterov:                          v ← μ·v + g;   w ← w − α·(g + μ·v)
    """

    def __init__(
        self,
        lr: float | Schedule = 0.01,
        momentum: float = 0.0,
        nesterov: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(lr, **kwargs)

        def check(mu: Any) -> float:
            if isinstance(mu, bool) or not isinstance(mu, (int, float)) or not 0.0 <= mu < 1.0:
                raise ValueError(f"momentum must be in [0, 1); received momentum={mu!r}.")
            if nesterov and mu == 0:
                raise ValueError("nesterov=True needs a momentum above 0.")
            return float(mu)

        self.momentum = per_model(momentum, "momentum", check)
        self.nesterov = bool(nesterov)
        self.slots = ("velocity",) if np.any(self.momentum) else ()

    def _per_member(self):
        return {**super()._per_member(), "momentum": self.momentum}

    def _update(self, p, g, slot, lr):
        if self.slots:
            mu = _column(self.momentum)
            v = slot["velocity"]
            v *= mu
            v += g
            g = g + mu * v if self.nesterov else v
        step = np.multiply(g, lr, out=self._buffer(p))
        p -= step

    def _hyper(self):
        return {"momentum": self.momentum, "nesterov": self.nesterov}


class Adam(Optimizer):
    """Adam with bias correction (t counts steps from 1).

    m ← β₁·m + (1 − β₁)·g          v ← β₂·v + (1 − β₂)·g²
    m̂ = m / (1 − β₁ᵗ)              v̂ = v / (1 − β₂ᵗ)
    w ← w − α·m̂ / (√v̂ + ε)
    """

    slots = ("m", "v")

    def __init__(
        self,
        lr: float | Schedule = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        eps: float = 1e-8,
        **kwargs: Any,
    ) -> None:
        super().__init__(lr, **kwargs)
        for name, beta in (("beta_1", beta_1), ("beta_2", beta_2)):
            if isinstance(beta, bool) or not 0.0 <= beta < 1.0:
                raise ValueError(f"{name} must be in [0, 1); received {name}={beta!r}.")
        self.beta_1, self.beta_2 = float(beta_1), float(beta_2)
        self.eps = check_positive_float(eps, "eps")

    def _update(self, p, g, slot, lr):
        m, v = slot["m"], slot["v"]
        tmp = self._buffer(p)  # every temporary below lives in this one reused buffer
        m *= self.beta_1
        m += np.multiply(g, 1 - self.beta_1, out=tmp)
        v *= self.beta_2
        tmp = np.multiply(g, g, out=tmp)
        tmp *= 1 - self.beta_2
        v += tmp
        step = lr / (1 - self.beta_1**self.t)
        denom = np.sqrt(v, out=tmp)
        denom /= math.sqrt(1 - self.beta_2**self.t)
        denom += self.eps
        update = np.divide(m, denom, out=tmp)
        update *= step
        p -= update

    def _hyper(self):
        return {"beta_1": self.beta_1, "beta_2": self.beta_2, "eps": self.eps}


class RMSProp(Optimizer):
    """RMSProp:  s ← ρ·s + (1 − ρ)·g²;   w ← w − α·g / (√s + ε)."""

    slots = ("s",)

    def __init__(self, lr: float | Schedule = 0.01, rho: float = 0.99, eps: float = 1e-8, **kwargs: Any) -> None:
        super().__init__(lr, **kwargs)
        if isinstance(rho, bool) or not 0.0 <= rho < 1.0:
            raise ValueError(f"rho must be in [0, 1); received rho={rho!r}.")
        self.rho = float(rho)
        self.eps = check_positive_float(eps, "eps")

    def _update(self, p, g, slot, lr):
        s = slot["s"]
        tmp = self._buffer(p)  # every temporary below lives in this one reused buffer
        s *= self.rho
        tmp = np.multiply(g, g, out=tmp)
        tmp *= 1 - self.rho
        s += tmp
        denom = np.sqrt(s, out=tmp)
        denom += self.eps
        update = np.divide(g, denom, out=tmp)
        update *= lr
        p -= update

    def _hyper(self):
        return {"rho": self.rho, "eps": self.eps}


class LRSchedule:
    """A learning rate as a function of the epoch (counted from 0)."""

    def __call__(self, epoch: int) -> float:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        return {"type": type(self).__name__, **vars(self)}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in vars(self).items())})"


class StepDecay(LRSchedule):
    """α·γ^⌊epoch / step_size⌋: multiply by ``gamma`` every ``step_size`` epochs."""

    def __init__(self, lr: float, step_size: int, gamma: float = 0.1) -> None:
        self.lr = check_positive_float(lr, "lr")
        self.step_size = check_positive_int(step_size, "step_size")
        self.gamma = check_positive_float(gamma, "gamma")

    def __call__(self, epoch):
        return self.lr * self.gamma ** (epoch // self.step_size)


class ExponentialDecay(LRSchedule):
    """α·γ^epoch."""

    def __init__(self, lr: float, gamma: float) -> None:
        self.lr = check_positive_float(lr, "lr")
        self.gamma = check_positive_float(gamma, "gamma")

    def __call__(self, epoch):
        return self.lr * self.gamma**epoch


class CosineDecay(LRSchedule):
    """α_min + ½(α − α_min)(1 + cos(π·min(epoch, epochs)/epochs)): from α down to α_min."""

    def __init__(self, lr: float, epochs: int, min_lr: float = 0.0) -> None:
        self.lr = check_positive_float(lr, "lr")
        self.epochs = check_positive_int(epochs, "epochs")
        self.min_lr = check_positive_float(min_lr, "min_lr", allow_zero=True)

    def __call__(self, epoch):
        frac = min(epoch, self.epochs) / self.epochs
        return self.min_lr + 0.5 * (self.lr - self.min_lr) * (1 + math.cos(math.pi * frac))


OPTIMIZERS: dict[str, type[Optimizer]] = {"sgd": SGD, "adam": Adam, "rmsprop": RMSProp}
SCHEDULES: dict[str, type[LRSchedule]] = {
    "StepDecay": StepDecay,
    "ExponentialDecay": ExponentialDecay,
    "CosineDecay": CosineDecay,
}


def get_optimizer(name: str | Optimizer, **kwargs: Any) -> Optimizer:
    """A new optimiser called ``name`` (an Optimizer instance passes through)."""
    if isinstance(name, Optimizer):
        return name
    return lookup("optimizer", name, OPTIMIZERS)(**kwargs)
