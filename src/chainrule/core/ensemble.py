"""Ensemble: many networks of one architecture, trained at once along a leading model axis.

    ens = cr.Ensemble(cr.Dense(2, 2), cr.Tanh(), cr.Dense(2, 1), cr.Sigmoid(), n_models=100, seed=0)
    hist = ens.fit(X, y, loss="bce", optimizer=cr.SGD(lr=0.5), epochs=5000)   # hist["loss"]: (epochs, n_models)
    ens.predict(X)          # (n_models, n_samples, n_out)
    ens.member(7)           # a plain Sequential with member 7's weights

Every array gains a leading model axis M: Dense weights are (M, n_in, n_out),
activations (M, n, k), and all parameters sit in one flat buffer of shape
(M, P), as do the gradients and the optimiser's moments. The layers, losses
and optimisers are the same code a Sequential runs (``Sequential.gradient``
is the one backward path), so NumPy's per-call cost is paid once for all M
networks.

* Member i starts from exactly the weights of ``Sequential(<the same
  layers>, seed=seeds[i])``; ``seeds`` defaults to seed, seed + 1, …
* Trained full-batch, member i ends as that Sequential would alone (to
  rounding). With mini-batches every member sees the ensemble's one shuffle
  order (drawn from ``seed``), unlike separate fits, which each shuffle with
  their own seed.
* ``lr``, ``momentum`` and ``weight_decay`` may be one value per member
  (``cr.SGD(lr=[0.1, 0.5, 1.0])``), and ``init`` one initialiser per member.
* A member that diverges is frozen (its weights put back to the last good
  ones) and reported in ``hist["diverged"]``; the others carry on.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._validate import check_positive_int
from ..io import register_model
from ..layers import Layer
from ._guard import MemberGuard
from .callbacks import History
from .model import Sequential
from .optimizers import Optimizer


class EnsembleHistory(History):
    """Per-epoch logs of an Ensemble's fit: ``hist["loss"]`` is (epochs, n_models); ``hist["diverged"]``
    lists (member, epoch) pairs, counted from 0, of the members frozen by divergence."""

    def __init__(self) -> None:
        super().__init__()
        self.diverged: list[tuple[int, int]] = []

    def __getitem__(self, key: str) -> Any:
        if key == "diverged":
            return list(self.diverged)
        return np.array(self.history[key])

    def __contains__(self, key: str) -> bool:
        return key == "diverged" or key in self.history

    def record(self, epoch: int, logs: dict[str, Any]) -> None:
        self.epoch.append(epoch)
        for key, value in logs.items():
            self.history.setdefault(key, []).append(np.asarray(value, dtype=np.float64))

    def to_dict(self) -> dict[str, Any]:
        out = {"epoch": list(self.epoch), **{k: np.array(v).tolist() for k, v in self.history.items()}}
        return {**out, "diverged": [list(d) for d in self.diverged]}


@register_model
class Ensemble(Sequential):
    """``n_models`` networks of the architecture ``layers`` describes, trained together (see the module doc)."""

    stacked = True

    def __init__(
        self,
        *layers: Layer,
        n_models: int,
        seed: int = 0,
        seeds: Sequence[int] | None = None,
        init: str | Sequence[str] | None = None,
        dtype: Any = "float64",
        input_shape: Sequence[int] | None = None,
    ) -> None:
        if len(layers) == 1 and isinstance(layers[0], (list, tuple)):
            layers = tuple(layers[0])
        self.n_models = check_positive_int(n_models, "n_models")  # declared before the layers are built
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise ValueError(f"seed must be an integer; received seed={seed!r}.")
        self.seeds = [int(seed) + i for i in range(self.n_models)] if seeds is None else list(seeds)
        inits = init if isinstance(init, (list, tuple)) else [init] * self.n_models
        for name, values in (("seeds", self.seeds), ("init", inits)):
            if len(values) != self.n_models:
                raise ValueError(f"{name} has {len(values)} entries; n_models={self.n_models} needs one per member.")
        if any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) for s in self.seeds):
            raise ValueError(f"seeds must be integers; received {self.seeds[:5]!r}….")
        self.inits = list(inits)
        self.diverged_: list[tuple[int, int]] = []  # every (member, epoch) frozen so far, over all fits
        self._starts = self._member_starts(layers, dtype, input_shape)
        super().__init__(*layers, seed=int(seed), dtype=dtype, input_shape=input_shape)

    @classmethod
    def stack(cls, models: Sequence[Sequential]) -> Ensemble:
        """An Ensemble holding the weights of ``models``, Sequentials of one architecture (and dtype)."""
        models = list(models)
        if not models or not all(isinstance(m, Sequential) and not m.stacked for m in models):
            raise TypeError("Ensemble.stack takes a non-empty list of Sequential models.")
        first = models[0]
        for i, m in enumerate(models[1:], start=1):
            if m.get_config()["layers"] != first.get_config()["layers"] or m.dtype != first.dtype:
                raise ValueError(
                    f"member {i} is {m!r} ({m.dtype}) but member 0 is {first!r} ({first.dtype}); "
                    "an Ensemble's members share one architecture."
                )
        layers = [Layer.registry[c["type"]].from_config(c) for c in first.get_config()["layers"]]
        seeds = [m.seed if isinstance(m.seed, int) else 0 for m in models]
        ens = cls(*layers, n_models=len(models), seeds=seeds, dtype=first.dtype,
                  input_shape=first.get_config().get("input_shape"))  # fmt: skip
        ens.flat_params[...] = np.stack([m.flat_params for m in models])
        ens.flat_state[...] = np.stack([m.flat_state for m in models])
        return ens

    def _member_starts(self, layers: Sequence[Layer], dtype: Any, input_shape: Any) -> np.ndarray:
        """Member i's starting weights: those of Sequential(<copies of layers>, seed=seeds[i]), drawn alike."""
        template = Sequential(*copy.deepcopy(list(layers)), dtype=dtype, input_shape=input_shape)  # raises first
        starts = np.empty((self.n_models, template.n_params), dtype=template.dtype)
        own = {i: layer.init for i, layer in enumerate(template.layers) if layer.params and hasattr(layer, "init")}
        for i, (s, init) in enumerate(zip(self.seeds, self.inits)):
            for k, layer_init in own.items():
                template.layers[k].init = layer_init if init is None else init
            template.initialize(s, unset_only=True)
            starts[i] = template.flat_params
        return starts

    def _adopt_layers(self) -> list[set[str]]:
        unset = super()._adopt_layers()
        if self._starts is not None:  # None when unpickling: the layers then carry their own values
            self.flat_params[...] = self._starts
            self._starts = None
        return [set() for _ in unset]

    # ---------------------------------------------------------------- training
    # ``fit`` is Sequential's (``training.fit``): the same arguments, the same epoch loop. Here the losses and
    # metrics in the history are one column per member, and the optimiser's lr, momentum and weight decay may
    # hold one value per member.

    def guard(self, optimizer: Optimizer, max_weight: float | None) -> MemberGuard:  # type: ignore[override]
        """What watches a fit: a member that diverges is frozen (see ``MemberGuard``), the others go on."""
        self._guard = MemberGuard(self.flat_params, self.flat_grads, optimizer, max_weight, self.diverged_)
        return self._guard

    def new_history(self) -> EnsembleHistory:
        return EnsembleHistory()

    def halt(self, members: np.ndarray, weights: np.ndarray | None = None) -> None:
        """During a fit, stop training ``members`` (a boolean mask), their weights set to ``weights`` if given.

        EarlyStopping calls it for each member whose monitor stopped improving; the fit ends when none is left.
        """
        self._guard.halt(np.asarray(members, dtype=bool), weights)

    # --------------------------------------------------------------- inference
    def predict(self, X: Any, reduce: str | None = None) -> np.ndarray:
        """Every member's output, (n_models, n_samples, n_out); ``reduce`` "mean", "median" or "std" over members."""
        return _reduce(super().predict(X), reduce)

    def predict_proba(self, X: Any, reduce: str | None = None) -> np.ndarray:
        """Every member's probabilities (see ``Sequential.predict_proba``), reduced over members if asked."""
        return _reduce(super().predict_proba(X), reduce)

    def converged(self, X: Any, y: Any, tol: float = 0.05) -> np.ndarray:
        """One boolean per member: every output within ``tol`` of its target (probabilities for classifiers)."""
        if self.loss_ is None:
            raise ValueError("converged needs a fitted ensemble (its loss says what the targets mean).")
        Y = self.loss_.prepare_targets(y, self.n_out, self.dtype)
        if Y.ndim == 1:  # class labels
            Y = np.eye(self.n_out, dtype=self.dtype)[Y]
        out = self.predict_proba(X) if self.squash() is not None else self.predict(X)
        if len(Y) != out.shape[1]:
            raise ValueError(f"X has {out.shape[1]} samples but y has {len(Y)}.")
        return np.abs(out - Y).reshape(self.n_models, -1).max(axis=1) <= tol

    def member(self, i: int) -> Sequential:
        """Member ``i`` as a plain Sequential (its own copy of the weights, the loss and the epoch count)."""
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or not -self.n_models <= i < self.n_models:
            raise IndexError(f"member index {i!r} is out of range for {self.n_models} members.")
        single = Sequential.from_config({**self.get_config(), "seed": self.seeds[i]})
        single.seed, single.rng = self.seeds[i], np.random.default_rng(self.seeds[i])
        single.flat_params[...] = self.flat_params[i]
        single.flat_state[...] = self.flat_state[i]
        single.loss_, single.epochs_trained_ = self.loss_, self.epochs_trained_
        return single

    def summary(self) -> str:
        """One member's summary (its layers, shapes and parameter counts), then the count over all members."""
        total = f"an ensemble of {self.n_models:,} such members: {self.n_params:,} parameters in all"
        return f"{self.member(0).summary()}\n{total}"

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "n_models": self.n_models, "seeds": list(self.seeds)}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Ensemble:
        layers = [Layer.registry[c["type"]].from_config(c) for c in config["layers"]]
        n = config.get("n_models")
        return cls(*layers, n_models=n, seeds=config.get("seeds"), seed=config.get("seed") or 0,
                   dtype=config.get("dtype", "float64"), input_shape=config.get("input_shape"))  # fmt: skip

    def __repr__(self) -> str:
        inner = ", ".join(repr(layer) for layer in self.layers)
        return f"Ensemble({inner}, n_models={self.n_models})"


def _reduce(out: np.ndarray, how: str | None) -> np.ndarray:
    if how is None:
        return out
    reducers = {"mean": np.mean, "median": np.median, "std": np.std}
    if how not in reducers:
        raise ValueError(f"reduce must be None, 'mean', 'median' or 'std'; received reduce={how!r}.")
    return reducers[how](out, axis=0)
