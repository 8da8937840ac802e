"""``mlp``: the one builder of the standard multi-layer perceptron (and ``clone``, a model's copy).

The command line, the scikit-learn estimators, explain's examples and the
tests all build their networks here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .activations import get_activation
from .layers import BatchNorm, Dense, Dropout, Layer, LayerNorm, Residual
from .model import Sequential


def mlp(
    sizes: Sequence[int],
    activation: str = "relu",
    output: str | None = None,
    *,
    init: Any = None,
    seed: int | None = None,
    dtype: Any = "float64",
    dropout: float = 0.0,
    norm: str | None = None,
    residual: bool = False,
) -> Sequential:
    """Dense layers of widths ``sizes`` = [n_in, hidden…, n_out], each hidden one followed by ``activation``.

    ``output`` names the activation after the last Dense layer (e.g.
    "sigmoid" for ``bce``, "softmax" for ``categorical_cross_entropy``), or
    None for raw outputs: logits for ``bce_logits`` and
    ``softmax_cross_entropy``, values for regression. ``init`` names every
    Dense layer's initialiser (None: the one its activation suits).

    ``mlp([2, 4, 1], "tanh", "sigmoid", seed=0)`` is
    ``Sequential(Dense(2, 4), Tanh(), Dense(4, 1), Sigmoid(), seed=0)``.

    Each hidden layer is a block Dense → activation → norm → Dropout, the last
    two when asked for: ``norm`` "batch" (BatchNorm) or "layer" (LayerNorm),
    ``dropout`` the rate of a Dropout after each block (0: none). With
    ``residual=True`` every block whose width does not change becomes a
    skip connection, Residual(block): ``mlp([40, 256, 256, 10],
    residual=True)`` is Dense(40, 256), ReLU(), Residual(Dense(256, 256),
    ReLU()), Dense(256, 10).
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
    if norm not in NORMS:
        raise ValueError(f"mlp norm must be one of {', '.join(map(repr, NORMS))}; received norm={norm!r}.")
    if not isinstance(residual, bool):
        raise ValueError(f"mlp residual must be True or False; received residual={residual!r}.")
    Dropout(dropout)  # a rate outside [0, 1) fails here
    layers: list[Layer] = []
    for n_in, n_out in zip(sizes[:-2], sizes[1:-1]):
        block = [Dense(n_in, n_out, init=init), get_activation(activation)]
        block += [NORMS[norm](n_out)] if norm is not None else []
        block += [Dropout(dropout)] if dropout > 0 else []
        layers += [Residual(*block)] if residual and n_in == n_out else block
    layers.append(Dense(sizes[-2], sizes[-1], init=init))
    if output is not None:
        layers.append(get_activation(output))
    return Sequential(*layers, seed=seed, dtype=dtype)


NORMS: dict[str | None, Any] = {None: None, "batch": BatchNorm, "layer": LayerNorm}


def clone(model: Sequential, dtype: Any = None) -> Sequential:
    """``model.copy(dtype)``: a new model with the same layers, weights and loss; nothing shared."""
    return model.copy(dtype)
