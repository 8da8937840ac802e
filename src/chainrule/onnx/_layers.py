"""The ONNX form of Dropout, BatchNorm, LayerNorm and Residual, written by ``export`` and read by ``load``.

The graph holds the inference-mode model:

* Dropout: nothing (inference is the identity). A Dropout node read from a file becomes Dropout(ratio).
* BatchNorm: BatchNormalization(x, γ, β, running_mean, running_var, epsilon): (x − mean)/√(var + ε)·γ + β.
* LayerNorm: LayerNormalization(x, γ, β, axis=−1, epsilon), from opset 17.
* Residual: its inner layers' nodes, then Add(x, f(x)).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..layers import BatchNorm, Dropout, Layer, LayerNorm, Residual

LAYERS = (BatchNorm, Dropout, LayerNorm, Residual)
OPS_READ = {"BatchNormalization", "LayerNormalization", "Dropout"}
LAYER_NORM_OPSET = 17
DESCRIBE = "BatchNormalization, LayerNormalization (opset 17 on), Dropout, and Add(x, f(x)) of a residual block"


# ---------------------------------------------------------------- export
def step(layer: Layer, i: int, opset: int, dtype: np.dtype, inner_step: Callable[..., tuple]) -> tuple:
    """("layer", kind, …) for ``export`` to write; ValueError naming layer ``i`` when it cannot be exported."""
    if isinstance(layer, Dropout):
        return ("layer", "dropout")
    if isinstance(layer, Residual):
        return ("layer", "residual", [inner_step(inner, i, opset, dtype) for inner in layer.layers])
    if isinstance(layer, LayerNorm) and opset < LAYER_NORM_OPSET:
        raise ValueError(f"layer {i}, {layer!r}: LayerNormalization needs opset {LAYER_NORM_OPSET} or newer.")
    arrays = {**layer.params, **layer.state}
    for name, value in arrays.items():
        if not np.isfinite(value).all():
            raise ValueError(f"layer {i}, {layer!r}, has NaN or infinite {name}; it cannot be exported.")
    kind = "batchnorm" if isinstance(layer, BatchNorm) else "layernorm"
    return ("layer", kind, {name: v.astype(dtype) for name, v in arrays.items()}, layer.eps)


def write(g: Any, step: tuple, x: str, name: str, write_step: Callable[[Any, tuple, str, str], str]) -> str:
    """Write ``step`` on input tensor ``x``; return its output tensor (``name``, or ``x`` for a Dropout)."""
    kind = step[1]
    if kind == "dropout":
        return x
    if kind == "residual":
        h = x
        for k, inner in enumerate(step[2]):
            h = write_step(g, inner, h, f"{name}.{k}")
        return g.node("Add", [x, h], name)
    a, eps = step[2], step[3]
    scale, shift = g.const(f"{name}.gamma", a["gamma"]), g.const(f"{name}.beta", a["beta"])
    if kind == "layernorm":
        stash = {} if g.dtype == np.float32 else {"stash_type": 11}  # statistics in float64, not float32
        return g.node("LayerNormalization", [x, scale, shift], name, axis=-1, epsilon=eps, **stash)
    mean, var = g.const(f"{name}.running_mean", a["running_mean"]), g.const(f"{name}.running_var", a["running_var"])
    return g.node("BatchNormalization", [x, scale, shift, mean, var], name, epsilon=eps)


# ---------------------------------------------------------------- import
def read(node: Any, constants: dict[str, np.ndarray], fail: Callable[[str], Exception]) -> tuple[tuple, str]:
    """The step a BatchNormalization, LayerNormalization or Dropout node makes, and its computed input."""
    x, *rest = node.inputs
    if x in constants:
        raise fail(f"{node.where} normalises a constant; its first input must be computed from X.")
    if node.op == "Dropout":
        return ("dropout", _dropout_ratio(node, rest, constants, fail)), x
    arrays = [constants.get(name) if name else None for name in rest]
    if any(a is None or a.ndim != 1 for a in arrays) or len({a.size for a in arrays}) != 1:
        raise fail(f"{node.where} needs its scale, bias (and statistics) as constant vectors of one length.")
    eps = node.attrs.get("epsilon", 1e-5)
    if not isinstance(eps, float) or not eps > 0:
        raise fail(f"{node.where} has epsilon {eps!r}; a positive number is needed.")
    eps = float(str(np.float32(eps)))  # attributes are float32: 1e-05, not 9.99999974738e-06
    if node.op == "LayerNormalization":
        if len(arrays) != 2 or node.attrs.get("axis", -1) not in (-1, 1):
            raise fail(f"{node.where} must normalise the last axis (axis −1) with a scale and a bias.")
        return ("layernorm", eps, dict(zip(("gamma", "beta"), arrays))), x
    if len(arrays) != 4 or node.attrs.get("training_mode", 0) != 0:
        raise fail(f"{node.where} must be in inference mode, with scale, bias, mean and variance.")
    if (arrays[3] < 0).any() or not all(np.isfinite(a).all() for a in arrays):
        raise fail(f"{node.where} has a negative or non-finite variance or statistic.")
    return ("batchnorm", eps, dict(zip(("gamma", "beta", "running_mean", "running_var"), arrays))), x


def _dropout_ratio(node: Any, rest: list[str], constants: dict[str, np.ndarray], fail: Callable) -> float:
    ratio = node.attrs.get("ratio", 0.5)
    if rest and rest[0]:
        c = constants.get(rest[0])
        if c is None or c.size != 1:
            raise fail(f"{node.where} needs its ratio as a constant scalar.")
        ratio = float(c.reshape(-1)[0])
    if len(rest) > 1 and rest[1] and not (rest[1] in constants and not constants[rest[1]].any()):
        raise fail(f"{node.where} is in training mode; chainrule reads inference graphs.")
    if not 0 <= ratio < 1:
        raise fail(f"{node.where} has ratio {ratio}; a Dropout rate is in [0, 1).")
    return float(str(np.float32(ratio)))


def constant_identities(graph: Any) -> None:
    """Make an Identity of a constant that constant (PyTorch writes them for parameters with equal values)."""
    found = True
    while found:
        found = False
        for t, node in list(graph.producer.items()):
            if node.op == "Identity" and len(node.inputs) == 1 and node.inputs[0] in graph.constants:
                graph.constants[t] = graph.constants[node.inputs[0]]
                del graph.producer[t]
                found = True


def residual(graph: Any, node: Any, fold: Callable[[list[tuple]], list[tuple]]) -> tuple[tuple, str, set[int]]:
    """Add(x, f(x)) as a residual step: the input from which a chain of layers leads to the other is the skip.

    Returns the step (its inner steps, input to output, ``fold``ed), the skip tensor and the nodes taken.
    """
    for skip, branch in (node.inputs, node.inputs[::-1]):
        try:
            inner, used = graph.chain(branch, skip, set())
        except LookupError:
            continue
        inner = fold(inner[::-1])
        if not inner or any(s[0] not in ("linear", "activation", *kinds()) for s in inner):
            break
        return ("residual", inner), skip, used | {node.index}
    raise graph.fail(f"{node.where} adds two computed tensors, but neither is the input of a chain of layers to the "
                     "other.")  # fmt: skip


def build(step: tuple, build_inner: Callable[[list[tuple]], list[Layer]]) -> tuple[Layer, dict[str, np.ndarray]]:
    """The layer a read step describes, with the state to write once a model holds it (bind resets state)."""
    kind = step[0]
    if kind == "dropout":
        return Dropout(step[1]), {}
    if kind == "residual":
        return Residual(*build_inner(step[1])), {}
    eps, arrays = step[1], step[2]
    layer = (BatchNorm if kind == "batchnorm" else LayerNorm)(arrays["gamma"].size, eps=eps)
    for name in ("gamma", "beta"):
        layer.params[name][...] = arrays[name]
    return layer, {k: v for k, v in arrays.items() if k.startswith("running")}


def kinds() -> set[str]:
    """The step kinds ``read`` and the residual reading make, which ``build`` turns into layers."""
    return {"dropout", "residual", "batchnorm", "layernorm"}
