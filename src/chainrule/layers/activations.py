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

from .._math import sigmoid, softmax
from .._special import logistic, normal_cdf, normal_pdf
from .._validate import lookup
from .base import Layer
from .checks import check_input
from .spec import NON_NEGATIVE, Arg
from .terms import Role, Term


class Activation(Layer):
    """An activation A = f(Z), applied row by row; backward dZ = ``chain(dA, Z, A)``."""

    abstract = True
    name = ""  # the name in get_activation, the command line and explain
    aliases: tuple[str, ...] = ()
    formula = ""  # f(z) in plain text
    derivative = ""  # f'(z) in plain text
    symbol_latex = ""  # how f is written in LaTeX, e.g. \sigma
    derivative_latex = ""
    chain_formula = "∂L/∂a ∘ f'(z)"  # ∂L/∂z in plain text
    init = "glorot_uniform"  # what the Dense layer before it is drawn from, when nobody chose
    probabilities = False  # outputs are probabilities: a loss that squashes again would squash twice
    elementwise = True
    keeps_shape = True

    registry: dict[str, type[Activation]] = {}  # type: ignore[assignment]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.name:
            for key in (cls.name, *cls.aliases):
                Activation.registry[key] = cls
            cls.__doc__ = f"{cls.__doc__ or ''}\n\n    f(z) = {cls.formula}\n    f'(z) = {cls.derivative}\n"

    def forward(self, Z: np.ndarray, training: bool = True, keep: bool = True) -> np.ndarray:
        if Z.__class__ is not np.ndarray or Z.dtype.kind != "f" or Z.ndim < 2:  # else any shape: it is kept
            check_input(self, Z)
        A = self.f(Z)
        if keep:
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

    def local_derivative(self, Z: np.ndarray, A: np.ndarray) -> np.ndarray:
        """f'(z) of an elementwise activation: its own chain-rule step applied to ones (no second formula)."""
        return self.chain(np.ones_like(Z), Z, A)

    def forward_terms(self) -> list[Term]:
        """The last kept forward: z and a = f(z)."""
        Z, A = self.kept()
        return [Term("z", "", Z, Role.INPUT), Term("a", f"{self.name}(z)", A, Role.OUTPUT)]

    def backward_terms(self, dA: np.ndarray) -> list[Term]:
        """∂L/∂a, f'(z) (elementwise activations) and ∂L/∂z, for the last kept forward."""
        Z, A = self._cached(dA)
        terms = [Term("∂L/∂a", "", dA, Role.OUTPUT_GRADIENT)]
        if self.elementwise:
            terms.append(Term("f'(z)", self.derivative, self.local_derivative(Z, A), Role.LOCAL_DERIVATIVE))
        return [*terms, Term("∂L/∂z", self.chain_formula, self.chain(dA, Z, A), Role.INPUT_GRADIENT)]

    # ---------------------------------------------------------------- ONNX (see Layer.to_onnx, Layer.from_onnx)
    @classmethod
    def onnx_recipes(cls) -> tuple[Any, ...]:
        """This activation as ONNX ops: its recipes in ``chainrule.onnx._table``, the one export prefers first.
        An activation defined elsewhere may return its own (``chainrule.onnx._table.Recipe``)."""
        from ..onnx._table import TABLE

        return TABLE.get(cls.name, ())

    def to_onnx(self, g: Any, x: str, name: str) -> str:
        from ..onnx.recipes import activation_to_onnx

        return activation_to_onnx(self, g, x, name)

    @classmethod
    def onnx_ops(cls) -> frozenset[str]:
        return frozenset(o for r in cls.onnx_recipes() for o in r.ops())

    @classmethod
    def from_onnx(cls, node: Any, graph: Any) -> Any:
        from ..onnx.recipes import activation_from_onnx

        return activation_from_onnx(cls, node, graph)

    @classmethod
    def onnx_describe(cls) -> str:
        from ..onnx._table import describe_recipes

        return describe_recipes(cls.name, cls.onnx_recipes())


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


class _WithAlpha(Activation):
    """An activation of the ReLU family with one setting, α ≥ 0, for z ≤ 0; a file without it reads
    ``default_alpha``, the default of the subclass's constructor."""

    default_alpha: float
    init = "he_uniform"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.args = (Arg("alpha", NON_NEGATIVE, cls.default_alpha),)

    def __init__(self, alpha: float) -> None:
        super().__init__(alpha=alpha)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(alpha={self.alpha})"


class LeakyReLU(_WithAlpha):
    """ReLU with slope α below zero; its derivative at 0 is α, as in PyTorch."""

    name = "leaky_relu"
    formula, derivative = "z where z > 0, else α·z", "1 where z > 0, else α"
    symbol_latex, derivative_latex = r"\operatorname{LeakyReLU}", r"[z > 0] + \alpha [z \le 0]"
    default_alpha = 0.01

    def __init__(self, alpha: float = default_alpha) -> None:
        super().__init__(alpha)

    def f(self, Z):
        return np.where(Z > 0, Z, self.alpha * Z)

    def chain(self, dA, Z, A):
        return dA * np.where(Z > 0, 1.0, self.alpha).astype(Z.dtype)


class Identity(Activation):
    """No activation: the output of a regression network, or logits for a loss that takes them."""

    name, aliases = "identity", ("linear",)
    formula, derivative = "z", "1"
    symbol_latex, derivative_latex = r"\operatorname{id}", "1"

    def f(self, Z):
        return Z

    def chain(self, dA, Z, A):
        return dA

    # ---------------------------------------------------------------- ONNX (see Activation.from_onnx)
    def onnx_redundant_after(self, previous: Layer | None) -> bool:
        """An Identity node is this layer only after a layer with weights (as export writes it); else a no-op."""
        return previous is None or not previous.param_shapes()


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
    chain_formula = "a ∘ (g − Σⱼ(g ∘ a)ⱼ), g = ∂L/∂a"
    probabilities = True
    elementwise = False

    def f(self, Z):
        return softmax(Z, axis=-1)

    def chain(self, dA, Z, A):
        return A * (dA - np.sum(dA * A, axis=-1, keepdims=True))


# ------------------------------------------------------------- smooth units of the ReLU family
class ELU(_WithAlpha):
    """The exponential linear unit, smooth below zero down to −α; its derivative at 0 is α, as in PyTorch."""

    name = "elu"
    formula, derivative = "z where z > 0, else α·(eᶻ − 1)", "1 where z > 0, else α·eᶻ"
    symbol_latex, derivative_latex = r"\operatorname{ELU}", r"[z > 0] + \alpha e^{z} [z \le 0]"
    default_alpha = 1.0

    def __init__(self, alpha: float = default_alpha) -> None:
        super().__init__(alpha)

    def f(self, Z):
        below = np.expm1(np.minimum(Z, 0))  # expm1, not exp − 1: exact for z near 0; min(z, 0): no overflow
        below *= self.alpha
        return np.where(Z > 0, Z, below)

    def chain(self, dA, Z, A):
        dZ = np.exp(np.minimum(Z, 0))  # α·eᶻ, not A + α, which would cancel far below zero
        dZ *= self.alpha
        dZ = np.where(Z > 0, 1.0, dZ)
        dZ *= dA
        return dZ


class GELU(Activation):
    """The Gaussian error linear unit z·Φ(z), Φ the standard normal CDF: exact, as torch.nn.GELU().

    Φ is taken from erfc, so GELU keeps its relative accuracy far below zero, where
    (1 + erf(z/√2))/2 would round to 0 or to a few correct digits.
    """

    name = "gelu"
    formula = "z·Φ(z),  Φ(z) = (1 + erf(z/√2))/2"
    derivative = "Φ(z) + z·φ(z),  φ(z) = e^(−z²/2)/√(2π)"
    symbol_latex, derivative_latex = r"\operatorname{GELU}", r"\Phi(z) + \frac{z}{\sqrt{2\pi}}\, e^{-z^2/2}"
    init = "he_uniform"

    def f(self, Z):
        return Z * normal_cdf(Z)

    def chain(self, dA, Z, A):
        dZ = Z * normal_pdf(Z)
        dZ += normal_cdf(Z)
        dZ *= dA
        return dZ


_SQRT_2_OVER_PI = 0.7978845608028654


class GELUTanh(Activation):
    """GELU with Φ(z) approximated by (1 + tanh u)/2, as torch.nn.GELU(approximate="tanh").

    (1 + tanh u)/2 is σ(2u), taken as a sigmoid so that it does not cancel below zero; |z| is capped
    at 1000 inside u, where σ(2u) is already exactly 0 or 1, so z³ cannot overflow.
    """

    name = "gelu_tanh"
    formula = "z·(1 + tanh u)/2,  u = √(2/π)·(z + 0.044715·z³)"
    derivative = "(1 + tanh u)/2 + z·(1 − tanh² u)·u′/2,  u′ = √(2/π)·(1 + 0.134145·z²)"
    symbol_latex = r"\operatorname{GELU}_{\tanh}"
    derivative_latex = r"\tfrac{1}{2}(1 + \tanh u) + \tfrac{z}{2}(1 - \tanh^2 u)\, u'"
    init = "he_uniform"

    def f(self, Z):
        return Z * logistic(2 * self._u(Z))[0]

    def chain(self, dA, Z, A):
        s, ss = logistic(2 * self._u(Z))  # (1 + tanh u)/2 and (1 − tanh² u)/4
        z = np.clip(Z, -1000.0, 1000.0)
        dZ = z * z
        dZ *= 0.134145 * _SQRT_2_OVER_PI
        dZ += _SQRT_2_OVER_PI  # u′
        dZ *= ss
        dZ *= 2 * Z
        dZ += s
        dZ *= dA
        return dZ

    @staticmethod
    def _u(Z: np.ndarray) -> np.ndarray:
        z = np.clip(Z, -1000.0, 1000.0)
        u = z * z
        u *= 0.044715
        u += 1
        u *= z
        u *= _SQRT_2_OVER_PI
        return u


class SiLU(Activation):
    """The sigmoid linear unit z·σ(z) (also called swish), as torch.nn.SiLU()."""

    name, aliases = "silu", ("swish",)
    formula, derivative = "z·σ(z)", "σ(z)·(1 + z·(1 − σ(z)))"
    symbol_latex = r"\operatorname{SiLU}"
    derivative_latex = r"\sigma(z)\left(1 + z\left(1 - \sigma(z)\right)\right)"
    init = "he_uniform"

    def f(self, Z):
        return Z * logistic(Z)[0]

    def chain(self, dA, Z, A):
        s, ss = logistic(Z)
        dZ = Z * ss  # σ + z·σ(1 − σ)
        dZ += s
        dZ *= dA
        return dZ


class Softplus(Activation):
    """A smooth ReLU, log(1 + eᶻ), as torch.nn.Softplus(): z itself above 20, PyTorch's threshold,
    where the two differ by less than e⁻²⁰ ≈ 2e-9."""

    name = "softplus"
    formula, derivative = "log(1 + eᶻ), or z where z > 20", "σ(z) = 1 / (1 + e⁻ᶻ), or 1 where z > 20"
    symbol_latex, derivative_latex = r"\operatorname{softplus}", r"\sigma(z) = \frac{1}{1 + e^{-z}}"
    init = "he_uniform"

    def f(self, Z):
        return np.where(Z > 20, Z, np.log1p(np.exp(np.minimum(Z, 20))))

    def chain(self, dA, Z, A):
        return np.where(Z > 20, dA, dA * logistic(Z)[0])


def get_activation(name: str | Activation) -> Activation:
    """A new activation layer called ``name`` (an Activation instance passes through)."""
    if isinstance(name, Activation):
        return name
    return lookup("activation", name, Activation.registry)()
