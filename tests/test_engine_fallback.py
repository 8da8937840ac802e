"""Without numba the engine is not there: "auto" runs NumPy with the same results and says why in one line."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import chainrule as cr

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
XOR_Y = np.array([0, 1, 1, 0])


def xor_ensemble():
    return cr.Ensemble(cr.Dense(2, 2), cr.Tanh(), cr.Dense(2, 1), cr.Sigmoid(), n_models=3, seed=0)


@pytest.fixture
def without_numba(monkeypatch):
    monkeypatch.setitem(sys.modules, "numba", None)  # import numba now raises ImportError


def test_auto_without_numba_runs_numpy_with_the_same_results(without_numba, capsys):
    mine, reference = xor_ensemble(), xor_ensemble()
    hist = mine.fit(XOR_X, XOR_Y, loss="bce", optimizer=cr.SGD(lr=0.5), epochs=30, verbose=100)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == 'engine: NumPy, because numba is not installed (pip install "chainrule[fast]").'
    assert sum("engine" in line for line in out) == 1
    ref = reference.fit(XOR_X, XOR_Y, loss="bce", optimizer=cr.SGD(lr=0.5), epochs=30, engine="numpy")
    np.testing.assert_array_equal(mine.flat_params, reference.flat_params)
    np.testing.assert_array_equal(hist["loss"], ref["loss"])


def test_compiled_without_numba_is_refused_naming_the_extra(without_numba):
    model = xor_ensemble()
    before = model.flat_params.copy()
    with pytest.raises(ImportError, match=r"chainrule\[fast\]"):
        model.fit(XOR_X, XOR_Y, loss="bce", optimizer=cr.SGD(lr=0.5), epochs=1, engine="compiled")
    np.testing.assert_array_equal(model.flat_params, before)


def test_the_library_imports_without_numba():
    code = "import sys; sys.modules['numba'] = None; import chainrule; assert 'numba' not in dir(chainrule)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
