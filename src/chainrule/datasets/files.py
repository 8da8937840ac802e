"""The user's own data: CSV, .npy/.npz and MNIST IDX files (gzipped or not).

Every problem is reported as a DataError that names the file, and the row
and column where there is one.
"""

from __future__ import annotations

import csv
import gzip
import math
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from ._base import DataError, Dataset, check_finite, encode_labels, split

FILE_DEFAULTS = {"layers": [64], "activation": "relu", "optimizer": "adam", "lr": 0.01, "epochs": 50, "batch_size": 32}
IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def _number(cell: str) -> float | None:
    try:
        return float(cell)
    except ValueError:
        return None


def read_csv_rows(path: str | os.PathLike) -> tuple[list[str] | None, list[list[str]], list[int]]:
    """(header or None, rows of cells, their line numbers in the file); checks shape and emptiness."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file.")
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = [(n, [c.strip() for c in r]) for n, r in enumerate(csv.reader(fh), 1) if any(c.strip() for c in r)]
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{path}: not a UTF-8 CSV text file ({exc}).") from None
    if not rows:
        raise DataError(f"{path} is empty: expected rows of comma-separated values.")
    width = len(rows[0][1])
    for n, r in rows:
        if len(r) != width:
            raise DataError(
                f"{path}: row {n} has {len(r)} fields but row {rows[0][0]} has {width}; every row needs {width}."
            )
    first = rows[0][1]
    second = rows[1][1] if len(rows) > 1 else None
    numeric_first = [_number(c) is not None for c in first]
    is_header = not any(numeric_first) or (
        second is not None and any(not f and _number(s) is not None for f, s in zip(numeric_first, second))
    )
    header = first if is_header else None
    data = rows[1:] if is_header else rows
    if not data:
        raise DataError(f"{path} has a header but no data rows.")
    return header, [r for _, r in data], [n for n, _ in data]


def target_index(header: list[str] | None, width: int, target: str | int | None, path: Any) -> int:
    """The column index that ``target`` (a name, an index, or None for the last column) names."""
    if target is None:
        return width - 1
    if header is not None and str(target) in header:
        return header.index(str(target))
    try:
        index = int(target)
    except ValueError:
        cols = ", ".join(header) if header else f"{width} unnamed columns"
        raise DataError(f"{path}: no target column named {target!r}; the columns are {cols}.") from None
    if not -width <= index < width:
        raise DataError(f"{path}: target column index {index} is out of range for {width} columns.")
    return index % width


def parse_features(rows: list[list[str]], cols: list[int], names: list[str], path: Any, lines: list[int]) -> np.ndarray:
    """Float matrix from the cells of ``cols``, naming the first cell that is not a number."""
    X = np.empty((len(rows), len(cols)))
    for i, r in enumerate(rows):
        for j, c in enumerate(cols):
            value = _number(r[c])
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


def _targets(values: list[str], task: str | None) -> tuple[np.ndarray, str, list[str]]:
    numbers = [_number(v) for v in values]
    numeric = all(v is not None for v in numbers)
    if task is None:
        integral = numeric and all(float(v).is_integer() for v in numbers)
        task = "classification" if (not numeric or (integral and len(set(numbers)) <= 50)) else "regression"
    if task == "regression":
        if not numeric:
            bad = next(i for i, v in enumerate(numbers) if v is None)
            raise DataError(f"target value {values[bad]!r} is not a number, so this cannot be regression.")
        return np.asarray(numbers, dtype=float), task, []
    codes, classes = encode_labels(np.asarray(numbers if numeric else values, dtype=float if numeric else object))
    return codes, task, classes


def load_csv(
    path: str | os.PathLike,
    target: str | int | None = None,
    task: str | None = None,
    test_size: float = 0.2,
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
    try:
        y, task, classes = _targets([r[t] for r in rows], task)
    except DataError as exc:
        raise DataError(f"{path}: {exc}") from None
    Xtr, ytr, Xte, yte = split(X, y, test_size, seed, stratify=task == "classification")
    return Dataset(
        Path(path).stem,
        Xtr,
        ytr,
        Xte,
        yte,
        task=task,
        classes=classes,
        feature_names=[header[c] for c in cols] if header else [f"x{c + 1}" for c in cols],
        defaults=dict(FILE_DEFAULTS),
        source={"path": str(path), "target": header[t] if header else t},
    )


def load_array(
    path: str | os.PathLike, target: int | None = None, task: str | None = None, test_size: float = 0.2, seed: int = 0
) -> Dataset:
    """.npz with X and y (or X_train, y_train, X_test, y_test), or a 2-D .npy whose ``target`` column is y."""
    try:
        return _load_array(Path(path), target, task, test_size, seed)
    except DataError:
        raise
    except (ValueError, TypeError, IndexError) as exc:  # arrays of a shape or kind no branch below expects
        raise DataError(f"{path}: these arrays cannot be used as a dataset ({type(exc).__name__}: {exc}).") from None


def _load_array(path: Path, target: int | None, task: str | None, test_size: float, seed: int) -> Dataset:
    arrays = read_array_file(path)
    if "X_train" in arrays and "y_train" in arrays:
        X, y = arrays["X_train"], arrays["y_train"]
        held = (arrays.get("X_test"), arrays.get("y_test"))
    elif "X" in arrays and "y" in arrays:
        X, y, held = arrays["X"], arrays["y"], (None, None)
    elif len(arrays) == 1:
        M = np.asarray(next(iter(arrays.values())), dtype=float)
        if M.ndim != 2 or M.shape[1] < 2:
            raise DataError(f"{path}: expected a 2-D array of features and a target column; got shape {M.shape}.")
        t = (M.shape[1] - 1) if target is None else int(target) % M.shape[1]
        X, y, held = np.delete(M, t, axis=1), M[:, t], (None, None)
    else:
        raise DataError(f"{path}: expected arrays named X and y (or X_train, y_train); found {sorted(arrays)}.")
    X = _as_matrix(X, path)
    y = np.asarray(y).ravel()
    if len(X) != len(y):
        raise DataError(f"{path}: X has {len(X)} rows but y has {len(y)}.")
    ys = [str(v) for v in y] if y.dtype.kind in "USO" else [repr(float(v)) for v in y]
    codes, task, classes = _targets(ys, task)
    if held[0] is not None and held[1] is not None:
        Xte = _as_matrix(held[0], path)
        yte_raw = np.asarray(held[1]).ravel()
        if task == "classification":
            lookup = {c: i for i, c in enumerate(classes)}
            names = encode_labels(yte_raw)[1]
            missing = [n for n in names if n not in lookup]
            if missing:
                raise DataError(f"{path}: y_test has labels {missing} that y_train lacks.")
            yte = np.array([lookup[n] for n in (encode_labels(np.array([v]))[1][0] for v in yte_raw)])
        else:
            yte = yte_raw.astype(float)
        Xtr, ytr = X, codes
    else:
        Xtr, ytr, Xte, yte = split(X, codes, test_size, seed, stratify=task == "classification")
    return Dataset(
        path.stem,
        Xtr,
        ytr,
        Xte,
        yte,
        task=task,
        classes=classes,
        feature_names=[f"x{i + 1}" for i in range(X.shape[1])],
        defaults=dict(FILE_DEFAULTS),
        source={"path": str(path)},
    )


def read_array_file(path: Path) -> dict[str, np.ndarray]:
    """The arrays of a .npy or .npz file, never unpickling."""
    if not path.is_file():
        raise DataError(f"{path}: no such file.")
    try:
        data = np.load(path, allow_pickle=False)
        if isinstance(data, np.ndarray):
            return {"data": data}
        with data:  # .npz members are read (and may fail) only here
            return {k: data[k] for k in data.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(f"{path}: not a readable NumPy file ({' '.join(str(exc).split())}).") from None


def _as_matrix(X: Any, path: Any) -> np.ndarray:
    X = np.asarray(X)
    if X.dtype.kind not in "biuf":
        raise DataError(f"{path}: features must be numeric; got dtype {X.dtype}.")
    X = X.reshape(len(X), -1).astype(float)
    check_finite(X, str(path))
    return X


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """An array from an IDX file (the MNIST format), gzipped or not."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file.")
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc}).") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_TYPES:
        raise DataError(f"{path}: not an IDX file (bad magic number).")
    ndim = raw[3]
    dims = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    if 0 in dims:
        raise DataError(f"{path}: IDX header says shape {dims}, which holds no data.")
    dtype = np.dtype(IDX_TYPES[raw[2]])
    offset = 4 + 4 * ndim
    if len(raw) < offset or len(raw) - offset != math.prod(dims) * dtype.itemsize:
        raise DataError(f"{path}: IDX header says shape {dims} but the file holds a different amount of data.")
    return np.frombuffer(raw, dtype=dtype, offset=offset).reshape(dims)


def load_idx(path: str | os.PathLike, test_size: float = 0.2, seed: int = 0) -> Dataset:
    """MNIST-style IDX images with their labels file beside them (``images-idx3`` → ``labels-idx1``).

    If the matching ``t10k-*`` test files are in the same folder they are the test split.
    """
    try:
        return _load_idx(Path(path), test_size, seed)
    except DataError:
        raise
    except (ValueError, TypeError, IndexError) as exc:  # well-formed IDX files of an unusable shape
        raise DataError(f"{path}: these IDX files cannot be used as a dataset ({type(exc).__name__}: {exc}).") from None


def _load_idx(path: Path, test_size: float, seed: int) -> Dataset:
    labels_path = path.with_name(path.name.replace("images-idx3", "labels-idx1"))
    if labels_path == path or not labels_path.is_file():
        raise DataError(f"{path}: cannot find its labels file {labels_path.name} beside it.")
    images = read_idx(path)
    X = images.reshape(len(images), -1).astype(float) / 255.0
    values, y = np.unique(read_idx(labels_path), return_inverse=True)  # classes: the labels present, not 0..max
    y = y.ravel()
    if len(X) != len(y):
        raise DataError(f"{path}: {len(X)} images but {len(y)} labels in {labels_path.name}.")
    test_img = path.with_name(path.name.replace("train-", "t10k-"))
    test_lab = labels_path.with_name(labels_path.name.replace("train-", "t10k-"))
    classes = [str(v) for v in values]
    if test_img != path and test_img.is_file() and test_lab.is_file():
        Xte = read_idx(test_img).reshape(-1, X.shape[1]).astype(float) / 255.0
        test_labels = read_idx(test_lab).ravel()
        if not np.isin(test_labels, values).all():
            raise DataError(f"{test_lab.name} has labels that the training labels do not.")
        yte = np.searchsorted(values, test_labels)
        Xtr, ytr = X, y
    else:
        Xtr, ytr, Xte, yte = split(X, y, test_size, seed, stratify=True)
    defaults = dict(FILE_DEFAULTS, layers=[128], lr=0.001, epochs=10, batch_size=128)
    return Dataset(
        path.name.split("-")[0],
        Xtr,
        ytr,
        Xte,
        yte,
        classes=classes,
        feature_names=[f"px{i}" for i in range(X.shape[1])],
        defaults=defaults,
        source={"path": str(path)},
    )
