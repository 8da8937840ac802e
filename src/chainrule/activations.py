"""Activations as layers of their own, so z and a stay apart.

Each activation is one class holding everything the rest of chainrule needs:
its forward ``f(Z)``, its backward ``chain(dA, Z, A)`` (the chain-rule step
dZ = dA ∘ f'(Z) for an elementwise activation; Softmax couples a row's
outputs and multiplies by its Jacobian instead), its formula and derivative
as plain text and LaTeX (for explain and for its own docstring), the
initialiser that suits the Dense layer before it, and whether its outputs are
probabilities. The registries of names (``get_activation``, the command line,
model files, explain, the scikit-learn estimators) are read from the classes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._math import sigmoid, softmax
from ._validate import check_positive_float, lookup
from .layers import Layer, bad_input


class Activation(Layer):
    """An activation A = f(Z), applied row by row; backward dZ = ``chain(dA, Z, A)``."""

    abstract = True
    name = ""  # the name in get_activation, the command line and explain
    aliases: tuple[str, ...] = ()
    formula = ""  # f(z) in plain text
    derivative = ""  # f'(z) in plain text
    symbol_latex = ""  # how f is written in LaTeX, e.g. \sigma
    derivative_latex = ""
    init = "glorot_uniform"  # what the Dense layer before it is drawn from, when nobody chose
    probabilities = False  # outputs are probabilities: a loss that squashes again would squash twice
    elementwise = True

    registry: dict[str, type[Activation]] = {}  # type: ignore[assignment]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.name:
            for key in (cls.name, *cls.aliases):
                Activation.registry[key] = cls
            cls.__doc__ = f"{cls.__doc__ or ''}\n\n    f(z) = {cls.formula}\n    f'(z) = {cls.derivative}\n"

    def forward(self, Z: np.ndarray, train: bool = True) -> np.ndarray:
        if not isinstance(Z, np.ndarray) or Z.ndim != 2 or Z.dtype.kind != "f":
            raise bad_input(self, Z)
        A = self.f(Z)
        if train:
            self._cache, self._out_shape = (Z, A), A.shape
        return A

    def backward(self, dA: np.ndarray, need_input_grad: bool = True) -> np.ndarray | None:
        Z, A = self._cached(dA)
        return self.chain(dA, Z, A) if need_input_grad else None

    def f(self, Z: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def chain(self, dA: np.ndarray, Z: np.ndarray, A: np.ndarray) -> np.ndarray:
        """∂L/∂Z from ∂L/∂A, given Z and A = f(Z): the activation's one chain-rule step."""
        raise NotImplementedError

    @classmethod
    def _config_args(cls, config: dict[str, Any]) -> dict[str, Any]:
        return {}


class Sigmoid(Activation):
    """The logistic function: probabilities in (0, 1). Never overflows."""

    name, aliases = "sigmoid", ("logistic",)
    formula, derivative = "σ(z) = 1 / (1 + e⁻ᶻ)", "σ(z)·(1 − σ(z))"
    symbol_latex, derivative_latex = r"\sigma", r"\sigma(z)\left(1 - \sigma(z)\right)"
    probabilities = True

    def f(self, Z):
        return sigmoid(Z)

    def chain(self, dA, Z, A):
        dZ = np.subtract(1, A)  # dA ∘ A(1 − A), built in one buffer
        dZ *= A
        dZ *= dA
        return dZ


class Tanh(Activation):
    """The hyperbolic tangent: outputs in (−1, 1), centred on 0."""

    name = "tanh"
    formula, derivative = "tanh(z)", "1 − tanh²(z)"
    symbol_latex, derivative_latex = r"\tanh", r"1 - \tanh^2(z)"

    def f(self, Z):
        return np.tanh(Z)

    def chain(self, dA, Z, A):
        dZ = np.multiply(A, A)  # dA ∘ (1 − A²), built in one buffer
        np.subtract(1, dZ, out=dZ)
        dZ *= dA
        return dZ


class ReLU(Activation):
    """The rectified linear unit; its derivative at 0 is 0, as in PyTorch."""

    name = "relu"
    formula, derivative = "max(z, 0)", "1 where z > 0, else 0"
    symbol_latex, derivative_latex = r"\operatorname{ReLU}", r"[z > 0]"
    init = "he_uniform"

    def f(self, Z):
        return np.maximum(Z, 0)

    def chain(self, dA, Z, A):
        return np.multiply(dA, Z > 0)  # a product with the mask: np.where would branch on every element


class LeakyReLU(Activation):
    """ReLU with slope α below zero; its derivative at 0 is α, as in PyTorch."""

    name = "leaky_relu"
    formula, derivative = "z where z > 0, else α·z", "1 where z > 0, else α"
    symbol_latex, derivative_latex = r"\operatorname{LeakyReLU}", r"[z > 0] + \alpha [z \le 0]"
    init = "he_uniform"

    def __init__(self, alpha: float = 0.01) -> None:
        super().__init__()
        self.alpha = check_positive_float(alpha, "LeakyReLU alpha", allow_zero=True)

    def f(self, Z):
        return np.where(Z > 0, Z, self.alpha * Z)

    def chain(self, dA, Z, A):
        return dA * np.where(Z > 0, 1.0, self.alpha).astype(Z.dtype)

    def get_config(self) -> dict[str, Any]:
        return {"type": "LeakyReLU", "alpha": self.alpha}

    @classmethod
    def _config_args(cls, config):
        alpha = config.get("alpha", 0.01)
        check_positive_float(alpha, "LeakyReLU alpha", allow_zero=True)
        return {"alpha": alpha}

    def __repr__(self) -> str:
        return f"LeakyReLU(alpha={self.alpha})"


class Identity(Activation):
    """No activation: the output of a regression network, or logits for a loss that takes them."""

    name, aliases = "identity", ("linear",)
    formula, derivative = "z", "1"
    symbol_latex, derivative_latex = r"\operatorname{id}", "1"

    def f(self, Z):
        return Z

    def chain(self, dA, Z, A):
        return dA


class Softmax(Activation):
    """Probabilities over a row's outputs. Its Jacobian per row is diag(a) − a·aᵀ, so

        dZ = A ∘ (dA − Σⱼ (dA ∘ A)ⱼ)        (row sums, broadcast back)

    Trained with ``categorical_cross_entropy``, the pair's gradient is taken
    as one fused step, (p − y)/n; on logits, ``softmax_cross_entropy`` is the
    same without this layer.
    """

    name = "softmax"
    formula, derivative = "softmax(z)ⱼ = e^{zⱼ} / Σₖ e^{zₖ}", "Jacobian diag(a) − a·aᵀ per row"
    symbol_latex, derivative_latex = r"\operatorname{softmax}", r"\operatorname{diag}(a) - a a^\top"
    probabilities = True
    elementwise = False

    def f(self, Z):
        return softmax(Z, axis=1)

    def chain(self, dA, Z, A):
        return A * (dA - np.sum(dA * A, axis=1, keepdims=True))


def get_activation(name: str | Activation) -> Activation:
    """A new activation layer called ``name`` (an Activation instance passes through)."""
    if isinstance(name, Activation):
        return name
    return lookup("activation", name, Activation.registry)()
