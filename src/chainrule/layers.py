"""The layer protocol and the one layer with parameters, Dense.

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

from . import initializers
from ._validate import check_positive_int


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
            _given(repr(self), name, self.params[name], shapes[name])
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


_OWN_DRAWS = np.random.default_rng()  # what a layer not yet in a model draws from (a model draws afresh)


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


def _given(layer: str, name: str, value: Any, shape: tuple[int, ...]) -> np.ndarray:
    """A parameter value a user gave, checked: real numbers, the expected shape, finite."""
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{layer} got {name} of dtype {arr.dtype}; it needs real numbers of shape {shape}.")
    if arr.shape != shape:
        raise ValueError(f"{layer} got {name} of shape {arr.shape}; expected {shape}.")
    if not np.isfinite(arr).all():
        raise ValueError(f"{layer} got {name} containing NaN or infinity; it needs finite numbers of shape {shape}.")
    return arr.astype(np.float64)


class Dense(Layer):
    """Fully connected layer: Z = X·W + b.

    Shapes:  X (n, n_in) · W (n_in, n_out) + b (n_out,) -> Z (n, n_out)
    (in an Ensemble every array gains a leading model axis: W (M, n_in, n_out), Z (M, n, n_out))

    Backward, given dZ = ∂L/∂Z (n, n_out):

        dW = Xᵀ·dZ          (n_in, n_out)   each weight collects input × δ over the batch
        db = Σₙ dZ          (n_out,)
        dX = dZ·Wᵀ          (n, n_in)       what the layer below receives

    The batch average is the loss's business: dZ already carries its 1/n.

    ``W`` and ``b`` give the starting values (kept by any model the layer
    joins). Otherwise ``init`` names the weight initialiser (see
    ``chainrule.initializers``) or is a callable ``init(shape, rng, dtype)``;
    left as None, a Sequential picks the one the next activation suits (He
    for the ReLU family, Glorot otherwise). Biases start at zero.
    """

    def __init__(self, n_in: int, n_out: int, init: str | Any = None, *, W: Any = None, b: Any = None) -> None:
        super().__init__()
        self.n_in = check_positive_int(n_in, "Dense n_in")
        self.n_out = check_positive_int(n_out, "Dense n_out")
        if init is not None and not callable(init):
            initializers.get_initializer(init)  # fail now on a typo, not at build time
        self.init = init
        given = {
            name: _given(repr(self), name, value, shape)
            for name, value, shape in (("W", W, (self.n_in, self.n_out)), ("b", b, (self.n_out,)))
            if value is not None
        }
        self.params = {"W": np.zeros((self.n_in, self.n_out)), "b": np.zeros(self.n_out)}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self._ones = np.ones(0)  # a column of ones as long as the batch, for db (kept between calls)
        self.initialize(_OWN_DRAWS)  # usable on its own; a model redraws these from its seed
        self._drawn = {name: p.copy() for name, p in self.params.items()}
        for name, value in given.items():
            self.params[name][...] = value
            del self._drawn[name]

    def forward(self, X: np.ndarray, train: bool = True) -> np.ndarray:
        W = self.params["W"]
        ok = isinstance(X, np.ndarray) and X.dtype.kind == "f" and X.ndim in (2, W.ndim)
        if not ok or X.shape[-1] != self.n_in:
            raise bad_input(self, X, self.n_in)
        Z = X @ W  # (n, n_out); (n_models, n, n_out) for a stack of models
        b = self.params["b"]
        Z += b if b.ndim == 1 else b[:, None, :]
        if train:
            self._cache, self._out_shape = X, Z.shape  # what backward needs, and the gradient shape it must get
        return Z

    def backward(self, dZ: np.ndarray, need_input_grad: bool = True) -> np.ndarray | None:
        X = self._cached(dZ)
        np.matmul(X.mT, dZ, out=self.grads["W"])
        np.matmul(self._ones_like_rows(dZ), dZ, out=self.grads["b"])  # Σ over rows as 1ᵀ·dZ: one BLAS call
        return dZ @ self.params["W"].mT if need_input_grad else None

    def _ones_like_rows(self, dZ: np.ndarray) -> np.ndarray:
        ones = self._ones
        if len(ones) != dZ.shape[-2] or ones.dtype != dZ.dtype:
            ones = self._ones = np.ones(dZ.shape[-2], dtype=dZ.dtype)
        return ones

    def output_dim(self, n_in: int) -> int:
        return self.n_out

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        return {"W": (self.n_in, self.n_out), "b": (self.n_out,)}

    def initialize(self, rng: np.random.Generator, default_init: str | None = None, names: Any = None) -> None:
        if names is None or "W" in names:
            W = self.params["W"]
            chosen = self.init if self.init is not None else default_init or initializers.DEFAULT_INIT
            draw = chosen if callable(chosen) else initializers.get_initializer(chosen)
            W[...] = draw(W.shape, rng, W.dtype)
        if names is None or "b" in names:
            self.params["b"][...] = 0

    def get_config(self) -> dict[str, Any]:
        init = self.init if isinstance(self.init, str) or self.init is None else "custom"
        return {"type": "Dense", "n_in": self.n_in, "n_out": self.n_out, "init": init}

    @classmethod
    def config_shapes(cls, config: dict[str, Any]) -> dict[str, tuple[int, ...]]:
        args = cls._config_args(config)
        return {"W": (args["n_in"], args["n_out"]), "b": (args["n_out"],)}

    @classmethod
    def _config_args(cls, config: dict[str, Any]) -> dict[str, Any]:
        n_in, n_out = config.get("n_in"), config.get("n_out")
        for v in (n_in, n_out):
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"a Dense layer has size {v!r}; sizes are positive integers.")
        init = config.get("init")
        return {"n_in": n_in, "n_out": n_out, "init": init if init in initializers.INITIALIZERS else None}

    def __repr__(self) -> str:
        return f"Dense({self.n_in}, {self.n_out})"
