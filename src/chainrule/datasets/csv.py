"""CSV files: rows of comma-separated numbers, an optional header, and a target column of labels or values."""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any

import numpy as np

from ._base import FILE_DEFAULTS, FILE_TEST_SIZE, DataError, Dataset, split_file
from .targets import number, parse_targets, target_index


def read_csv_rows(path: str | os.PathLike) -> tuple[list[str] | None, list[list[str]], list[int]]:
    """(header or None, rows of cells, their line numbers in the file); checks shape and emptiness."""
    rows = _read_rows(path)
    width = len(rows[0][1])
    for n, r in rows:
        if len(r) != width:
            raise DataError(
                f"{path}: row {n} has {len(r)} fields but row {rows[0][0]} has {width}; every row needs {width}."
            )
    header = rows[0][1] if _is_header(rows) else None
    data = rows[1:] if header is not None else rows
    if not data:
        raise DataError(f"{path} has a header but no data rows.")
    return header, [r for _, r in data], [n for n, _ in data]


def read_csv_columns(path: str | os.PathLike) -> tuple[list[str] | None, int]:
    """(header or None, number of columns), as ``read_csv_rows`` sees them, from the first two rows alone."""
    rows = _read_rows(path, limit=2)
    return (rows[0][1] if _is_header(rows) else None), len(rows[0][1])


def _read_rows(path: str | os.PathLike, limit: int | None = None) -> list[tuple[int, list[str]]]:
    """(line number, stripped cells) of the rows that are not blank, the first ``limit`` of them if given."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file.")
    rows: list[tuple[int, list[str]]] = []
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            for n, r in enumerate(csv.reader(fh), 1):
                cells = [c.strip() for c in r]
                if any(cells):
                    rows.append((n, cells))
                    if len(rows) == limit:
                        break
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{path}: not a UTF-8 CSV text file ({exc}).") from None
    if not rows:
        raise DataError(f"{path} is empty: expected rows of comma-separated values.")
    return rows


def _is_header(rows: list[tuple[int, list[str]]]) -> bool:
    """Whether the first row names the columns: no cell is a number, or one is text above a number."""
    first = rows[0][1]
    second = rows[1][1] if len(rows) > 1 else None
    numeric_first = [number(c) is not None for c in first]
    return not any(numeric_first) or (
        second is not None and any(not f and number(s) is not None for f, s in zip(numeric_first, second))
    )


def parse_features(rows: list[list[str]], cols: list[int], names: list[str], path: Any, lines: list[int]) -> np.ndarray:
    """Float matrix from the cells of ``cols``, naming the first cell that is not a number."""
    X = np.empty((len(rows), len(cols)))
    for i, r in enumerate(rows):
        for j, c in enumerate(cols):
            value = number(r[c])
            if r[c] == "":
                raise DataError(
                    f"{path}: row {lines[i]}, column {names[j]!r} is empty; fill it in, or remove the row or column."
                )
            if value is None:
                raise DataError(
                    f"{path}: row {lines[i]}, column {names[j]!r}: {r[c]!r} is not a number; "
                    "feature columns must be numeric."
                )
            X[i, j] = value
    bad = ~np.isfinite(X)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise DataError(
            f"{path}: row {lines[i]}, column {names[j]!r} is {rows[i][cols[j]]!r}; remove or fill missing values first."
        )
    return X


def load_csv(
    path: str | os.PathLike,
    target: str | int | None = None,
    task: str | None = None,
    test_size: float = FILE_TEST_SIZE,
    seed: int = 0,
) -> Dataset:
    """A Dataset from a CSV file whose ``target`` column holds the labels or values."""
    header, rows, lines = read_csv_rows(path)
    width = len(rows[0])
    if width < 2:
        raise DataError(f"{path}: a training file needs at least one feature column and a target column.")
    t = target_index(header, width, target, path)
    cols = [c for c in range(width) if c != t]
    names = [header[c] for c in cols] if header else [f"column {c + 1}" for c in cols]
    X = parse_features(rows, cols, names, path, lines)
    y, task, classes = parse_targets([r[t] for r in rows], task, path, lines)
    return Dataset(
        Path(path).stem,
        *split_file(X, y, test_size, seed, task, path),
        task=task,
        classes=classes,
        feature_names=[header[c] for c in cols] if header else [f"x{c + 1}" for c in cols],
        defaults=dict(FILE_DEFAULTS),
        source={"path": str(path), "target": header[t] if header else t, "column": t},
    )
