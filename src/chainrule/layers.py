"""The layer protocol and the one layer with parameters, Dense.

Data are row-major: a batch X has shape (n_samples, n_features), one example
per row, as in NumPy, scikit-learn and PyTorch. Texts written with examples
as columns (z = W·x + b, W of shape (n_out, n_in)) describe the same maths
transposed: their W is our Wᵀ, their x our row X[i]ᵀ, and their δ·aᵀ is our
Aᵀ·δ. Nothing else changes.
"""

from __future__ import annotations

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
    """

    params: dict[str, np.ndarray]
    grads: dict[str, np.ndarray]
    _out_shape: tuple[int, ...] | None = None

    def __init__(self) -> None:
        self.params = {}
        self.grads = {}
        self._cache: Any = None  # what backward needs, from the last training forward
        self._out_shape = None  # that forward's output shape: the gradient backward must receive

    def forward(self, X: np.ndarray, train: bool = True) -> np.ndarray:
        raise NotImplementedError

    def backward(self, dA: np.ndarray, need_input_grad: bool = True) -> np.ndarray | None:
        raise NotImplementedError

    def output_dim(self, n_in: int) -> int:
        """Features per sample that come out, given ``n_in`` going in."""
        return n_in

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        return {}

    def initialize(self, rng: np.random.Generator, default_init: str | None = None) -> None:
        """Draw fresh parameters from ``rng``, in place (``default_init`` when none was named)."""

    def get_config(self) -> dict[str, Any]:
        return {"type": type(self).__name__}

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

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


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


class Dense(Layer):
    """Fully connected layer: Z = X·W + b.

    Shapes:  X (n, n_in) · W (n_in, n_out) + b (n_out,) -> Z (n, n_out)

    Backward, given dZ = ∂L/∂Z (n, n_out):

        dW = Xᵀ·dZ          (n_in, n_out)   each weight collects input × δ over the batch
        db = Σₙ dZ          (n_out,)
        dX = dZ·Wᵀ          (n, n_in)       what the layer below receives

    The batch average is the loss's business: dZ already carries its 1/n.

    ``init`` names the weight initialiser (see ``chainrule.initializers``) or is
    a callable ``init(shape, rng, dtype)``. Left as None, a Sequential picks
    He for a ReLU-family activation after this layer and Glorot otherwise.
    Biases start at zero.
    """

    def __init__(self, n_in: int, n_out: int, init: str | Any = None) -> None:
        super().__init__()
        self.n_in = check_positive_int(n_in, "Dense n_in")
        self.n_out = check_positive_int(n_out, "Dense n_out")
        if init is not None and not callable(init):
            initializers.get_initializer(init)  # fail now on a typo, not at build time
        self.init = init
        self.params = {"W": np.zeros((self.n_in, self.n_out)), "b": np.zeros(self.n_out)}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.initialize(np.random.default_rng())

    def forward(self, X: np.ndarray, train: bool = True) -> np.ndarray:
        if not isinstance(X, np.ndarray) or X.ndim != 2 or X.shape[1] != self.n_in or X.dtype.kind != "f":
            raise bad_input(self, X, self.n_in)
        Z = X @ self.params["W"]  # (n, n_out)
        Z += self.params["b"]
        if train:
            self._cache, self._out_shape = X, Z.shape  # what backward needs, and the gradient shape it must get
        return Z

    def backward(self, dZ: np.ndarray, need_input_grad: bool = True) -> np.ndarray | None:
        X = self._cached(dZ)
        np.matmul(X.T, dZ, out=self.grads["W"])
        np.add.reduce(dZ, axis=0, out=self.grads["b"])  # the ufunc itself: np.sum's wrapper costs ~1 µs a call
        return dZ @ self.params["W"].T if need_input_grad else None

    def output_dim(self, n_in: int) -> int:
        return self.n_out

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        return {"W": (self.n_in, self.n_out), "b": (self.n_out,)}

    def initialize(self, rng: np.random.Generator, default_init: str | None = None) -> None:
        W = self.params["W"]
        chosen = self.init if self.init is not None else default_init or initializers.DEFAULT_INIT
        draw = chosen if callable(chosen) else initializers.get_initializer(chosen)
        W[...] = draw(W.shape, rng, W.dtype)
        self.params["b"][...] = 0

    def get_config(self) -> dict[str, Any]:
        init = self.init if isinstance(self.init, str) or self.init is None else "custom"
        return {"type": "Dense", "n_in": self.n_in, "n_out": self.n_out, "init": init}

    def __repr__(self) -> str:
        return f"Dense({self.n_in}, {self.n_out})"
