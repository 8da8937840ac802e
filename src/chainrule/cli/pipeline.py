"""What the commands share: building a model from sizes, predicting through the preprocessing, scoring."""

from __future__ import annotations

import argparse
import contextlib
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..core.losses import Loss, get_loss
from ..core.model import Sequential
from ..datasets import DataError, Dataset, Preprocessor
from ..datasets.preprocess import load_for, sidecar, unit_of
from ..io import MAX_PARAMS
from ..io import load as load_model
from .folders import CLIError, check_out, staged  # noqa: F401  (the commands' errors and output folders)


def losses_for(task: str) -> list[str]:
    """The loss names (aliases included) that fit ``task``, from the loss classes."""
    return [name for name, cls in Loss.registry.items() if cls.classification == (task == "classification")]


def parse_sizes(text: str, what: str = "--layers") -> list[int]:
    """``"64,32"`` → [64, 32]; an empty string gives no hidden layers."""
    if text.strip() == "":
        return []
    try:
        sizes = [int(s) for s in text.split(",")]
    except ValueError:
        raise CLIError(f"{what} takes comma-separated integers such as 64,32; received {text!r}.") from None
    if any(s < 1 for s in sizes):
        raise CLIError(f"{what} sizes must be positive; received {text!r}.")
    if any(s > MAX_PARAMS for s in sizes) or math.prod(sizes[:2]) > MAX_PARAMS:
        raise CLIError(f"{what} {text!r} is too large: a model may hold {MAX_PARAMS:,} parameters at most.")
    return sizes


def check_param_count(sizes: list[int], what: str = "--layers") -> None:
    """Refuse layer widths (input to output) whose Dense layers would hold more than ``MAX_PARAMS`` parameters,
    before any is allocated."""
    count = sum((a + 1) * b for a, b in zip(sizes, sizes[1:]))
    if count > MAX_PARAMS:
        raise CLIError(
            f"{what} gives a network of {count:,} parameters, over the {MAX_PARAMS:,} a model may hold; "
            "use smaller layers."
        )


def capped_epochs(epochs: int) -> int:
    """``epochs``, or fewer where the environment sets ``CHAINRULE_MAX_EPOCHS`` (a quick try of every command in
    the README, say); a value that is not a positive whole number is refused."""
    cap = os.environ.get("CHAINRULE_MAX_EPOCHS")
    if cap is None:
        return epochs
    if not cap.isdigit() or int(cap) < 1:
        raise CLIError(f"CHAINRULE_MAX_EPOCHS must be a positive whole number; it is {cap!r}.")
    return min(epochs, int(cap))


def thread_count(text: str) -> int:
    """``--threads``'s value: a positive whole number, or argparse's one-line error (exit status 2)."""
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(
            f"takes a positive whole number of threads, e.g. --threads 1; received {text!r}"
        )
    return n


def add_threads_option(p: argparse.ArgumentParser) -> None:
    """``--threads N`` on a command that trains or predicts (applied by ``main`` around the command)."""
    p.add_argument(
        "--threads",
        type=thread_count,
        metavar="N",
        help="limit the BLAS thread pool to N threads for this run (1 is often fastest for small batches, "
        "and on a busy machine); needs threadpoolctl, installed with chainrule[datasets]",
    )


def threads_for(args: argparse.Namespace) -> int | None:
    """The BLAS threads to run a command with: ``--threads``, else the command's own default where
    threadpoolctl is there to apply it (train: 1, see its help), else None: the pools as they are."""
    if getattr(args, "threads", None) is not None:
        return args.threads
    default = getattr(args, "default_threads", None)
    if default is None:
        return None
    try:
        import threadpoolctl  # noqa: F401
    except ImportError:
        return None
    return default


@contextlib.contextmanager
def blas_threads(n: int | None) -> Iterator[None]:
    """Limit the BLAS (and OpenMP) thread pools to ``n`` threads inside the block; ``None`` leaves them alone."""
    if n is None:
        yield
        return
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        raise CLIError(
            "--threads needs threadpoolctl, which is not installed: pip install threadpoolctl (it comes with "
            f'"chainrule[datasets]"), or leave out --threads and set OPENBLAS_NUM_THREADS={n} and '
            f"OMP_NUM_THREADS={n} in the environment before starting chainrule."
        ) from None
    with threadpool_limits(limits=n):
        yield


def add_csv_options(p: argparse.ArgumentParser) -> None:
    """``--delimiter`` and ``--decimal`` on a command that reads a CSV file."""
    p.add_argument(
        "--delimiter",
        type=delimiter,
        help="the character between a CSV file's fields: ',', ';', 'tab' or another single character "
        "(default: detected among ',', ';' and tab; tab for .tsv files)",
    )
    p.add_argument(
        "--decimal",
        choices=[".", ","],
        default=".",
        metavar="MARK",
        help="the decimal mark of a CSV file's numbers: '.' (default) or ',' (reads 1,5 as 1.5; the fields are then "
        "separated by ';' or tab)",
    )
    p.add_argument(
        "--header",
        choices=["auto", "yes", "no"],
        default="auto",
        help="whether a CSV file's first row names its columns: auto (default: a row of text, the model's column "
        "names, or 0,1,…,k−1 as pandas writes them; a guess from numbers is noted on stderr), yes or no",
    )


def delimiter(text: str) -> str:
    """``--delimiter``'s value: one character; 'tab' or '\\t' for a tab."""
    if text.lower() in ("tab", "\\t", "\t"):
        return "\t"
    if len(text) != 1:
        raise argparse.ArgumentTypeError(f"takes one character, e.g. ';', or 'tab'; received {text!r}")
    return text


def output_spec(task: str, n_classes: int, loss: str) -> tuple[int, str | None]:
    """The number of outputs, and the final activation (or None) that ``loss`` fuses with."""
    chosen = get_loss(loss)
    if task == "regression":
        if chosen.classification:
            raise CLIError(f"--loss {loss} is for classification; this dataset is regression: use mse or sse.")
        return 1, None
    if not chosen.classification:
        raise CLIError(f"--loss {loss} does not fit classification; use one of {', '.join(losses_for(task))}.")
    if "sigmoid" in (chosen.fuses, chosen.output_activation):
        if n_classes != 2:
            raise CLIError(f"--loss {loss} is for 2 classes; this dataset has {n_classes}: use softmax_cross_entropy.")
        return 1, chosen.fuses
    return n_classes, chosen.fuses


def open_model(path: str | Path) -> tuple[Sequential, Preprocessor]:
    """The model at ``path`` and its preprocessing sidecar (identity if there is none); an ``.onnx`` file
    through ``chainrule.onnx.load`` (see ``onnx_model``)."""
    if not Path(path).is_file():
        raise CLIError(f"{path}: no such model file.")
    if Path(path).suffix.lower() == ".onnx":
        from .onnx_model import open_onnx

        return open_onnx(path)
    model = load_model(path)
    pre = load_for(path, math.prod(model.in_shape))  # a CNN's rows hold channels × length values
    if not sidecar(path).is_file():  # no record of training: the task follows the model's loss or last layer
        pre.task = "classification" if is_classifier(model) else "regression"
    return model, pre


def model_input(model: Sequential, X: np.ndarray) -> np.ndarray:
    """``X`` as ``model`` takes it: rows of features become signals (n, C, L) for a CNN, each row holding its C·L
    values channel after channel."""
    shape = model.in_shape
    fits = X.ndim == 2 and len(shape) >= 2 and X.shape[1] == math.prod(shape)
    return X.reshape(len(X), *shape) if fits else X


def is_classifier(model: Sequential) -> bool:
    """Whether ``model`` predicts classes: fitted with a classification loss, or ending in probabilities."""
    if model.loss_ is not None:
        return bool(model.loss_.classification)
    return bool(getattr(model.layers[-1], "probabilities", False))


def model_loss(model: Sequential) -> Loss | None:
    """The model's fitted loss, else the loss that fuses with its final Softmax or Sigmoid (an imported
    classifier), else None."""
    if model.loss_ is not None:
        return model.loss_
    last = getattr(model.layers[-1], "name", None)
    fused = [cls for cls in set(Loss.registry.values()) if cls.fuses is not None and cls.fuses == last]
    return fused[0]() if len(fused) == 1 else None


def predict_labels(model: Sequential, X: np.ndarray) -> np.ndarray:
    """Class codes for classification models, values for regression (in training units); the model predicts in
    chunks of rows of bounded working memory (``Sequential.predict``)."""
    X = model_input(model, X)
    if is_classifier(model):
        return np.asarray(model.predict_classes(X)).ravel()
    if model.n_out != 1:
        raise CLIError(
            f"{model!r} has {model.n_out} outputs but no classification loss and no final Softmax or Sigmoid, so "
            "it predicts neither classes nor one value per row; train it first (chainrule train), or end it in "
            "Softmax."
        )
    return model.predict(X).ravel()


def exact(values: np.ndarray) -> list[str]:
    """Numbers as text that reads back to the same value: the shortest repr of a float64; 9 significant digits
    of a float32 (enough for any float32 to read back exactly)."""
    values = np.asarray(values)
    if values.dtype == np.float32:
        return [format(float(v), ".9g") for v in values.ravel()]
    return [repr(float(v)) for v in values.ravel()]


def relabel(data: Dataset, pre: Preprocessor) -> tuple[np.ndarray, np.ndarray]:
    """All rows of ``data`` with labels coded as the model's classes (its saved label mapping)."""
    X = np.vstack([data.X_train, data.X_test])
    y = np.concatenate([data.y_train, data.y_test])
    if pre.task != "classification" or not pre.classes or data.classes == pre.classes:
        return X, y
    index = {c: i for i, c in enumerate(pre.classes)}
    unknown = [c for c in data.classes if c not in index]
    if unknown:
        raise DataError(f"labels {unknown} were not seen in training; the model knows {pre.classes}.")
    return X, np.array([index[data.classes[c]] for c in y])


def scores(task: str, y_true: np.ndarray, y_pred: np.ndarray, classes: list[str]) -> dict[str, Any]:
    """Accuracy, confusion matrix and per-class precision/recall; or R², RMSE and MAE for regression."""
    if task == "regression":
        return _regression_scores(np.asarray(y_true, float), np.asarray(y_pred, float))
    k = max(len(classes), int(max(y_true.max(), y_pred.max())) + 1)
    cm = np.zeros((k, k), dtype=np.int64)
    np.add.at(cm, (y_true.astype(int), y_pred.astype(int)), 1)
    tp = np.diag(cm)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.nan_to_num(tp / cm.sum(axis=0))
        recall = np.nan_to_num(tp / cm.sum(axis=1))
    return {
        "accuracy": float(tp.sum() / cm.sum()),
        "confusion": cm,
        "precision": precision,
        "recall": recall,
        "support": cm.sum(axis=1),
        "n": len(y_true),
    }


def _regression_scores(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, Any]:
    """R², RMSE and MAE; computed on values divided by a power of two near the largest, so targets near
    1e300 give finite scores (and ordinary ones exactly the unscaled numbers)."""
    if not np.isfinite(y_pred).all():
        raise DataError(
            "the model's predictions are not all finite numbers once put back into the target's units; "
            "rescale the target (e.g. divide it by a power of ten) and train again."
        )
    unit = float(unit_of(np.concatenate([y_true.ravel(), y_pred.ravel()]), axis=None))
    t, resid = y_true / unit, y_true / unit - y_pred / unit
    ss_tot = float(((t - t.mean()) ** 2).sum()) or 1.0
    return {
        "r2": 1 - float((resid**2).sum()) / ss_tot,
        "rmse": float(np.sqrt((resid**2).mean())) * unit,
        "mae": float(np.abs(resid).mean()) * unit,
        "n": len(y_true),
    }


def table(result: dict[str, Any], classes: list[str]) -> str:
    """The scores as a text table."""
    if "r2" in result:
        r = result
        return f"R²     {r['r2']:.4f}\nRMSE   {r['rmse']:.4g}\nMAE    {r['mae']:.4g}  ({r['n']} samples)"
    names = classes or [str(i) for i in range(len(result["support"]))]
    width = max(5, *(len(n) for n in names))
    lines = [f"{'class':<{width}}  precision  recall  support", "-" * (width + 27)]
    for i, name in enumerate(names):
        p, r, s = result["precision"][i], result["recall"][i], result["support"][i]
        lines.append(f"{name:<{width}}  {p:9.3f}  {r:6.3f}  {s:7d}")
    lines.append("-" * (width + 27))
    lines.append(f"accuracy: {result['accuracy']:.4f} ({int(np.trace(result['confusion']))}/{result['n']})")
    return "\n".join(lines)
