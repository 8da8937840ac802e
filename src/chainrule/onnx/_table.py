"""The translation table: every chainrule activation ONNX can hold, by its ``name``, as recipes of ONNX ops.

A recipe is a small expression over the activation's input ``X``: an op, its inputs (``X``, a nested op, a
number written as a scalar constant of the model's dtype, or a ``Param`` constant) and its attributes (a
fixed ``Attr`` or a ``Param``). ``export`` writes the first recipe that the opset and the model's dtype
allow; ``load`` recognises every recipe, with the two operands of Add and Mul in either order. Both read
this table and nothing else, so an activation added here is exported and imported alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

X = "X"  # the activation's input in a recipe


@dataclass(frozen=True)
class Param:
    """An activation parameter (leaky_relu's alpha): a float attribute, or a scalar constant input.

    ``default`` is what ONNX reads when the attribute is absent (None: it must be present).
    """

    name: str
    default: float | None = None


@dataclass(frozen=True)
class Attr:
    """A fixed attribute: export writes ``value`` (None: nothing), load accepts ``accepted`` (absent: ``default``)."""

    value: Any
    accepted: tuple[Any, ...]
    default: Any = None


@dataclass(frozen=True)
class Op:
    """One ONNX node of a recipe."""

    op: str
    inputs: tuple[Any, ...]
    attrs: tuple[tuple[str, Any], ...] = ()


def op(name: str, *inputs: Any, **attrs: Any) -> Op:
    return Op(name, inputs, tuple(sorted(attrs.items())))


@dataclass(frozen=True)
class Recipe:
    """How one activation is written as ONNX ops, from opset ``min_opset`` on."""

    expr: Op
    min_opset: int = 1
    float64: bool = True  # False: the op's definition holds float32 constants, so a float64 model gets another recipe

    def ops(self) -> list[str]:
        """The op of every node, outermost first."""
        out, todo = [], [self.expr]
        while todo:
            e = todo.pop()
            out.append(e.op)
            todo.extend(i for i in e.inputs if isinstance(i, Op))
        return out

    def params(self) -> set[str]:
        """Every parameter the recipe holds, as an attribute or a constant input."""
        found, todo = set(), [self.expr]
        while todo:
            e = todo.pop()
            found |= {v.name for _, v in e.attrs if isinstance(v, Param)}
            found |= {i.name for i in e.inputs if isinstance(i, Param)}
            todo.extend(i for i in e.inputs if isinstance(i, Op))
        return found

    def attribute_params(self) -> set[str]:
        """The parameters this recipe stores as float attributes (ONNX attributes are 32-bit floats)."""
        found, todo = set(), [self.expr]
        while todo:
            e = todo.pop()
            found |= {v.name for _, v in e.attrs if isinstance(v, Param)}
            todo.extend(i for i in e.inputs if isinstance(i, Op))
        return found

    def exact(self, dtype: np.dtype, params: dict[str, float]) -> bool:
        """Whether the recipe computes in ``dtype`` with ``params`` as given (float attributes are float32)."""
        if dtype == np.float32:
            return True
        return self.float64 and all(float(np.float32(params[name])) == params[name] for name in self.attribute_params())


SQRT1_2 = math.sqrt(0.5)
SQRT_2_PI = math.sqrt(2 / math.pi)
TANH_CUBIC = 0.044715


def _cube() -> Op:
    return op("Mul", X, op("Mul", X, X))


def _negative_part() -> Op:
    return op("Neg", op("Relu", op("Neg", X)))


def _tanh_argument(cube: Op) -> Op:
    """√(2/π)·(x + 0.044715·x³)"""
    return op("Mul", op("Add", X, op("Mul", cube, TANH_CUBIC)), SQRT_2_PI)


def _gelu_tanh(cube: Op) -> Op:
    """0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))"""
    return op("Mul", op("Mul", X, 0.5), op("Add", op("Tanh", _tanh_argument(cube)), 1.0))


TABLE: dict[str, tuple[Recipe, ...]] = {
    "identity": (Recipe(op("Identity", X)),),
    "sigmoid": (Recipe(op("Sigmoid", X)),),
    "tanh": (Recipe(op("Tanh", X)),),
    "relu": (Recipe(op("Relu", X)),),
    "leaky_relu": (
        Recipe(op("LeakyRelu", X, alpha=Param("alpha", 0.01))),
        # relu(x) − α·relu(−x): α as a constant of the model's dtype, for a float64 α no float32 holds
        Recipe(op("Sub", op("Relu", X), op("Mul", op("Relu", op("Neg", X)), Param("alpha")))),
    ),
    "elu": (
        Recipe(op("Elu", X, alpha=Param("alpha", 1.0))),
        # relu(x) + α·(exp(min(x, 0)) − 1), min(x, 0) = −relu(−x): likewise for a float64 α
        Recipe(op("Add", op("Relu", X), op("Mul", op("Sub", op("Exp", _negative_part()), 1.0), Param("alpha")))),
    ),
    "softplus": (
        Recipe(op("Softplus", X)),
        # PyTorch's default exporter: z itself above 20, as torch.nn.Softplus() and chainrule compute it
        Recipe(op("Where", op("Greater", X, 20.0), X, op("Softplus", X))),
    ),
    "softmax": (Recipe(op("Softmax", X, axis=Attr(-1, (-1, 1), default=-1))),),
    "silu": (Recipe(op("Mul", X, op("Sigmoid", X))),),
    "gelu": (
        Recipe(op("Gelu", X, approximate=Attr(None, ("none",), default="none")), min_opset=20, float64=False),
        # 0.5·x·(1 + erf(x/√2))
        Recipe(op("Mul", op("Mul", X, 0.5), op("Add", op("Erf", op("Mul", X, SQRT1_2)), 1.0))),
        # the same, as PyTorch writes it: (x·(1 + erf(x / √2)))·0.5
        Recipe(op("Mul", op("Mul", X, op("Add", op("Erf", op("Div", X, math.sqrt(2))), 1.0)), 0.5)),
        # and as its default (dynamo) exporter writes it: x·(0.5·(1 + erf(x / √2)))
        Recipe(op("Mul", X, op("Mul", 0.5, op("Add", op("Erf", op("Div", X, math.sqrt(2))), 1.0)))),
    ),
    "gelu_tanh": (
        Recipe(op("Gelu", X, approximate=Attr("tanh", ("tanh",))), min_opset=20, float64=False),
        Recipe(_gelu_tanh(op("Pow", X, 3.0))),
        # as PyTorch writes it: x·(x·x) for the cube, the constants on the left
        Recipe(op("Mul", op("Mul", X, op("Add", op("Tanh", _tanh_argument(_cube())), 1.0)), 0.5)),
        # as its default (dynamo) exporter writes it: x·(0.5·(1 + tanh(√(2/π)·(x + 0.044715·x³)))), x³ by Pow
        Recipe(op("Mul", X, op("Mul", 0.5, op("Add", op("Tanh", _tanh_argument(op("Pow", X, 3.0))), 1.0)))),
    ),
}
"""Activation name → its recipes; ``export`` writes the first one the opset and dtype allow."""

SUPPORTED = tuple(TABLE)


def describe_recipes(name: str, recipes: tuple[Recipe, ...]) -> str:
    """One activation and, where it is written in several ops, those ops (for messages and the docs)."""
    if not recipes:
        return ""
    ways = dict.fromkeys(_way(r) for r in recipes)
    single = len(ways) == 1 and len(recipes[0].ops()) == 1
    return name if single else f"{name} ({' or '.join(ways)})"


def _way(recipe: Recipe) -> str:
    ops = "/".join(sorted(set(recipe.ops())))
    return ops + (f" from opset {recipe.min_opset}" if recipe.min_opset > 1 else "")
