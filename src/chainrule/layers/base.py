"""The layer protocol: what every layer kind implements, and how a model binds layers to its buffers.

Data are row-major: a batch X has shape (n_samples, n_features), one example
per row, as in NumPy, scikit-learn and PyTorch. Texts written with examples
as columns (z = W·x + b, W of shape (n_out, n_in)) describe the same maths
transposed: their W is our Wᵀ, their x our row X[i]ᵀ, and their δ·aᵀ is our
Aᵀ·δ. Nothing else changes.
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import initializers
from .onnx_hooks import OnnxHooks


class Layer(OnnxHooks):
    """One step of the forward pass, with its backward step beside it.

    The protocol (a new layer kind implements what applies; nothing else in chainrule changes):

    * **Shapes.** ``output_shape(in_shape)`` gives the shape of one sample out
      from one sample in (tuples, no batch axis), and raises ValueError when
      ``in_shape`` does not fit. ``input_shape`` is the shape a layer fixes by
      itself (Dense: (n_in,)), or None. A model calls ``build(in_shape,
      n_models)`` on each layer in order when it is made.
    * **The model axis is declared.** ``build`` tells the layer ``n_models``:
      None in a Sequential, M in an Ensemble. With M, every array carries a
      leading model axis: inputs are (M, n, *in_shape), or (1, n, *in_shape)
      for the model's own input, outputs (M, n, *out_shape), parameters
      (M, *shape). Nothing infers this from ``ndim``.
    * **Mode and caching are separate.** ``forward(X, training=True,
      keep=True)``: ``training`` is the mode (Dropout drops, BatchNorm uses
      batch statistics); ``keep`` says whether to keep what ``backward``
      needs. Inference (``keep=False``) keeps nothing, so it can run from
      several threads at once.
    * ``backward(dOut, need_input_grad=True)`` takes ∂L/∂(output) of the
      last forward that kept, fills ``grads`` (assigned, never accumulated)
      and returns ∂L/∂(input), or ``None`` when ``need_input_grad`` is False.
    * **State.** ``params`` and ``grads`` are dicts name -> ndarray with the
      same keys and shapes (``param_shapes()``, per member), views into the
      model's flat buffers; optimisers update them in place. ``state``
      (``state_shapes()``, e.g. running statistics) is saved with the model
      but never trained. Initialisers take ``fans()`` from the layer.
    * **Randomness** comes from the owning model's generator, ``generator()``.
    * ``get_config()`` and ``from_config(config)`` describe and rebuild the
      layer (without its weights); every subclass is registered by its class
      name in ``Layer.registry``, which model files read from.
    * **ONNX**: ``to_onnx`` writes the layer's nodes, ``onnx_ops``/``from_onnx``
      read them back; ``chainrule.onnx`` drives them over ``Layer.registry``
      (see ``OnnxHooks`` in ``layers/onnx_hooks.py``).

    Ownership: a layer owns its values, and a model draws only what nobody
    set. Values written into ``params`` before the layer joins a model (or
    given to the constructor) are kept; the model's seed draws the rest. A
    layer belongs to at most one living model: its parameters become views
    into that model's buffer, so putting it into a second model is refused
    rather than silently shared or copied.
    """

    registry: dict[str, type[Layer]] = {}
    params: dict[str, np.ndarray]
    grads: dict[str, np.ndarray]
    _out_shape: tuple[int, ...] | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.__name__.startswith("_") and not cls.__dict__.get("abstract", False):
            Layer.registry[cls.__name__] = cls

    def __init__(self) -> None:
        self.params = {}
        self.grads = {}
        self.state: dict[str, np.ndarray] = {}
        self.n_models: int | None = None  # declared by the model in ``build``
        self.in_shape: tuple[int, ...] | None = None
        self.out_shape: tuple[int, ...] | None = None
        self._cache: Any = None  # what backward needs, from the last forward with keep=True
        self._out_shape = None  # that forward's output shape: the gradient backward must receive
        self._drawn: dict[str, np.ndarray] = {}  # the values this layer drew itself, until a model adopts it
        self._owner: weakref.ref | None = None

    def forward(self, X: np.ndarray, training: bool = True, keep: bool = True) -> np.ndarray:
        raise NotImplementedError

    def backward(self, dOut: np.ndarray, need_input_grad: bool = True) -> np.ndarray | None:
        raise NotImplementedError

    # ---------------------------------------------------------------- shapes
    @property
    def input_shape(self) -> tuple[int, ...] | None:
        """The shape of one input sample this layer fixes by itself, or None (it takes what comes)."""
        return None

    def output_shape(self, in_shape: tuple[int, ...]) -> tuple[int, ...]:
        """The shape of one output sample, given one input sample of ``in_shape``; ValueError if it does not fit."""
        return in_shape

    def build(self, in_shape: tuple[int, ...], n_models: int | None) -> tuple[int, ...]:
        """Fix this layer's input shape and model axis (the model calls it once); return the output shape."""
        out = self.output_shape(tuple(in_shape))
        self.in_shape, self.out_shape, self.n_models = tuple(in_shape), tuple(out), n_models
        return self.out_shape

    @property
    def batch_axis(self) -> int:
        """The axis that runs over samples: 0, or 1 behind an Ensemble's model axis."""
        return 0 if self.n_models is None else 1

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        """The trained parameters' shapes, for one model."""
        return {}

    def state_shapes(self) -> dict[str, tuple[int, ...]]:
        """The shapes of the state that is kept but not trained (running statistics), for one model."""
        return {}

    def reset_state(self) -> None:
        """Put ``state`` back to its starting values."""

    def check_state(self) -> None:
        """Raise ValueError if ``state`` (as read from a model file) is unusable, saying what is wrong."""

    def fans(self) -> tuple[int, int]:
        """(fan_in, fan_out) of the weights, for the initialisers."""
        raise NotImplementedError(f"{type(self).__name__} has no weights to initialise.")

    def initialize(self, rng: np.random.Generator, default_init: str | None = None, names: Any = None) -> None:
        """Draw fresh parameters from ``rng`` in place (only ``names``, when given)."""

    def generator(self) -> np.random.Generator:
        """The random generator this layer draws from: its model's (a layer in no model has one of its own)."""
        owner = self._owner() if self._owner is not None else None
        return UNOWNED_DRAWS if owner is None else owner.rng

    # ------------------------------------------------------------- ownership
    def user_set(self) -> set[str]:
        """The parameters whose values somebody set: given to the constructor or written since."""
        if self._owner is not None:
            return set(self.params)
        return {name for name, p in self.params.items() if name not in self._drawn or not _same(p, self._drawn[name])}

    def adopt(self, owner: Any, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Make ``params``/``grads`` (views into ``owner``'s buffers) this layer's; return the values it keeps.

        The returned values (those somebody set) are checked against the
        expected shapes; the caller writes them into the new views and draws
        the rest. Refused while another living model owns this layer.
        """
        current = self.check_adoptable(owner)
        kept = {}
        for name in self.user_set() if current is None else ():
            kept[name] = np.asarray(self.params[name])
        self.params, self.grads = params, grads
        self._owner, self._drawn = weakref.ref(owner), {}
        return kept

    def check_adoptable(self, owner: Any) -> Any:
        """The living model that owns this layer (or None); ValueError if it is not ``owner``.

        Also checks, before any layer changes, that every value somebody set has the right shape.
        """
        current = self._owner() if self._owner is not None else None
        if current is not None and current is not owner:
            raise ValueError(
                f"{self!r} already belongs to another model; a layer is not shared between models. "
                "Build new layers (e.g. with cr.mlp), or copy the model with model.copy()."
            )
        shapes = self.param_shapes()
        for name in self.user_set() if current is None else ():
            check_given(repr(self), name, self.params[name], shapes[name])
        return current

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_owner"] = None  # weak references do not pickle; the unpickled model adopts its layers again
        return state

    # ---------------------------------------------------------------- config
    def get_config(self) -> dict[str, Any]:
        return {"type": type(self).__name__}

    @classmethod
    def config_shapes(cls, config: dict[str, Any]) -> dict[str, tuple[int, ...]]:
        """The parameter shapes a layer built from ``config`` would have, found without building it.

        Raises ValueError for a config this class cannot be built from.
        """
        cls._config_args(config)
        return {}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Layer:
        """A new layer (freshly drawn weights) from what ``get_config`` gave."""
        return cls(**cls._config_args(config))

    @classmethod
    def _config_args(cls, config: dict[str, Any]) -> dict[str, Any]:
        """The constructor arguments in ``config``, checked; ValueError for anything unusable."""
        return {}

    def kept(self) -> Any:
        """What the last forward with ``keep=True`` kept (explain reads a layer's numbers from it)."""
        if self._cache is None:
            raise RuntimeError(f"{self!r} has no forward pass to show; run forward(X, keep=True) first.")
        return self._cache

    def _cached(self, dOut: Any) -> Any:
        """What forward kept, once ``dOut`` (∂L/∂output) is checked to match the output it was given for."""
        try:
            if dOut.shape == self._out_shape:  # never true before a forward: _out_shape is None then
                return self._cache
        except AttributeError:
            pass
        if self._cache is None:
            raise RuntimeError(
                f"{self!r}.backward was called before a forward that kept its values; run forward(X, keep=True) first."
            )
        got = f"shape {dOut.shape}" if isinstance(dOut, np.ndarray) else type(dOut).__name__
        raise ValueError(
            f"{self!r}.backward needs ∂L/∂output as an array of shape {self._out_shape}, "
            f"the shape of the last kept forward's output; received {got}."
        )

    def forget(self) -> None:
        """Drop what the last kept forward kept (before pickling, or to free memory)."""
        self._cache, self._out_shape = None, None

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def check_layers(layers: Any) -> list[Layer]:
    """``layers`` as a list, checked: at least one, each a Layer, none twice."""
    if not layers:
        raise ValueError("a model needs at least one layer, e.g. Sequential(Dense(2, 1)).")
    for i, layer in enumerate(layers):
        if not isinstance(layer, Layer):
            raise TypeError(f"layer {i} is {layer!r}, not a chainrule Layer.")
    if len({id(layer) for layer in layers}) != len(layers):
        raise ValueError("the same layer object appears twice; build a separate layer for each position.")
    return list(layers)


def build_chain(
    layers: list[Layer], n_models: int | None, input_shape: tuple[int, ...] | None = None
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Build ``layers`` in order (see ``Layer.build``); return the model's input and output sample shapes.

    The input shape is ``input_shape``, or the first one a layer fixes by itself (Dense's (n_in,)). Where
    two neighbours do not fit, the ValueError names both layers and the shape that passes between them.
    """
    if input_shape is None:
        first = next((layer for layer in layers if layer.input_shape is not None), None)
        if first is None:
            raise ValueError(
                "no layer fixes the input shape (as Dense(n_in, n_out) does); pass it, e.g. input_shape=(1, 40)."
            )
        input_shape = first.input_shape
    shape = in_shape = tuple(int(d) for d in input_shape)
    for i, layer in enumerate(layers):
        try:
            shape = layer.build(shape, n_models)
        except ValueError as e:
            before = f"the layer before it, {layers[i - 1]!r}" if i else "the model's input"
            raise ValueError(f"layer {i} does not fit {before}: {e}") from None
    return in_shape, shape


@dataclass
class Buffers:
    """A model's flat buffers: parameters, their gradients, and the untrained state, each (P,) or (n_models, P)."""

    params: np.ndarray
    grads: np.ndarray
    state: np.ndarray


def bind(
    layers: list[Layer], owner: Any, dtype: np.dtype, n_models: int | None = None
) -> tuple[Buffers, list[set[str]]]:
    """Give every layer views into one flat parameter buffer, one gradient buffer and one state buffer.

    With ``n_models`` the buffers are (n_models, P) and every view gains that
    leading axis. Values somebody set (see ``Layer.user_set``) are copied in
    (to every model of a stack); every layer is checked before any is
    changed; state starts from ``reset_state``. Returns the buffers and, per
    layer, the names of the parameters still to be drawn.
    """
    lead = () if n_models is None else (n_models,)
    param_shapes = [layer.param_shapes() for layer in layers]
    state_shapes = [layer.state_shapes() for layer in layers]
    buffers = Buffers(*(_flat(param_shapes, lead, dtype) for _ in range(2)), _flat(state_shapes, lead, dtype))
    params, grads = _views(buffers.params, param_shapes, lead), _views(buffers.grads, param_shapes, lead)
    states = _views(buffers.state, state_shapes, lead)
    for layer in layers:
        layer.check_adoptable(owner)
    unset = []
    for layer, p, g, st in zip(layers, params, grads, states):
        kept = layer.adopt(owner, p, g)
        for name, value in kept.items():
            p[name][...] = value
        old, layer.state = layer.state, st
        layer.reset_state()
        for name, value in old.items():  # state the layer already held (an unpickled model's) is kept
            if name in st and np.shape(value) == st[name].shape:
                st[name][...] = value
        unset.append(set(p) - set(kept))
    return buffers, unset


def _flat(shapes: list[dict[str, tuple[int, ...]]], lead: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    return np.zeros((*lead, sum(math.prod(s) for layer_shapes in shapes for s in layer_shapes.values())), dtype)


def _views(flat: np.ndarray, shapes: list[dict[str, tuple[int, ...]]], lead: tuple[int, ...]) -> list[dict]:
    """Per layer, name -> a view of ``flat`` with that shape (and the lead axes), in layer order."""
    offset, views = 0, []
    for layer_shapes in shapes:
        views.append({})
        for name, shape in layer_shapes.items():
            size = math.prod(shape)
            views[-1][name] = flat[..., offset : offset + size].reshape(*lead, *shape)
            offset += size
    return views


UNOWNED_DRAWS = np.random.default_rng()  # what a layer not yet in a model draws from (a model draws afresh)


def _same(a: Any, b: np.ndarray) -> bool:
    a = np.asarray(a)
    return a.shape == b.shape and bool(np.array_equal(a, b))


def check_input(layer: Layer, X: Any) -> None:
    """Raise a clear error unless X is a float array holding samples of the layer's input shape.

    The shape is the one ``build`` fixed (or the layer's own ``input_shape`` before that; with neither, any
    float array of at least two axes passes), behind the batch axis and, in an Ensemble, the model axis.
    """
    sample = layer.in_shape
    if sample is None:
        sample = layer.input_shape
    if X.__class__ is not np.ndarray and not isinstance(X, np.ndarray) or X.dtype.kind != "f":
        raise bad_input(layer, X)
    if sample is None:
        if X.ndim < 2:
            raise bad_input(layer, X)
    elif X.shape[-len(sample) :] != sample or X.ndim != len(sample) + (1 if layer.n_models is None else 2):
        raise bad_input(layer, X)


def bad_input(layer: Layer, X: Any) -> Exception:
    """The error for an input that is not a float array of the layer's input shape."""
    if not isinstance(X, np.ndarray):
        return TypeError(
            f"{layer!r}.forward needs a NumPy array; received {type(X).__name__}. "
            "Convert it first, e.g. np.asarray(X, dtype=np.float64)."
        )
    if X.dtype.kind != "f":
        return TypeError(f"{layer!r} got input of dtype {X.dtype}; it needs floats, e.g. X.astype(np.float64).")
    sample = layer.in_shape or layer.input_shape
    inner = ", ".join(map(str, sample)) if sample is not None else "n_features"
    lead = "n_models, " if layer.n_models is not None else ""
    return ValueError(f"{layer!r} got input of shape {X.shape}; it expects ({lead}n_samples, {inner}).")


def initialize_weights(layer: Layer, rng: np.random.Generator, default_init: str | None, names: Any) -> None:
    """Draw ``W`` from the layer's ``init`` (else ``default_init``) with the layer's fans; biases ``b`` start at 0.

    Only ``names`` are drawn, when given. ``W`` may lead with an Ensemble's model axis: the fans come from the layer.
    """
    if names is None or "W" in names:
        W = layer.params["W"]
        chosen = layer.init if layer.init is not None else default_init or initializers.DEFAULT_INIT
        draw = chosen if callable(chosen) else initializers.get_initializer(chosen)
        W[...] = draw(W.shape, rng, W.dtype, *layer.fans())
    if names is None or "b" in names:
        layer.params["b"][...] = 0


def check_given(layer: str, name: str, value: Any, shape: tuple[int, ...]) -> np.ndarray:
    """A parameter value a user gave, checked: real numbers, the expected shape, finite."""
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{layer} got {name} of dtype {arr.dtype}; it needs real numbers of shape {shape}.")
    if arr.shape != shape:
        raise ValueError(f"{layer} got {name} of shape {arr.shape}; expected {shape}.")
    if not np.isfinite(arr).all():
        raise ValueError(f"{layer} got {name} containing NaN or infinity; it needs finite numbers of shape {shape}.")
    return arr.astype(np.float64)
