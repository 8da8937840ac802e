"""Embedding → a mean over tokens → Dense, on a generated sequence task, with a layer written here in a few lines.

Each sequence holds 12 tokens from a vocabulary of 20. Tokens 0–3 are "good", 4–7 "bad", the rest neutral;
a sequence's label is 1 when it holds more good tokens than bad ones. A bag of embeddings solves it: each token
gets a learned vector, their mean says how good the sequence is on balance.

``TokenMean`` shows what a new layer kind needs: its forward, its backward beside it, its terms for explain,
and an example of itself; its facts (no arguments, no parameters) are declared once, on the class.
"""

import numpy as np

import chainrule as cr
from chainrule.explain import Role, Term


class TokenMean(cr.Layer):
    """The mean of a sequence's vectors: (n, T, D) -> (n, D).

    Backward, given dZ = ∂L/∂Z (n, D):   dX[n, t] = dZ[n] / T   for every position t
    """

    def output_shape(self, in_shape):
        if len(in_shape) != 2:
            raise ValueError(f"{self!r} takes (tokens, dim) per sample; received {tuple(in_shape)}.")
        return in_shape[1:]

    def forward(self, X, training=True, keep=True):
        Z = X.mean(axis=-2)
        if keep:
            self._cache, self._out_shape = X, Z.shape
        return Z

    def backward(self, dZ, need_input_grad=True):
        X = self._cached(dZ)
        return np.broadcast_to(dZ[..., None, :] / X.shape[-2], X.shape).copy() if need_input_grad else None

    def forward_terms(self):
        X = self.kept()
        return [Term("x", "", X, Role.INPUT), Term("z", "(1/T)·Σₜ x[t]", X.mean(axis=-2), Role.OUTPUT)]

    def backward_terms(self, dZ):
        return [Term("∂L/∂z", "", dZ, Role.OUTPUT_GRADIENT), Term("∂L/∂x", "∂L/∂z / T", self.backward(dZ),
                                                                    Role.INPUT_GRADIENT)]

    @classmethod
    def example(cls):
        return cls(), (5, 3)


def sequences(n, rng, length=12, vocab=20):
    X = rng.integers(0, vocab, size=(n, length))
    good, bad = (X < 4).sum(axis=1), ((X >= 4) & (X < 8)).sum(axis=1)
    keep = good != bad  # ties have no answer
    return X[keep], (good > bad)[keep].astype(int)


rng = np.random.default_rng(0)
X_train, y_train = sequences(3000, rng)
X_test, y_test = sequences(1000, rng)

model = cr.Sequential(cr.Embedding(20, 8), TokenMean(), cr.Dense(8, 2), cr.Softmax(), seed=0)
print(cr.gradcheck(model, X_train[:16], y_train[:16], "categorical_cross_entropy"))
model.fit(X_train, y_train, loss="categorical_cross_entropy", optimizer=cr.Adam(lr=0.02), epochs=30, batch_size=64)
print(model.summary())
accuracy = (model.predict_classes(X_test) == y_test).mean()
print(f"test accuracy {accuracy:.3f} on {len(y_test)} sequences")
table = model.layers[0].params["W"]
score = table @ (model.layers[2].params["W"][:, 1] - model.layers[2].params["W"][:, 0])
print("how much each token pushes towards 'good':", np.round(score, 2))
assert accuracy > 0.9, accuracy
