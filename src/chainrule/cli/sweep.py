"""``chainrule sweep``: train a grid lr × init × seed of one network, here or on Dask, and count convergence."""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from .. import datasets, sweep
from ..datasets import Preprocessor
from ..datasets._base import need
from . import pipeline
from .pipeline import CLIError


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "sweep",
        help="train many networks over a grid of learning rates, initialisers and seeds; count convergence",
        description="Train one architecture for every learning rate × initialiser × seed, as stacked ensembles, "
        "in this process or on Dask, and summarise each grid point: how many members converged (with a 95 % "
        "Wilson interval), the final-loss quantiles and the epochs to converge. --layers, --activation and "
        "--epochs left out take the dataset's defaults.",
    )
    p.add_argument("dataset", help="dataset name or file, e.g. xor")
    p.add_argument("--layers", help="hidden layer sizes, e.g. 2,2 (a 2-2-2-1 network on xor)")
    p.add_argument("--activation", help="hidden activation: tanh, relu, sigmoid, ...")
    p.add_argument("--seeds", type=int, default=100, help="weight seeds per grid point (default 100)")
    p.add_argument("--seed-start", type=int, default=0, help="the first weight seed (default 0)")
    p.add_argument("--lr", default="0.5", help="comma-separated learning rates (default 0.5)")
    p.add_argument("--init", default="default", help="comma-separated initialisers; default: each layer's own")
    p.add_argument("--epochs", type=int, help="epochs per member")
    p.add_argument("--loss", help="default: bce for 2 classes, softmax_cross_entropy for more, mse for regression")
    p.add_argument("--optimizer", default="sgd", help="sgd (default), adam, rmsprop")
    p.add_argument("--momentum", type=float, default=0.0, help="SGD momentum (default 0)")
    p.add_argument("--batch-size", type=int, default=0, help="minibatch size (default 0: the full batch)")
    p.add_argument("--tol", type=float, default=0.05, help="converged: every output within TOL of its target")
    p.add_argument("--dtype", choices=["float32", "float64"], default="float64")
    p.add_argument("--data-seed", type=int, default=0, help="seed of the dataset's generation and split")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, help="run on a new local Dask cluster of N worker processes")
    where.add_argument("--scheduler", metavar="ADDRESS", help="run on a running Dask cluster, e.g. tcp://host:8786")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for --scheduler (default 10)")
    p.add_argument("--tasks", type=int, help="ensembles to split the grid into (default 1 here, 1 per Dask worker)")
    p.add_argument("--out", help="output folder (default: runs/sweep-<dataset>)")
    p.add_argument("--force", action="store_true", help="replace an existing output folder (written beside it, swapped "
                   "in whole)")  # fmt: skip
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    pipeline.add_threads_option(p)
    p.set_defaults(run=run)


def _positive(value: Any, flag: str) -> None:
    if value is not None and not value > 0:
        raise CLIError(f"{flag} must be positive; received {value}.")


def _floats(text: str, flag: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise CLIError(f"{flag} takes comma-separated numbers such as 0.1,0.5; received {text!r}.") from None
    if not all(math.isfinite(v) and v > 0 for v in values):
        raise CLIError(f"{flag} values must be positive numbers; received {text!r}.")
    return values


def _spec(args: argparse.Namespace) -> tuple[sweep.SweepSpec, datasets.Dataset]:
    for flag in ("seeds", "epochs", "tasks", "workers", "tol", "timeout"):
        _positive(getattr(args, flag), "--" + flag)
    if args.momentum < 0 or args.batch_size < 0:
        raise CLIError(
            f"--momentum and --batch-size must not be negative; received {args.momentum}, {args.batch_size}."
        )
    data = datasets.load(args.dataset, seed=args.data_seed)
    d = data.defaults
    hidden = pipeline.parse_sizes(args.layers) if args.layers is not None else list(d.get("layers", []))
    loss = args.loss
    if loss is None:
        loss = "mse" if data.task == "regression" else "bce" if data.n_classes == 2 else "softmax_cross_entropy"
    n_out, output = pipeline.output_spec(data.task, data.n_classes, loss)
    pre = Preprocessor.fit(data, standardize=d.get("standardize", True))
    spec = sweep.SweepSpec(
        sizes=(data.n_features, *hidden, n_out),
        activation=args.activation or d.get("activation", "tanh"),
        output=output,
        loss=loss,
        X=pre.transform(data.X_train),
        y=np.asarray(pre.transform_y(data.y_train)),
        epochs=pipeline.capped_epochs(args.epochs or d.get("epochs", 1000)),
        optimizer=args.optimizer,
        momentum=args.momentum,
        batch_size=args.batch_size or None,
        tol=args.tol,
        dtype=args.dtype,
    )
    return spec, data


def run(args: argparse.Namespace) -> int:
    spec, data = _spec(args)
    lrs = _floats(args.lr, "--lr")
    inits = [None if s.strip() in ("", "default") else s.strip() for s in args.init.split(",")]
    points, members = sweep.grid(lrs, inits, range(args.seed_start, args.seed_start + args.seeds))
    out = Path(args.out) if args.out else Path("runs") / f"sweep-{data.name}"
    pipeline.check_out(out, args.force)
    net = "-".join(map(str, spec.sizes))
    print(f"{data!r}\nnetwork {net} ({spec.activation}, output {spec.output or 'linear'}), loss {spec.loss}, "
          f"{spec.optimizer}, {spec.epochs} epochs, batch {spec.batch_size or 'full'}, tol {spec.tol:g}")  # fmt: skip
    start = time.perf_counter()
    with sweep.dask_client(args.workers, args.scheduler, args.timeout) as client:
        tasks = sweep.split(members, args.tasks or sweep.default_tasks(len(members), client))
        where = "in this process" if client is None else f"on Dask ({len(client.nthreads())} workers)"
        print(
            f"{len(points)} grid points × {args.seeds} seeds = {len(members)} networks in {len(tasks)} task(s), {where}"
        )
        bar = None if args.quiet else _bar(spec.epochs * len(tasks) if client is None else len(tasks), client is None)
        try:
            results = sweep.run_tasks(spec, tasks, client=client, progress=None if bar is None else bar.update)
        finally:
            if bar is not None:
                bar.close()
    seconds = time.perf_counter() - start
    rows = sweep.summarize(points, members, results)
    print(sweep.table(rows))
    print(f"wall time: {seconds:.2f} s ({len(members)} networks × {spec.epochs} epochs)")
    settings = {"dataset": data.name, "sizes": list(spec.sizes), "activation": spec.activation, "output": spec.output,
                "loss": spec.loss, "optimizer": spec.optimizer, "momentum": spec.momentum, "lr": lrs,
                "init": [i or "default" for i in inits], "seeds": list(range(args.seed_start, args.seed_start +
                args.seeds)), "epochs": spec.epochs, "batch_size": spec.batch_size, "tol": spec.tol,
                "dtype": spec.dtype, "check_every": spec.check_every, "tasks": len(tasks),
                "wall_seconds": seconds}  # fmt: skip
    with pipeline.staged(out, args.force) as stage:
        (stage / "results.csv").write_text(sweep.to_csv(rows), encoding="utf-8")
        (stage / "results.json").write_text(
            sweep.to_json(settings, rows, members, results, spec.curve_epochs), encoding="utf-8"
        )
        written = ["results.csv", "results.json"]
        if not args.no_plots:
            written.append(_histograms(rows, members, results, stage / "final_loss.png").name)
            written.append(_curves(rows, members, results, spec.curve_epochs, stage / "loss_curves.png").name)
    print(f"saved to {out}/: " + ", ".join(written))
    return 0


def _bar(total: int, epochs: bool) -> Any:
    tqdm = need("tqdm", "cli").tqdm
    return tqdm(total=total, desc="sweep", unit="epoch" if epochs else "task", dynamic_ncols=True, mininterval=0.2)


def _figure(width: float, height: float) -> Any:
    need("matplotlib", "cli")
    from matplotlib.figure import Figure  # no pyplot: no GUI backend is ever chosen

    return Figure(figsize=(width, height), dpi=100, layout="tight")


def _label(row: dict) -> str:
    return f"lr {row['lr']:g}, {row['init']}"


def _histograms(rows: list[dict], members: list, results: list, path: Path) -> Path:
    """The final losses of each grid point's members, one panel per point, on shared bins."""
    by_point: list[list[float]] = [[] for _ in rows]
    for m, r in zip(members, results):
        if math.isfinite(r.final_loss):
            by_point[m.point].append(r.final_loss)
    every = np.array([v for vs in by_point for v in vs])
    log = len(every) > 0 and every.min() > 0
    lo, hi = (every.min(), every.max()) if len(every) else (0.0, 1.0)
    bins = np.geomspace(lo, max(hi, lo * 1.0001), 31) if log else np.linspace(lo, max(hi, lo + 1e-12), 31)
    ncols = min(len(rows), 4)
    nrows = math.ceil(len(rows) / ncols)
    fig = _figure(max(5.0, 3.4 * ncols), max(3.5, 2.8 * nrows))
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for p, (ax, row) in enumerate(zip(axes, rows)):
        ax.hist(by_point[p], bins=bins, color=f"C{p % 10}")
        ax.set_title(f"{_label(row)}: {row['converged']}/{row['n']} converged", fontsize=9)
        ax.set_xlabel("final loss")
        ax.yaxis.get_major_locator().set_params(integer=True)
        if log:
            ax.set_xscale("log")
    for ax in axes[len(rows) :]:
        ax.set_visible(False)
    fig.savefig(path)
    return path


def _curves(rows: list[dict], members: list, results: list, epochs: list[int], path: Path) -> Path:
    """Every member's loss curve, a thin line coloured by its grid point."""
    from matplotlib.collections import LineCollection
    from matplotlib.lines import Line2D

    fig = _figure(7, 4.5)
    ax = fig.subplots()
    x = np.asarray(epochs, dtype=float)
    values = np.array([r.loss_curve for r in results], dtype=float)
    for p in range(len(rows)):
        lines = [np.c_[x, r.loss_curve] for m, r in zip(members, results) if m.point == p]
        ax.add_collection(LineCollection(lines, colors=f"C{p % 10}", linewidths=0.5, alpha=0.3))
    finite = values[np.isfinite(values)]
    positive = finite[finite > 0]
    if len(positive) == len(finite) and len(positive):
        ax.set_yscale("log")
        ax.set_ylim(positive.min() / 1.5, positive.max() * 1.5)
    elif len(finite):
        ax.set_ylim(finite.min(), finite.max() + 1e-12)
    ax.set_xlim(0, x[-1])
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss")
    ax.grid(alpha=0.3)
    if len(rows) > 1:  # solid handles: the curves themselves are faint
        handles = [Line2D([], [], color=f"C{p % 10}", label=_label(row)) for p, row in enumerate(rows)]
        ax.legend(handles=handles, fontsize=8)
    ax.set_title(f"{len(results)} networks")
    fig.savefig(path)
    return path
