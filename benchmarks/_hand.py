"""The hand-written floor shared by the MLP workloads: one batch's gradients, as a NumPy user would write them."""

from __future__ import annotations

import numpy as np


def relu_mlp_grads(params: list[np.ndarray], Xb: np.ndarray, yb: np.ndarray) -> list[np.ndarray]:
    """Gradients of the mean softmax cross-entropy of a two-hidden-layer ReLU MLP, in ``params`` order.

    ``params`` is [W1, b1, W2, b2, W3, b3]; fresh arrays throughout, no buffers, no fused tricks.
    """
    W1, b1, W2, b2, W3, b3 = params
    m = len(Xb)
    Z1 = Xb @ W1 + b1
    A1 = np.maximum(Z1, 0)
    Z2 = A1 @ W2 + b2
    A2 = np.maximum(Z2, 0)
    Z3 = A2 @ W3 + b3
    P = np.exp(Z3 - Z3.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    P[np.arange(m), yb] -= 1
    dZ3 = P / m
    dZ2 = (dZ3 @ W3.T) * (Z2 > 0)
    dZ1 = (dZ2 @ W2.T) * (Z1 > 0)
    return [Xb.T @ dZ1, dZ1.sum(0), A1.T @ dZ2, dZ2.sum(0), A2.T @ dZ3, dZ3.sum(0)]
