"""The benchmark runner works end to end on tiny sizes. Timings are never asserted: they are machine noise."""

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def quick_run() -> str:
    res = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick"], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert res.returncode == 0, res.stderr[-3000:]
    return res.stdout


def test_quick_run_prints_header_with_machine_versions_and_threads(quick_run):
    assert "machine:" in quick_run
    assert "numpy" in quick_run and "chainrule" in quick_run
    assert "threads:" in quick_run


@pytest.mark.parametrize(
    "workload",
    [
        "1 XOR 2-2-2-1 float32",
        "2 MNIST-shaped float32",
        "4 XOR 2-64-64-1",
        "4 MLP 40-100-100-10",
        "5 memory",
        "6 XOR",
        "7 sklearn estimators, digits",
        "8 ensemble XOR 2-2-2-1",
        "8 ensemble XOR throughput",
        "8 ensemble MLP 40-100-100-10",
        "8 ensemble memory",
        "9 sklearn lbfgs, digits",
        "9 sklearn lbfgs, breast_cancer",
        "9 sklearn lbfgs, wine",
        "defaults xor",
        "defaults iris",
        "defaults wine",
        "mnist1d plain MLP",
        "11 MNIST-1D CNN float32",
        "mnist1d cnn, default",
    ],
)
def test_quick_run_covers_every_workload(quick_run, workload):
    assert workload in quick_run.split("all workloads:")[-1]


def test_quick_run_reports_contenders_and_ratios(quick_run):
    table = quick_run.split("all workloads:")[-1]
    assert "| numpy loop" in table and "| chainrule" in table
    assert "chainrule/this" in table


def test_mnist_row_splits_chainrule_batch_into_phases(quick_run):
    row = next(line for line in quick_run.split("all workloads:")[-1].splitlines() if "2 MNIST-shaped" in line)
    for phase in ("gather rows", "Dense forward", "activations", "loss", "Dense backward", "optimiser"):
        assert phase in row


def test_unknown_workload_is_refused():
    res = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--only", "nope"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert res.returncode == 2
    assert "unknown workload" in res.stderr


@pytest.fixture
def benchmarks(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))
    import benchmarks

    return benchmarks


@pytest.mark.parametrize(
    "workload, contender",
    [
        ("2 MNIST-shaped float32", "jax jit"),
        ("6 MNIST-shaped float64", "jax jit"),
        ("4 MLP 40-100-100-10", "jax jit"),
        ("8 ensemble XOR 2-2-2-1", "jax vmap scan"),
        ("8 ensemble XOR throughput", "jax vmap scan"),
    ],
)
def test_quick_run_times_jax_at_steady_state_and_compiling(quick_run, workload, contender):
    pytest.importorskip("jax")
    table = quick_run.split("all workloads:")[-1].splitlines()
    steady = next(line for line in table if workload in line and f"| {contender} " in line)
    compiling = next(line for line in table if workload in line and f"| {contender}, compiling " in line)
    assert "agree to" in steady or "losses within" in steady  # checked against chainrule before timing
    assert "compiled before timing" in steady and "thread" in steady
    assert "a new jit each run: compiling" in compiling


def test_jax_rows_are_skipped_with_a_note_when_jax_is_absent(benchmarks, monkeypatch):
    monkeypatch.setitem(sys.modules, "jax", None)  # import jax now raises ImportError
    from benchmarks import _jax, sweep

    rows = sweep.mlp_rows(quick=True, dtype="float32")
    jax_rows = [row for row in rows if "jax" in row.contender]
    assert [(row.contender, row.note) for row in jax_rows] == [("jax", _jax.SKIP_NOTE)]
    assert math.isnan(jax_rows[0].seconds) and jax_rows[0].ratio is None


def mlp_problem(sizes=(6, 5, 4, 3), n=300, seed=0):
    """Random float64 data and weights; n leaves a shorter last batch for both batch sizes used below."""
    rng = np.random.default_rng(seed)
    weights = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        weights += [rng.standard_normal((a, b)) / np.sqrt(a), rng.standard_normal(b) * 0.1]
    return rng.standard_normal((n, sizes[0])), rng.integers(0, sizes[-1], n), weights


def test_jax_batch_step_with_momentum_matches_the_hand_written_numpy_loop(benchmarks):
    pytest.importorskip("jax")
    from benchmarks import _jax, mnist

    X, y, weights = mlp_problem()
    ours = mnist.NumpyLoop(X, y, weights, "float64")  # hand-written backward pass and update
    ours.epoch(shuffle=False)
    trainer = _jax.MLPTrainer(X, y, weights, mnist.BATCH, _jax.sgd_momentum(mnist.LR, mnist.MOMENTUM))
    theirs = trainer.epoch(shuffle=False)
    assert len(trainer.steps) == 2  # the full batch and the shorter last one
    for a, b in zip(theirs, ours.weights()):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_jax_batch_step_with_adam_matches_the_hand_written_numpy_loop(benchmarks):
    pytest.importorskip("jax")
    from benchmarks import _jax, sweep

    X, y, weights = mlp_problem()
    ours = sweep.numpy_mlp(X, y, weights, "float64")(shuffle=False)
    trainer = _jax.MLPTrainer(X, y, weights, sweep.BATCH, _jax.adam(sweep.LR), compile_each_epoch=True)
    theirs = trainer.epoch(shuffle=False)
    for a, b in zip(theirs, ours):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    assert len(trainer.compile_s) == 1


def test_jax_xor_ensemble_matches_pytorchs_torch_func_ensemble(benchmarks):
    pytest.importorskip("jax")
    torch = pytest.importorskip("torch")
    import chainrule as cr
    from benchmarks import _jax, _xor_peers, xor

    members, epochs = 3, 20
    theirs = _xor_peers.torch_func_xor(torch, members, epochs, "float64")()  # (epochs, members)
    weights = [cr.Sequential(*_xor_peers.xor_layers(), seed=s, dtype="float64").get_weights() for s in range(3)]
    steady, compiling, compile_s = _jax.xor_ensemble(weights, xor.X_XOR, xor.Y_XOR, epochs, xor.LR)
    for run in (steady, compiling):
        np.testing.assert_allclose(run(), theirs, rtol=1e-12)
    assert len(compile_s) == 1
