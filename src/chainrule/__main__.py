"""``python -m chainrule``: the XOR demo of the seed project, trained and tabulated."""

from __future__ import annotations

import sys

import numpy as np

from . import SGD, Dense, Sequential, Sigmoid, Tanh


def xor_demo() -> int:
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    y = np.array([0, 1, 1, 0], dtype=float)
    model = Sequential(Dense(2, 2), Tanh(), Dense(2, 2), Tanh(), Dense(2, 1), Sigmoid(), seed=0)
    history = model.fit(X, y, loss="bce", optimizer=SGD(lr=0.5), epochs=25_000)
    print(model.summary())
    print(
        f"\nXOR, 25,000 epochs of full-batch SGD (lr 0.5): loss {history['loss'][0]:.4f} -> {history['loss'][-1]:.6f}\n"
    )
    print(" A  B | target | prediction")
    for (a, b), t, p in zip(X, y, model.predict(X).ravel()):
        print(f" {a:.0f}  {b:.0f} |   {t:.0f}    | {p:.5f}")
    return 0


if __name__ == "__main__":
    sys.exit(xor_demo())
