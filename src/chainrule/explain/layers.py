"""One training step layer by layer: each layer's own labelled numbers, forward and backward.

Any layer is explained through two methods, called after the step's forward and backward:

    forward_terms()         its last kept forward, labelled (BatchNorm: μ, σ², x̂, γ, β, y;
                            Dropout: the mask m that step drew and the scale 1/(1 − p); Residual: x, f(x), y)
    backward_terms(dOut)    its backward term by term, for the ∂L/∂output that step passed it

Dense layers and activations without those methods get the same labelled form here, from the
step's record (the Dense-network trace, ``trace.py``, also writes them out block by block):

    Dense:       z = x·W + b          ∂L/∂W = xᵀ·dz,  ∂L/∂b = Σₛ dz,  dx = dz·Wᵀ
    activation:  a = f(z)             ∂L/∂z = ∂L/∂a ∘ f'(z)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..layers import Conv1D, Dense, Layer
from ..layers.activations import Activation
from .conv import ConvSums, PoolWindows, conv_sums, pool_windows


@dataclass
class LayerStep:
    """Layer ``index`` (1-based) in one step: its labelled forward and backward numbers and its gradients.

    ``backward`` is None for an output activation fused with the loss (its step is the loss's);
    ``grads`` holds ∂L/∂θ for each of the layer's parameters, as backward stored them.
    """

    index: int
    name: str  # the layer's repr, "BatchNorm(3)"
    kind: str  # its class name, "BatchNorm"
    forward: dict[str, np.ndarray]
    backward: dict[str, np.ndarray] | None
    params: dict[str, np.ndarray] = field(default_factory=dict)
    grads: dict[str, np.ndarray] = field(default_factory=dict)
    activation: str | None = None  # the activation's name ("relu") when the layer is one
    input: np.ndarray | None = None  # what the layer received in the forward pass
    sums: ConvSums | None = None  # a small Conv1D's backward, sum by sum
    windows: PoolWindows | None = None  # a pooling's windows and, for a max-pool, their winners


RECORDED = (Dense,)
"""Layers without terms of their own that explain writes out from the step's record."""


def has_terms(layer: Layer) -> bool:
    return callable(getattr(layer, "forward_terms", None)) and callable(getattr(layer, "backward_terms", None))


def check_explainable(model) -> None:
    """TypeError naming the first layer explain cannot write out, before anything runs."""
    for i, layer in enumerate(model.layers):
        if not (type(layer) in RECORDED or isinstance(layer, Activation) or has_terms(layer)):
            raise TypeError(
                f"explain cannot write out layer {i}, {layer!r} ({type(layer).__name__}): it lacks forward_terms() "
                "and backward_terms(dOut), the methods through which explain shows a layer's numbers. Explainable "
                "layers: Dense, activations, and layers with both methods (Conv1D, MaxPool1D, AvgPool1D, "
                "GlobalAvgPool1D, Flatten, Dropout, BatchNorm, LayerNorm, Residual)."
            )


def is_dense_network(model) -> bool:
    """Dense layers, each followed by at most one activation: the network the weight-by-weight trace draws."""
    previous = None
    for layer in model.layers:
        if type(layer) is Dense:
            previous = layer
        elif isinstance(layer, Activation) and type(previous) is Dense:
            previous = layer
        else:
            return False
    return True


def layer_steps(model, record: list) -> list[LayerStep]:
    """Each layer's numbers from the step ``record`` holds (entries as ``model.gradient`` writes them)."""
    forward = {id(e[1]): e[2:] for e in record if e[0] == "forward"}
    backward = {id(e[1]): e[2:] for e in record if e[0] == "backward"}
    steps = []
    for i, layer in enumerate(model.layers, start=1):
        X, out = forward[id(layer)]
        params = {k: np.array(v, copy=True) for k, v in layer.params.items()}
        grads = {k: np.array(v, copy=True) for k, v in layer.grads.items()}  # before backward_terms runs again
        back = backward.get(id(layer))
        if has_terms(layer):
            fw = copied(layer.forward_terms())
            bw = None if back is None else copied(layer.backward_terms(back[0]))
        elif type(layer) is Dense:
            fw, bw = dense_terms(layer, X, out, back)
        else:  # an activation (check_explainable let nothing else through)
            fw, bw = activation_terms(layer, X, out, back)
        act = layer.name if isinstance(layer, Activation) else None
        step = LayerStep(i, repr(layer), type(layer).__name__, fw, bw, params, grads, act, X.copy())
        if type(layer) is Conv1D and back is not None:
            step.sums = conv_sums(layer, X, back[0], back[1])
            if step.sums is not None:  # written out in full from the sums, not as the layer's short labels
                step.backward = {k: v for k, v in bw.items() if not k.startswith("∂L/∂w[")}
        step.windows = pool_windows(layer, fw)
        steps.append(step)
    return steps


def copied(terms: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {label: np.array(a, copy=True) for label, a in terms.items()}


def dense_terms(layer: Dense, X: np.ndarray, Z: np.ndarray, back) -> tuple[dict, dict | None]:
    W, b = layer.params["W"], layer.params["b"]
    fw = {"x": X.copy(), "W": W.copy(), "b": b.copy(), "z = x·W + b": Z.copy()}
    if back is None:
        return fw, None
    dZ, dX = back
    bw = {"dz": dZ.copy(), "∂L/∂W = xᵀ·dz": layer.grads["W"].copy(), "∂L/∂b = Σₛ dz": layer.grads["b"].copy()}
    if dX is not None:
        bw["dx = dz·Wᵀ"] = dX.copy()
    return fw, bw


def activation_terms(act: Activation, Z: np.ndarray, A: np.ndarray, back) -> tuple[dict, dict | None]:
    fw = {"z": Z.copy(), f"a = {act.name}(z)": A.copy()}
    if back is None:
        return fw, None
    dA, dZ = back
    bw = {"∂L/∂a": dA.copy()}
    if act.elementwise:  # f'(z) from the activation's own chain-rule step applied to ones
        bw[f"f'(z) = {act.derivative}"] = act.chain(np.ones_like(Z), Z, A)
        bw["∂L/∂z = ∂L/∂a ∘ f'(z)"] = dZ.copy()
    else:
        bw["∂L/∂z = a ∘ (g − Σⱼ(g ∘ a)ⱼ), g = ∂L/∂a"] = dZ.copy()
    return fw, bw
