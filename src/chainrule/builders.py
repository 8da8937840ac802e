"""``mlp`` and ``cnn1d``: the builders of the standard networks (and ``clone``, a model's copy).

The command line, the scikit-learn estimators, explain's examples and the
tests all build their networks here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .core.model import Sequential
from .layers import BatchNorm, Conv1D, Dense, Dropout, Flatten, Layer, LayerNorm, Residual
from .layers.activations import get_activation


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

CNN1D_TRAINING = {"optimizer": "adam", "lr": 0.01, "batch_size": 100, "epochs": 100, "schedule": "cosine"}
"""How ``chainrule train --model cnn`` trains ``cnn1d``'s default network: the MNIST-1D paper's Adam 0.01 at batch
100, with the rate decayed to 0 along a cosine over 100 epochs (the paper keeps it constant for 150)."""


def cnn1d(
    length: int,
    n_out: int,
    channels: Sequence[int] = (25, 25, 25),
    kernel_sizes: Sequence[int] = (5, 3, 3),
    *,
    stride: int = 2,
    padding: int = 1,
    batchnorm: bool = True,
    activation: str = "relu",
    output: str | None = None,
    in_channels: int = 1,
    seed: int | None = None,
    dtype: Any = "float64",
) -> Sequential:
    """A one-dimensional CNN for signals (n, ``in_channels``, ``length``) and ``n_out`` outputs (logits).

    Each convolution is Conv1D(c_in, c, k, stride, padding), then BatchNorm(c) when ``batchnorm``, then
    ``activation``; Flatten and one Dense layer give the outputs. The default is the MNIST-1D paper's CNN
    (three convolutions of 25 channels, kernels 5, 3, 3, stride 2, padding 1: 5,210 parameters) with a
    BatchNorm after each convolution (5,360 parameters), for (n, 1, 40) signals and 10 classes::

        Conv1D(1, 25, 5, stride=2, padding=1), BatchNorm(25), ReLU(), … , Flatten(), Dense(125, 10)

    ``channels`` and ``kernel_sizes`` give one convolution each (a single kernel size serves every layer).
    ``output`` names an activation after the Dense layer, as in ``mlp``.
    """
    channels = list(channels) if not isinstance(channels, (str, bytes)) else []
    if not channels or any(isinstance(c, bool) or not isinstance(c, int) or c < 1 for c in channels):
        raise ValueError(f"cnn1d needs channels as positive integers, one per convolution; received {channels!r}.")
    kernels = [kernel_sizes] * len(channels) if isinstance(kernel_sizes, int) else list(kernel_sizes)
    if len(kernels) != len(channels):
        raise ValueError(
            f"cnn1d has {len(channels)} channel counts but {len(kernels)} kernel sizes; give one of each per "
            f"convolution, or one kernel size for all."
        )
    get_activation(activation)
    if output is not None:
        get_activation(output)
    layers: list[Layer] = []
    shape = (in_channels, length)
    for c, k in zip(channels, kernels):
        conv = Conv1D(shape[0], c, k, stride=stride, padding=padding)
        shape = conv.output_shape(shape)  # a signal too short for this layer fails here, naming its length
        layers += [conv, BatchNorm(c)] if batchnorm else [conv]
        layers.append(get_activation(activation))
    layers += [Flatten(), Dense(shape[0] * shape[1], n_out)]
    layers += [get_activation(output)] if output is not None else []
    return Sequential(*layers, input_shape=(in_channels, length), seed=seed, dtype=dtype)


def clone(model: Sequential, dtype: Any = None) -> Sequential:
    """``model.copy(dtype)``: a new model with the same layers, weights and loss; nothing shared."""
    return model.copy(dtype)
