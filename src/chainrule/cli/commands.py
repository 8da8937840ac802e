"""``evaluate``, ``predict``, ``gradcheck``, ``explain`` and ``datasets``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

from .. import datasets
from ..datasets import DataError
from ..datasets.preprocess import sidecar
from ..datasets.targets import TargetError
from . import pipeline
from .pipeline import CLIError


def add_parsers(sub: Any) -> None:
    p = sub.add_parser(
        "evaluate",
        help="score a saved model on a dataset",
        description="Score a saved model on a named dataset (its test split) or on every row of a data file.",
    )
    p.add_argument("model", help="model file written by chainrule train (model.npz)")
    p.add_argument("dataset", help="dataset name or file (CSV, .npy/.npz, IDX)")
    p.add_argument(
        "--target",
        help="target column of a CSV (name or index) or of a single-array .npy/.npz (index); default: the one used "
        "in training, else the last; one that disagrees with the one used in training is refused. Named datasets, "
        "MNIST IDX files and an .npz holding X and y come with their own target: any other --target is refused",
    )
    pipeline.add_threads_option(p)
    p.set_defaults(run=evaluate)

    p = sub.add_parser(
        "predict",
        help="predict for the rows of a CSV or .npy file",
        description="Write one prediction per input row as CSV (to stdout unless --output).",
    )
    p.add_argument("model", help="model file written by chainrule train (model.npz)")
    p.add_argument("input", help="features as .csv (a target column named as in training is ignored) or .npy")
    p.add_argument("--proba", action="store_true", help="also write the class probabilities")
    p.add_argument("--output", help="CSV file to write instead of stdout")
    pipeline.add_threads_option(p)
    p.set_defaults(run=predict)

    from . import checks

    checks.add_parsers(sub)

    p = sub.add_parser(
        "datasets",
        help="list the datasets with their sizes",
        description="List the named datasets: source, train/test sizes, features and task. The scikit-learn and "
        "MNIST-1D sets are not loaded: their sizes are known constants.",
    )
    p.set_defaults(run=list_datasets)


def evaluate(args: argparse.Namespace) -> int:
    model, pre = pipeline.open_model(args.model)
    recorded = pre.source.get("target")  # the column used in training; absent for named sets, IDX, older sidecars
    chosen = datasets.takes_target(args.dataset)  # named sets, IDX and an .npz with X and y bring their own
    from_sidecar = chosen and args.target is None and recorded is not None
    target = recorded if from_sidecar else args.target
    check = chosen and args.target is not None and recorded is not None
    if check:  # two names differ whatever the file holds; a name can make a text label column a "feature"
        _check_target(args, recorded, None)
    seed = int(pre.source.get("seed", 0))
    try:  # named sets and IDX files have a fixed task: a regression model is refused below, naming both tasks
        data = datasets.load(
            args.dataset, seed=seed, target=target, task=pre.task if datasets.takes_task(args.dataset) else None
        )
    except TargetError as exc:  # the recorded target names no column of this file
        if not from_sidecar:
            raise
        raise DataError(_recorded_target_missing(args, recorded, exc)) from None
    except DataError as exc:  # e.g. the training target, a text column, read as a feature because of --target
        if not check:
            raise
        raise DataError(
            f"{exc} ({args.model} was trained with target column {recorded!r}; without --target, evaluate uses it.)"
        ) from None
    if check:
        _check_target(args, recorded, data.source)
    if datasets.is_path(args.dataset):
        X, y = pipeline.relabel(data, pre)
        what = f"all {len(X)} rows of {args.dataset}"
    else:
        X, y = data.X_test, data.y_test
        what = f"the test split of {data.name} ({len(X)} samples, seed {seed})"
    if data.task != pre.task:
        raise CLIError(f"{args.dataset} is a {data.task} dataset but {args.model} was trained for {pre.task}.")
    pred = pipeline.predict_labels(model, pre.transform(X, str(args.dataset)))
    if pre.task == "regression":
        pred = pre.inverse_y(pred)
    print(f"{args.model} on {what}:")
    print(pipeline.table(pipeline.scores(pre.task, y, pred, pre.classes), pre.classes))
    return 0


def _recorded_target_missing(args: argparse.Namespace, recorded: str | int, exc: TargetError) -> str:
    """Why the target recorded in the sidecar picks no column of ``args.dataset``, and the --target that helps."""
    where = (
        f"{args.model} was trained with target column {recorded!r}, recorded at training time in "
        f"{sidecar(args.model).name}"
    )
    last = exc.width - 1
    index = f"index, 0 to {last} (or -1 for the last), e.g. --target {last}"
    if exc.header is None and isinstance(recorded, str):
        return f"{args.dataset} has no column names, but {where}; pass --target with the target column's {index}."
    if exc.header is None:
        return f"{args.dataset} has {exc.width} columns, but {where}; pass --target with the target column's {index}."
    # a --target naming another column is refused (_check_target): the file's target column must be renamed
    return (
        f"{args.dataset} has no column {recorded!r} (its columns are {', '.join(exc.header)}), but {where}; name "
        f"the target column {recorded!r} in the file's first line, as in the training data."
    )


def _check_target(args: argparse.Namespace, recorded: str | int, source: dict[str, Any] | None) -> None:
    """Refuse a --target that picks another column than the one the model was trained to predict.

    ``recorded`` is a CSV column's name, or an index (a CSV without column names, a single array). ``source``
    says which column --target picked in this file once loaded; before loading (None) only a name that differs
    from a recorded name is known to disagree. A recorded name cannot be checked against a file without names.
    """
    if source is None:
        used: Any = str(args.target)
        if not isinstance(recorded, str) or used == recorded or used.lstrip("+-").isdigit():
            return
    else:
        used = source.get("target")
        column = source.get("column", used)
        if isinstance(recorded, str):
            if not isinstance(used, str) or used == recorded:
                return
        elif column == recorded or used == str(recorded):
            return
    raise CLIError(
        f"--target {args.target} picks column {used!r} of {args.dataset}, but {args.model} was trained with target "
        f"column {recorded!r} (recorded in {sidecar(args.model).name}); leave out --target to use column "
        f"{recorded!r}, or give a file laid out as the training data was."
    )


def read_features(path: str, pre: datasets.Preprocessor) -> np.ndarray:
    """The feature matrix in ``path``; a CSV column named like the training target is dropped."""
    p = Path(path)
    if p.suffix.lower() in (".npy", ".npz"):
        arrays = datasets.read_array_file(p)
        X = arrays.get("X", next(iter(arrays.values())))
        X = np.asarray(X)
        if X.dtype.kind not in "biuf":
            raise DataError(f"{path}: features must be numeric; got dtype {X.dtype}.")
        X = X.reshape(len(X), -1).astype(float) if X.ndim != 1 else X.astype(float)[None, :]
        datasets.check_finite(X, path)
        return X
    if p.suffix.lower() not in (".csv", ".txt"):
        raise CLIError(f"{path}: predict reads .csv, .npy or .npz files.")
    from ..datasets.csv import parse_features

    header, rows, lines = datasets.read_csv_rows(p)
    cols = list(range(len(rows[0])))
    target = pre.source.get("target")
    if header is not None and isinstance(target, str) and target in header:
        cols.remove(header.index(target))
    names = [header[c] for c in cols] if header else [f"column {c + 1}" for c in cols]
    return parse_features(rows, cols, names, path, lines)


def predict(args: argparse.Namespace) -> int:
    model, pre = pipeline.open_model(args.model)
    X = pre.transform(read_features(args.input, pre), args.input)
    columns: list[str] = []
    values: list[np.ndarray] = []
    if pre.task == "regression" or model.loss_ is None or not model.loss_.classification:
        columns, values = ["prediction"], [pre.inverse_y(model.predict(X).ravel())]
        formatted = [[f"{v:.6g}"] for v in values[0]]
    else:
        codes = pipeline.predict_labels(model, X)
        names = pre.classes or [str(i) for i in range(int(codes.max()) + 1)]
        formatted = [[names[int(c)]] for c in codes]
        columns = ["prediction"]
        if args.proba:
            P = model.predict_proba(X)
            if P.shape[1] == 1:  # one sigmoid output: probability of class 1
                P = np.c_[1 - P, P]
            columns += [f"p_{n}" for n in names]
            formatted = [row + [f"{p:.6f}" for p in probs] for row, probs in zip(formatted, P)]
    text = ",".join(columns) + "\n" + "".join(",".join(r) + "\n" for r in formatted)
    if args.output:
        out = Path(args.output)
        out.write_text(text, encoding="utf-8")
        print(f"wrote {len(formatted)} predictions to {out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def list_datasets(args: argparse.Namespace) -> int:
    from .listing import table

    print(table())
    return 0
