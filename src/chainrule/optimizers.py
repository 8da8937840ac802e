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

from ._validate import check_positive_float, check_positive_int, lookup

Schedule = Callable[[int], float]
FLUSH_EVERY = 128  # steps between flushes of subnormal optimiser state (see Optimizer._flush_subnormals)


class Optimizer:
    """Base class: learning rate (a number or a schedule of the epoch), weight decay, clipping.

    ``clip_norm`` rescales the whole gradient when its global L2 norm exceeds
    it; ``clip_value`` clamps each component to [−clip_value, clip_value].
    """

    slots: tuple[str, ...] = ()

    def __init__(
        self,
        lr: float | Schedule = 0.01,
        weight_decay: float = 0.0,
        clip_norm: float | None = None,
        clip_value: float | None = None,
    ) -> None:
        if not callable(lr):
            check_positive_float(lr, "lr")
        self.lr = lr
        self.weight_decay = check_positive_float(weight_decay, "weight_decay", allow_zero=True)
        self.clip_norm = None if clip_norm is None else check_positive_float(clip_norm, "clip_norm")
        self.clip_value = None if clip_value is None else check_positive_float(clip_value, "clip_value")
        self.current_lr = float(lr(0)) if callable(lr) else float(lr)
        self.t = 0  # steps taken
        self.state: list[dict[str, np.ndarray]] = []
        self._scratch: dict[tuple[int, ...], np.ndarray] = {}

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
        if self.clip_norm is None and self.clip_value is None and not self.weight_decay:
            for p, g, slot in zip(params, grads, self.state):  # nothing rewrites g: skip the checks below
                self._update(p, g, slot, self.current_lr)
        else:
            scale = self._clip_scale(grads)
            for p, g, slot in zip(params, grads, self.state):
                if scale != 1.0:
                    g = g * scale
                if self.clip_value is not None:
                    g = np.clip(g, -self.clip_value, self.clip_value)
                if self.weight_decay:
                    g = g + self.weight_decay * p
                self._update(p, g, slot, self.current_lr)
        if self.t % FLUSH_EVERY == 0:
            self._flush_subnormals()

    def _flush_subnormals(self) -> None:
        """Set state values below the dtype's smallest normal number (~1e-38 in float32) to exactly zero.

        The moments of a unit whose gradient has become zero (a dead ReLU) decay
        geometrically and pass through the subnormal range, where x86 arithmetic
        is many times slower: in an MNIST-sized float32 run, enough of them to
        slow whole epochs by ~10%. A step they would give is far below the
        spacing of any weight above ~1e-30, so zeroing them leaves the weights
        as they were.
        """
        for slot in self.state:
            for a in slot.values():
                np.copyto(a, 0, where=np.abs(a) < np.finfo(a.dtype).tiny)

    def _clip_scale(self, grads: Sequence[np.ndarray]) -> float:
        if self.clip_norm is None:
            return 1.0
        norm = math.sqrt(sum(float(np.dot(g.ravel(), g.ravel())) for g in grads))
        return self.clip_norm / norm if norm > self.clip_norm else 1.0

    def _update(self, p: np.ndarray, g: np.ndarray, slot: dict[str, np.ndarray], lr: float) -> None:
        raise NotImplementedError

    def _buffer(self, p: np.ndarray) -> np.ndarray:
        """A scratch array like ``p``, kept between steps: a fresh temporary each step costs an allocation."""
        buf = self._scratch.get(p.shape)  # keyed by shape alone: hashing a dtype costs more than comparing it
        if buf is None or buf.dtype != p.dtype:
            buf = self._scratch[p.shape] = np.empty_like(p)
        return buf

    def get_config(self) -> dict[str, Any]:
        lr = self.lr.get_config() if isinstance(self.lr, LRSchedule) else self.lr
        if callable(lr):
            lr = self.current_lr  # a plain function cannot be stored; keep its last value
        return {
            "type": type(self).__name__,
            "lr": lr,
            "weight_decay": self.weight_decay,
            "clip_norm": self.clip_norm,
            "clip_value": self.clip_value,
            **self._hyper(),
        }

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
        if not 0.0 <= momentum < 1.0 or isinstance(momentum, bool):
            raise ValueError(f"momentum must be in [0, 1); received momentum={momentum!r}.")
        if nesterov and momentum == 0:
            raise ValueError("nesterov=True needs a momentum above 0.")
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)
        self.slots = ("velocity",) if momentum else ()

    def _update(self, p, g, slot, lr):
        if self.momentum:
            v = slot["velocity"]
            v *= self.momentum
            v += g
            g = g + self.momentum * v if self.nesterov else v
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
