"""Datasets for training and trying models: generated, bundled with a dependency, or read from files.

``load("digits", seed=0)`` returns a :class:`Dataset` with train and test arrays. ``load`` also accepts
a path to a CSV, .npy/.npz or MNIST IDX file. Nothing here downloads. Problems with the data are reported
as :class:`DataError` (a ValueError) naming what is wrong and what to do; what was done to the data that the
user should know of (a column dropped or ignored) as a :class:`DataNote` warning.

Files with a header are matched to a model by column name (:mod:`.columns`): ``load(path, features=...)``,
``read_features`` and ``Preprocessor.transform`` of a data frame follow the same rules.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

from . import bundled, generated
from . import files as files  # the file loaders' names, where they were imported before each format had a module
from ._base import FILE_TEST_SIZE, DataError, DataNote, Dataset, check_finite, check_task, split
from .arrays import array_columns, holds_targets, load_array, read_array_file
from .columns import select_features
from .csv import load_csv, read_csv, read_csv_columns, read_csv_rows
from .features import read_features
from .idx import load_idx, read_idx
from .layout import HEADER_CHOICES, check_header
from .preprocess import Preprocessor

DATASETS: dict[str, tuple[Callable[..., Dataset], str]] = {
    "xor": (generated.xor, "generated"),
    "and": (generated.and_, "generated"),
    "or": (generated.or_, "generated"),
    "planar": (generated.planar, "generated"),
    "moons": (generated.moons, "generated"),
    "circles": (generated.circles, "generated"),
    "spirals": (generated.spirals, "generated"),
    "curve": (generated.curve, "generated"),
    "iris": (bundled.iris, "scikit-learn"),
    "digits": (bundled.digits, "scikit-learn"),
    "breast_cancer": (bundled.breast_cancer, "scikit-learn"),
    "wine": (bundled.wine, "scikit-learn"),
    "diabetes": (bundled.diabetes, "scikit-learn"),
    "mnist1d": (bundled.mnist1d, "mnist1d"),
}
DEFAULT = "digits"


def is_path(name: str | os.PathLike) -> bool:
    """Whether ``name`` is meant as a file rather than a dataset name."""
    text = os.fspath(name)
    return os.sep in text or "/" in text or Path(text).suffix != "" or Path(text).exists()


def _kind(name: str | os.PathLike) -> str:
    """Which loader ``load`` hands ``name`` to: "named", "idx", "array", "csv", or "unknown"."""
    if not is_path(name):
        return "named"
    path = Path(name)
    if "idx" in path.name:
        return "idx"
    if path.suffix.lower() in (".npy", ".npz"):
        return "array"
    if path.suffix.lower() in (".csv", ".txt", ".tsv") or "".join(path.suffixes[-2:]).lower().endswith(".csv"):
        return "csv"
    return "unknown"


def takes_target(name: str | os.PathLike) -> bool:
    """Whether a target column is chosen for ``name``: a CSV file, or a .npy/.npz holding a single array.

    False for a named dataset, an MNIST IDX file and an .npz holding X and y: they come with their own target.
    """
    kind = _kind(name)
    return kind == "csv" or (kind == "array" and not holds_targets(name))


def columns(
    name: str | os.PathLike,
    delimiter: str | None = None,
    decimal: str = ".",
    header: str = "auto",
    names: Sequence[str] = (),
) -> tuple[list[str] | None, int] | None:
    """The column names (None where the file has none) and the number of columns of ``name``, a file whose target
    is one of its columns (see ``takes_target``); only a CSV's first rows or an array's header are read.

    None for any other dataset, and for a file that cannot be read that way (loading it says why).
    """
    if not takes_target(name):
        return None
    if _kind(name) == "array":
        width = array_columns(name)
        return None if width is None else (None, width)
    try:
        return read_csv_columns(name, delimiter, decimal, header, names)
    except DataError:
        return None


def takes_task(name: str | os.PathLike) -> bool:
    """Whether a task is chosen (or guessed) for ``name``: a CSV or .npy/.npz file.

    False for a named dataset and an MNIST IDX file: their task is fixed, and ``load`` refuses another.
    """
    return _kind(name) in ("csv", "array")


def load(
    name: str | os.PathLike = DEFAULT,
    seed: int = 0,
    target: str | int | None = None,
    task: str | None = None,
    test_size: float = FILE_TEST_SIZE,
    *,
    features: Sequence[str] | None = None,
    index_column: str | None = None,
    delimiter: str | None = None,
    decimal: str = ".",
    header: str = "auto",
) -> Dataset:
    """The dataset called ``name``, or the data in the file ``name`` (CSV, .npy/.npz, IDX).

    ``target`` picks the target column of a CSV (a name or an index) or of a single-array .npy/.npz (an index);
    None means the last column. A named dataset and an IDX file come with their own target, so a ``target``
    there raises DataError, as it does for an .npz holding X and y unless it names y.

    ``task`` ("classification", "regression", or None to guess from the target) applies to CSV and .npy/.npz
    files. A named dataset and an IDX file have a fixed task: there a ``task`` that agrees with it is accepted
    and one that disagrees raises DataError. ``test_size`` applies to files; a named dataset has its own split.

    For a CSV: ``features`` (a model's feature names) picks the feature columns of a file with a header by name,
    and ``index_column`` names an index column recorded in training (see ``load_csv``); ``delimiter`` (None:
    detected) and ``decimal`` ("." or ",") say how it is written, and ``header`` ("auto", "yes" or "no") whether
    its first row names the columns (see ``chainrule.datasets.layout``); they are refused for any other kind of file.
    """
    check_task(task)
    check_header(header)
    kind = _kind(name)
    if kind != "csv" and (delimiter is not None or decimal != "." or header != "auto"):
        raise DataError(f"{name}: a delimiter, a decimal mark and a header choice apply to CSV files only.")
    if kind == "named":
        key = str(name).lower().replace("-", "_")
        if key not in DATASETS:
            raise DataError(f"unknown dataset {str(name)!r}; choose one of {', '.join(DATASETS)}, or give a file path.")
        if target is not None:
            raise DataError(
                f"target {str(target)!r} cannot be used with the dataset {key!r}: it comes with its own target "
                f"(its labels or values). Leave out the target (--target); to choose a column, save the data to a "
                "CSV or .npy file and load that."
            )
        data = DATASETS[key][0](seed=seed)
        if task is not None and task != data.task:
            of = f" of {data.n_classes} classes" if data.task == "classification" else ""
            raise DataError(
                f"task {task!r} cannot be used with the dataset {key!r}: it is a {data.task} dataset{of}, "
                f"and a named dataset's task is fixed. Leave out the task (--task), or choose a {task} dataset "
                "(chainrule datasets lists each one's task)."
            )
        return data
    path = Path(name)
    if kind == "idx":
        if target is not None:
            labels = path.name.replace("images-idx3", "labels-idx1")
            raise DataError(
                f"{path}: target {str(target)!r} cannot be used: an MNIST IDX file comes with its own target, "
                f"the labels in {labels}. Leave out the target (--target)."
            )
        return load_idx(path, test_size=test_size, seed=seed, task=task)
    if kind == "array":
        return load_array(path, target=target, task=task, test_size=test_size, seed=seed)
    if kind == "csv":
        return load_csv(
            path,
            target=target,
            task=task,
            test_size=test_size,
            seed=seed,
            features=features,
            index_column=index_column,
            delimiter=delimiter,
            decimal=decimal,
            header=header,
        )
    if not path.exists():
        raise DataError(f"{path}: no such file.")
    raise DataError(f"{path}: unknown file type; use .csv, .npy, .npz or an MNIST IDX file.")


__all__ = [
    "DATASETS",
    "DEFAULT",
    "DataError",
    "DataNote",
    "Dataset",
    "FILE_TEST_SIZE",
    "HEADER_CHOICES",
    "Preprocessor",
    "check_finite",
    "columns",
    "load",
    "load_array",
    "load_csv",
    "load_idx",
    "read_array_file",
    "read_csv",
    "read_csv_rows",
    "read_features",
    "read_idx",
    "select_features",
    "split",
    "takes_target",
    "takes_task",
]
