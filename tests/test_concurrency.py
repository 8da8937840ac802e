"""Inference is thread-safe: predict on one model from many threads at once equals serial predict."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

import chainrule as cr

THREADS = 8


def test_predict_from_threads_equals_serial():
    rng = np.random.default_rng(0)
    model = cr.Sequential(cr.Dense(6, 32), cr.Tanh(), cr.Dense(32, 16), cr.ReLU(), cr.Dense(16, 3), seed=0)
    model.fit(rng.normal(size=(60, 6)), rng.integers(0, 3, 60), loss="softmax_cross_entropy", epochs=3)
    # every thread gets inputs of a different size, so a shared cache would give wrong shapes or values
    inputs = [rng.normal(size=(5 + 7 * i, 6)) for i in range(THREADS * 4)]
    serial = [model.predict(X) for X in inputs]
    serial_proba = [model.predict_proba(X) for X in inputs]
    labels = [rng.integers(0, 3, len(X)) for X in inputs]
    serial_scores = [model.evaluate(X, t, metrics=["accuracy"]) for X, t in zip(inputs, labels)]
    weights = model.flat_params.copy()
    barrier = threading.Barrier(THREADS)

    def work(k: int):
        barrier.wait()
        out = []
        for _ in range(20):
            for i in range(k, len(inputs), THREADS):
                X = inputs[i]
                out.append(
                    (i, model.predict(X), model.predict_proba(X), model.evaluate(X, labels[i], metrics=["accuracy"]))
                )
        return out

    with ThreadPoolExecutor(THREADS) as pool:
        results = [r for chunk in pool.map(work, range(THREADS)) for r in chunk]
    assert len(results) == 20 * len(inputs)
    for i, out, proba, scores in results:
        assert np.array_equal(out, serial[i])
        assert np.array_equal(proba, serial_proba[i])
        assert scores == serial_scores[i]
    assert np.array_equal(model.flat_params, weights)


def test_inference_keeps_no_cache():
    model = cr.Sequential(cr.Dense(2, 4), cr.Sigmoid(), cr.Dense(4, 1), seed=0)
    model.predict(np.ones((3, 2)))
    model.evaluate(np.ones((3, 2)), np.ones(3), loss="mse")
    assert all(layer._cache is None for layer in model.layers)
