"""The seed project's XOR network: 2-2-2-1 with tanh, trained by full-batch SGD (`chainrule train xor` trains
another: 2-8-2 with softmax, by Adam)."""

import numpy as np

import chainrule as cr

X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
y = np.array([0, 1, 1, 0])

model = cr.Sequential(cr.Dense(2, 2), cr.Tanh(), cr.Dense(2, 2), cr.Tanh(), cr.Dense(2, 1), cr.Sigmoid(), seed=0)
print(cr.gradcheck(model, X, y, "bce"))  # backprop against finite differences, before training
history = model.fit(X, y, loss="bce", optimizer=cr.SGD(lr=0.5), epochs=25_000)

print(model.summary())
print(f"loss {history['loss'][0]:.4f} -> {history['loss'][-1]:.6f}")
for (a, b), target, p in zip(X, y, model.predict(X).ravel()):
    print(f"{a:.0f} xor {b:.0f} = {target}   prediction {p:.5f}")
