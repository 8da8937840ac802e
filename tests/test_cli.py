"""The chainrule command line: each subcommand as a subprocess, the rest in-process through main()."""

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import chainrule as cr
from chainrule.cli import main

os.environ["MPLBACKEND"] = "Agg"
THREADS = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


@pytest.fixture(autouse=True)
def one_blas_thread():
    """Small matrices train fastest on one BLAS thread, and the suite runs two workers side by side."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(1):
        yield


def cli(*args, cwd=None):
    env = dict(os.environ, MPLBACKEND="Agg", **THREADS)
    return subprocess.run(
        [sys.executable, "-m", "chainrule", *map(str, args)], capture_output=True, text=True, cwd=cwd, env=env
    )


def accuracy(text: str) -> float:
    return float(re.search(r"^accuracy: ([0-9.]+)", text, re.M).group(1))


def train(capsys, *args):
    code = main(["train", *map(str, args), "--quiet", "--no-plots"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


# ------------------------------------------------------------------ train, as a subprocess
def test_train_writes_model_history_and_plots(tmp_path):
    out = tmp_path / "run"
    r = cli("train", "planar", "--epochs", "60", "--out", out)
    assert r.returncode == 0, r.stderr
    assert "test results (50 held-out samples)" in r.stdout and "training time:" in r.stdout
    assert "val_loss=" in r.stderr and "samples/s=" in r.stderr  # the progress bar
    model = cr.load(out / "model.npz")
    assert model.n_in == 2
    history = json.loads((out / "history.json").read_text())
    assert len(history["loss"]) == 60 and "val_loss" in history and "accuracy" in history
    assert (out / "history.csv").read_text().startswith("epoch,loss")
    import matplotlib.image as mpimg

    for png in ("curves.png", "decision_boundary.png", "confusion_matrix.png"):
        image = mpimg.imread(out / png)
        assert image.ndim == 3 and image.shape[0] > 100
    preprocess = json.loads((out / "model.preprocess.json").read_text())
    assert preprocess["format"] == "chainrule-preprocess" and len(preprocess["mean"]) == 2


def test_train_never_overwrites_without_force(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    assert main(["train", "xor", "--out", str(tmp_path), "--quiet", "--no-plots"]) == 2
    assert (tmp_path / "notes.txt").read_text() == "mine" and not (tmp_path / "model.npz").exists()
    assert main(["train", "xor", "--out", str(tmp_path), "--quiet", "--no-plots", "--force"]) == 0
    assert (tmp_path / "notes.txt").read_text() == "mine" and (tmp_path / "model.npz").exists()


def test_train_regression_reports_r2(tmp_path, capsys):
    out = train(capsys, "curve", "--epochs", "100", "--out", tmp_path / "c")
    assert float(re.search(r"R²\s+([-0-9.]+)", out).group(1)) > 0.9


def test_train_default_output_folder_is_runs_dataset(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    train(capsys, "and")
    assert (tmp_path / "runs" / "and" / "model.npz").is_file()


# --------------------------------------------------------- the defaults are good (fixed seeds)
def test_xor_is_solved(tmp_path, capsys):
    assert accuracy(train(capsys, "xor", "--out", tmp_path / "x")) == 1.0


def test_planar_default_reaches_90_percent(tmp_path, capsys):
    assert accuracy(train(capsys, "planar", "--out", tmp_path / "p")) >= 0.90


def test_iris_default_reaches_93_percent(tmp_path, capsys):
    # 30 test samples: one seed's split (seed 0) holds 3 hard versicolor/virginica cases and scores 90%.
    scores = [accuracy(train(capsys, "iris", "--seed", s, "--out", tmp_path / f"i{s}")) for s in range(5)]
    assert min(scores) >= 0.90 and np.mean(scores) >= 0.93, scores


def test_digits_default_reaches_96_percent(tmp_path, capsys):
    assert accuracy(train(capsys, "digits", "--out", tmp_path / "d")) >= 0.96


def test_mnist1d_default_mlp_reaches_60_percent(tmp_path, capsys):
    assert accuracy(train(capsys, "mnist1d", "--out", tmp_path / "m")) >= 0.60
