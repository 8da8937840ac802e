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

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import onnx
from .._validate import check_array, check_dtype
from ..io import register_model, save
from ..layers import Layer, bind, build_chain, check_layers, initializers
from ..layers.activations import Activation
from . import inputs, predictions, training
from ._guard import Guard
from .callbacks import History
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

    n_models: int | None = None  # an Ensemble's member count: its arrays carry a leading model axis
    stacked = False  # True for a class whose models carry that axis (Ensemble); model files read it

    def __init__(
        self, *layers: Layer, seed: int | None = None, dtype: Any = "float64", input_shape: Sequence[int] | None = None
    ) -> None:
        self.layers: list[Layer] = check_layers(layers[0] if len(layers) == 1 and isinstance(layers[0], (list, tuple))
                                                else layers)  # fmt: skip
        self.dtype = check_dtype(dtype)
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.in_shape, self.out_shape = build_chain(self.layers, self.n_models, input_shape)
        self.loss_: Loss | None = None
        self.objective_: Objective | None = None
        self.optimizer_: Optimizer | None = None
        self.epochs_trained_ = 0
        self.stop_training = False
        self._unset = self._adopt_layers()
        self.initialize(unset_only=True)

    # ---------------------------------------------------------------- building
    @property
    def built(self) -> bool:
        """Whether the input shape is known: fixed by the first layer, given as ``input_shape``, or seen in data."""
        return self.in_shape is not None

    def build(self, in_shape: Sequence[int], source: str = "") -> None:
        """Fix the input's per-sample shape and check every layer against it (a model whose first layer
        fixes none builds at its first batch); ValueError naming the two layers that do not fit."""
        self.in_shape, self.out_shape = build_chain(self.layers, self.n_models, tuple(in_shape), source)

    @property
    def n_in(self) -> int:
        """Input values per sample: the product of the input's per-sample shape (n_features for (n, n_features))."""
        return math.prod(self._shapes()[0])

    @property
    def n_out(self) -> int:
        """Outputs per sample."""
        return self._shapes()[1][-1]

    def _shapes(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        if self.in_shape is None or self.out_shape is None:
            raise ValueError(
                f"{self!r} is not built yet: its first layer fixes no input shape. It is built from the first "
                "batch of fit, predict, evaluate or explain, or by summary(X); or pass input_shape=(…)."
            )
        return self.in_shape, self.out_shape

    def _adopt_layers(self) -> list[set[str]]:
        """Bind every layer to the model's flat buffers (see ``layers.bind``); return the names to draw."""
        self._buffers, unset = bind(self.layers, self, self.dtype, self.n_models)
        # backward stops at the first layer with parameters: nothing would use its dX in training
        self._first_trained = next((i for i, layer in enumerate(self.layers) if layer.params), len(self.layers))
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
        return self._buffers.params.size

    @property
    def flat_params(self) -> np.ndarray:
        """Every parameter in one flat array, layer by layer; writing into it changes the weights."""
        return self._buffers.params

    @property
    def flat_grads(self) -> np.ndarray:
        """Every gradient of the last backward pass, flat, in the order of ``flat_params``."""
        return self._buffers.grads

    @property
    def flat_state(self) -> np.ndarray:
        """Every layer's untrained state (running statistics) in one flat array; saved, copied, never trained."""
        return self._buffers.state

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
    def forward(self, X: np.ndarray, training: bool = True, keep: bool = True, record: list | None = None,
                stop: int | None = None) -> Any:  # fmt: skip
        """Run the layers in order (those before index ``stop``, if given).

        ``training`` is the mode (Dropout drops, BatchNorm normalises with the batch's statistics); with
        ``keep`` each layer keeps what backward needs. ``record``, a list, receives ("forward", layer,
        input, output) for each layer. An Ensemble's input gains a model axis of length 1 first.
        """
        if self.n_models is not None:
            X = X[None]
        for layer in self.layers if stop is None else self.layers[:stop]:
            out = layer.forward(X, training, keep)
            if record is not None:
                record.append(("forward", layer, X, out))
            X = out
        return X

    def backward(self, dOut: np.ndarray) -> None:
        """Propagate ∂L/∂output back through the layers, filling their ``grads`` (the layer half of ``gradient``)."""
        self._backward_from(len(self.layers), dOut, False, None)

    def objective(self, loss: str | Loss | Objective, l2: float = 0.0, l1: float = 0.0) -> Objective:
        """``loss`` bound to this model's layers: fused with the output, or refused if it would squash twice.

        ``l2`` and ``l1`` add the penalties l2/(2n)·Σ‖W‖² and l1/n·Σ|W| (see ``chainrule.core.objective``).
        An Objective passes through.
        """
        if isinstance(loss, Objective):
            return loss
        return Objective(loss, self.layers, self.n_models, l2, l1)

    def gradient(self, X: np.ndarray, Y: np.ndarray, objective: Objective, sample_weight: np.ndarray | None = None,
                 input_grad: bool = False, record: list | None = None) -> tuple[Any, np.ndarray, Any]:  # fmt: skip
        """The one backward path: forward, the objective's loss and gradient, then every layer's backward, last first.

        X and Y are checked arrays (``check_input``, ``objective.loss.prepare_targets``).
        A fused output (see ``objective``) is one step: the backward path starts
        below it. Fills every layer's ``grads``; returns the loss value, the
        output, and ∂L/∂X when ``input_grad`` (else None). ``record`` receives
        the forward entries (see ``forward``), then ("loss", objective, d) and
        ("backward", layer, dOut, dIn) for each layer visited.
        """
        top = self.forward(X, True, True, record, stop=objective.start)
        value, d, out = objective.evaluate(top, Y, sample_weight, True, record)
        dX = self._backward_from(objective.start, d, input_grad, record)
        objective.add_penalty_grads()
        return value, out, dX

    def _backward_from(self, start: int, d: np.ndarray, input_grad: bool, record: list | None) -> np.ndarray | None:
        """Backward through ``layers[:start]``, last first; below the first layer with parameters only for ∂L/∂X."""
        first = self._first_trained
        for i in range(start - 1, -1 if input_grad else first - 1, -1):
            layer = self.layers[i]
            dIn = layer.backward(d, input_grad or i > first)
            if record is not None:
                record.append(("backward", layer, d, dIn))
            d = dIn
        return d

    check_input = inputs.check_input

    # ---------------------------------------------------------------- training
    fit = training.fit
    evaluate = training.evaluate

    def guard(self, optimizer: Optimizer, max_weight: float | None) -> Guard:
        """What watches a fit for divergence: it raises, putting the last good weights back."""
        return Guard(self.flat_params, optimizer, max_weight)

    def new_history(self) -> History:
        return History()

    # --------------------------------------------------------------- inference
    def predict(self, X: Any) -> np.ndarray:
        """The last layer's output for every row of X, shape (n_samples, n_outputs), in chunks of rows (see
        ``inputs.infer``) so that no layer holds more than ``CHUNK_VALUES`` values at once."""
        return inputs.infer(self, self.check_input(X))

    squash = predictions.squash
    predict_proba = predictions.predict_proba
    predict_classes = predictions.predict_classes

    # ----------------------------------------------------------------- display
    summary = inputs.summary

    def save(self, path: Any) -> None:
        """Write the model to ``path`` atomically (see ``chainrule.io``)."""
        save(self, path)

    def to_onnx(self, path: Any, **options: Any) -> None:
        """Write the model as an ONNX graph (see ``chainrule.onnx.export``; needs ``chainrule[onnx]``)."""
        self._shapes()  # a model built from its first batch must have seen one
        onnx.export(self, path, **options)

    def copy(self, dtype: Any = None) -> Sequential:
        """A new model with the same layers, weights and loss (cast to ``dtype`` if given); nothing shared."""
        twin = type(self).from_config({**self.get_config(), "dtype": str(check_dtype(dtype or self.dtype))})
        twin.flat_params[...] = self.flat_params
        twin.flat_state[...] = self.flat_state
        twin.loss_ = self.loss_
        return twin

    def get_config(self) -> dict[str, Any]:
        config = {"layers": [layer.get_config() for layer in self.layers], "dtype": str(self.dtype), "seed": self.seed}
        if self.in_shape is not None and self.layers[0].input_shape != self.in_shape:  # else the layers fix it
            config["input_shape"] = list(self.in_shape)
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Sequential:
        """A model of the architecture ``get_config`` described (weights drawn afresh)."""
        layers = [Layer.registry[c["type"]].from_config(c) for c in config["layers"]]
        return cls(*layers, dtype=config.get("dtype", "float64"), input_shape=config.get("input_shape"))

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

