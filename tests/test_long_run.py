"""Long runs keep memory flat: nothing accumulates per epoch or per batch beyond the History's numbers."""

from __future__ import annotations

import os
import tracemalloc

import numpy as np
import pytest

import chainrule as cr


def rss_bytes() -> int:
    with open("/proc/self/statm", encoding="ascii") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc to read the resident set size")
def test_a_thousand_epochs_keep_memory_flat(tmp_path):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(64, 8)), rng.integers(0, 3, size=64)
    model = cr.Sequential(cr.Dense(8, 32), cr.ReLU(), cr.Dense(32, 3), seed=0)
    fit = dict(loss="softmax_cross_entropy", optimizer=cr.Adam(lr=1e-3), batch_size=16, validation_split=0.25)
    model.fit(X, y, epochs=50, **fit)  # warm up: buffers, caches, optimiser state
    rss_before = rss_bytes()
    tracemalloc.start()
    try:
        history = model.fit(X, y, epochs=1000, metrics=["accuracy"], **fit)
        model.save(tmp_path / "m.npz")
        current, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(history) == 1000 and model.epochs_trained_ == 1050
    # what survives the run: the History (1,000 epochs x 4 numbers) and little else
    assert current < 512 << 10, f"{current:,} bytes still allocated after 1,000 epochs"
    assert rss_bytes() - rss_before < 64 << 20
