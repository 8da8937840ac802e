"""``coefs_`` and ``intercepts_``: views into the network, and assignable, as scikit-learn's lists are.

Read, they are lists of the Dense layers' ``W`` and ``b``, views into ``model_``'s flat buffer. Assigned (the
whole list, or an array put into the list), the arrays are held and copied into the network before it next
predicts or trains; assigned before any fit, they are the network ``partial_fit`` and warm starts begin from.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.model import Sequential
from ..layers import Dense


class HeldWeights:
    """The estimators' ``coefs_``/``intercepts_``; the estimator gives ``model_`` and ``_build``."""

    model_: Sequential

    @property
    def coefs_(self) -> list[np.ndarray]:
        """Weight matrices, ``coefs_[i]`` of shape (n_units[i], n_units[i + 1]); views into ``model_``.

        Assignable, as in scikit-learn: a list set here (or an array put into it) is copied into the network
        before it next predicts or trains; set before any fit, it is where ``partial_fit`` and warm starts begin.
        """
        return self._weights("W")

    @coefs_.setter
    def coefs_(self, value: list[np.ndarray]) -> None:
        self.__dict__["_held_W"] = value

    @property
    def intercepts_(self) -> list[np.ndarray]:
        """Bias vectors, ``intercepts_[i]`` of shape (n_units[i + 1],); views into ``model_``, assignable too."""
        return self._weights("b")

    @intercepts_.setter
    def intercepts_(self, value: list[np.ndarray]) -> None:
        self.__dict__["_held_b"] = value

    def _weights(self, key: str) -> list[np.ndarray]:
        held = self.__dict__.get(f"_held_{key}")
        if held is None:
            if "model_" not in self.__dict__:
                raise AttributeError(f"This {type(self).__name__} is not fitted yet; call fit first.")
            held = self.__dict__[f"_held_{key}"] = [layer.params[key] for layer in self._dense_layers()]
        return held

    def _dense_layers(self) -> list[Dense]:
        return [layer for layer in self.model_.layers if isinstance(layer, Dense)]

    def _take_held_weights(self) -> None:
        """Copy into the network every array of ``coefs_``/``intercepts_`` that is not already its own view."""
        for key, name in (("W", "coefs_"), ("b", "intercepts_")):
            held = self.__dict__.get(f"_held_{key}")
            views = [layer.params[key] for layer in self._dense_layers()]
            if held is None or (len(held) == len(views) and all(a is v for a, v in zip(held, views))):
                continue
            if len(held) != len(views):
                raise ValueError(f"{name} holds {len(held)} arrays; the network has {len(views)} layers.")
            for i, (a, v) in enumerate(zip(held, views)):
                if np.shape(a) != v.shape:
                    raise ValueError(f"{name}[{i}] has shape {np.shape(a)}; the network's is {v.shape}.")
            for a, v in zip(held, views):
                v[...] = a
            self.__dict__[f"_held_{key}"] = views

    def _network_from_held_weights(self, dtype: np.dtype) -> Sequential:
        """The network that ``coefs_``/``intercepts_`` set before any fit describe (layer widths from their shapes)."""
        coefs = [np.asarray(c) for c in self.coefs_]
        if not coefs or any(c.ndim != 2 for c in coefs):
            raise ValueError("coefs_ must be a list of 2-D weight matrices, (n_units[i], n_units[i + 1]) each.")
        widths = [c.shape[0] for c in coefs] + [coefs[-1].shape[1]]
        return self._build(tuple(widths[1:-1]), widths[0], widths[-1], dtype, 0)  # type: ignore[attr-defined]

    def _held_dtype(self) -> np.dtype:
        if "model_" in self.__dict__:
            return self.model_.dtype
        held = np.asarray(self.coefs_[0]).dtype
        return held if held in (np.float32, np.float64) else np.dtype(np.float64)

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()  # type: ignore[misc]
        if "model_" in state:  # the views are rebuilt from the network after unpickling
            self._take_held_weights()
            state.pop("_held_W", None), state.pop("_held_b", None)
        return state
