"""``mlp``: the one builder of the standard multi-layer perceptron (and ``clone``, a model's copy).

The command line, the scikit-learn estimators, explain's examples and the
tests all build their networks here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .activations import get_activation
from .layers import Dense, Layer
from .model import Sequential


def mlp(
    sizes: Sequence[int],
    activation: str = "relu",
    output: str | None = None,
    *,
    init: Any = None,
    seed: int | None = None,
    dtype: Any = "float64",
) -> Sequential:
    """Dense layers of widths ``sizes`` = [n_in, hidden…, n_out], each hidden one followed by ``activation``.

    ``output`` names the activation after the last Dense layer (e.g.
    "sigmoid" for ``bce``, "softmax" for ``categorical_cross_entropy``), or
    None for raw outputs: logits for ``bce_logits`` and
    ``softmax_cross_entropy``, values for regression. ``init`` names every
    Dense layer's initialiser (None: the one its activation suits).

    ``mlp([2, 4, 1], "tanh", "sigmoid", seed=0)`` is
    ``Sequential(Dense(2, 4), Tanh(), Dense(4, 1), Sigmoid(), seed=0)``.
    """
    sizes = list(sizes) if not isinstance(sizes, (str, bytes)) else []
    if len(sizes) < 2 or any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in sizes):
        raise ValueError(
            f"mlp needs the layer widths [n_in, hidden…, n_out] as at least two positive integers, "
            f"e.g. [2, 4, 1]; received {sizes!r}."
        )
    get_activation(activation)  # a typo fails here, listing the valid names
    if output is not None:
        get_activation(output)
    layers: list[Layer] = []
    for k, (n_in, n_out) in enumerate(zip(sizes, sizes[1:])):
        layers.append(Dense(n_in, n_out, init=init))
        last = k == len(sizes) - 2
        if not last:
            layers.append(get_activation(activation))
        elif output is not None:
            layers.append(get_activation(output))
    return Sequential(*layers, seed=seed, dtype=dtype)


def clone(model: Sequential, dtype: Any = None) -> Sequential:
    """``model.copy(dtype)``: a new model with the same layers, weights and loss; nothing shared."""
    return model.copy(dtype)
