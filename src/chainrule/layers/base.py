"""The layer protocol: what every layer kind implements, and how a model binds layers to its buffers.

Data are row-major: a batch X has shape (n_samples, n_features), one example
per row, as in NumPy, scikit-learn and PyTorch. Texts written with examples
as columns (z = W·x + b, W of shape (n_out, n_in)) describe the same maths
transposed: their W is our Wᵀ, their x our row X[i]ᵀ, and their δ·aᵀ is our
Aᵀ·δ. Nothing else changes.
"""

from __future__ import annotations

import weakref
from types import SimpleNamespace
from typing import Any

import numpy as np

from . import initializers
from .checks import check_given
from .onnx_hooks import OnnxHooks
from .spec import REQUIRED, Arg, Param, State, checked


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
    * **Declared once.** A layer kind declares ``args`` (``spec.Arg``: name,
      check, default), ``param_specs`` (``spec.Param``: name, shape from the
      arguments, how it starts, its fans) and ``state_specs`` (``spec.State``).
      From these this class derives the argument checks and their messages,
      ``get_config``/``from_config``, ``param_shapes``/``state_shapes`` (also
      ``config_shapes`` from a config alone), ``fans``, ``initialize``,
      ``reset_state``, ``repr`` and the user-set bookkeeping. A constructor
      passes its arguments (and any starting parameter values, W=…, b=…) to
      ``Layer.__init__``; ``check_args`` checks what one argument alone cannot
      (Conv1D's "same" padding needs stride 1). Every subclass is registered
      by its class name in ``Layer.registry``, which model files read from.
    * **Input kind.** ``input_kind`` is "float" (values) or "index" (integer
      indices, as an Embedding takes): a model does not cast indices, and
      gradcheck checks the parameters without perturbing them.
    * **Explain terms.** ``forward_terms()`` (the last kept forward) and
      ``backward_terms(dOut)`` (one backward, filling ``grads`` as ``backward``
      does) return lists of ``Term(symbol, formula, array, role, note, param)``
      (``layers/terms.py``): e.g. ``Term("z", "x·W + b", Z, Role.OUTPUT)``.
      The role (input, output, weight, bias, statistic, mask, per-window
      winner, output gradient, input gradient, weight gradient, …) says what
      a term is; explain reads roles, and prints ``term.label`` only. Arrays
      may be views of the layer's own; copy them to keep them.
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
    args: tuple[Arg, ...] = ()
    param_specs: tuple[Param, ...] = ()
    state_specs: tuple[State, ...] = ()
    input_kind = "float"
    modes_differ = False  # training and inference compute differently (Dropout drops, BatchNorm's batch statistics)
    keeps_shape = False  # True for a layer whose output sample has its input's shape whatever it is (elementwise)
    params: dict[str, np.ndarray]
    grads: dict[str, np.ndarray]
    _out_shape: tuple[int, ...] | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.__name__.startswith("_") and not cls.__dict__.get("abstract", False):
            Layer.registry[cls.__name__] = cls

    def __init__(self, **given: Any) -> None:
        """Check and keep the declared arguments; make the declared parameters and state.

        Parameters not given are drawn (usable on their own; a model redraws them from its seed); values
        given for them (``W=…``) are checked against their shapes and kept by any model the layer joins.
        """
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
        name = type(self).__name__
        starts = {spec.name: given.pop(spec.name, None) for spec in self.param_specs}
        for arg in self.args:
            value = given.pop(arg.name, arg.default)
            if value is REQUIRED:
                raise TypeError(f"{name} needs its argument {arg.name}.")
            setattr(self, arg.name, checked(name, arg, value))
        if given:
            raise TypeError(f"{name} got an unexpected argument {next(iter(given))!r}.")
        self.check_args(self)
        if not self.param_specs and not self.state_specs:
            return  # nothing to make (a composite layer, such as Residual, holds its inner layers' instead)
        shapes = Layer.param_shapes(self)
        kept = {k: check_given(repr(self), k, v, shapes[k]) for k, v in starts.items() if v is not None}
        self.params = {k: np.zeros(shape) for k, shape in shapes.items()}
        self.grads = {k: np.zeros(shape) for k, shape in shapes.items()}
        self.state = {k: np.zeros(shape) for k, shape in Layer.state_shapes(self).items()}
        self.reset_state()
        self.initialize(UNOWNED_DRAWS, names=set(shapes) - set(kept))  # nothing drawn that is about to be set
        self._drawn = {k: p.copy() for k, p in self.params.items() if k not in kept}
        for k, value in kept.items():
            self.params[k][...] = value

    @classmethod
    def check_args(cls, a: Any) -> None:
        """Raise ValueError for arguments that do not go together (``a`` holds them as attributes)."""

    @classmethod
    def example(cls) -> tuple[Layer, tuple[int, ...]]:
        """A small layer of this kind and a per-sample input shape it takes (the common tests build on these)."""
        return cls(), (4,)

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
        return {spec.name: tuple(spec.shape(self)) for spec in self.param_specs}

    def state_shapes(self) -> dict[str, tuple[int, ...]]:
        """The shapes of the state that is kept but not trained (running statistics), for one model."""
        return {spec.name: tuple(spec.shape(self)) for spec in self.state_specs}

    def penalized(self) -> list[str]:
        """The parameters the objective's L1/L2 terms cover."""
        return [spec.name for spec in self.param_specs if spec.penalized]

    def reset_state(self) -> None:
        """Put ``state`` back to its starting values."""
        for spec in self.state_specs:
            self.state[spec.name][...] = spec.start

    def check_state(self) -> None:
        """Raise ValueError if ``state`` (as read from a model file) is unusable, saying what is wrong."""

    def fans(self) -> tuple[int, int]:
        """(fan_in, fan_out) of the weights, for the initialisers."""
        for spec in self.param_specs:
            if spec.fans is not None:
                return spec.fans(self)
        raise NotImplementedError(f"{type(self).__name__} has no weights to initialise.")

    def initialize(self, rng: np.random.Generator, default_init: str | None = None, names: Any = None) -> None:
        """Draw fresh parameters from ``rng`` in place (only ``names``, when given), each as its spec says.

        "weights" come from the layer's ``init`` (else ``default_init``, else the library's default) with the
        layer's fans; a number fills the parameter; an initialiser's name draws from that initialiser.
        """
        for spec in self.param_specs:
            if names is not None and spec.name not in names:
                continue
            P = self.params[spec.name]
            if isinstance(spec.start, str):
                chosen = spec.start
                if chosen == "weights":
                    own = getattr(self, "init", None)
                    chosen = own if own is not None else default_init or initializers.DEFAULT_INIT
                draw = chosen if callable(chosen) else initializers.get_initializer(chosen)
                P[...] = draw(P.shape, rng, P.dtype, *self.fans())
            else:
                P[...] = spec.start

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
        """The layer's kind and declared arguments (a callable initialiser is written as "custom")."""
        values = {arg.name: getattr(self, arg.name) for arg in self.args}
        return {"type": type(self).__name__, **{k: "custom" if callable(v) else v for k, v in values.items()}}

    @classmethod
    def config_shapes(cls, config: dict[str, Any]) -> dict[str, tuple[int, ...]]:
        """The parameter shapes a layer built from ``config`` would have, found without building it.

        Raises ValueError for a config this class cannot be built from.
        """
        a = SimpleNamespace(**cls._config_args(config))
        return {spec.name: tuple(spec.shape(a)) for spec in cls.param_specs}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Layer:
        """A new layer (freshly drawn weights) from what ``get_config`` gave."""
        return cls(**cls._config_args(config))

    @classmethod
    def _config_args(cls, config: dict[str, Any]) -> dict[str, Any]:
        """The constructor arguments in ``config``, checked; ValueError for anything unusable."""
        args = {}
        for arg in cls.args:
            value = config.get(arg.name, arg.default)
            if value is REQUIRED:
                raise ValueError(f"a {cls.__name__} layer needs {arg.name}; the config has none.")
            args[arg.name] = arg.check.load(value) if arg.check.load else checked(cls.__name__, arg, value)
        cls.check_args(SimpleNamespace(**args))
        return args

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
        """The constructor call: required arguments in order, then those that differ from their defaults."""
        parts = [repr(getattr(self, a.name)) for a in self.args if a.default is REQUIRED]
        parts += [f"{a.name}={getattr(self, a.name)!r}" for a in self.args
                  if a.default is not REQUIRED and a.shown and getattr(self, a.name) != a.default]  # fmt: skip
        return f"{type(self).__name__}({', '.join(parts)})"


UNOWNED_DRAWS = np.random.default_rng()  # what a layer not yet in a model draws from (a model draws afresh)


def _same(a: Any, b: np.ndarray) -> bool:
    a = np.asarray(a)
    return a.shape == b.shape and bool(np.array_equal(a, b))
