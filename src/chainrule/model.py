"""Sequential: a stack of layers, trained by forward, backward and an optimiser step.

    X ─► layer.forward … ─► loss ─► L
    grads ◄─ layer.backward (reverse order) ◄─ ∂L/∂ŷ, or ∂L/∂z of a fused output (see objective)
    optimizer.step(params, grads)

``gradient`` is the one backward path: ``fit``, ``gradcheck`` and ``explain``
all take their gradients from it. All parameters live in one contiguous
buffer, and all gradients in another; each layer's ``params``/``grads``
entries are views into them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from . import initializers, onnx, training
from ._validate import check_array, check_dtype
from .activations import Activation
from .io import register_model, save
from .layers import Layer, bind, chain_sizes
from .losses import Loss
from .objective import Objective
from .optimizers import Optimizer


@register_model
class Sequential:
    """Layers applied in order; owns the parameters, their gradients and the random generator.

    ``Sequential(Dense(2, 4), Tanh(), Dense(4, 1), Sigmoid(), seed=0)``

    ``seed`` seeds the model's ``numpy.random.Generator``, which draws every
    parameter nobody set (see ``Layer`` on ownership) and shuffles batches;
    ``dtype`` (float64 or float32) is the dtype of every parameter and of
    every array the model computes with.
    """

    def __init__(self, *layers: Layer, seed: int | None = None, dtype: Any = "float64") -> None:
        if len(layers) == 1 and isinstance(layers[0], (list, tuple)):
            layers = tuple(layers[0])
        if not layers:
            raise ValueError("Sequential needs at least one layer, e.g. Sequential(Dense(2, 1)).")
        for i, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise TypeError(f"layer {i} is {layer!r}, not a chainrule Layer.")
        if len({id(layer) for layer in layers}) != len(layers):
            raise ValueError("the same layer object appears twice; build a separate layer for each position.")
        self.layers: list[Layer] = list(layers)
        self.dtype = check_dtype(dtype)
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.n_in, self.n_out = chain_sizes(self.layers)
        self.loss_: Loss | None = None
        self.objective_: Objective | None = None
        self.optimizer_: Optimizer | None = None
        self.epochs_trained_ = 0
        self.stop_training = False
        self._unset = self._adopt_layers()
        self.initialize(unset_only=True)

    # ---------------------------------------------------------------- building
    stacked = False  # True for an Ensemble: every array carries a leading model axis

    def _adopt_layers(self, lead: tuple[int, ...] = ()) -> list[set[str]]:
        """Bind every layer to one flat parameter buffer (see ``layers.bind``); return the names to draw."""
        self._flat, self._flat_grad, unset = bind(self.layers, self, self.dtype, lead)
        # The layers backward visits, last first, keyed by (fused output, input gradient wanted). Training stops
        # at the first layer with parameters and does not ask it for dX: nothing would use it.
        first = next((i for i, layer in enumerate(self.layers) if layer.params), len(self.layers))
        trained = [(self.layers[i], i > first) for i in range(len(self.layers) - 1, first - 1, -1)]
        every = [(layer, True) for layer in reversed(self.layers)]
        self._plans = {(False, False): trained, (True, False): trained[1:]}
        self._plans.update({(False, True): every, (True, True): every[1:]})
        return unset

    def _default_init(self, i: int) -> str:
        nxt = self.layers[i + 1] if i + 1 < len(self.layers) else None
        return nxt.init if isinstance(nxt, Activation) else initializers.DEFAULT_INIT

    def initialize(self, seed: int | None = None, unset_only: bool = False) -> None:
        """Draw every parameter afresh from the model's generator (reseeded first when ``seed`` is given).

        ``unset_only`` draws only what nobody set, in the order construction does.
        """
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        for i, layer in enumerate(self.layers):
            names = self._unset[i] if unset_only else None
            if layer.params and (names is None or names):
                layer.initialize(self.rng, self._default_init(i), names)

    @property
    def n_params(self) -> int:
        return self._flat.size

    @property
    def flat_params(self) -> np.ndarray:
        """Every parameter in one flat array, layer by layer; writing into it changes the weights."""
        return self._flat

    @property
    def flat_grads(self) -> np.ndarray:
        """Every gradient of the last backward pass, flat, in the order of ``flat_params``."""
        return self._flat_grad

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
    def forward(self, X: np.ndarray, train: bool = True, record: list | None = None, stop: int | None = None) -> Any:
        """Run the layers in order (those before index ``stop``, if given); with ``train=True`` each keeps what
        backward needs. ``record``, a list, receives ("forward", layer, input, output) for each layer.
        """
        for layer in self.layers if stop is None else self.layers[:stop]:
            out = layer.forward(X, train)
            if record is not None:
                record.append(("forward", layer, X, out))
            X = out
        return X

    def backward(self, dOut: np.ndarray) -> None:
        """Propagate ∂L/∂output back through the layers, filling their ``grads`` (the layer half of ``gradient``)."""
        self._backward_along(dOut, self._plans[False, False], None)

    def objective(self, loss: str | Loss) -> Objective:
        """``loss`` bound to this model's output: fused with it, or refused if it would squash twice."""
        return Objective(loss, self.layers[-1])

    def gradient(self, X: np.ndarray, Y: np.ndarray, objective: Objective, sample_weight: np.ndarray | None = None,
                 input_grad: bool = False, record: list | None = None) -> tuple[Any, np.ndarray, Any]:  # fmt: skip
        """The one backward path: forward, the loss, then every layer's backward, last first.

        X and Y are checked arrays (``check_input``, ``objective.loss.prepare_targets``).
        A fused output (see ``objective``) is one step: the backward path starts
        below it. Fills every layer's ``grads``; returns the loss value, the
        output, and ∂L/∂X when ``input_grad`` (else None). ``record`` receives
        the forward entries (see ``forward``), then ("loss", objective, d) and
        ("backward", layer, dOut, dIn) for each layer visited.
        """
        out, z = self.head(X, objective, True, record)
        value, d = objective.value_and_grad(out, Y, sample_weight, z)
        if record is not None:
            record.append(("loss", objective, d))
        return value, out, self._backward_along(d, self._plans[objective.fused is not None, input_grad], record)

    def head(self, X: np.ndarray, objective: Objective, train: bool = False, record: list | None = None) -> Any:
        """The output for ``objective``, and the logits z under a fused output layer (else None): the loss of a
        fused pair is computed from z (see ``Objective.value_and_grad``)."""
        if objective.fused is None:
            return self.forward(X, train, record), None
        z = self.forward(X, train, record, stop=-1)
        out = self.layers[-1].forward(z, train)
        if record is not None:
            record.append(("forward", self.layers[-1], z, out))
        return out, z

    @staticmethod
    def _backward_along(d: np.ndarray, plan: list[tuple[Layer, bool]], record: list | None) -> np.ndarray | None:
        for layer, need_input_grad in plan:
            dIn = layer.backward(d, need_input_grad)
            if record is not None:
                record.append(("backward", layer, d, dIn))
            d = dIn
        return d

    def check_input(self, X: Any, name: str = "X") -> np.ndarray:
        """X as a 2-D array of the model's dtype with the model's input width, or a clear error."""
        X = check_array(X, name, dtype=self.dtype)
        if X.shape[1] != self.n_in:
            first = next(layer for layer in self.layers if hasattr(layer, "n_in"))
            raise ValueError(
                f"{name} has {X.shape[1]} features (shape {X.shape}) but the model's first layer "
                f"{first!r} expects {self.n_in}."
            )
        return X

    # ---------------------------------------------------------------- training
    fit = training.fit
    evaluate = training.evaluate

    # --------------------------------------------------------------- inference
    def predict(self, X: Any) -> np.ndarray:
        """The last layer's output for every row of X, shape (n_samples, n_outputs)."""
        return self.forward(self.check_input(X), train=False)

    def _squash(self) -> str | None:
        """The activation that makes outputs probabilities: a final Sigmoid/Softmax, or the fitted loss's."""
        last = self.layers[-1]
        if isinstance(last, Activation) and last.probabilities:
            return last.name
        return None if self.loss_ is None else self.loss_.output_activation

    def predict_proba(self, X: Any) -> np.ndarray:
        """Probabilities: the output of a final Sigmoid/Softmax, or the fitted logits loss's activation of it."""
        out, squash = self.predict(X), self._squash()
        if squash is None:
            raise TypeError(
                "predict_proba needs a model that ends in Sigmoid or Softmax, or one fitted with "
                "loss='bce_logits' or 'softmax_cross_entropy'."
            )
        return out if squash == getattr(self.layers[-1], "name", None) else Activation.registry[squash]().f(out)

    def predict_classes(self, X: Any) -> np.ndarray:
        """Class labels, (n_samples,) (multilabel: (n_samples, n_outputs); an Ensemble's gain a member axis):
        argmax over several outputs, probability ≥ 0.5 for a binary or multilabel model."""
        P = self.predict_proba(X)
        if self._squash() == "softmax":
            return np.argmax(P, axis=-1)
        labels = (P >= 0.5).astype(np.int64)
        return labels[..., 0] if labels.shape[-1] == 1 else labels

    # ----------------------------------------------------------------- display
    def summary(self) -> str:
        """A table of layers, output shapes and parameter counts, and how the loss meets the output."""
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
        if self.loss_ is not None:
            body.append(self.objective(self.loss_).describe())
        return "\n".join(body)

    def save(self, path: Any) -> None:
        """Write the model to ``path`` atomically (see ``chainrule.io``)."""
        save(self, path)

    def to_onnx(self, path: Any, **options: Any) -> None:
        """Write the model as an ONNX graph (see ``chainrule.onnx.export``; needs ``chainrule[onnx]``)."""
        onnx.export(self, path, **options)

    def copy(self, dtype: Any = None) -> Sequential:
        """A new model with the same layers, weights and loss (cast to ``dtype`` if given); nothing shared."""
        built = [type(layer).from_config(layer.get_config()) for layer in self.layers]
        twin = Sequential(*built, dtype=dtype or self.dtype)
        twin.set_weights(self.get_weights())
        twin.loss_ = self.loss_
        return twin

    def get_config(self) -> dict[str, Any]:
        return {"layers": [layer.get_config() for layer in self.layers], "dtype": str(self.dtype), "seed": self.seed}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Sequential:
        """A model of the architecture ``get_config`` described (weights drawn afresh)."""
        layers = [Layer.registry[c["type"]].from_config(c) for c in config["layers"]]
        return cls(*layers, dtype=config.get("dtype", "float64"))

    def get_state(self) -> dict[str, Any]:
        """What training changes besides the weights: loss, optimiser (with its moments), epochs, generator."""
        return {"loss": self.loss_, "optimizer": self.optimizer_, "epochs_trained": self.epochs_trained_,
                "rng_state": self.rng.bit_generator.state, "seed": self.seed}  # fmt: skip

    def set_state(self, state: dict[str, Any]) -> None:
        """Take back what ``get_state`` gave (a file's state, or another model's of the same architecture)."""
        self.loss_, self.optimizer_ = state.get("loss"), state.get("optimizer")
        self.epochs_trained_ = state.get("epochs_trained", 0)
        self.seed = state.get("seed", self.seed)
        if state.get("rng_state") is not None:
            self.rng.bit_generator.state = state["rng_state"]

    def __repr__(self) -> str:
        inner = ", ".join(repr(layer) for layer in self.layers)
        return f"Sequential({inner})"

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Unpickle, then make every layer's params and grads views into new flat buffers again.

        Pickle stores each view as a separate copy; without this the optimiser
        would update the flat buffer while the layers kept computing with stale copies.
        """
        self.__dict__.update(state)
        self._adopt_layers()  # every layer's values are kept: nothing is drawn

