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


pytestmark = pytest.mark.usefixtures("one_blas_thread")


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


# ------------------------------------------------------------------ the other subcommands
@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A model trained on a CSV with a categorical target, plus files to feed it."""
    folder = tmp_path_factory.mktemp("csv")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 3))
    labels = np.where(X[:, 0] + X[:, 1] > 0, "yes", "no")
    rows = [",".join(f"{v:.4f}" for v in r) + f",{t}" for r, t in zip(X, labels)]
    (folder / "data.csv").write_text("a,b,label,c\n".replace("label,c", "c,label") + "\n".join(rows) + "\n")
    (folder / "features.csv").write_text("a,b,c\n" + "\n".join(r.rsplit(",", 1)[0] for r in rows[:5]) + "\n")
    np.save(folder / "features.npy", X[:5])
    with threadpool_one():
        assert (
            main(["train", str(folder / "data.csv"), "--target", "label", "--out", str(folder / "run"), "--quiet"]) == 0
        )
    return folder


def threadpool_one():
    try:
        from threadpoolctl import threadpool_limits

        return threadpool_limits(1)
    except ImportError:
        import contextlib

        return contextlib.nullcontext()


def test_predict_csv_to_stdout_with_label_names_and_probabilities(trained):
    r = cli("predict", trained / "run" / "model.npz", trained / "features.csv", "--proba")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "prediction,p_no,p_yes" and len(lines) == 6
    label, p_no, p_yes = lines[1].split(",")
    assert label in ("yes", "no") and abs(float(p_no) + float(p_yes) - 1) < 1e-5


def test_predict_npy_to_a_file_ignoring_a_training_target_column(trained, tmp_path):
    out = tmp_path / "pred.csv"
    assert (
        main(["predict", str(trained / "run" / "model.npz"), str(trained / "features.npy"), "--output", str(out)]) == 0
    )
    from_npy = out.read_text().splitlines()
    assert from_npy[0] == "prediction" and len(from_npy) == 6
    out2 = tmp_path / "pred2.csv"
    assert main(["predict", str(trained / "run" / "model.npz"), str(trained / "data.csv"), "--output", str(out2)]) == 0
    assert out2.read_text().splitlines()[1:6] == from_npy[1:]


def test_evaluate_subprocess_on_a_file_and_on_a_named_dataset(trained, tmp_path, capsys):
    r = cli("evaluate", trained / "run" / "model.npz", trained / "data.csv")
    assert r.returncode == 0, r.stderr
    assert "all 120 rows" in r.stdout and accuracy(r.stdout) > 0.9
    train(capsys, "iris", "--out", tmp_path / "iris")
    assert main(["evaluate", str(tmp_path / "iris" / "model.npz"), "iris"]) == 0
    out = capsys.readouterr().out
    assert "test split of iris (30 samples" in out and "versicolor" in out


def test_gradcheck_subprocess_on_layers_and_on_a_model(trained):
    r = cli("gradcheck", "--layers", "2,3,1")
    assert r.returncode == 0, r.stderr
    assert "layers[0].W" in r.stdout and "PASSED" in r.stdout
    assert main(["gradcheck", str(trained / "run" / "model.npz")]) == 0


def test_datasets_subprocess_lists_sizes():
    r = cli("datasets")
    assert r.returncode == 0, r.stderr
    assert re.search(r"^digits\s+scikit-learn\s+1438\s+359\s+64\s+10 classes", r.stdout, re.M)
    assert re.search(r"^mnist1d\s+mnist1d\s+4000\s+1000\s+40", r.stdout, re.M)


def test_help_on_every_subcommand(capsys):
    for command in ("train", "evaluate", "predict", "gradcheck", "explain", "datasets", "sweep", "export"):
        assert main([command, "--help"]) == 0
        out = capsys.readouterr().out
        assert "usage: chainrule " + command in out
        assert "%%" not in out  # argparse formats help strings with %, but not descriptions


def test_explain_subprocess(tmp_path):
    pytest.importorskip("chainrule.explain")
    r = cli("explain", "mlp-2-3-2")
    assert r.returncode == 0, r.stderr
    assert "FORWARD" in r.stdout
    r = cli("explain", "--layers", "2,3,2", "--x", "0.05,0.1", "--y", "0.01,0.99", "--markdown", "--diagrams", tmp_path)
    assert r.returncode == 0, r.stderr
    assert list(tmp_path.glob("*.png")) or list(tmp_path.glob("*.svg"))


def test_explain_a_trained_model_applies_its_standardisation_and_takes_a_label(trained, capsys):
    pytest.importorskip("chainrule.explain")
    sidecar = json.loads((trained / "run" / "model.preprocess.json").read_text())
    x = np.array([0.5, -1.0, 2.0])
    expected = (x - np.array(sidecar["mean"])) / np.array(sidecar["scale"])
    model = str(trained / "run" / "model.npz")
    assert main(["explain", "--model", model, "--x", "0.5,-1,2", "--y", "1", "--precision", "4"]) == 0
    out = capsys.readouterr().out
    shown = re.search(r"a\(0\) = \[([^\]]*)\]", out).group(1).split()
    np.testing.assert_allclose([float(v) for v in shown], expected, atol=1e-4)
    assert "softmax_cross_entropy" in out or "bce" in out


def test_explain_without_the_module_says_so(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "chainrule.explain", None)
    assert main(["explain"]) == 2
    assert "chainrule.explain is not available" in capsys.readouterr().err


def test_python_m_chainrule_without_arguments_prints_help():
    r = cli()
    assert r.returncode == 0 and "train" in r.stdout and "predict" in r.stdout


def shown_loss(out: str) -> float:
    return float(re.search(r"^\s*L = (\S+)$", out, re.M).group(1))


def test_explain_layers_reads_a_single_y_value_as_a_class_label(capsys):
    """--y 3 with softmax cross-entropy over 10 outputs is the label 3, as it is for a saved --model:
    L = logsumexp(z) − z₃ of the logits z, computed here from the network's own weights."""
    pytest.importorskip("chainrule.explain")
    from chainrule.explain import from_layers

    W1, b1, W2, b2 = from_layers([4, 8, 10], "sigmoid", "softmax_cross_entropy", seed=0).get_weights()

    def expected(x, label):
        z = (1 / (1 + np.exp(-(np.array(x) @ W1 + b1)))) @ W2 + b2
        return np.log(np.exp(z).sum()) - z[label]

    argv = ["explain", "--layers", "4,8,10", "--loss", "softmax_cross_entropy", "--precision", "10"]
    assert main([*argv, "--x", "1,2,3,4", "--y", "3"]) == 0
    assert shown_loss(capsys.readouterr().out) == pytest.approx(expected([1, 2, 3, 4], 3), rel=1e-9)
    assert main([*argv, "--x", "1,2,3,4;0,-1,0.5,2", "--y", "3;0"]) == 0  # one label per row, L the mean
    mean = (expected([1, 2, 3, 4], 3) + expected([0, -1, 0.5, 2], 0)) / 2
    assert shown_loss(capsys.readouterr().out) == pytest.approx(mean, rel=1e-9)
    assert main([*argv, "--x", "1,2,3,4", "--y", "0,0,0,1,0,0,0,0,0,0"]) == 0  # a one-hot row is kept as it is
    assert shown_loss(capsys.readouterr().out) == pytest.approx(expected([1, 2, 3, 4], 3), rel=1e-9)


def test_explain_layers_keeps_multi_output_regression_targets(capsys):
    """SSE on a 2-3-2 sigmoid network: L = ½·Σⱼ(ŷⱼ − yⱼ)², the two targets a row, not labels."""
    pytest.importorskip("chainrule.explain")
    from chainrule.explain import from_layers

    W1, b1, W2, b2 = from_layers([2, 3, 2], "sigmoid", "sse", seed=0).get_weights()
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    y_hat = sig(sig(np.array([0.05, 0.1]) @ W1 + b1) @ W2 + b2)
    argv = ["explain", "--layers", "2,3,2", "--x", "0.05,0.1", "--y", "0.01,0.99", "--precision", "10"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert shown_loss(out) == pytest.approx(0.5 * ((y_hat - [0.01, 0.99]) ** 2).sum(), rel=1e-9)
    assert main(["explain", "--layers", "2,3,2", "--x", "0.05,0.1", "--y", "1"]) == 2  # one value, two outputs
    assert "y has shape (1, 1)" in capsys.readouterr().err


def test_explain_precision_reaches_the_diagrams(tmp_path, monkeypatch, capsys):
    """The worked 2-2-2 example's ∂E/∂out_o1 = 0.74136507 is drawn with --precision significant digits (the
    text's default, 5, when not given), not always 3."""
    pytest.importorskip("chainrule.explain")
    pytest.importorskip("matplotlib")
    from chainrule.explain import diagram

    labels, original = [], diagram.draw

    def recording_draw(ex, backward, precision=3):
        fig = original(ex, backward, precision)
        if backward:
            labels.append({t.get_gid(): t.get_text() for t in fig.axes[0].texts}["dL_dyhat_1"])
        return fig

    monkeypatch.setattr(diagram, "draw", recording_draw)
    assert main(["explain", "two-two-two", "--precision", "7", "--diagrams", str(tmp_path / "a")]) == 0
    assert main(["explain", "two-two-two", "--diagrams", str(tmp_path / "b")]) == 0
    assert labels == ["∂L/∂ŷ₁ = 0.7413651", "∂L/∂ŷ₁ = 0.74137"]
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["backward.png", "forward.png"]
    assert "0.7413651" in capsys.readouterr().out
    assert main(["explain", "two-two-two", "--markdown", "--precision", "7"]) == 0  # and into the Markdown
    assert "0.7413651" in capsys.readouterr().out


@pytest.mark.parametrize("value", ["0", "-1", "18", "two", "2.5"])
def test_explain_precision_must_be_1_to_17_digits(value, capsys):
    assert main(["explain", "two-two-two", "--precision", value]) == 2
    err = capsys.readouterr().err
    assert f"--precision: takes a whole number of significant digits, 1 to 17; received '{value}'" in err


def test_target_for_an_npz_with_x_and_y_is_refused_and_a_training_target_is_not_imposed(trained, tmp_path, capsys):
    """The file's y is its target: --target 2 would have been ignored, so it is refused with exit 2. A model
    trained on a CSV with --target label evaluates such a file without being told that target again."""
    rows = [line.split(",") for line in (trained / "data.csv").read_text().splitlines()[1:]]
    X, labels = np.array([[float(v) for v in r[:3]] for r in rows]), np.array([r[3] for r in rows])
    np.savez(tmp_path / "xy.npz", X=X, y=labels)
    assert main(["train", str(tmp_path / "xy.npz"), "--target", "2", "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "run").exists()
    assert "target '2' cannot be used: this file holds arrays X and y, so y is the target" in err
    assert "Leave out the target (--target)" in err
    model = str(trained / "run" / "model.npz")
    assert main(["evaluate", model, str(tmp_path / "xy.npz")]) == 0
    assert "all 120 rows" in (out := capsys.readouterr().out) and accuracy(out) > 0.9
    assert main(["evaluate", model, str(tmp_path / "xy.npz"), "--target", "label"]) == 2
    assert "target 'label' cannot be used" in capsys.readouterr().err
    assert main(["evaluate", model, str(tmp_path / "xy.npz"), "--target", "y"]) == 0


# ----------------------------------------------------------------------------- bad input
BAD_CSV = {
    "ragged.csv": ("a,b,label\n1,2,x\n3,4\n", "row 3 has 2 fields but row 1 has 3"),
    "text.csv": ("a,b,label\n1,2,x\n3,four,y\n", "row 3, column 'b': 'four' is not a number"),
    "empty.csv": ("", "is empty"),
    "nan.csv": ("a,b,label\n1,2,x\n3,nan,y\n", "row 3, column 'b' is 'nan'"),
}


@pytest.mark.parametrize("name", sorted(BAD_CSV))
def test_bad_csv_gives_one_line_and_exit_2(tmp_path, name):
    text, message = BAD_CSV[name]
    (tmp_path / name).write_text(text)
    r = cli("train", tmp_path / name, "--out", tmp_path / "run")
    assert r.returncode == 2
    assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "digitz"], "unknown dataset 'digitz'"),
        (["train", "{tmp}/missing.csv"], "missing.csv: no such file"),
        (["train", "{tmp}/ok.csv", "--target", "label"], "no target column named 'label'; the columns are a, b, y"),
        (["train", "{tmp}/four.npy", "--target", "abc"], "four.npy: target 'abc' is not a column index"),
        (["train", "{tmp}/four.npy", "--target", "7"], "four.npy: target column index 7 is out of range for 4"),
        (["evaluate", "{tmp}/nomodel.npz", "iris"], "nomodel.npz: no such model file"),
        (["predict", "{tmp}/junk.npz", "{tmp}/ok.csv"], "is not a chainrule model file"),
        (["predict", "{model}", "{tmp}/two.npy"], "two.npy has 2 features but the model was trained on 3"),
        (["predict", "{model}", "{tmp}/nan.npy"], "row 2, column 1 is nan"),
        (["evaluate", "{model}", "iris"], "iris has 4 features but the model was trained on 3"),
        (["train", "iris", "--layers", "64,x"], "--layers takes comma-separated integers"),
        (["train", "iris", "--loss", "mse"], "--loss mse does not fit classification"),
        (["gradcheck"], "give a MODEL file or --layers"),
        (["explain", "nonsense"], "unknown example 'nonsense'"),
    ],
)
def test_user_mistakes_exit_2_with_one_line(trained, tmp_path, capsys, argv, message):
    if "nonsense" in argv:
        pytest.importorskip("chainrule.explain")
    (tmp_path / "ok.csv").write_text("a,b,y\n1,2,0\n3,4,1\n5,6,0\n7,8,1\n")
    (tmp_path / "junk.npz").write_bytes(b"not a model at all")
    np.save(tmp_path / "two.npy", np.ones((3, 2)))
    np.save(tmp_path / "four.npy", np.c_[np.arange(24.0).reshape(8, 3), np.arange(8) % 2])
    np.save(tmp_path / "nan.npy", np.array([[1.0, 2, 3], [np.nan, 1, 2]]))
    model = str(trained / "run" / "model.npz")
    argv = [a.format(tmp=tmp_path, model=model) for a in argv]
    assert main([*argv, "--out", str(tmp_path / "run")] if argv[0] == "train" else argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert "invalid literal" not in err and not (tmp_path / "run").exists()


def test_debug_shows_the_traceback(capsys):
    assert main(["--debug", "train", "digitz"]) == 2
    assert "Traceback" in capsys.readouterr().err


def test_missing_extra_names_the_pip_command(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "tqdm", None)
    assert main(["train", "xor", "--out", str(tmp_path / "x")]) == 2
    assert 'pip install "chainrule[cli]"' in capsys.readouterr().err


# ---------------------------------------------------------------------------- the README
def test_readme_first_command_trains_the_default_dataset(tmp_path):
    """Runs the `chainrule train` part of the README's first command exactly as written (CI has installed it)."""
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    first = readme.split("```bash\n", 1)[1].splitlines()[0]
    install, command = (part.strip() for part in first.split("&&"))
    assert install == 'pip install ".[cli,datasets]"' and command == "chainrule train"
    bindir = os.path.dirname(sys.executable)
    env = dict(os.environ, MPLBACKEND="Agg", PATH=bindir + os.pathsep + os.environ.get("PATH", ""), **THREADS)
    r = subprocess.run(command, shell=True, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert accuracy(r.stdout) >= 0.96
    run = tmp_path / "runs" / "digits"
    assert cr.load(run / "model.npz").n_in == 64
    for name in ("history.json", "history.csv", "curves.png", "confusion_matrix.png", "model.preprocess.json"):
        assert (run / name).stat().st_size > 0


def test_regression_model_predicts_in_original_units(tmp_path, capsys):
    train(capsys, "curve", "--out", tmp_path / "c")
    x = np.array([[-2.0], [0.0], [2.0]])
    np.save(tmp_path / "x.npy", x)
    assert main(["predict", str(tmp_path / "c" / "model.npz"), str(tmp_path / "x.npy")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "prediction"
    np.testing.assert_allclose([float(v) for v in lines[1:]], np.sin(2 * x[:, 0]) + x[:, 0] / 2, atol=0.25)


def test_the_command_line_and_datasets_import_with_numpy_alone():
    code = (
        "import sys, chainrule, chainrule.cli, chainrule.datasets;"
        "heavy = {'tqdm', 'matplotlib', 'sklearn', 'mnist1d', 'scipy'} & set(sys.modules);"
        "assert not heavy, heavy"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("name", ["xor.py", "planar.py", "iris.py", "digits.py", "token_bag.py"])
def test_examples_run(name):
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "examples" / name
    r = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, env=dict(os.environ, **THREADS))
    assert r.returncode == 0, r.stderr
    assert "accuracy" in r.stdout or "prediction" in r.stdout


def test_a_bad_setting_creates_no_output_folder(tmp_path, capsys):
    assert main(["train", "iris", "--optimizer", "nadam", "--out", str(tmp_path / "never"), "--quiet"]) == 2
    assert "Did you mean 'adam'" in capsys.readouterr().err and not (tmp_path / "never").exists()


@pytest.mark.parametrize("loss", ["bce", "bce_logits", "categorical_cross_entropy"])
def test_other_classification_losses_train_and_predict_probabilities(tmp_path, capsys, loss):
    out = train(capsys, "moons", "--loss", loss, "--epochs", "100", "--out", tmp_path / "m")
    assert accuracy(out) >= 0.9
    np.save(tmp_path / "x.npy", np.array([[0.0, 1.0], [1.0, -0.5]]))
    assert main(["predict", str(tmp_path / "m" / "model.npz"), str(tmp_path / "x.npy"), "--proba"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "prediction,p_0,p_1" and [line.split(",")[0] for line in lines[1:]] == ["0", "1"]


# ------------------------------------------------------- a failed run leaves no output folder behind
DIVERGES = ["train", "curve", "--optimizer", "sgd", "--lr", "10", "--epochs", "20", "--no-plots"]


def leftovers(folder):
    """Staging folders (hidden, ending .partial) left in ``folder``."""
    return [p.name for p in folder.iterdir() if p.name.endswith(".partial")]


def test_divergence_is_one_line_suggesting_a_lower_lr_and_leaves_no_folder(tmp_path):
    out = tmp_path / "new" / "deeper" / "run"  # none of these exist yet
    r = cli(*DIVERGES, "--out", out)  # with the progress bar: the error must still start its own line
    assert r.returncode == 2, r.stderr
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("chainrule train: error: training diverged: ") and "Traceback" not in r.stderr
    assert "beyond max_weight" in last and "nothing was saved" in last
    assert "--lr 1 (this run used --lr 10)" in last  # a tenth of the rate that diverged
    assert list(tmp_path.iterdir()) == [], "the parent folders made for --out are removed too"


def test_divergence_in_process_prints_exactly_one_line(tmp_path, capsys):
    assert main([*DIVERGES, "--quiet", "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("chainrule train: error: training diverged: "), err
    assert not (tmp_path / "run").exists() and leftovers(tmp_path) == []


def test_a_failed_run_with_force_keeps_the_existing_folder_untouched(tmp_path, capsys):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "notes.txt").write_text("mine")
    assert main([*DIVERGES, "--quiet", "--force", "--out", str(tmp_path / "run")]) == 2
    assert [p.name for p in (tmp_path / "run").iterdir()] == ["notes.txt"]
    assert (tmp_path / "run" / "notes.txt").read_text() == "mine" and leftovers(tmp_path) == []


def test_an_error_while_saving_leaves_nothing_behind(tmp_path, monkeypatch, capsys):
    from chainrule.cli import plots

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(plots, "curves", full_disk)  # the model and history are written by then
    assert main(["train", "xor", "--epochs", "5", "--quiet", "--out", str(tmp_path / "a" / "run")]) == 2
    err = capsys.readouterr().err
    assert "No space left on device" in err and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_a_successful_run_leaves_no_staging_folder(tmp_path, capsys):
    train(capsys, "xor", "--epochs", "5", "--out", tmp_path / "run")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    assert {"model.npz", "model.preprocess.json", "history.json", "history.csv"} == {
        p.name for p in (tmp_path / "run").iterdir()
    }


# ------------------------------------------------------------------- values near the float64 limit
def run_recording_warnings(argv):
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code = main(argv)
    return code, [f"{w.category.__name__}: {w.message}" for w in caught]


def regression_file(path, x_scale, y_scale):
    i = np.arange(60)
    x = np.linspace(-2, 2, 60)
    X = np.c_[x, (-1.0) ** i] * x_scale  # the second column alternates ±x_scale
    np.savez(path, X=X, y=(np.sin(2 * x) + x / 2) * y_scale)


def scores_of(text):
    return {k: float(v) for k, v in re.findall(r"^(R²|RMSE|MAE)\s+(\S+)", text, re.M)}


def test_features_and_targets_near_1e300_train_without_warnings_or_nan(tmp_path, capsys):
    # standardising makes the problem scale-free, so the 1e300 copy must score as the unit-sized one
    regression_file(tmp_path / "unit.npz", 1.0, 1.0)
    regression_file(tmp_path / "huge.npz", 1e300, 1e300)
    results = {}
    for name in ("unit", "huge"):
        argv = ["train", str(tmp_path / f"{name}.npz"), "--task", "regression", "--epochs", "30", "--seed", "1"]
        code, caught = run_recording_warnings([*argv, "--quiet", "--no-plots", "--out", str(tmp_path / name)])
        out, err = capsys.readouterr()
        assert code == 0 and err == "" and caught == [], (err, caught)
        assert "nan" not in out.lower() and "inf" not in out.lower(), out
        results[name] = scores_of(out)
    assert np.isfinite(results["huge"]["R²"])
    assert results["huge"]["R²"] == pytest.approx(results["unit"]["R²"], abs=2e-4)
    # printed with 4 significant digits
    assert results["huge"]["RMSE"] == pytest.approx(results["unit"]["RMSE"] * 1e300, rel=2e-3)
    sidecar = json.loads((tmp_path / "huge" / "model.preprocess.json").read_text())
    assert sidecar["scale"][1] == pytest.approx(1e300) and abs(sidecar["mean"][1]) < 1e-15 * 1e300
    np.save(tmp_path / "x.npy", np.array([[0.0, 1e300], [1.0, -1e300]]))
    code, caught = run_recording_warnings(["predict", str(tmp_path / "huge" / "model.npz"), str(tmp_path / "x.npy")])
    lines = capsys.readouterr().out.splitlines()
    assert code == 0 and caught == [] and all(np.isfinite(float(v)) for v in lines[1:]), lines


def test_values_too_close_to_the_float64_limit_are_refused_naming_the_column(tmp_path, capsys):
    i = np.arange(20)
    np.savez(tmp_path / "edge.npz", X=np.c_[i * 0.1, (-1.0) ** i * 1.5e308], y=i % 2)
    argv = ["train", str(tmp_path / "edge.npz"), "--quiet", "--out", str(tmp_path / "r")]
    code, caught = run_recording_warnings(argv)
    err = capsys.readouterr().err
    assert code == 2 and caught == [] and err.count("\n") == 1, err
    assert "edge: feature 'x2' holds values up to 1.5e+308" in err and "divide it by a power of ten" in err
    assert not (tmp_path / "r").exists()
    np.savez(tmp_path / "edge_y.npz", X=np.c_[i * 0.1], y=(-1.0) ** i * 1e308)
    argv = ["train", str(tmp_path / "edge_y.npz"), "--task", "regression", "--quiet", "--out", str(tmp_path / "r")]
    assert main(argv) == 2
    assert "edge_y: the target holds values up to 1e+308" in capsys.readouterr().err


def test_regression_scores_by_hand_and_near_1e300():
    from chainrule.cli.pipeline import scores

    # residuals (0, 0, -1): SS_res = 1, SS_tot = (1-2)² + 0 + (3-2)² = 2, so R² = 0.5; RMSE √(1/3); MAE 1/3
    expected = {"r2": 0.5, "rmse": np.sqrt(1 / 3), "mae": 1 / 3, "n": 3}
    assert scores("regression", np.array([1.0, 2, 3]), np.array([1.0, 2, 4]), []) == pytest.approx(expected)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        big = scores("regression", np.array([1.0, 2, 3]) * 1e300, np.array([1.0, 2, 4]) * 1e300, [])
    assert big == pytest.approx({"r2": 0.5, "rmse": np.sqrt(1 / 3) * 1e300, "mae": 1e300 / 3, "n": 3})


# ------------------------------------------------------------------ datasets listing, --threads
def listing(capsys) -> dict[str, list[str]]:
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    return {line.split()[0]: line.split()[1:] for line in out.splitlines()[1:] if line and " " in line.strip()}


def test_datasets_listing_gives_documented_sizes_without_loading_any_data(monkeypatch, capsys):
    """Sizes from the packages' documentation: scikit-learn's dataset pages (iris 150 × 4, 3 classes of 50;
    digits 1797 × 64, 10 classes; breast cancer 569 × 30, 2 classes; wine 178 × 13, 3 classes; diabetes
    442 × 10, regression) and the MNIST-1D paper (4,000 train / 1,000 test sequences of length 40, 10 classes).
    Every loader of a packaged set and the MNIST-1D generator raise here, so none may be called."""
    import importlib

    from chainrule import datasets

    def forbidden(*args, **kwargs):
        raise AssertionError("chainrule datasets loaded or generated data")

    for module, names in [
        ("mnist1d.data", ["make_dataset"]),
        ("sklearn.datasets", ["load_iris", "load_digits", "load_breast_cancer", "load_wine", "load_diabetes"]),
    ]:
        mod = importlib.import_module(module)
        for name in names:
            monkeypatch.setattr(mod, name, forbidden)
    for name in ("iris", "digits", "breast_cancer", "wine", "diabetes", "mnist1d"):
        monkeypatch.setitem(datasets.DATASETS, name, (forbidden, datasets.DATASETS[name][1]))
    rows = listing(capsys)
    documented = {
        "iris": (150, 4, "3 classes"),
        "digits": (1797, 64, "10 classes"),
        "breast_cancer": (569, 30, "2 classes"),
        "wine": (178, 13, "3 classes"),
        "diabetes": (442, 10, "regression"),
        "mnist1d": (5000, 40, "10 classes"),
    }
    for name, (n, features, task) in documented.items():
        _, train, test, feats, *kind = rows[name]
        assert (int(train) + int(test), int(feats), " ".join(kind)) == (n, features, task), name
    assert rows["iris"][1:3] == ["120", "30"]  # a fifth of each class of 50 held out: 3 × 10
    assert rows["mnist1d"][1:3] == ["4000", "1000"]
    assert rows["xor"] == ["generated", "4", "4", "2", "2", "classes"]  # the four corners, train = test


def test_datasets_listing_agrees_with_the_loaded_datasets(capsys):
    """The constants behind the listing against the data each loader really returns (MNIST-1D generated)."""
    from chainrule import datasets

    rows = listing(capsys)
    for name in datasets.DATASETS:
        d = datasets.load(name)
        task = f"{d.n_classes} classes" if d.task == "classification" else "regression"
        assert rows[name][1:] == [str(len(d.X_train)), str(len(d.X_test)), str(d.n_features), *task.split()], name


def test_datasets_listing_imports_neither_scikit_learn_nor_mnist1d():
    code = (
        "import sys; from chainrule.cli import main; assert main(['datasets']) == 0;"
        "heavy = {'sklearn', 'mnist1d', 'scipy', 'matplotlib'} & set(sys.modules); assert not heavy, heavy"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert re.search(r"^iris\s+scikit-learn\s+120\s+30\s+4\s+3 classes", r.stdout, re.M)


def blas_pools() -> set[int]:
    from threadpoolctl import threadpool_info

    return {pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"}


@pytest.mark.parametrize("outside, asked", [(1, 2), (2, 1)])
def test_threads_limits_the_blas_pool_while_train_evaluate_and_predict_run(
    outside, asked, trained, tmp_path, monkeypatch, capsys
):
    """Every forward pass (training batches, evaluation, prediction) sees the asked pool size; before and after
    the command the pool is as it was. The two cases rule out a pool that merely happened to have that size."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    if not blas_pools():
        pytest.skip("NumPy's BLAS has no thread pool that threadpoolctl can see")
    seen: set[int] = set()
    forward = cr.Sequential.forward

    def spy(self, *args, **kwargs):
        seen.update(blas_pools())
        return forward(self, *args, **kwargs)

    monkeypatch.setattr(cr.Sequential, "forward", spy)
    model = str(trained / "run" / "model.npz")
    commands = [
        ["train", "xor", "--epochs", "3", "--quiet", "--no-plots", "--out", str(tmp_path / "x")],
        ["evaluate", model, str(trained / "data.csv")],
        ["predict", model, str(trained / "features.csv")],
    ]
    with threadpoolctl.threadpool_limits(outside):
        for command in commands:
            seen.clear()
            assert main([*command, "--threads", str(asked)]) == 0, capsys.readouterr().err
            assert seen == {asked}, command[0]
            assert blas_pools() == {outside}
    capsys.readouterr()


@pytest.mark.parametrize("value", ["0", "-2", "two", "1.5", ""])
@pytest.mark.parametrize("command", ["train", "evaluate", "predict"])
def test_threads_must_be_a_positive_whole_number(command, value, trained, tmp_path, capsys):
    model = str(trained / "run" / "model.npz")
    args = {
        "train": ["train", "xor", "--out", str(tmp_path / "x")],
        "evaluate": ["evaluate", model, "xor"],
        "predict": ["predict", model, str(trained / "features.csv")],
    }[command]
    assert main([*args, f"--threads={value}"]) == 2
    err = capsys.readouterr().err
    assert f"chainrule {command}: error: argument --threads: takes a positive whole number of threads" in err
    assert f"received {value!r}" in err
    assert not (tmp_path / "x").exists()


def test_threads_without_threadpoolctl_says_what_to_install_or_set(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)  # import fails as if not installed
    assert main(["train", "xor", "--threads", "3", "--quiet", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("chainrule train: error: --threads needs threadpoolctl")
    assert "pip install threadpoolctl" in err and "OPENBLAS_NUM_THREADS=3" in err and "OMP_NUM_THREADS=3" in err
    assert not (tmp_path / "x").exists()  # nothing ran


def test_threads_is_in_the_help_of_the_commands_that_compute(capsys):
    for command in ("train", "evaluate", "predict", "gradcheck", "explain"):
        assert main([command, "--help"]) == 0
        assert re.search(r"--threads N\s+limit the BLAS thread pool", capsys.readouterr().out), command
    assert main(["--help"]) == 0
    assert "--threads N" in capsys.readouterr().out


# ------------------------------------------------------------------ the training target, recorded and reused
@pytest.fixture(scope="module")
def label_first(tmp_path_factory):
    """A model trained on a single .npy array whose column 0 is the label (--target 0): yes when x1 + x2 > 0."""
    folder = tmp_path_factory.mktemp("npy")
    X = np.random.default_rng(1).normal(size=(120, 3))
    y = (X[:, 0] + X[:, 1] > 0).astype(float)
    np.save(folder / "first.npy", np.c_[y, X])
    np.save(folder / "last.npy", np.c_[X, y])
    argv = ["train", str(folder / "first.npy"), "--target", "0", "--out", str(folder / "run"), "--quiet", "--no-plots"]
    with threadpool_one():
        assert main(argv) == 0
    return folder


def test_evaluate_uses_the_column_an_array_was_trained_with(label_first, capsys):
    """Column 0 was the target: it is recorded in the sidecar, and evaluate scores against it, not the last column
    (a feature, whose 120 distinct floats are no labels the model knows)."""
    capsys.readouterr()
    run = label_first / "run"
    assert json.loads((run / "model.preprocess.json").read_text())["source"]["target"] == 0
    for extra in ([], ["--target", "0"], ["--target", "-4"]):  # -4 of 4 columns is column 0 too
        assert main(["evaluate", str(run / "model.npz"), str(label_first / "first.npy"), *extra]) == 0, extra
        out = capsys.readouterr().out
        assert "all 120 rows" in out and accuracy(out) > 0.9


def test_evaluate_refuses_a_target_that_disagrees_with_the_recorded_one(label_first, trained, capsys):
    capsys.readouterr()
    model = str(label_first / "run" / "model.npz")
    assert main(["evaluate", model, str(label_first / "first.npy"), "--target", "3"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "--target 3 picks column 3 of" in err and "was trained with target column 0" in err
    assert "leave out --target to use column 0" in err
    csv_model = str(trained / "run" / "model.npz")  # trained with --target label, column 3 of a,b,c,label
    assert main(["evaluate", csv_model, str(trained / "data.csv"), "--target", "3"]) == 0
    capsys.readouterr()
    assert main(["evaluate", csv_model, str(trained / "data.csv"), "--target", "a"]) == 2
    err = capsys.readouterr().err
    assert "--target a picks column 'a' of" in err and "was trained with target column 'label'" in err
    assert main(["evaluate", csv_model, str(trained / "data.csv"), "--target", "1"]) == 2  # 'label' is column 3
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "is not a number" not in err, err
    assert "--target 1 picks column 'b' of" in err and "leave out --target to use column 'label'" in err


def test_a_sidecar_without_a_recorded_target_still_means_the_last_column(label_first, tmp_path, capsys):
    """Sidecars written before the target of an array was recorded: evaluate falls back to the last column."""
    import shutil

    shutil.copy(label_first / "run" / "model.npz", tmp_path / "model.npz")
    doc = json.loads((label_first / "run" / "model.preprocess.json").read_text())
    doc["source"].pop("target", None)  # absent from sidecars written before it was recorded
    (tmp_path / "model.preprocess.json").write_text(json.dumps(doc))
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "model.npz"), str(label_first / "last.npy")]) == 0
    out = capsys.readouterr().out
    assert "all 120 rows" in out and accuracy(out) > 0.9


def write_idx_pair(folder, n=40):
    """train-images-idx3 of n 1×2 images, labelled 1 where the first pixel is the brighter; and the same as CSV."""
    import struct

    images = np.random.default_rng(2).integers(0, 256, (n, 1, 2), dtype=np.uint8)
    labels = (images[:, 0, 0] > images[:, 0, 1]).astype(np.uint8)
    for name, a in (("train-images-idx3-ubyte", images), ("train-labels-idx1-ubyte", labels)):
        header = bytes([0, 0, 0x08, a.ndim]) + b"".join(struct.pack(">I", d) for d in a.shape)
        (folder / name).write_bytes(header + a.tobytes())
    rows = [f"{p[0] / 255:.6f},{p[1] / 255:.6f},{t}" for p, t in zip(images[:, 0], labels)]
    (folder / "pixels.csv").write_text("\n".join(rows) + "\n")
    return folder / "train-images-idx3-ubyte"


def test_named_datasets_and_idx_files_refuse_target_with_one_line(trained, tmp_path, capsys):
    idx = write_idx_pair(tmp_path)
    for argv, where in (
        (["train", "iris", "--target", "2"], "target '2' cannot be used with the dataset 'iris'"),
        (["train", str(idx), "--target", "0"], "train-images-idx3-ubyte: target '0' cannot be used"),
        (["evaluate", str(trained / "run" / "model.npz"), "iris", "--target", "2"], "with the dataset 'iris'"),
    ):
        assert main([*argv, "--out", str(tmp_path / "run")] if argv[0] == "train" else argv) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and where in err, err
        assert "comes with its own target" in err and "Leave out the target (--target)" in err
        assert not (tmp_path / "run").exists()


def test_a_recorded_csv_target_is_not_imposed_on_an_idx_file(tmp_path, capsys):
    """A model trained on a headerless CSV records target column 2; evaluating MNIST-style files, which have their
    own labels, must not hand that target to them (it would be refused)."""
    idx = write_idx_pair(tmp_path)
    train(capsys, tmp_path / "pixels.csv", "--out", tmp_path / "run", "--epochs", "5")
    assert json.loads((tmp_path / "run" / "model.preprocess.json").read_text())["source"]["target"] == 2
    assert main(["evaluate", str(tmp_path / "run" / "model.npz"), str(idx)]) == 0, capsys.readouterr().err
    assert "all 40 rows" in capsys.readouterr().out


# ------------------------------------------------------------------ --task, where the dataset fixes the task
def test_train_refuses_a_task_that_disagrees_with_a_named_dataset_or_idx_file(tmp_path, capsys):
    """iris is 3 classes and an IDX file holds class labels: --task regression was silently ignored (iris trained
    a classifier anyway); now it is one line, exit 2, naming the dataset's task and what to do, with no folder."""
    idx = write_idx_pair(tmp_path)
    for argv, where in (
        (["iris"], "task 'regression' cannot be used with the dataset 'iris': it is a classification dataset of 3 "),
        ([idx], "train-images-idx3-ubyte: task 'regression' cannot be used: an MNIST IDX file holds class labels"),
    ):
        assert main(["train", *map(str, argv), "--task", "regression", "--out", str(tmp_path / "run")]) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and where in err, err
        assert "Leave out the task (--task)" in err and not (tmp_path / "run").exists()
    for argv in (["xor", "--epochs", "5"], [idx, "--epochs", "2"]):  # a --task that agrees is accepted
        out = train(capsys, *argv, "--task", "classification", "--out", tmp_path / f"ok{len(str(argv[0]))}")
        assert "2 classes" in out and "accuracy:" in out
    assert "regression" in train(capsys, "curve", "--task", "regression", "--epochs", "2", "--out", tmp_path / "c")


def test_evaluate_a_regression_model_on_an_idx_file_names_both_tasks(tmp_path, capsys):
    """evaluate hands an IDX file no task (its task is fixed), so the mismatch is reported in evaluate's terms."""
    idx = write_idx_pair(tmp_path)
    train(capsys, tmp_path / "pixels.csv", "--task", "regression", "--out", tmp_path / "run", "--epochs", "2")
    assert main(["evaluate", str(tmp_path / "run" / "model.npz"), str(idx)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "--task" not in err, err
    assert "train-images-idx3-ubyte is a classification dataset but" in err and "trained for regression" in err


def test_evaluate_says_a_target_name_that_fits_no_column_came_from_the_sidecar(trained, tmp_path, capsys):
    """The model was trained with --target label on a CSV with columns a,b,c,label. On the same rows without a
    header, or under other names, evaluate's own choice of 'label' fits no column: the message says where the name
    came from and what to do: pass --target (the index, 0 to 3, or another name), which then scores all 120 rows."""
    lines = (trained / "data.csv").read_text().splitlines()
    (tmp_path / "bare.csv").write_text("\n".join(lines[1:]) + "\n")
    (tmp_path / "renamed.csv").write_text("\n".join(["a,b,c,y", *lines[1:]]) + "\n")
    model = str(trained / "run" / "model.npz")
    recorded = f"{model} was trained with target column 'label', recorded at training time in model.preprocess.json"
    capsys.readouterr()
    for name, what, how in (
        ("bare.csv", "bare.csv has no column names, but ",
         "pass --target with the target column's index, 0 to 3 (or -1 for the last), e.g. --target 3."),
        ("renamed.csv", "renamed.csv has no column 'label' (its columns are a, b, c, y), but ",
         "pass --target with the name or index of this file's target column, e.g. --target y."),
    ):  # fmt: skip
        assert main(["evaluate", model, str(tmp_path / name)]) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and f"{what}{recorded}; {how}" in err, err
    assert main(["evaluate", model, str(tmp_path / "bare.csv"), "--target", "3"]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "all 120 rows" in out and accuracy(out) > 0.9


def scored(text: str) -> tuple[int, int]:
    """(right, of) from evaluate's "accuracy: 0.9750 (117/120)" line."""
    right, of = re.search(r"^accuracy: [0-9.]+ \((\d+)/(\d+)\)", text, re.M).groups()
    return int(right), int(of)


def test_evaluate_uses_a_target_where_the_recorded_name_is_not_in_the_file(trained, tmp_path, capsys):
    """Trained with --target label; a file whose columns are a,b,c,y (or y,a,b,c) does not have 'label', so nothing
    says --target y picks another column than the trained one: it is used (it was refused, with advice to use
    'label', a column the file lacks). The count of right answers is checked against predict's labels for the same
    rows compared here with the file's own. Where 'label' is in the file, a --target picking another column is
    still refused, and one picking 'label' by index is accepted."""
    lines = (trained / "data.csv").read_text().splitlines()
    rows = [r.split(",") for r in lines[1:]]  # a,b,c,label
    (tmp_path / "renamed.csv").write_text("\n".join(["a,b,c,y", *lines[1:]]) + "\n")
    (tmp_path / "first.csv").write_text("\n".join(["y,a,b,c", *(",".join([r[3], *r[:3]]) for r in rows)]) + "\n")
    (tmp_path / "moved.csv").write_text("\n".join(["label,a,b,c", *(",".join([r[3], *r[:3]]) for r in rows)]) + "\n")
    model = str(trained / "run" / "model.npz")
    capsys.readouterr()
    assert main(["predict", model, str(trained / "data.csv")]) == 0  # the label column is dropped, by name
    predicted = capsys.readouterr().out.splitlines()[1:]
    right = sum(p == r[3] for p, r in zip(predicted, rows, strict=True))
    assert len(predicted) == 120 and 100 < right < 120  # a real score, neither all wrong nor trivially all right
    for name, target in (("renamed.csv", "y"), ("renamed.csv", "3"), ("first.csv", "y"), ("first.csv", "0"),
                         ("moved.csv", "0"), ("moved.csv", "label")):  # fmt: skip
        assert main(["evaluate", model, str(tmp_path / name), "--target", target]) == 0, capsys.readouterr().err
        out = capsys.readouterr().out
        assert "all 120 rows" in out and scored(out) == (right, 120), (name, target, out)
    assert main(["evaluate", model, str(tmp_path / "renamed.csv")]) == 2  # no 'label' here: say so, and what to pass
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert "renamed.csv has no column 'label' (its columns are a, b, c, y)" in err
    assert "was trained with target column 'label'" in err and "pass --target with the name or index" in err
    for target, picked in (("c", "'c'"), ("3", "'c'"), ("-1", "'c'"), ("a", "'a'")):  # 'label' is column 0 here
        assert main(["evaluate", model, str(tmp_path / "moved.csv"), "--target", target]) == 2, target
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and f"--target {target} picks column {picked} of" in err, err
        assert "was trained with target column 'label'" in err and "leave out --target to use column 'label'" in err


# ---------------------------------------------------------------------------- export (ONNX)
def test_export_writes_onnx_that_takes_raw_features_and_gives_the_class_probabilities(trained, tmp_path, capsys):
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    from chainrule.cli.pipeline import open_model

    model_path = str(trained / "run" / "model.npz")
    out = tmp_path / "model.onnx"
    assert main(["export", model_path, str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith(f"wrote {out}") and "classes no, yes" in printed and "model.preprocess.json" in printed
    X = np.loadtxt(trained / "features.csv", delimiter=",", skiprows=1)
    model, pre = open_model(model_path)
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    Y = session.run(None, {"X": X.astype(model.dtype)})[0]
    np.testing.assert_allclose(Y, model.predict_proba(pre.transform(X)), rtol=0, atol=1e-12)
    assert main(["predict", model_path, str(trained / "features.csv"), "--proba"]) == 0
    shown = [[float(v) for v in line.split(",")[1:]] for line in capsys.readouterr().out.splitlines()[1:]]
    np.testing.assert_allclose(Y, shown, atol=1e-6)  # p_no, p_yes as printed, to their 6 decimals
    import onnx

    meta = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    assert json.loads(meta["classes"]) == ["no", "yes"]
    r = cli("export", model_path, tmp_path / "again.onnx")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "again.onnx").read_bytes() == out.read_bytes()


def test_export_of_a_regression_gives_values_in_the_targets_units(tmp_path, capsys):
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    train(capsys, "curve", "--out", tmp_path / "c")
    assert main(["export", str(tmp_path / "c" / "model.npz"), str(tmp_path / "c.onnx")]) == 0
    x = np.array([[-2.0], [0.0], [2.0]])
    np.save(tmp_path / "x.npy", x)
    capsys.readouterr()
    assert main(["predict", str(tmp_path / "c" / "model.npz"), str(tmp_path / "x.npy")]) == 0
    shown = [float(v) for v in capsys.readouterr().out.splitlines()[1:]]
    session = ort.InferenceSession(str(tmp_path / "c.onnx"), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(session.run(None, {"X": x})[0].ravel(), shown, rtol=1e-5)  # predict prints 6 digits


@pytest.mark.parametrize(
    "argv, message",
    [
        (["export", "{tmp}/nomodel.npz", "{tmp}/m.onnx"], "nomodel.npz: no such model file"),
        (["export", "{model}", "{tmp}/missing/m.onnx"], "missing does not exist"),
        (["export", "{model}", "{tmp}"], "is a folder"),
        (["export", "{model}", "{tmp}/m.onnx", "--opset", "5"], "opset must be a whole number from 13"),
        (["export", "{tmp}/junk.npz", "{tmp}/m.onnx"], "is not a chainrule model file"),
    ],
)
def test_export_mistakes_exit_2_with_one_line(trained, tmp_path, capsys, argv, message):
    pytest.importorskip("onnx")
    (tmp_path / "junk.npz").write_bytes(b"not a model at all")
    argv = [a.format(tmp=tmp_path, model=trained / "run" / "model.npz") for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "m.onnx").exists()


def test_export_without_onnx_names_the_pip_command(trained, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "onnx", None)
    assert main(["export", str(trained / "run" / "model.npz"), str(tmp_path / "m.onnx")]) == 2
    err = capsys.readouterr().err
    assert 'pip install "chainrule[onnx]"' in err and len(err.strip().splitlines()) == 1
    assert main(["export", "--help"]) == 0
    assert "usage: chainrule export" in capsys.readouterr().out


def test_explain_diagrams_of_a_network_they_cannot_draw_fail_before_making_the_folder(tmp_path, capsys):
    model = cr.Sequential(cr.Dense(3, 4), cr.Tanh(), cr.LayerNorm(4), cr.Dense(4, 1), cr.Sigmoid(), seed=0)
    model.save(tmp_path / "m.npz")
    target = tmp_path / "diagrams"
    args = ["explain", "--model", str(tmp_path / "m.npz"), "--x", "0.5,-1,2", "--y", "1", "--diagrams", str(target)]
    code = main(args)
    assert code == 2 and "save_diagrams draws networks of Dense layers" in capsys.readouterr().err
    assert not target.exists()
