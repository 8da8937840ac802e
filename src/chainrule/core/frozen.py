"""Frozen parameters: held fixed through an optimiser step, as a text's hand update that leaves the biases alone.

``fit(..., frozen={"b"})`` freezes every layer's bias; ``frozen={"2.W"}`` freezes the ``W`` of
``model.layers[2]`` only (indices count from 0, as ``model.layers`` does). A frozen parameter's gradient
is still computed (and shown by ``explain``), but the optimiser never sees it: it is set to zero before the
step, so clipping's global norm and the optimiser's moments leave it out, and the value is put back after
the step, so weight decay cannot move it either.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .model import Sequential
    from .optimizers import Optimizer


def frozen_parameters(model: Sequential, frozen: Iterable[str] | None) -> list[tuple[int, str]]:
    """The (layer index, parameter name) pairs that ``frozen`` names, checked against ``model``.

    Each entry is a parameter name (``"b"``: that parameter of every layer that has one) or
    ``"i.name"`` (``"2.W"``: the parameter of ``model.layers[i]``). ValueError for a name no layer has.
    """
    if frozen is None:
        return []
    if isinstance(frozen, str):
        frozen = [frozen]
    owned = [(i, name) for i, layer in enumerate(model.layers) for name in layer.params]
    chosen: list[tuple[int, str]] = []
    for entry in frozen:
        if not isinstance(entry, str):
            raise TypeError(f"frozen takes parameter names such as 'b' or '2.W'; received {entry!r}.")
        where, _, name = entry.rpartition(".")
        matches = [(i, n) for i, n in owned if n == name and (not where or str(i) == where)]
        if not matches:
            valid = sorted({n for _, n in owned} | {f"{i}.{n}" for i, n in owned})
            raise ValueError(
                f"frozen names {entry!r}, which no layer of this model has; valid names: {', '.join(valid)} "
                "(a name alone freezes it in every layer; 'i.name' in model.layers[i] only)."
            )
        chosen += [m for m in matches if m not in chosen]
    return chosen


class Frozen:
    """The frozen parameters of a model, and the optimiser step that leaves them as they are."""

    def __init__(self, model: Sequential | None = None, frozen: Iterable[str] | None = None) -> None:
        self.names = [] if model is None else frozen_parameters(model, frozen)
        self.params = [model.layers[i].params[name] for i, name in self.names]
        self.grads = [model.layers[i].grads[name] for i, name in self.names]

    def __bool__(self) -> bool:
        return bool(self.names)

    def step(self, optimizer: Optimizer, params: Sequence[np.ndarray], grads: Sequence[np.ndarray]) -> None:
        """``optimizer.step(params, grads)`` with every frozen gradient zeroed and every frozen value kept."""
        if not self.names:
            optimizer.step(params, grads)
            return
        for g in self.grads:
            g[...] = 0
        kept = [p.copy() for p in self.params]
        optimizer.step(params, grads)
        for p, value in zip(self.params, kept):
            p[...] = value

    def __repr__(self) -> str:
        return f"Frozen({[f'{i}.{name}' for i, name in self.names]!r})"
