"""The benchmark runner works end to end on tiny sizes. Timings are never asserted: they are machine noise."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def quick_run() -> str:
    res = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick"], cwd=ROOT, capture_output=True, text=True, timeout=300
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
