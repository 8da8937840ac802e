"""Workload: every named dataset's defaults against a published or peer reference, 5 seeds.

For each dataset of ``chainrule datasets``, ``chainrule train NAME --seed S`` runs with the dataset's defaults for
seeds 0-4 (the seed picks the split of the scikit-learn and generated sets, and the weights and batches) and its
test score is read from what it prints: accuracy, or R² for regression. The reference:

- mnist1d: the published MLP test accuracy, 68 % (Greydanus & Kobak, "Scaling down deep learning with MNIST-1D",
  ICML 2024), on the package's fixed split, which chainrule keeps; the paper trains on all 4,000 training signals,
  the command line on 3,600 of them.
- iris, digits, breast_cancer, wine: scikit-learn's ``MLPClassifier()``; diabetes: ``MLPRegressor()`` with the
  target standardised as chainrule does. Defaults otherwise (one layer of 100 ReLU units, Adam lr 1e-3, batch
  200, up to 200 epochs), ``random_state`` = the seed.
- planar, moons, circles, spirals: scikit-learn's ``SVC()`` (RBF kernel, defaults); curve: ``SVR()``. A kernel
  machine is the usual strong baseline for such low-dimensional sets, where ``MLPClassifier()`` stops early (its
  200 epochs are a few hundred steps on these small sets).
- xor, and, or: stated, 100 %: the four corners are both the training and the test set.

Peers see the same split and the same standardisation as the command line (the training split's mean and
population standard deviation), and fit the whole training split, where the command line holds out a tenth of
it for its validation curve. Scores are mean ± sd over the seeds. The time is the wall time of one
``chainrule train NAME --quiet`` run as a subprocess (seed 0, plots included), as a user runs it, and again
with ``--threads 1``; the 5-seed scores are computed in-process with ``--threads 1 --no-plots``, which gives
the same numbers faster.

``--quick``: seed 0 only, on xor, iris and wine, one timed run each. ``dtype`` is not used: each dataset's
defaults name their own.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import warnings

from ._harness import Row, optional

SEEDS = (0, 1, 2, 3, 4)
QUICK = ("xor", "iris", "wine")
PUBLISHED = {
    "mnist1d": (
        0.68,
        'published: Greydanus & Kobak, "Scaling down deep learning with MNIST-1D" (ICML 2024), MLP test accuracy',
    )
}
STATED = {name: (1.0, "stated: every one of the four points") for name in ("xor", "and", "or")}
ACCURACY = re.compile(r"^accuracy: [0-9.]+ \((\d+)/(\d+)\)", re.M)  # the counts: exact, where the rate is rounded
R2 = re.compile(r"^R²\s+(-?[0-9.]+)", re.M)


def describe(data) -> str:
    """The network and training that ``chainrule train`` uses for ``data`` by default, in one line."""
    d = data.defaults
    n_out = 1 if data.task == "regression" else data.n_classes
    sizes = "-".join(map(str, [data.n_features, *d["layers"], n_out]))
    extra = [f"dropout {d['dropout']:g}"] if d.get("dropout") else []
    extra += [f"{d['norm']} norm"] if d.get("norm") else []
    extra += ["residual"] if d.get("residual") else []
    extra += [d["dtype"]] if d.get("dtype", "float64") != "float64" else []
    extra += [] if d.get("standardize", True) else ["raw inputs"]
    text = f"{sizes} {d['activation']}, {d['optimizer']} lr {d['lr']:g}, batch {d['batch_size'] or 'full'}, "
    return text + f"{d['epochs']} epochs" + "".join(f", {e}" for e in extra)


def chainrule_score(name: str, seed: int, *flags: str) -> float:
    """The test score ``chainrule train NAME --seed SEED [FLAGS]`` prints: accuracy, or R² for regression."""
    from chainrule.cli import main

    out = io.StringIO()
    with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stdout(out):
        argv = ["train", name, "--seed", str(seed), "--quiet", "--no-plots", "--threads", "1", "--out", tmp + "/run"]
        argv += flags
        code = main(argv)
    right, r2 = ACCURACY.search(out.getvalue()), R2.search(out.getvalue())
    if code != 0 or (right or r2) is None:
        raise RuntimeError(f"chainrule {' '.join(argv)} exited with {code}:\n{out.getvalue()[-2000:]}")
    return int(right.group(1)) / int(right.group(2)) if right else float(r2.group(1))


def train_seconds(name: str, *flags: str) -> float:
    """Wall time of one ``chainrule train NAME --quiet`` subprocess (seed 0, plots included)."""
    with tempfile.TemporaryDirectory() as tmp:
        argv = [sys.executable, "-m", "chainrule", "train", name, "--quiet", "--out", tmp + "/run", *flags]
        t0 = time.perf_counter()
        res = subprocess.run(argv, capture_output=True, text=True, env=dict(os.environ, MPLBACKEND="Agg"))
        seconds = time.perf_counter() - t0
    if res.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[1:])} exited with {res.returncode}:\n{res.stderr[-2000:]}")
    return seconds


def peer(kind: str, task: str):
    """The scikit-learn estimator that sets the reference (made from the seed) and its label."""
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.svm import SVC, SVR

    if kind == "generated":
        est = SVR if task == "regression" else SVC
        return (lambda seed: est()), f"scikit-learn {est.__name__}()"
    est = MLPRegressor if task == "regression" else MLPClassifier
    return (lambda seed: est(random_state=seed)), f"scikit-learn {est.__name__}()"


def peer_score(name: str, seed: int, make) -> tuple[float, float]:
    """The peer's test score on the split and standardisation ``chainrule train NAME --seed SEED`` uses, and its
    fit time."""
    from sklearn.metrics import r2_score
    from threadpoolctl import threadpool_limits

    from chainrule import datasets
    from chainrule.datasets import Preprocessor

    data = datasets.load(name, seed=seed)
    pre = Preprocessor.fit(data)  # the training split's mean and population sd, as the command line computes them
    X, X_test = pre.transform(data.X_train), pre.transform(data.X_test)
    est = make(seed)
    with warnings.catch_warnings(), threadpool_limits(1):  # one BLAS thread, as chainrule's runs here
        warnings.simplefilter("ignore")  # ConvergenceWarning when max_iter is reached
        t0 = time.perf_counter()
        est.fit(X, pre.transform_y(data.y_train))
        seconds = time.perf_counter() - t0
    if data.task == "regression":
        return float(r2_score(data.y_test, pre.inverse_y(est.predict(X_test)))), seconds
    return float(est.score(X_test, data.y_test)), seconds


def seeds_text(seeds) -> str:
    return f"{len(seeds)} seed{'s' if len(seeds) > 1 else ''}"


def mean_sd(values: list[float]) -> tuple[float, float]:
    return statistics.mean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def reference(name: str, kind: str, task: str, seeds) -> tuple[float, float, str, float]:
    """(mean, sd, source, median fit seconds) of ``name``'s reference; sd and seconds are NaN for a fixed figure."""
    if name in PUBLISHED or name in STATED:
        value, source = PUBLISHED.get(name) or STATED[name]
        return value, float("nan"), source, float("nan")
    make, label = peer(kind, task)
    scores, seconds = zip(*(peer_score(name, seed, make) for seed in seeds))
    mean, sd = mean_sd(list(scores))
    return mean, sd, f"{label}, same split, {seeds_text(seeds)}", statistics.median(seconds)


def one_dataset(name: str, seeds, quick: bool) -> tuple[list[Row], str]:
    """The two rows of ``name`` (chainrule, reference) and its line of the Markdown table."""
    from chainrule import datasets

    data = datasets.load(name, seed=0)
    kind = datasets.DATASETS[name][1]
    metric = "R²" if data.task == "regression" else "accuracy"
    mean, sd = mean_sd([chainrule_score(name, seed) for seed in seeds])
    ref, ref_sd, source, ref_seconds = reference(name, kind, data.task, seeds)
    reached = mean >= ref - 1e-9  # equal counts of right answers are equal scores
    plain = train_seconds(name)
    one = None if quick else train_seconds(name, "--threads", "1")
    threads = "" if one is None else f"; --threads 1: {one:.1f} s"
    fixed = math.isnan(ref_sd)  # a published or stated figure, not a peer's runs
    ref_text = f"{ref:.4f}" + ("" if fixed else f" ± {ref_sd:.4f}")
    timed = "" if fixed else " (time: its fit, median)"
    rows = [
        Row(
            f"defaults {name}",
            "chainrule",
            plain,
            note=f"{describe(data)}; {metric} {mean:.4f} ± {sd:.4f} ({seeds_text(seeds)}); "
            f"{'reaches' if reached else 'BELOW'} the reference{threads}",
        ),
        Row(f"defaults {name}", "reference", ref_seconds, note=f"{metric} {ref_text}: {source}{timed}"),
    ]
    time_text = f"{plain:.1f}" + ("" if one is None else f" ({one:.1f})")
    line = (
        f"| {name} | {describe(data)} | {mean:.3f} ± {sd:.3f} | {ref_text} | {source} | "
        f"{'yes' if reached else 'no'} | {time_text} |"
    )
    return rows, line


def run(quick: bool = False, dtype: str = "float64") -> list[Row]:
    if optional("sklearn") is None:
        return [Row("defaults", "chainrule", float("nan"), note="skipped: scikit-learn is not installed")]
    from chainrule import datasets

    names = QUICK if quick else tuple(datasets.DATASETS)
    if optional("mnist1d") is None:
        names = tuple(n for n in names if n != "mnist1d")
    seeds = SEEDS[:1] if quick else SEEDS
    rows, lines = [], []
    for name in names:
        new, line = one_dataset(name, seeds, quick)
        rows += new
        lines.append(line)
    print(
        "| dataset | default network and training | chainrule (mean ± sd) | reference | source | reached | "
        "`chainrule train` s (--threads 1) |\n|---|---|---|---|---|---|---|\n" + "\n".join(lines) + "\n",
        flush=True,
    )
    return rows
