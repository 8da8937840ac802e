"""``--force`` is atomic: a run is written beside the old folder and swapped in whole, so two runs forced into
one folder at the same time leave one run's files, never a mix (one run's renames slowed, as a busy disk
would), and a user's own files in the folder are kept."""

import json
import os
import subprocess
import sys
import zipfile

from chainrule.cli import main

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
GATED_RENAMES = """
import os, sys, time
OUT, done = os.environ["OUT"], []
def wait_for(path):
    for _ in range(1200):
        if os.path.exists(path):
            return
        time.sleep(0.05)
def gated(rename):
    def call(src, dst, *args, **kwargs):
        into = os.fspath(dst) == OUT or os.fspath(dst).startswith(OUT + os.sep)
        if into and os.environ.get("BEFORE_FIRST") and not done:
            wait_for(os.environ["BEFORE_FIRST"])
        if into and os.environ.get("AFTER_FIRST") and done:
            wait_for(os.environ["AFTER_FIRST"])
        result = rename(src, dst, *args, **kwargs)
        if into and not done:
            done.append(dst)
            if os.environ.get("SIGNAL"):
                open(os.environ["SIGNAL"], "w").close()
        return result
    return call
os.rename, os.replace = gated(os.rename), gated(os.replace)
from chainrule.cli import main
sys.exit(main(sys.argv[1:]))
"""


def seeds(folder):
    """The seed the model file was built with, and the one its sidecar records: one run's if they agree."""
    with zipfile.ZipFile(folder / "model.npz") as zf:
        model_seed = json.loads(zf.read("model.json"))["config"]["seed"]
    return model_seed, json.loads((folder / "model.preprocess.json").read_text())["source"]["seed"]


def test_two_forced_runs_at_once_leave_one_runs_files(tmp_path):
    """The first run moves one thing into the folder, then waits; the second does all it does; then the first
    goes on. Moving files in one by one would leave the second run's model beside the first run's sidecar."""
    out = tmp_path / "run"
    assert main(["train", "xor", "--out", str(out), "--quiet", "--no-plots", "--seed", "0"]) == 0
    (out / "notes.txt").write_text("mine")
    flags = tmp_path.parent / f"{tmp_path.name}_flags"
    flags.mkdir()
    env = {**os.environ, "PYTHONPATH": SRC, "OUT": str(out), "OPENBLAS_NUM_THREADS": "1"}
    first_env = {**env, "SIGNAL": str(flags / "first_moved"), "AFTER_FIRST": str(flags / "second_done")}
    second_env = {**env, "BEFORE_FIRST": str(flags / "first_moved")}
    command = [sys.executable, "-c", GATED_RENAMES, "train", "xor", "--out", str(out), "--force", "--quiet"]
    first = subprocess.Popen([*command, "--seed", "1", "--no-plots"], env=first_env, stderr=subprocess.PIPE)
    second = subprocess.Popen([*command, "--seed", "2"], env=second_env, stderr=subprocess.PIPE)
    _, second_err = second.communicate(timeout=300)
    (flags / "second_done").touch()
    _, first_err = first.communicate(timeout=300)
    assert (first.returncode, second.returncode) == (0, 0), (first_err, second_err)
    model_seed, recorded_seed = seeds(out)
    assert model_seed == recorded_seed in (1, 2)
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert bool(pngs) is (model_seed == 2)  # the plots belong to the run whose model is there
    assert (out / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # nothing staged or taken away is left


def test_force_refuses_to_replace_a_folder_holding_folders(tmp_path, capsys):
    (tmp_path / "data").mkdir()
    (tmp_path / "notes.txt").write_text("mine")
    assert main(["train", "xor", "--out", str(tmp_path), "--quiet", "--no-plots", "--force"]) == 2
    assert "holds folders (data)" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "notes.txt"]
