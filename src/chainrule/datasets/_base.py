"""The Dataset record every loader returns, and the helpers they share."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

FILE_DEFAULTS = {"layers": [64], "activation": "relu", "optimizer": "adam", "lr": 0.01, "epochs": 50, "batch_size": 32}
FILE_TEST_SIZE = 0.2
"""The fraction of a data file held out for testing (stratified by class) when the file brings no test split."""
MAX_DATA_BYTES = 2 * 2**30  # refuse files declaring more than 2 GiB of data (full MNIST's images are 47 MB)


TASKS = ("classification", "regression")


class DataError(ValueError):
    """Data that cannot be used as given: the message names the file, row or column and what to do."""


class DataNote(UserWarning):
    """Something done to the data that the user should know of, such as a column dropped or ignored; one line.

    The command line prints each as a note on stderr."""


def check_task(task: str | None) -> None:
    """Refuse a ``task`` other than None (guess it), "classification" or "regression"."""
    if task is not None and task not in TASKS:
        raise DataError(f"task {task!r} is not known; use 'classification' or 'regression', or None to guess it.")


@dataclass
class Dataset:
    """Train and test arrays with what is needed to read them.

    ``task`` is "classification" (``y`` holds integer labels 0..k-1, named by
    ``classes``) or "regression" (``y`` holds floats). ``defaults`` are the
    training settings the command line uses for this dataset. ``named_features``
    says whether ``feature_names`` are the data's own column names (a CSV header,
    a named dataset's), by which files given to a model trained on it are matched.
    """

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    task: str = "classification"
    classes: list[str] = field(default_factory=list)
    feature_names: list[str] = field(default_factory=list)
    defaults: dict[str, Any] = field(default_factory=dict)
    source: dict[str, Any] = field(default_factory=dict)
    named_features: bool = False

    @property
    def n_features(self) -> int:
        return int(self.X_train.shape[1])

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def __repr__(self) -> str:
        kind = f"{self.n_classes} classes" if self.task == "classification" else "regression"
        return (
            f"Dataset({self.name!r}: {len(self.X_train)} train / {len(self.X_test)} test, "
            f"{self.n_features} features, {kind})"
        )


def split(
    X: np.ndarray, y: np.ndarray, test_size: float, seed: int, stratify: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A shuffled train/test split; stratified by label for classification."""
    rng = np.random.default_rng(seed)
    if stratify:
        test_idx = []
        for label in np.unique(y):
            idx = rng.permutation(np.flatnonzero(y == label))
            test_idx.append(idx[: int(round(len(idx) * test_size))])
        test = np.sort(np.concatenate(test_idx))
    else:
        test = np.sort(rng.permutation(len(X))[: int(round(len(X) * test_size))])
    mask = np.zeros(len(X), dtype=bool)
    mask[test] = True
    train = rng.permutation(np.flatnonzero(~mask))
    return X[train], y[train], X[mask], y[mask]


def split_file(
    X: np.ndarray, y: np.ndarray, test_size: float, seed: int, task: str, path: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``split`` for a file's data; unstratified when no class is big enough to give a test sample, refused when
    still none."""
    parts = split(X, y, test_size, seed, stratify=task == "classification")
    if len(parts[2]) == 0:
        parts = split(X, y, test_size, seed, stratify=False)
    if len(parts[2]) == 0:
        raise DataError(
            f"{path}: {len(X)} samples are too few to hold out a test set ({test_size:g} of them rounds to none); "
            "add samples."
        )
    return parts


def encode_labels(values: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Integer codes 0..k-1 for any labels, and the label names in code order."""
    uniq, codes = np.unique(values, return_inverse=True)
    names = [_label_name(u) for u in uniq]
    return codes.astype(np.int64), names


def _label_name(value: Any) -> str:
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def check_finite(X: np.ndarray, where: str) -> None:
    """Raise DataError naming the first row and column that holds NaN or infinity."""
    bad = ~np.isfinite(X)
    if bad.any():
        row, col = np.argwhere(bad.reshape(len(X), -1))[0]
        raise DataError(
            f"{where}: row {row + 1}, column {col + 1} is {X.reshape(len(X), -1)[row, col]}; "
            "remove or fill missing values first."
        )


def need(module: str, extra: str = "datasets"):
    """Import an optional dependency, or say which extra installs it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f'this needs {module.split(".")[0]}, which is not installed: pip install "chainrule[{extra}]"'
        ) from exc
