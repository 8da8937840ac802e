"""``evaluate``, ``predict``, ``gradcheck``, ``explain`` and ``datasets``."""

from __future__ import annotations

import argparse
import csv
import io
import sys
from pathlib import Path
from typing import Any

import numpy as np

from .. import datasets
from .._archive import atomic_write
from ..datasets import DataError
from ..datasets.preprocess import sidecar
from ..datasets.targets import TargetError, target_index
from . import pipeline
from .pipeline import CLIError


def add_parsers(sub: Any) -> None:
    p = sub.add_parser(
        "evaluate",
        help="score a saved model on a dataset",
        description="Score a saved model on a named dataset (its test split) or on every row of a data file.",
    )
    p.add_argument("model", help="model file written by chainrule train (model.npz), or an ONNX file (.onnx)")
    p.add_argument(
        "dataset",
        help="dataset name or file (CSV, .npy/.npz, IDX); a CSV with a header is matched to the model by column name",
    )
    p.add_argument(
        "--target",
        help="target column of a CSV (name or index) or of a single-array .npy/.npz (index); default: the one used "
        "in training, else the last; where this file has the column used in training, a --target that picks "
        "another is refused. Named datasets, MNIST IDX files and an .npz holding X and y come with their own "
        "target: any other --target is refused",
    )
    pipeline.add_csv_options(p)
    pipeline.add_threads_option(p)
    p.set_defaults(run=evaluate)

    p = sub.add_parser(
        "predict",
        help="predict for the rows of a CSV or .npy file",
        description="Write one prediction per input row as CSV (to stdout unless --output).",
    )
    p.add_argument("model", help="model file written by chainrule train (model.npz), or an ONNX file (.onnx)")
    p.add_argument(
        "input",
        help="features as .csv/.tsv, matched to the model by column name where it has a header (a target column "
        "named as in training is ignored), or as .npy/.npz",
    )
    p.add_argument("--proba", action="store_true", help="also write the class probabilities (classifiers only)")
    p.add_argument("--output", help="CSV file to write instead of stdout")
    pipeline.add_csv_options(p)
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
    if chosen and args.target is not None and recorded is not None:
        _check_target(args, recorded, pre.feature_names if pre.named_columns else [])
    seed = int(pre.source.get("seed", 0))
    try:  # named sets and IDX files have a fixed task: a regression model is refused below, naming both tasks
        data = datasets.load(
            args.dataset,
            seed=seed,
            target=target,
            task=pre.task if datasets.takes_task(args.dataset) else None,
            features=pre.feature_names if pre.named_columns else None,
            index_column=pre.index_column,
            delimiter=args.delimiter,
            decimal=args.decimal,
            header=args.header,
        )
    except TargetError as exc:  # the recorded target names no column of this file
        if not from_sidecar:
            raise
        raise DataError(_recorded_target_missing(args, recorded, exc)) from None
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
    return (
        f"{args.dataset} has no column {recorded!r} (its columns are {', '.join(exc.header)}), but {where}; pass "
        f"--target with the name or index of this file's target column, e.g. --target {exc.header[-1]}."
    )


def _check_target(args: argparse.Namespace, recorded: str | int, names: list[str]) -> None:
    """Refuse a --target that provably picks another column than the one the model was trained to predict.

    ``recorded`` is a CSV column's name, or an index (a CSV without column names, a single array). It is looked
    for in this file, a name among its column names and an index among its columns; where it is found and
    --target picks another column, --target is refused. Where it is not found (a file without column names, or
    with other ones), nothing says --target is wrong, and it is used. Only the file's first rows, or an array's
    header, are read; a file that cannot be read, or a --target that names no column, is left to the loader.
    """
    layout = datasets.columns(args.dataset, args.delimiter, args.decimal, args.header, names)
    if layout is None:
        return
    header, width = layout
    try:
        used = target_index(header, width, args.target, args.dataset)
    except TargetError:
        return
    if isinstance(recorded, str) and header is not None and recorded in header:
        trained = header.index(recorded)
    elif isinstance(recorded, int) and not isinstance(recorded, bool) and -width <= recorded < width:
        trained = recorded % width
    else:
        return
    if used == trained:
        return

    def name(c: int) -> Any:
        return header[c] if header is not None else c

    here = "" if name(trained) == recorded else f", column {name(trained)!r} of this file"
    raise CLIError(
        f"--target {args.target} picks column {name(used)!r} of {args.dataset}, but {args.model} was trained with "
        f"target column {recorded!r}{here} (recorded in {sidecar(args.model).name}); leave out --target to use "
        f"column {recorded!r}, or give a file laid out as the training data was."
    )


def read_features(args: argparse.Namespace, pre: datasets.Preprocessor) -> np.ndarray:
    """The feature matrix of ``args.input``, matched to the model's columns; a column named like the training
    target is left out."""
    target = pre.source.get("target")
    return datasets.read_features(
        args.input,
        features=pre.feature_names if pre.named_columns else None,
        index_column=pre.index_column,
        ignore=[target] if isinstance(target, str) else [],
        delimiter=args.delimiter,
        decimal=args.decimal,
        header=args.header,
        n_features=pre.n_features,
    )


def predict(args: argparse.Namespace) -> int:
    model, pre = pipeline.open_model(args.model)
    classifier = pipeline.is_classifier(model)
    if args.proba and not classifier:
        raise CLIError(
            f"--proba: {args.model} is a regression model, which predicts values, not class probabilities; "
            "leave out --proba."
        )
    out = Path(args.output) if args.output else None
    if out is not None and not out.parent.is_dir():
        raise CLIError(f"--output {out}: the folder {out.parent} does not exist.")
    X = pre.transform(read_features(args, pre), args.input)
    columns = ["prediction"]
    if not classifier:
        values = pre.inverse_y(pipeline.predict_labels(model, X)).astype(model.dtype)
        formatted = [[v] for v in pipeline.exact(values)]
    else:
        codes = pipeline.predict_labels(model, X)
        names = pre.classes or [str(i) for i in range(max(model.n_out, 2))]
        formatted = [[names[int(c)]] for c in codes]
        if args.proba:
            P = model.predict_proba(pipeline.model_input(model, X))
            if P.shape[1] == 1:  # one sigmoid output: probability of class 1
                P = np.c_[1 - P, P]
            columns += [f"p_{n}" for n in names]
            formatted = [row + pipeline.exact(probs) for row, probs in zip(formatted, P)]
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows([columns, *formatted])  # quotes a class name holding a ','
    text = buffer.getvalue()
    if out is not None:
        atomic_write(out, lambda fh: fh.write(text.encode("utf-8")))
        print(f"wrote {len(formatted)} predictions to {out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def list_datasets(args: argparse.Namespace) -> int:
    from .listing import table

    print(table())
    return 0
