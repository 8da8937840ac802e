"""Residual: a skip connection around a chain of layers, y = x + f(x)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .activations import Tanh
from .base import Layer
from .checks import check_input
from .dense import Dense
from .terms import Role, Term


class Residual(Layer):
    """A block y = x + f(x), f the chain of ``layers`` (e.g. Dense(64, 64), ReLU()); f must keep x's shape.

    Shapes:  X (n, *shape) -> f(X) (n, *shape) -> Y = X + f(X) (n, *shape)

    Forward, two paths summed:    Y = X  +  f(X)
                                      skip   inner chain, layer after layer
    Backward, given dY = ∂L/∂Y, the two paths' gradients summed:

        dX = dY  +  (∂f/∂X)ᵀ·dY      skip path: dY unchanged; inner path: dY back through the chain

    The inner layers' parameters are this block's, under the names
    "<position>.<name>" ("0.W", "0.b", "2.gamma", ...), so a model binds,
    trains, saves and loads them like any other layer's.
    """

    def __init__(self, *layers: Layer) -> None:
        super().__init__()
        if not layers:
            raise ValueError("Residual needs at least one inner layer, e.g. Residual(Dense(64, 64), ReLU()).")
        for layer in layers:
            if not isinstance(layer, Layer):
                raise TypeError(f"Residual takes layers, e.g. Residual(Dense(64, 64), ReLU()); received {layer!r}.")
        if len({id(layer) for layer in layers}) != len(layers):
            raise ValueError("Residual got the same layer object twice; give each position its own layer.")
        self.layers = list(layers)
        self.params = self._prefixed(lambda layer: layer.params)
        self.grads = self._prefixed(lambda layer: layer.grads)
        self.state = self._prefixed(lambda layer: layer.state)

    @classmethod
    def example(cls) -> tuple[Layer, tuple[int, ...]]:
        return cls(Dense(4, 4), Tanh()), (4,)

    def _prefixed(self, part: Any) -> dict[str, Any]:
        return {f"{i}.{name}": value for i, layer in enumerate(self.layers) for name, value in part(layer).items()}

    def _inner(self, mapping: dict[str, Any], i: int) -> dict[str, Any]:
        prefix = f"{i}."
        return {name[len(prefix) :]: value for name, value in mapping.items() if name.startswith(prefix)}

    # ------------------------------------------------------------- shapes
    def output_shape(self, in_shape: tuple[int, ...]) -> tuple[int, ...]:
        shape = tuple(in_shape)
        for layer in self.layers:
            shape = tuple(layer.output_shape(shape))
        if shape != tuple(in_shape):
            raise ValueError(
                f"{self!r}: its inner layers turn per-sample shape {tuple(in_shape)} into {shape}; "
                f"y = x + f(x) needs f to give back shape {tuple(in_shape)}."
            )
        return shape

    @property
    def input_shape(self) -> tuple[int, ...] | None:
        return next((s for s in (layer.input_shape for layer in self.layers) if s is not None), None)

    def build(self, in_shape: tuple[int, ...], n_models: int | None) -> tuple[int, ...]:
        out = super().build(in_shape, n_models)  # checks the whole chain before any inner layer changes
        shape = tuple(in_shape)
        for layer in self.layers:
            shape = layer.build(shape, n_models)
        return out

    # ------------------------------------------------------------- maths
    def forward(self, X: np.ndarray, training: bool = True, keep: bool = True) -> np.ndarray:
        check_input(self, X)
        F = X
        for layer in self.layers:
            F = layer.forward(F, training, keep)
        Y = X + F
        if keep:
            self._cache, self._out_shape = (X, F), Y.shape
        return Y

    def backward(self, dY: np.ndarray, need_input_grad: bool = True) -> np.ndarray | None:
        self._cached(dY)
        dF = dY
        for i in range(len(self.layers) - 1, -1, -1):
            dF = self.layers[i].backward(dF, need_input_grad=need_input_grad or i > 0)
        return dY + dF if need_input_grad else None

    def forget(self) -> None:
        super().forget()
        for layer in self.layers:
            layer.forget()

    def forward_terms(self) -> list[Term]:
        """The last kept forward's two paths: x (skip, the input), f(x) (inner chain) and their sum."""
        X, F = self.kept()
        return [
            Term("x", "", X, Role.INPUT, "skip path"),
            Term("f(x)", "", F, Role.PATH, "inner path"),
            Term("y", "x + f(x)", X + F, Role.OUTPUT),
        ]

    def backward_terms(self, dY: np.ndarray) -> list[Term]:
        """dY through each path and their sum; runs the inner backward (filling the inner gradients)."""
        self._cached(dY)
        dF = dY
        for layer in reversed(self.layers):
            dF = layer.backward(dF)
        return [
            Term("dy", "", dY, Role.OUTPUT_GRADIENT),
            Term("dy", "", dY, Role.PATH, "skip path"),
            Term("(∂f/∂x)ᵀ·dy", "", dF, Role.PATH, "inner path"),
            Term("dx", "dy + (∂f/∂x)ᵀ·dy", dY + dF, Role.INPUT_GRADIENT),
        ]

    # ------------------------------------------------------ parameters, state
    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        return self._prefixed(lambda layer: layer.param_shapes())

    def state_shapes(self) -> dict[str, tuple[int, ...]]:
        return self._prefixed(lambda layer: layer.state_shapes())

    def penalized(self) -> list[str]:
        return list(self._prefixed(lambda layer: dict.fromkeys(layer.penalized())))

    def reset_state(self) -> None:
        for i, layer in enumerate(self.layers):
            layer.state = self._inner(self.state, i)  # the model may have bound new views since
            layer.reset_state()

    def check_state(self) -> None:
        for layer in self.layers:
            layer.check_state()

    def user_set(self) -> set[str]:
        return set(self._prefixed(lambda layer: dict.fromkeys(layer.user_set())))

    def check_adoptable(self, owner: Any) -> Any:
        for layer in self.layers:
            layer.check_adoptable(owner)
        return super().check_adoptable(owner)

    def adopt(self, owner: Any, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """As any layer; the inner layers join ``owner`` too, computing with its views (and drawing from it)."""
        kept = super().adopt(owner, params, grads)
        for i, layer in enumerate(self.layers):
            layer.adopt(owner, self._inner(params, i), self._inner(grads, i))
        return kept

    def initialize(self, rng: np.random.Generator, default_init: str | None = None, names: Any = None) -> None:
        for i, layer in enumerate(self.layers):
            inner_names = None if names is None else set(self._inner(dict.fromkeys(names), i))
            nxt = self.layers[i + 1] if i + 1 < len(self.layers) else None
            suits = getattr(type(nxt), "init", None)  # an activation names the initialiser that suits it
            layer.initialize(rng, suits if isinstance(suits, str) else default_init, inner_names)

    # ---------------------------------------------------------------- config
    def get_config(self) -> dict[str, Any]:
        return {"type": "Residual", "layers": [layer.get_config() for layer in self.layers]}

    @classmethod
    def _config_args(cls, config: dict[str, Any]) -> dict[str, Any]:
        inner = config.get("layers")
        if not isinstance(inner, list) or not inner:
            raise ValueError(f"a Residual layer has inner layers {inner!r}; it needs a non-empty list of layers.")
        for item in inner:
            if not isinstance(item, dict) or item.get("type") not in Layer.registry:
                raise ValueError(f"a Residual layer holds an unknown inner layer {item!r}.")
        if _nesting(config) > MAX_NESTING:
            raise ValueError(f"a Residual layer nests more than {MAX_NESTING} Residual layers inside each other.")
        return {"layers": inner}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Layer:
        inner = cls._config_args(config)["layers"]
        return cls(*(Layer.registry[item["type"]].from_config(item) for item in inner))

    @classmethod
    def config_shapes(cls, config: dict[str, Any]) -> dict[str, tuple[int, ...]]:
        inner = cls._config_args(config)["layers"]
        shapes = (Layer.registry[item["type"]].config_shapes(item) for item in inner)
        return {f"{i}.{name}": shape for i, s in enumerate(shapes) for name, shape in s.items()}

    def __repr__(self) -> str:
        return f"Residual({', '.join(repr(layer) for layer in self.layers)})"

    # ---------------------------------------------------------------- ONNX (see Layer.to_onnx, Layer.from_onnx)
    def to_onnx(self, g: Any, x: str, name: str) -> str:
        """The inner layers' nodes on x (named ``<name>.<k>``), then Add(x, f(x))."""
        h = x
        for k, layer in enumerate(self.layers):
            h = g.layer(layer, h, f"{name}.{k}")
        return g.node("Add", [x, h], name)

    @classmethod
    def onnx_ops(cls) -> frozenset[str]:
        return frozenset({"Add"})

    @classmethod
    def from_onnx(cls, node: Any, graph: Any) -> Any:
        """Add(x, f(x)) of two computed tensors: the one from which a chain of layers leads to the other is x."""
        if len(node.inputs) != 2 or len(set(node.inputs)) != 2 or set(node.inputs) & set(graph.constants):
            return None
        for skip, branch in (node.inputs, node.inputs[::-1]):
            found = graph.layers_between(branch, skip)
            if found:
                layers, used = found
                return node.read(cls(*layers), skip, used)
        raise node.refuse("adds two computed tensors, but neither is the input of a chain of layers to the other.")


MAX_NESTING = 16  # Residual blocks inside each other that a config may hold (a file cannot make us recurse deeply)


def _nesting(config: dict[str, Any]) -> int:
    """How many Residual configs lie inside each other in ``config``, counted without recursion."""
    deepest, todo = 0, [(config, 1)]
    while todo:
        item, depth = todo.pop()
        deepest = max(deepest, depth)
        if depth > MAX_NESTING:
            break
        for inner in item.get("layers", ()) if isinstance(item.get("layers"), list) else ():
            if isinstance(inner, dict) and inner.get("type") == "Residual":
                todo.append((inner, depth + 1))
    return deepest
