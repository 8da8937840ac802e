"""One training step layer by layer: each layer's own numbers, forward and backward, as records.

Every layer is explained through two methods, called after the step's forward and backward:

    forward_terms()         its last kept forward (Dense: x, W, b, z; BatchNorm: μ, σ², x̂, γ, β, y;
                            Dropout: the mask m that step drew and the scale 1/(1 − p); Residual: x, f(x), y)
    backward_terms(dOut)    its backward term by term, for the ∂L/∂output that step passed it

Each returns a list of ``Term`` records (``chainrule.layers.terms``): a symbol, a formula, the array and
a ``Role``. Explain decides by role (which term is a max-pool's winners, which weight gradients it writes
out itself) and prints labels only. A layer outside chainrule may still return a dict label -> array;
its terms then have the role ``OTHER``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from ..layers import Conv1D, Dense, Layer
from ..layers.activations import Activation
from ..layers.terms import Role, Term, as_terms
from .conv import ConvSums, PoolWindows, conv_sums, pool_windows


@dataclass
class LayerStep:
    """Layer ``index`` (1-based) in one step: its forward and backward terms and its gradients.

    ``backward_terms`` is None for an output activation fused with the loss (its step is the loss's);
    ``grads`` holds ∂L/∂θ for each of the layer's parameters, as backward stored them. ``forward`` and
    ``backward`` give the same terms as label -> array, for reading one by its printed name.
    """

    index: int
    name: str  # the layer's repr, "BatchNorm(3)"
    kind: str  # its class name, "BatchNorm"
    forward_terms: list[Term]
    backward_terms: list[Term] | None
    params: dict[str, np.ndarray] = field(default_factory=dict)
    grads: dict[str, np.ndarray] = field(default_factory=dict)
    activation: str | None = None  # the activation's name ("relu") when the layer is one
    input: np.ndarray | None = None  # what the layer received in the forward pass
    sums: ConvSums | None = None  # a small Conv1D's backward, sum by sum
    windows: PoolWindows | None = None  # a pooling's windows and, for a max-pool, their winners

    @property
    def forward(self) -> dict[str, np.ndarray]:
        return {t.label: t.array for t in self.forward_terms}

    @property
    def backward(self) -> dict[str, np.ndarray] | None:
        return None if self.backward_terms is None else {t.label: t.array for t in self.backward_terms}


def has_terms(layer: Layer) -> bool:
    return callable(getattr(layer, "forward_terms", None)) and callable(getattr(layer, "backward_terms", None))


def check_explainable(model) -> None:
    """TypeError naming the first layer explain cannot write out, before anything runs."""
    for i, layer in enumerate(model.layers):
        if not has_terms(layer):
            raise TypeError(
                f"explain cannot write out layer {i}, {layer!r} ({type(layer).__name__}): it lacks forward_terms() "
                "and backward_terms(dOut), the methods through which explain shows a layer's numbers (each returns a "
                "list of cr.explain.Term records: symbol, formula, array and role). Explainable "
                f"layers: {', '.join(explainable_kinds())}, the activations, and any layer with both methods."
            )


def explainable_kinds() -> list[str]:
    """The names of chainrule's own layer kinds (activations aside) that explain writes out."""
    return [
        name
        for name, cls in Layer.registry.items()
        if cls.__module__.startswith("chainrule.") and not issubclass(cls, Activation) and has_terms(cls)
    ]


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
    """Each layer's terms from the step ``record`` holds (entries as ``model.gradient`` writes them).

    Layers give their backward terms by running their backward again; the gradients the step stored
    are put back afterwards, so every reader after this sees the step's own.
    """
    forward = {id(e[1]): e[2:] for e in record if e[0] == "forward"}
    backward = {id(e[1]): e[2:] for e in record if e[0] == "backward"}
    steps = []
    for i, layer in enumerate(model.layers, start=1):
        X, _ = forward[id(layer)]
        params = {k: np.array(v, copy=True) for k, v in layer.params.items()}
        grads = {k: np.array(v, copy=True) for k, v in layer.grads.items()}  # before backward_terms runs again
        back = backward.get(id(layer))
        if back is None:  # a fused output layer ran without keeping (backward starts below it): keep it now
            layer.forward(X, training=True, keep=True)
        fw = read_terms(layer.forward_terms())
        bw = None if back is None else read_terms(layer.backward_terms(back[0]))
        for name, g in grads.items():
            layer.grads[name][...] = g
        act = layer.name if isinstance(layer, Activation) else None
        step = LayerStep(i, repr(layer), type(layer).__name__, fw, bw, params, grads, act, X.copy())
        if type(layer) is Conv1D and back is not None:
            step.sums = conv_sums(layer, X, back[0], back[1])
            if step.sums is not None:  # written out in full from the sums, not as the layer's short entries
                step.backward_terms = [t for t in bw if t.role != Role.WEIGHT_GRADIENT_ENTRY]
        step.windows = pool_windows(layer, fw)
        steps.append(step)
    return steps


def read_terms(terms) -> list[Term]:
    """A layer's terms (``as_terms``), their arrays copied: the step's numbers stay as they were."""
    return [dataclasses.replace(t, array=np.array(t.array, copy=True)) for t in as_terms(terms)]
