"""The features of a file to predict for: a CSV matched to the model by column name, or a .npy/.npz by position."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ._base import DataError, check_finite
from .arrays import read_array_file
from .columns import select_features
from .csv import read_csv
from .layout import is_index_run, note_index


def read_features(
    path: str | os.PathLike,
    features: Sequence[str] | None = None,
    index_column: str | None = None,
    ignore: Sequence[str] = (),
    delimiter: str | None = None,
    decimal: str = ".",
    header: str = "auto",
    n_features: int | None = None,
) -> np.ndarray:
    """The feature matrix in ``path``, one row per sample.

    A CSV with a header is matched by name to ``features`` (a model's feature names, in its order; None: every
    column, by position), with the rules of ``chainrule.datasets.columns``; columns named in ``ignore`` (the
    training target) are left out silently, and an index column is dropped. A CSV without a header, and a .npy or
    .npz (its ``X``, else its first array), are taken by position. ``delimiter`` and ``decimal`` are as in
    ``read_csv``; ``header`` ("auto", "yes", "no") says whether the first row is a header: in "auto", a first
    row naming every one of ``features`` is one, and the rules of ``chainrule.datasets.layout`` decide the
    rest. In a file without a header that has one column more than the model's ``n_features``, a first column
    recorded as an index in training (``index_column``), or holding consecutive integers, is dropped.
    """
    p = Path(path)
    if p.suffix.lower() in (".npy", ".npz"):
        if delimiter is not None or decimal != ".":
            raise DataError(f"{path}: a delimiter and a decimal mark apply to CSV files only; this is a NumPy file.")
        arrays = read_array_file(p)
        X = np.asarray(arrays.get("X", next(iter(arrays.values()))))
        if X.dtype.kind not in "biuf":
            raise DataError(f"{path}: features must be numeric; got dtype {X.dtype}.")
        X = X.reshape(len(X), -1).astype(float) if X.ndim != 1 else X.astype(float)[None, :]
        check_finite(X, str(path))
        return X
    if p.suffix.lower() not in (".csv", ".txt", ".tsv"):
        raise DataError(f"{path}: features are read from .csv, .tsv, .txt, .npy or .npz files.")
    table = read_csv(p, delimiter, decimal, header, features or ())
    if table.header is None:
        first = table.column(0)
        index = n_features is not None and table.width == n_features + 1
        if index and index_column is None and not is_index_run(first):
            index = False
        elif index and index_column is None:
            note_index(table.where, first)
        return table.numbers(range(1 if index else 0, table.width))
    skip = {c for c, name in enumerate(table.header) if name in ignore}
    chosen = select_features(table.header, table.column, table.where, skip, features, index_column)
    return table.numbers(chosen.columns)
