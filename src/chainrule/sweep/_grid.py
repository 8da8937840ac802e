"""The grid of a sweep (lr × init × seed), its split into tasks, and the training of one task.

A task is plain data (a :class:`Task` of :class:`Member` records), and ``train_task`` is a top-level
function, so both pickle and can run in another process.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..core.ensemble import Ensemble
from ..core.losses import get_loss
from ..core.optimizers import get_optimizer
from ..layers import Dense, Layer
from ..layers.activations import get_activation
from ..layers.initializers import get_initializer


@dataclass(frozen=True)
class Member:
    """One network of the grid: its place (``index`` in the grid, ``point`` = its (lr, init) cell) and settings.

    ``init`` None means each Dense layer's default (the initialiser its activation suits).
    """

    index: int
    point: int
    lr: float
    init: str | None
    seed: int


@dataclass(frozen=True)
class Task:
    """Some members of the grid, trained as one stacked Ensemble."""

    id: int
    members: tuple[Member, ...]


@dataclass(frozen=True)
class SweepSpec:
    """What every member shares: the architecture, the data and the training settings.

    ``sizes`` = [n_in, hidden…, n_out]; ``output`` is the activation after the last Dense layer (None for
    raw outputs). ``X``, ``y`` are the training data, already preprocessed. ``shuffle_seed`` draws the
    mini-batch order, which every member sees alike (see ``Ensemble``), so results do not depend on how
    the grid is split.
    """

    sizes: tuple[int, ...]
    activation: str
    output: str | None
    loss: str
    X: np.ndarray
    y: np.ndarray
    epochs: int
    optimizer: str = "sgd"
    momentum: float = 0.0
    batch_size: int | None = None
    tol: float = 0.05
    dtype: str = "float64"
    shuffle_seed: int = 0

    def __post_init__(self) -> None:
        """Fail on a bad name now, not in a task on some worker."""
        self.layers()
        get_loss(self.loss)
        get_optimizer(self.optimizer)
        if self.momentum and self.optimizer != "sgd":
            raise ValueError(f"momentum is SGD's; received momentum={self.momentum} with optimizer={self.optimizer!r}.")

    @property
    def check_every(self) -> int:
        """Epochs between convergence checks and loss-curve samples: max(1, epochs // 100)."""
        return max(1, self.epochs // 100)

    @property
    def curve_epochs(self) -> list[int]:
        """The epochs after which ``train_task`` checks convergence and samples the loss."""
        return sorted({*range(self.check_every, self.epochs + 1, self.check_every), self.epochs})

    def layers(self) -> list[Layer]:
        """Fresh layers of the architecture (no weights set: the Ensemble draws them per member)."""
        layers: list[Layer] = []
        for k, (n_in, n_out) in enumerate(zip(self.sizes, self.sizes[1:])):
            layers.append(Dense(n_in, n_out))
            if k < len(self.sizes) - 2:
                layers.append(get_activation(self.activation))
            elif self.output is not None:
                layers.append(get_activation(self.output))
        return layers


@dataclass
class MemberResult:
    """What training one member gave.

    ``final_loss`` is the training loss of the last epoch (as ``fit`` reports it), NaN if the member
    diverged; ``epochs_to_converge`` the first check (a multiple of ``check_every``, or the last epoch)
    from which the member stayed converged to the end, None if it did not end converged;
    ``diverged_epoch`` the epoch, counted from 0, in which it diverged (and was frozen), or None;
    ``loss_curve`` the loss at every check (NaN from its divergence on).
    """

    index: int
    final_loss: float
    converged: bool
    epochs_to_converge: int | None
    diverged_epoch: int | None
    loss_curve: list[float] = field(default_factory=list)


def grid(lrs: Sequence[float], inits: Sequence[str | None], seeds: Sequence[int]) -> tuple[list[dict], list[Member]]:
    """The grid points (lr-major: every init for the first lr, then the next) and their members (every seed)."""
    for init in inits:
        if init is not None:
            get_initializer(init)  # a typo fails here, listing the valid names
    points = [{"lr": float(lr), "init": init} for lr, init in itertools.product(lrs, inits)]
    members = [
        Member(index=p * len(seeds) + j, point=p, lr=pt["lr"], init=pt["init"], seed=int(s))
        for p, pt in enumerate(points)
        for j, s in enumerate(seeds)
    ]
    return points, members


def split(members: Sequence[Member], n_tasks: int) -> list[Task]:
    """``members`` in ``n_tasks`` contiguous tasks of nearly equal size (fewer if there are fewer members)."""
    if isinstance(n_tasks, bool) or not isinstance(n_tasks, int) or n_tasks < 1:
        raise ValueError(f"n_tasks must be a positive integer; received n_tasks={n_tasks!r}.")
    chunks = np.array_split(np.arange(len(members)), min(n_tasks, len(members)))
    return [Task(id=t, members=tuple(members[i] for i in chunk)) for t, chunk in enumerate(chunks)]


def train_task(spec: SweepSpec, task: Task, progress: Callable[[int], Any] | None = None) -> list[MemberResult]:
    """Train ``task``'s members as one Ensemble; one result per member, in the task's order.

    Training runs in chunks of ``spec.check_every`` epochs (``fit`` continues with the same optimiser
    state, so the chunks add up to one fit); after each, ``converged`` is checked and the loss sampled.
    ``progress(n)`` is called with the epochs of each chunk.
    """
    members = task.members
    M = len(members)
    ens = Ensemble(*spec.layers(), n_models=M, seed=spec.shuffle_seed, seeds=[m.seed for m in members],
                   init=[m.init for m in members], dtype=spec.dtype)  # fmt: skip
    extra = {"momentum": spec.momentum} if spec.optimizer == "sgd" else {}
    opt = get_optimizer(spec.optimizer, lr=[m.lr for m in members], **extra)
    since = np.full(M, -1)  # the check from which each member has stayed converged; -1: not converged now
    diverged = np.full(M, -1)
    curve: list[np.ndarray] = []
    done = 0
    while done < spec.epochs:
        step = min(spec.check_every, spec.epochs - done)
        hist = ens.fit(spec.X, spec.y, loss=spec.loss, optimizer=opt, epochs=step, batch_size=spec.batch_size)
        done += step
        for i, epoch in hist["diverged"]:
            if diverged[i] < 0:
                diverged[i] = epoch
        losses = np.where(diverged < 0, hist["loss"][-1], np.nan)  # (M,)
        curve.append(losses)
        ok = ens.converged(spec.X, spec.y, spec.tol) & np.isfinite(losses)
        since = np.where(ok, np.where(since < 0, done, since), -1)
        if progress is not None:
            progress(step)
    curves = np.array(curve).T  # (M, checks)
    return [
        MemberResult(
            index=member.index,
            final_loss=float(curves[j, -1]),
            converged=bool(since[j] >= 0),
            epochs_to_converge=int(since[j]) if since[j] >= 0 else None,
            diverged_epoch=int(diverged[j]) if diverged[j] >= 0 else None,
            loss_curve=curves[j].tolist(),
        )
        for j, member in enumerate(members)
    ]
