"""Built-in examples: small networks with fixed weights, each a worked backprop exercise.

Each entry of ``EXAMPLES`` is a function returning ``(model, X, y, loss, lr)``.
Weights are written as in the library, W of shape (n_in, n_out): W[i, j] joins
input i to unit j.

* ``single-neuron``: one sigmoid neuron, w = 0.3, b = 0.1, x = 0.5, y = 1.5, α = 0.1, SSE.
* ``two-neurons``: that neuron followed by a second sigmoid neuron with w = 0.5, b = 0.4
  (same x, y, α, SSE).
* ``mlp-2-3-2``: 2-3-2 sigmoid network, SSE, α = 0.5, x = (1.0, 0.5), y = (1, 0),
  W1 = [[0.1, -0.2, 0.3], [0.4, 0.5, -0.6]], b1 = (0.1, 0.0, -0.1),
  W2 = [[0.2, -0.3], [0.4, 0.1], [-0.5, 0.6]], b2 = (0.05, -0.05).
* ``bce-neuron``: one sigmoid neuron with binary cross-entropy, w = (0.4, -0.2), b = 0.05,
  x = (0.7, -1.3), y = 1, α = 0.1.
* ``two-two-two``: the 2-2-2 sigmoid network with inputs 0.05/0.10, targets 0.01/0.99,
  W1 = [[0.15, 0.25], [0.20, 0.30]], b1 = (0.35, 0.35), W2 = [[0.40, 0.50], [0.45, 0.55]],
  b2 = (0.60, 0.60), η = 0.5, SSE.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..builders import mlp
from ..core.losses import get_loss
from ..core.model import Sequential

Example = tuple[Sequential, np.ndarray, np.ndarray, str, float]


def _sigmoid_net(sizes: list[int], weights: list[Any]) -> Sequential:
    model = mlp(sizes, "sigmoid", "sigmoid")
    model.set_weights(weights)
    return model


def single_neuron() -> Example:
    model = _sigmoid_net([1, 1], [[[0.3]], [0.1]])
    return model, np.array([[0.5]]), np.array([[1.5]]), "sse", 0.1


def two_neurons() -> Example:
    model = _sigmoid_net([1, 1, 1], [[[0.3]], [0.1], [[0.5]], [0.4]])
    return model, np.array([[0.5]]), np.array([[1.5]]), "sse", 0.1


def mlp_2_3_2() -> Example:
    weights = [
        [[0.1, -0.2, 0.3], [0.4, 0.5, -0.6]],
        [0.1, 0.0, -0.1],
        [[0.2, -0.3], [0.4, 0.1], [-0.5, 0.6]],
        [0.05, -0.05],
    ]
    model = _sigmoid_net([2, 3, 2], weights)
    return model, np.array([[1.0, 0.5]]), np.array([[1.0, 0.0]]), "sse", 0.5


def bce_neuron() -> Example:
    model = _sigmoid_net([2, 1], [[[0.4], [-0.2]], [0.05]])
    return model, np.array([[0.7, -1.3]]), np.array([[1.0]]), "bce", 0.1


def two_two_two() -> Example:
    weights = [[[0.15, 0.25], [0.20, 0.30]], [0.35, 0.35], [[0.40, 0.50], [0.45, 0.55]], [0.60, 0.60]]
    model = _sigmoid_net([2, 2, 2], weights)
    return model, np.array([[0.05, 0.10]]), np.array([[0.01, 0.99]]), "sse", 0.5


EXAMPLES: dict[str, Callable[[], Example]] = {
    "single-neuron": single_neuron,
    "two-neurons": two_neurons,
    "mlp-2-3-2": mlp_2_3_2,
    "bce-neuron": bce_neuron,
    "two-two-two": two_two_two,
}

def from_layers(sizes: list[int], activation: str, loss: str, seed: int) -> Sequential:
    """A fresh network with layer sizes ``sizes`` (e.g. [2, 3, 2]), weights drawn from ``seed``.

    Hidden layers use ``activation``. The output layer is the one the loss
    expects: the activation it fuses with (a sigmoid for ``"bce"``, a softmax
    for ``"categorical_cross_entropy"``), none for the losses on logits
    (``"bce_logits"``, ``"softmax_cross_entropy"``), and ``activation`` again
    for regression losses, as the worked examples do.
    """
    chosen = get_loss(loss)
    output = chosen.fuses or (None if chosen.output_activation else activation)
    return mlp(sizes, activation, output, seed=seed)
