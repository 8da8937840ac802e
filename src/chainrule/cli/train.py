"""``chainrule train``: load a dataset, standardise, fit with a progress bar, score, save, plot."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

from .. import datasets
from ..builders import CNN1D_TRAINING, cnn1d, mlp
from ..core._guard import DivergenceError
from ..core.optimizers import CosineDecay, get_optimizer
from ..datasets import Preprocessor
from ..datasets.preprocess import sidecar
from . import pipeline
from .pipeline import CLIError


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "train",
        help="train a network on a dataset and save it with its plots",
        description="Train an MLP on a named dataset or a file (CSV, .npy/.npz, MNIST IDX). "
        "Options left out take the dataset's defaults.",
    )
    p.add_argument("dataset", nargs="?", default=datasets.DEFAULT, help="dataset name or file (default: digits)")
    p.add_argument(
        "--model",
        choices=["mlp", "cnn"],
        default="mlp",
        help="mlp (default), or cnn: a one-dimensional CNN (chainrule.cnn1d) reading each sample's features as one "
        "signal (n, 1, n_features), trained on the whole training split. With cnn, --layers gives the convolutions' "
        "channels (default 25,25,25: kernels 5, 3, 3, stride 2, padding 1, then Flatten and a Dense output), "
        "--norm batch (default) or none sets the BatchNorm after each convolution, and Adam 0.01 decayed along a "
        "cosine to 0, batch 100, 100 epochs are the defaults",
    )
    p.add_argument("--layers", help="hidden layer sizes, e.g. 64,32 (with --model cnn: channels, e.g. 25,25,25)")
    p.add_argument("--activation", help="hidden activation: relu, tanh, sigmoid, leaky_relu, ...")
    p.add_argument("--dropout", type=float, help="dropout rate after each hidden layer, in [0, 1) (0: none)")
    p.add_argument("--norm", choices=["batch", "layer", "none"], help="normalise each hidden layer's output")
    p.add_argument("--residual", action=argparse.BooleanOptionalAction, help="skip connections round hidden layers "
                   "whose width does not change (--no-residual: none)")  # fmt: skip
    p.add_argument("--loss", help="softmax_cross_entropy (classification default), bce, bce_logits, mse, sse")
    p.add_argument("--optimizer", help="adam (default), sgd, rmsprop")
    p.add_argument("--lr", type=float, help="learning rate")
    p.add_argument("--epochs", type=int, help="passes over the training data")
    p.add_argument("--batch-size", type=int, help="minibatch size (0: the full batch)")
    p.add_argument("--seed", type=int, default=0, help="seed for the split, the weights and the shuffling")
    p.add_argument("--dtype", choices=["float32", "float64"], help="default float64 (float32 for mnist1d)")
    p.add_argument(
        "--target",
        help="target column: a CSV column's name or index, or a column index of a single-array .npy/.npz "
        "(default: the last); recorded for evaluate. Named datasets, MNIST IDX files and an .npz holding X and y "
        "(or X_train and y_train) come with their own target: any other --target is refused",
    )
    p.add_argument(
        "--task",
        choices=["classification", "regression"],
        help="the task of a CSV or .npy/.npz file (default: guessed from its target). Named datasets and MNIST IDX "
        "files have a fixed task: a --task that disagrees with it is refused",
    )
    pipeline.add_csv_options(p)
    p.add_argument("--out", help="output folder (default: runs/<dataset>)")
    p.add_argument("--force", action="store_true", help="write into an existing, non-empty output folder")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    p.add_argument("--html", action="store_true", help="also write replay.html, a replay of the training, into --out")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    pipeline.add_threads_option(p)
    # one BLAS thread unless --threads says otherwise: the default networks' products are small, and on a busy
    # machine a second thread makes every product wait for a core (mnist1d: 9 s alone, over 50 s when shared)
    p.set_defaults(default_threads=1)
    p.set_defaults(run=run)


def _settings(args: argparse.Namespace, data: datasets.Dataset) -> dict[str, Any]:
    s = dict(data.defaults)
    if args.model == "cnn":
        s.update(CNN1D_TRAINING, layers=[25, 25, 25], norm="batch", dropout=0.0, residual=False)
    for key in ("activation", "optimizer", "lr", "epochs", "dropout", "norm", "residual"):
        if getattr(args, key) is not None:
            s[key] = getattr(args, key)
    if args.layers is not None:
        s["layers"] = pipeline.parse_sizes(args.layers)
    s["dtype"] = args.dtype or s.get("dtype", "float64")
    if args.batch_size is not None:
        s["batch_size"] = args.batch_size or None
    s["loss"] = args.loss or ("mse" if data.task == "regression" else "softmax_cross_entropy")
    if s["epochs"] < 1:
        raise CLIError(f"--epochs must be at least 1; received {s['epochs']}.")
    if not 0 <= s.setdefault("dropout", 0.0) < 1:
        raise CLIError(f"--dropout must be in [0, 1); received {s['dropout']}.")
    s["norm"] = None if s.get("norm") in (None, "none") else s["norm"]
    s.setdefault("residual", False)
    return s


def _out_folder(args: argparse.Namespace, name: str) -> Path:
    """The output folder, checked before training; nothing is created until the results are written."""
    out = Path(args.out) if args.out else Path("runs") / name
    pipeline.check_out(out, args.force)
    return out


def _diverged(exc: DivergenceError, lr: float) -> CLIError:
    """The library's DivergenceError in the command line's terms: what happened and the flags that help."""
    what = str(exc).split(";")[0].rstrip(".")
    return CLIError(
        f"training diverged: {what}; nothing was saved. Try a lower learning rate, e.g. --lr {lr / 10:g} "
        f"(this run used --lr {lr:g}), or rescale the inputs and targets."
    )


def _validation(X: np.ndarray, y: np.ndarray, task: str, seed: int):
    """A tenth of the training rows for the validation curve; none for tiny data such as XOR."""
    if len(X) < 50:
        return X, y, None
    Xtr, ytr, Xv, yv = datasets.split(X, y, 0.1, seed + 1, stratify=task == "classification")
    return Xtr, ytr, (Xv, yv)


def run(args: argparse.Namespace) -> int:
    data = datasets.load(
        args.dataset,
        seed=args.seed,
        target=args.target,
        task=args.task,
        delimiter=args.delimiter,
        decimal=args.decimal,
        header=args.header,
    )
    s = _settings(args, data)
    pre = Preprocessor.fit(data, standardize=s.get("standardize", True))
    pre.source["seed"] = args.seed
    n_out, last = pipeline.output_spec(data.task, data.n_classes, s["loss"])
    if args.model == "cnn":
        model = _cnn(data, s, n_out, last, args.seed)
    else:
        model = mlp([data.n_features, *s["layers"], n_out], s["activation"], last, seed=args.seed, dtype=s["dtype"],
                    dropout=s["dropout"], norm=s["norm"], residual=s["residual"])  # fmt: skip
    lr = CosineDecay(s["lr"], s["epochs"]) if s.get("schedule") == "cosine" else s["lr"]
    opt = get_optimizer(s["optimizer"], lr=lr)
    out = _out_folder(args, data.name)  # checked now, written only once training has succeeded
    X, y = pipeline.model_input(model, pre.transform(data.X_train)), pre.transform_y(data.y_train)
    Xtr, ytr, val = (X, y, None) if args.model == "cnn" else _validation(X, y, data.task, args.seed)
    classification = data.task == "classification"
    callbacks = []
    if not args.quiet:
        from .progress import ProgressBar

        callbacks.append(ProgressBar(s["epochs"], len(Xtr), desc=data.name))
    replay = _replay(args, data, Xtr, ytr, s["epochs"], model.n_params) if args.html else None
    callbacks += [replay] if replay is not None else []
    print(f"{data!r}\n{model.summary()}")
    print(
        f"loss {s['loss']}, optimizer {s['optimizer']} (lr {s['lr']}{', cosine decay' if s.get('schedule') else ''}), "
        f"{s['epochs']} epochs, "
        f"batch {s['batch_size'] or 'full'}, seed {args.seed}"
    )
    start = time.perf_counter()
    try:
        history = model.fit(
            Xtr,
            ytr,
            loss=s["loss"],
            optimizer=opt,
            epochs=s["epochs"],
            batch_size=s["batch_size"],
            validation_data=val,
            callbacks=callbacks,
            seed=args.seed,
            metrics=["accuracy"] if classification else ["mae"],
        )
    except BaseException as exc:
        for cb in callbacks:  # fit ends no progress bar when it raises: end it, so the error starts a line
            cb.on_train_end(model)
        if isinstance(exc, DivergenceError):
            raise _diverged(exc, s["lr"]) from exc
        raise
    seconds = time.perf_counter() - start
    Xte = pre.transform(data.X_test, "the test split")
    pred = pipeline.predict_labels(model, Xte)
    if not classification:
        pred = pre.inverse_y(pred)
    result = pipeline.scores(data.task, data.y_test, pred, data.classes)
    print(f"\ntest results ({len(data.X_test)} held-out samples):")
    print(pipeline.table(result, data.classes))
    print(f"training time: {seconds:.2f} s ({len(history)} epochs, {len(Xtr) * len(history) / seconds:,.0f} samples/s)")
    with pipeline.staged(out, args.force) as stage:
        written = _save(stage, model, pre, history, data, result, args.no_plots)
        if replay is not None:
            written.append(replay.to_html(stage / "replay.html").name)
    print(f"saved to {out}/: " + ", ".join(written))
    return 0


def _cnn(data: datasets.Dataset, s: dict[str, Any], n_out: int, last: str | None, seed: int):
    """``cnn1d`` over each sample's features as one signal, with the options that apply to it checked."""
    if s["norm"] not in (None, "batch") or s["dropout"] or s["residual"]:
        raise CLIError("--model cnn takes --norm batch or none; --dropout and --residual are for --model mlp.")
    try:
        return cnn1d(data.n_features, n_out, s["layers"], batchnorm=s["norm"] == "batch", activation=s["activation"],
                     output=last, seed=seed, dtype=s["dtype"])  # fmt: skip
    except ValueError as exc:
        raise CLIError(f"--model cnn: {exc}") from None


def _replay(args: argparse.Namespace, data: datasets.Dataset, X: np.ndarray, y: np.ndarray, epochs: int, n_params: int):
    """The Replay behind --html: 1 MB for small networks, room for about 32 snapshots of larger ones, 5 MB at most."""
    from ..replay import Replay

    budget = min(5_000_000, max(1_000_000, 32 * 6 * n_params))  # a snapshot's weights: about 5.3 bytes each
    names = data.classes if data.task == "classification" else None
    return Replay(X, y, epochs=epochs, budget_bytes=budget, seed=args.seed, feature_names=data.feature_names,
                  class_names=names, title=data.name)  # fmt: skip


def _save(out: Path, model, pre: Preprocessor, history, data, result, no_plots: bool) -> list[str]:
    """Write the model, its preprocessing, the history and the plots into ``out``; the names written."""
    model_path = out / "model.npz"
    model.save(model_path)
    pre.save(sidecar(model_path))
    (out / "history.json").write_text(history.to_json(), encoding="utf-8")
    (out / "history.csv").write_text(history.to_csv(), encoding="utf-8")
    written = [model_path, sidecar(model_path), out / "history.json", out / "history.csv"]
    if not no_plots:
        from . import plots

        def predict_raw(X: np.ndarray) -> np.ndarray:
            labels = pipeline.predict_labels(model, pre.transform(X))
            return labels if data.task == "classification" else pre.inverse_y(labels)

        written.append(plots.curves(history, out / "curves.png"))
        if data.task == "classification":
            written.append(plots.confusion(result["confusion"], data.classes, out / "confusion_matrix.png"))
            if data.n_features == 2:
                written.append(
                    plots.decision_boundary(
                        predict_raw, data.X_test, data.y_test, out / "decision_boundary.png", data.classes
                    )
                )
        else:
            written.append(plots.regression_fit(predict_raw, data.X_test, data.y_test, out / "fit.png"))
    return [p.name for p in written]
