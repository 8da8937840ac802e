""".npy and .npz files: read without unpickling, their headers checked against a size limit before any data."""

from __future__ import annotations

import math
import os
import zipfile
import zlib
from collections.abc import Container
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from ._base import (
    FILE_DEFAULTS,
    FILE_TEST_SIZE,
    MAX_DATA_BYTES,
    DataError,
    Dataset,
    _label_name,
    check_finite,
    split_file,
)
from .targets import number, parse_targets, target_index


def read_array_file(path: str | os.PathLike, max_bytes: int = MAX_DATA_BYTES) -> dict[str, np.ndarray]:
    """The arrays of a .npy or .npz file, never unpickling.

    The headers are read first: a file declaring more than ``max_bytes`` of data in all (a compressed .npz
    inflates) is refused before any array is read.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file.")
    try:  # RuntimeError: an encrypted .npz member, or a compression method zipfile lacks
        size = _declared_bytes(path)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error, RuntimeError) as exc:
        raise DataError(f"{path}: not a readable NumPy file ({' '.join(str(exc).split())}).") from None
    if size > max_bytes:
        raise DataError(
            f"{path}: its arrays declare {size:,} bytes of data; the limit is {max_bytes:,} bytes. "
            "The file is damaged, or too large to load at once: split it."
        )
    try:
        data = np.load(path, allow_pickle=False)
        if isinstance(data, np.ndarray):
            return {"data": data}
        with data:  # .npz members are read (and may fail) only here
            return {k: data[k] for k in data.files}
    except (ValueError, OSError, EOFError, MemoryError, zipfile.BadZipFile, zlib.error) as exc:
        raise DataError(f"{path}: not a readable NumPy file ({' '.join(str(exc).split())}).") from None


def _declared_bytes(path: Path) -> int:
    """The bytes of data a .npy file's header, or the members of a .npz, declare; only headers are read."""
    with open(path, "rb") as fh:
        if fh.read(4) != b"PK\x03\x04":
            fh.seek(0)
            return _npy_bytes(fh)
        fh.seek(0)
        with zipfile.ZipFile(fh) as zf:
            total = 0
            for info in zf.infolist():
                with zf.open(info) as member:
                    npy = member.read(6) == b"\x93NUMPY"
                if npy:
                    with zf.open(info) as member:
                        total += _npy_bytes(member)
                else:  # np.load returns other members as bytes, as long as the zip directory says
                    total += info.file_size
            return total


def _npy_bytes(fh: BinaryIO) -> int:
    shape, dtype = _npy_header(fh)
    return math.prod(shape) * dtype.itemsize


def _npy_header(fh: BinaryIO) -> tuple[tuple[int, ...], np.dtype]:
    """The shape and dtype a .npy header declares; the data after it is not read."""
    version = np.lib.format.read_magic(fh)  # ValueError if this is no .npy
    read = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}.get(version)
    if read is None:
        raise ValueError(f".npy format version {version[0]}.{version[1]} is not supported; save with np.save")
    shape, _, dtype = read(fh)
    return shape, dtype


def array_columns(path: str | os.PathLike) -> int | None:
    """The number of columns of the lone 2-D array of a .npy or .npz file, read from its header alone; None for a
    file holding several arrays or another shape, or one that cannot be read (loading it says why)."""
    try:
        with open(path, "rb") as fh:
            if fh.read(4) != b"PK\x03\x04":
                fh.seek(0)
                shape, _ = _npy_header(fh)
            else:
                fh.seek(0)
                with zipfile.ZipFile(fh) as zf:
                    members = zf.infolist()
                    if len(members) != 1:
                        return None
                    with zf.open(members[0]) as member:
                        shape, _ = _npy_header(member)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error, RuntimeError):
        return None
    return shape[1] if len(shape) == 2 else None


def load_array(
    path: str | os.PathLike,
    target: int | str | None = None,
    task: str | None = None,
    test_size: float = FILE_TEST_SIZE,
    seed: int = 0,
) -> Dataset:
    """.npz with X and y (or X_train, y_train, X_test, y_test), or a 2-D .npy whose ``target`` column is y.

    ``target`` is a column index of a lone array (a string of digits is accepted, as the command line gives it).
    A file with X and y names its target itself: there ``target`` must be None or that array's name ("y", or
    "y_train"); any other value is refused rather than ignored. The column used is recorded in ``source["target"]``
    (an index from 0, as a CSV without column names records it), so that ``evaluate`` can use it again.
    """
    path = Path(path)
    arrays = read_array_file(path)
    source: dict[str, Any] = {"path": str(path)}
    own = target_array(arrays)
    if own is not None:
        _check_target_name(target, own, path)
    if own == "y_train":
        X, y = arrays["X_train"], arrays["y_train"]
        held = (arrays.get("X_test"), arrays.get("y_test"))
    elif own == "y":
        X, y, held = arrays["X"], arrays["y"], (None, None)
    elif len(arrays) == 1:
        M = _numbers(next(iter(arrays.values())), path)
        if M.ndim != 2 or M.shape[1] < 2:
            raise DataError(f"{path}: expected a 2-D array of features and a target column; got shape {M.shape}.")
        t = target_index(None, M.shape[1], target, path)
        X, y, held = np.delete(M, t, axis=1), M[:, t], (None, None)
        source["target"] = t
    else:
        raise DataError(f"{path}: expected arrays named X and y (or X_train, y_train); found {sorted(arrays)}.")
    X = _as_matrix(X, path, "X")
    codes, task, classes = parse_targets(_label_strings(y, len(X), path, "y"), task, f"{path}: y")
    if held[0] is not None and held[1] is not None:
        Xte = _as_matrix(held[0], path, "X_test")
        if Xte.shape[1] != X.shape[1]:
            raise DataError(f"{path}: X_test has {Xte.shape[1]} features but X_train has {X.shape[1]}.")
        yte = _test_targets(_label_strings(held[1], len(Xte), path, "y_test"), task, classes, path)
        parts = (X, codes, Xte, yte)
    else:
        parts = split_file(X, codes, test_size, seed, task, path)
    return Dataset(
        path.stem,
        *parts,
        task=task,
        classes=classes,
        feature_names=[f"x{i + 1}" for i in range(X.shape[1])],
        defaults=dict(FILE_DEFAULTS),
        source=source,
    )


def target_array(names: Container[str]) -> str | None:
    """The name of the array that holds the targets ("y_train" or "y"), or None when a column must be chosen."""
    if "X_train" in names and "y_train" in names:
        return "y_train"
    if "X" in names and "y" in names:
        return "y"
    return None


def holds_targets(path: str | os.PathLike) -> bool:
    """Whether ``path`` is an .npz whose targets are an array of their own (y, or y_train), so that no target
    column is to be chosen. Only the zip directory is read; an unreadable file gives False (loading it says why)."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = {n[:-4] if n.endswith(".npy") else n for n in zf.namelist()}
    except (OSError, ValueError, RuntimeError, zipfile.BadZipFile):
        return False
    return target_array(names) is not None


def _check_target_name(target: int | str | None, own: str, path: Path) -> None:
    """Refuse a ``target`` that would pick a column of a file whose targets are an array of their own."""
    if target is None or str(target) in (own, "y"):
        return
    features = "X_train" if own == "y_train" else "X"
    raise DataError(
        f"{path}: target {str(target)!r} cannot be used: this file holds arrays {features} and {own}, so {own} is "
        f"the target. Leave out the target (--target), or save one array with the target as a column, "
        f"e.g. np.save('data.npy', np.c_[X, y]), and give that column's index."
    )


def _numbers(M: np.ndarray, path: Path) -> np.ndarray:
    """A lone array as floats: features and target column alike must be numbers."""
    if M.dtype.kind in "biuf":
        return M.astype(float)
    if M.dtype.kind in "US":
        try:
            return M.astype(float)
        except ValueError:
            pass
    raise DataError(
        f"{path}: a single array must hold numbers only; got dtype {M.dtype}. For text labels save the "
        "features and labels apart: np.savez(path, X=X, y=y)."
    )


def _label_strings(y: np.ndarray, n: int, path: Path, name: str) -> list[str]:
    """One label or value per row of the features, as text for ``parse_targets``."""
    y = np.asarray(y)
    if y.ndim > 2 or (y.ndim == 2 and y.shape[1] != 1):
        raise DataError(f"{path}: {name} must hold one label per row, shape ({n},); got shape {y.shape}.")
    y = y.ravel()
    if len(y) != n:
        raise DataError(f"{path}: {name} has {len(y)} labels but its features have {n} rows; they must match.")
    if y.dtype.kind == "U":
        return [str(v) for v in y]
    if y.dtype.kind == "S":
        return [v.decode("utf-8", "replace") for v in y]
    if y.dtype.kind in "biuf":
        return [repr(float(v)) for v in y]
    raise DataError(f"{path}: {name} must hold numbers or text labels; got dtype {y.dtype}.")


def _test_targets(values: list[str], task: str, classes: list[str], path: Path) -> np.ndarray:
    """y_test coded with the training labels' classes (or as floats for regression)."""
    if task == "regression":
        return parse_targets(values, "regression", f"{path}: y_test")[0]
    lookup = {c: i for i, c in enumerate(classes)}
    numbers = [number(v) for v in values]
    names = [v if v in lookup or n is None or not math.isfinite(n) else _label_name(n) for v, n in zip(values, numbers)]
    missing = sorted({v for v in names if v not in lookup})
    if missing:
        raise DataError(f"{path}: y_test has labels {missing} that y_train lacks.")
    return np.array([lookup[v] for v in names], dtype=np.int64)


def _as_matrix(X: np.ndarray, path: Any, name: str = "X") -> np.ndarray:
    """Features as a float matrix (one row per sample), refusing text, empty arrays, NaN and infinity."""
    X = np.asarray(X)
    if X.dtype.kind not in "biuf":
        raise DataError(f"{path}: features must be numeric; got dtype {X.dtype}.")
    if X.ndim == 0 or len(X) == 0 or X.size == 0:
        raise DataError(f"{path}: {name} has shape {X.shape}, which holds no samples; expected (samples, features).")
    X = X.reshape(len(X), -1).astype(float)
    check_finite(X, str(path))
    return X
