"""Datasets for training and trying models: generated, bundled with a dependency, or read from files.

``load("digits", seed=0)`` returns a :class:`Dataset` with train and test arrays. ``load`` also accepts
a path to a CSV, .npy/.npz or MNIST IDX file. Nothing here downloads.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from . import bundled, generated
from . import files as files  # the file loaders' names, where they were imported before each format had a module
from ._base import DataError, Dataset, check_finite, split
from .arrays import load_array, read_array_file
from .csv import load_csv, read_csv_rows
from .idx import load_idx, read_idx
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


def load(
    name: str | os.PathLike = DEFAULT,
    seed: int = 0,
    target: str | int | None = None,
    task: str | None = None,
    test_size: float = 0.2,
) -> Dataset:
    """The dataset called ``name``, or the data in the file ``name`` (CSV, .npy/.npz, IDX)."""
    if not is_path(name):
        key = str(name).lower().replace("-", "_")
        if key not in DATASETS:
            raise DataError(f"unknown dataset {str(name)!r}; choose one of {', '.join(DATASETS)}, or give a file path.")
        return DATASETS[key][0](seed=seed)
    path = Path(name)
    suffixes = "".join(path.suffixes[-2:]).lower()
    if "idx" in path.name:
        return load_idx(path, test_size=test_size, seed=seed)
    if path.suffix.lower() in (".npy", ".npz"):
        return load_array(path, target=target, task=task, test_size=test_size, seed=seed)
    if path.suffix.lower() in (".csv", ".txt", ".tsv") or suffixes.endswith(".csv"):
        return load_csv(path, target=target, task=task, test_size=test_size, seed=seed)
    if not path.exists():
        raise DataError(f"{path}: no such file.")
    raise DataError(f"{path}: unknown file type; use .csv, .npy, .npz or an MNIST IDX file.")


__all__ = [
    "DATASETS",
    "DEFAULT",
    "DataError",
    "Dataset",
    "Preprocessor",
    "check_finite",
    "load",
    "load_array",
    "load_csv",
    "load_idx",
    "read_array_file",
    "read_csv_rows",
    "read_idx",
    "split",
]
