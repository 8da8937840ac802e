"""core/inputs.py: prediction in bounded chunks of rows, equal to one pass to rounding."""

import numpy as np
import pytest

import chainrule as cr
from chainrule.core import inputs


@pytest.mark.parametrize("make", [
    lambda: cr.Sequential(cr.Dense(3, 4), cr.Tanh(), cr.Dense(4, 2), seed=0),
    lambda: cr.Ensemble(cr.Dense(3, 4), cr.Tanh(), cr.Dense(4, 2), n_models=3, seed=0),
    lambda: cr.Sequential(cr.Conv1D(3, 2, 3, padding=1), cr.BatchNorm(2), cr.ReLU(), cr.Flatten(), cr.Dense(2, 1),
                          input_shape=(3, 1), seed=0),
])  # fmt: skip
def test_chunked_prediction_equals_one_pass(make, monkeypatch):
    model = make()
    X = np.random.default_rng(0).normal(size=(257, *model.in_shape))
    whole = model.predict(X)
    monkeypatch.setattr(inputs, "CHUNK_VALUES", 64)  # a few rows a chunk
    calls = []
    forward = model.forward
    monkeypatch.setattr(model, "forward", lambda X, *a, **k: calls.append(len(X)) or forward(X, *a, **k))
    # equal to rounding: BLAS may take another kernel for another number of rows (one row is a matrix-vector product)
    np.testing.assert_allclose(model.predict(X), whole, rtol=1e-14, atol=1e-15)
    assert len(calls) > 10 and max(calls) < len(X)
