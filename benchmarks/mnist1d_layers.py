"""Workload: MNIST-1D with and without dropout, batch or layer normalisation and skip connections, 5 seeds.

Each row runs ``chainrule train mnist1d --seed S`` for seeds 0-4 with the dataset's other defaults (40-256-256-10
ReLU, Adam lr 0.005, batch 64, 50 epochs, float32, raw inputs) and the row's options, and reads the test accuracy
it prints. Mean ± sd over the seeds; the published MLP figure is 68 % (Greydanus & Kobak, ICML 2024).
``--quick``: the first row, seed 0, one epoch (checks the runner works).
"""

from __future__ import annotations

import time

from ._harness import Row, optional
from .defaults import SEEDS, chainrule_score, mean_sd

ROWS = [
    ("plain MLP", ["--norm", "none", "--dropout", "0", "--no-residual"]),
    ("dropout 0.1", ["--norm", "none", "--dropout", "0.1", "--no-residual"]),
    ("dropout 0.2", ["--norm", "none", "--dropout", "0.2", "--no-residual"]),
    ("dropout 0.3", ["--norm", "none", "--dropout", "0.3", "--no-residual"]),
    ("dropout 0.4", ["--norm", "none", "--dropout", "0.4", "--no-residual"]),
    ("dropout 0.5", ["--norm", "none", "--dropout", "0.5", "--no-residual"]),
    ("batch norm", ["--norm", "batch", "--dropout", "0", "--no-residual"]),
    ("layer norm", ["--norm", "layer", "--dropout", "0", "--no-residual"]),
    ("batch norm + dropout 0.3", ["--norm", "batch", "--dropout", "0.3", "--no-residual"]),
    ("residual", ["--norm", "none", "--dropout", "0", "--residual"]),
    ("residual + dropout 0.1", ["--norm", "none", "--dropout", "0.1", "--residual"]),
    ("residual + dropout 0.3", ["--norm", "none", "--dropout", "0.3", "--residual"]),
    ("residual + layer norm", ["--norm", "layer", "--dropout", "0", "--residual"]),
    ("residual + batch norm", ["--norm", "batch", "--dropout", "0", "--residual"]),
    ("residual + batch norm + dropout 0.1", ["--norm", "batch", "--dropout", "0.1", "--residual"]),
]


def run(quick: bool = False, dtype: str = "float32", only: list[str] | None = None) -> list[Row]:
    if optional("mnist1d") is None:
        return [Row("mnist1d layers", "chainrule", float("nan"), note="skipped: mnist1d is not installed")]
    seeds = SEEDS[:1] if quick else SEEDS
    rows, lines = [], []
    for label, flags in ROWS[:1] if quick else [r for r in ROWS if only is None or r[0] in only]:
        t0 = time.perf_counter()
        scores = [chainrule_score("mnist1d", seed, *flags, *(["--epochs", "1"] if quick else [])) for seed in seeds]
        seconds = (time.perf_counter() - t0) / len(seeds)
        mean, sd = mean_sd(scores)
        rows.append(Row(f"mnist1d {label}", "chainrule", seconds, per="run", note=f"accuracy {mean:.4f} ± {sd:.4f}"))
        per_seed = " ".join(f"{s:.3f}" for s in scores)
        lines.append(f"| {label} | `{' '.join(flags)}` | {mean:.3f} ± {sd:.3f} | {per_seed} |")
        print(lines[-1], flush=True)
    head = "| network | options | test accuracy (5 seeds) | per seed |\n|---|---|---|---|\n"
    print(head + "\n".join(lines), flush=True)
    return rows
