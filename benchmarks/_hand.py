"""The hand-written floor shared by the MLP workloads, as a NumPy user would write it: fresh arrays, no buffers."""

from __future__ import annotations

import numpy as np


def relu_mlp_logits(params: list[np.ndarray], X: np.ndarray) -> np.ndarray:
    """The outputs of a ReLU MLP whose ``params`` are [W1, b1, …, WL, bL] (no activation after the last)."""
    A = X
    for i in range(0, len(params), 2):
        Z = A @ params[i] + params[i + 1]
        A = np.maximum(Z, 0) if i + 2 < len(params) else Z
    return A


def relu_mlp_grads(params: list[np.ndarray], Xb: np.ndarray, yb: np.ndarray) -> list[np.ndarray]:
    """Gradients of the mean softmax cross-entropy of a ReLU MLP, in ``params`` order."""
    Ws, bs = params[0::2], params[1::2]
    inputs, pre = [Xb], []
    for i, (W, b) in enumerate(zip(Ws, bs)):
        Z = inputs[-1] @ W + b
        pre.append(Z)
        if i + 1 < len(Ws):
            inputs.append(np.maximum(Z, 0))
    P = np.exp(Z - Z.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    P[np.arange(len(Xb)), yb] -= 1
    dZ = P / len(Xb)
    grads: list[np.ndarray] = [np.empty(0)] * len(params)
    for i in range(len(Ws) - 1, -1, -1):
        grads[2 * i], grads[2 * i + 1] = inputs[i].T @ dZ, dZ.sum(0)
        if i:
            dZ = (dZ @ Ws[i].T) * (pre[i - 1] > 0)
    return grads


def adam_step(params, grads, m, v, t: int, lr: float, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8):
    """One Adam update in PyTorch's form, in place; ``t`` counts steps from 1."""
    for p, g, mi, vi in zip(params, grads, m, v):
        mi *= b1
        mi += (1 - b1) * g
        vi *= b2
        vi += (1 - b2) * g * g
        p -= (lr / (1 - b1**t)) * mi / (np.sqrt(vi) / np.sqrt(1 - b2**t) + eps)


def eight_products(Xb: np.ndarray, W: list, Z: list, dW: list, dX: list) -> None:
    """The eight matrix products of one batch of a three-layer MLP, into preallocated outputs: three forward
    (Z), three weight gradients (dW) and two input gradients (dX), with Z standing in for the activations and
    the deltas. ``W`` may carry a leading model axis (an ensemble's stacked weights) against a shared batch."""
    (W1, W2, W3), (z1, z2, z3), (dW1, dW2, dW3), (dx1, dx2) = W, Z, dW, dX
    np.matmul(Xb, W1, out=z1)
    np.matmul(z1, W2, out=z2)
    np.matmul(z2, W3, out=z3)
    np.matmul(z2.mT, z3, out=dW3)
    np.matmul(z3, W3.mT, out=dx2)
    np.matmul(z1.mT, dx2, out=dW2)
    np.matmul(dx2, W2.mT, out=dx1)
    np.matmul(Xb.T, dx1, out=dW1)
