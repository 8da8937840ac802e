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
from typing import Any

import numpy as np


class Layer:
    """One step of the forward pass, with its backward step beside it.

    The protocol:

    * ``forward(X, train=True)`` returns the output. With ``train=True`` the
      layer keeps what ``backward`` needs; with ``train=False`` it keeps
      nothing, so inference calls can run from several threads at once.
    * ``backward(dA, need_input_grad=True)`` takes ∂L/∂(output), fills
      ``grads`` (assigned, never accumulated) and returns ∂L/∂(input), or
      ``None`` when ``need_input_grad`` is False.
    * ``params`` and ``grads`` are dicts name -> ndarray with the same keys
      and shapes. Optimisers reach parameters only through them, updating in
      place, so they may be views into one flat buffer.
    * ``get_config()`` and ``from_config(config)`` describe and rebuild the
      layer (without its weights); every subclass is registered by its class
      name in ``Layer.registry``, which model files read from.

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
        self._cache: Any = None  # what backward needs, from the last training forward
        self._out_shape = None  # that forward's output shape: the gradient backward must receive
        self._drawn: dict[str, np.ndarray] = {}  # the values this layer drew itself, until a model adopts it
        self._owner: weakref.ref | None = None

    def forward(self, X: np.ndarray, train: bool = True) -> np.ndarray:
        raise NotImplementedError

    def backward(self, dA: np.ndarray, need_input_grad: bool = True) -> np.ndarray | None:
        raise NotImplementedError

    def output_dim(self, n_in: int) -> int:
        """Features per sample that come out, given ``n_in`` going in."""
        return n_in

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        return {}

    def initialize(self, rng: np.random.Generator, default_init: str | None = None, names: Any = None) -> None:
        """Draw fresh parameters from ``rng`` in place (only ``names``, when given)."""

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

    def _cached(self, dOut: Any) -> Any:
        """What forward kept, once ``dOut`` (∂L/∂output) is checked to match the output it was given for."""
        try:
            if dOut.shape == self._out_shape:  # never true before a forward: _out_shape is None then
                return self._cache
        except AttributeError:
            pass
        if self._cache is None:
            raise RuntimeError(
                f"{self!r}.backward was called before forward(X, train=True); run a training forward pass first."
            )
        got = f"shape {dOut.shape}" if isinstance(dOut, np.ndarray) else type(dOut).__name__
        raise ValueError(
            f"{self!r}.backward needs ∂L/∂output as an array of shape {self._out_shape}, "
            f"the shape of the last training forward's output; received {got}."
        )

    def forget(self) -> None:
        """Drop what the last training forward kept (before pickling, or to free memory)."""
        self._cache, self._out_shape = None, None

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def chain_sizes(layers: list[Layer]) -> tuple[int, int]:
    """The input and output widths of ``layers`` applied in order; ValueError where they do not fit."""
    first = next((layer for layer in layers if hasattr(layer, "n_in")), None)
    if first is None:
        raise ValueError("a model needs a layer that fixes the input size, such as Dense.")
    n = n_in = first.n_in
    for layer in layers:
        expected = getattr(layer, "n_in", n)
        if expected != n:
            raise ValueError(
                f"{layer!r} expects {expected} inputs but the layer before it gives {n}; "
                f"make it {type(layer).__name__}({n}, …)."
            )
        n = layer.output_dim(n)
    return n_in, n


def bind(
    layers: list[Layer], owner: Any, dtype: np.dtype, lead: tuple[int, ...] = ()
) -> tuple[np.ndarray, np.ndarray, list[set[str]]]:
    """Give every layer views into one flat parameter buffer and one gradient buffer, in layer order.

    ``lead`` = (n_models,) stacks models: the buffers are (n_models, P) and
    every parameter view gains that leading axis. Values somebody set (see
    ``Layer.user_set``) are copied in (to every model of a stack); every layer
    is checked before any is changed. Returns the two buffers and, per layer,
    the names of the parameters still to be drawn.
    """
    shapes = [layer.param_shapes() for layer in layers]
    total = sum(math.prod(s) for layer_shapes in shapes for s in layer_shapes.values())
    flat, flat_grad = np.zeros((*lead, total), dtype=dtype), np.zeros((*lead, total), dtype=dtype)
    offset, views = 0, []
    for layer_shapes in shapes:
        params, grads = {}, {}
        for name, shape in layer_shapes.items():
            size = math.prod(shape)
            params[name] = flat[..., offset : offset + size].reshape(*lead, *shape)
            grads[name] = flat_grad[..., offset : offset + size].reshape(*lead, *shape)
            offset += size
        views.append((params, grads))
    for layer in layers:
        layer.check_adoptable(owner)
    unset = []
    for layer, (params, grads) in zip(layers, views):
        kept = layer.adopt(owner, params, grads)
        for name, value in kept.items():
            params[name][...] = value
        unset.append(set(params) - set(kept))
    return flat, flat_grad, unset


UNOWNED_DRAWS = np.random.default_rng()  # what a layer not yet in a model draws from (a model draws afresh)


def _same(a: Any, b: np.ndarray) -> bool:
    a = np.asarray(a)
    return a.shape == b.shape and bool(np.array_equal(a, b))


def bad_input(layer: Layer, X: Any, width: int | None = None) -> Exception:
    """The error for an input that is not a 2-D float array (of ``width`` columns, when given)."""
    if not isinstance(X, np.ndarray):
        return TypeError(
            f"{layer!r}.forward needs a 2-D NumPy array; received {type(X).__name__}. "
            "Convert it first, e.g. np.asarray(X, dtype=np.float64)."
        )
    if X.dtype.kind != "f":
        return TypeError(f"{layer!r} got input of dtype {X.dtype}; it needs floats, e.g. X.astype(np.float64).")
    shape = f"(n_samples, {width})" if width is not None else "(n_samples, n_features)"
    return ValueError(f"{layer!r} got input of shape {X.shape}; it expects {shape}.")


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
