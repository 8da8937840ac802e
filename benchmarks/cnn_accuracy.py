"""Workload: the MNIST-1D CNN's test accuracy, 5 seeds, beside the paper's figure.

Each row runs ``chainrule train mnist1d --model cnn --seed S`` for seeds 0-4 on all 4,000 training signals and
reads the test accuracy it prints: the default (the paper's network with a BatchNorm after each convolution,
5,360 parameters) and the paper's plain network (``--norm none``, 5,210 parameters). The paper gives its CNN
94 % (Greydanus & Kobak, "Scaling down deep learning with MNIST-1D", ICML 2024). The time is one run's mean.
``--quick``: seed 0, the default only, 2 epochs.
"""

from __future__ import annotations

import time

from ._harness import Row, optional
from .defaults import SEEDS, chainrule_score, mean_sd

PAPER_CNN = 0.94
ROWS = [("default: BatchNorm after each convolution", []), ("the paper's plain network", ["--norm", "none"])]


def run(quick: bool = False, dtype: str = "float32") -> list[Row]:
    if optional("mnist1d") is None:
        return [Row("mnist1d cnn", "chainrule", float("nan"), note="skipped: mnist1d is not installed")]
    seeds = SEEDS[:1] if quick else SEEDS
    rows, lines = [], []
    for label, flags in ROWS[:1] if quick else ROWS:
        flags = ["--model", "cnn", *flags, *(["--epochs", "2"] if quick else [])]
        t0 = time.perf_counter()
        scores = [chainrule_score("mnist1d", seed, *flags) for seed in seeds]
        seconds = (time.perf_counter() - t0) / len(seeds)
        mean, sd = mean_sd(scores)
        note = f"accuracy {mean:.4f} ± {sd:.4f} (paper {PAPER_CNN})"
        rows.append(Row(f"mnist1d cnn, {label}", "chainrule", seconds, per="run", note=note))
        per_seed = " ".join(f"{s:.3f}" for s in scores)
        lines.append(f"| {label} | `{' '.join(flags)}` | {mean:.3f} ± {sd:.3f} | {per_seed} | {seconds:.0f} s |")
    head = "| network | options | test accuracy (5 seeds) | per seed | time a run |\n|---|---|---|---|---|\n"
    print(head + "\n".join(lines), flush=True)
    return rows
