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
import zlib
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from ._base import DataError, Dataset, _label_name, check_finite, encode_labels, split

FILE_DEFAULTS = {"layers": [64], "activation": "relu", "optimizer": "adam", "lr": 0.01, "epochs": 50, "batch_size": 32}
IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
MAX_DATA_BYTES = 2 * 2**30  # refuse files declaring more than 2 GiB of data (full MNIST's images are 47 MB)
IDX_CHUNK = 2**24


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


def _targets(values: list[str], task: str | None, rows: list[int] | None = None) -> tuple[np.ndarray, str, list[str]]:
    """Codes and class names, or float values for regression; ``rows`` are the file's line numbers, if any."""
    numbers = [_number(v) for v in values]
    for i, (v, n) in enumerate(zip(values, numbers)):
        if v == "" or (n is not None and not math.isfinite(n)):
            where = f"row {rows[i]}" if rows else f"sample {i + 1}"
            raise DataError(f"the target of {where} is {v!r}; remove that row or fill in its label or value.")
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
    if len(classes) < 2:
        raise DataError(
            f"every target is {classes[0]!r}: classification needs at least two classes. Check that the target "
            "column holds the labels, or ask for regression (task='regression', --task regression)."
        )
    return codes, task, classes


def _split(
    X: np.ndarray, y: np.ndarray, test_size: float, seed: int, task: str, path: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``split``; unstratified when no class is big enough to give a test sample, refused when still none."""
    parts = split(X, y, test_size, seed, stratify=task == "classification")
    if len(parts[2]) == 0:
        parts = split(X, y, test_size, seed, stratify=False)
    if len(parts[2]) == 0:
        raise DataError(
            f"{path}: {len(X)} samples are too few to hold out a test set ({test_size:g} of them rounds to none); "
            "add samples."
        )
    return parts


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
        y, task, classes = _targets([r[t] for r in rows], task, lines)
    except DataError as exc:
        raise DataError(f"{path}: {exc}") from None
    Xtr, ytr, Xte, yte = _split(X, y, test_size, seed, task, path)
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
    path = Path(path)
    arrays = read_array_file(path)
    if "X_train" in arrays and "y_train" in arrays:
        X, y = arrays["X_train"], arrays["y_train"]
        held = (arrays.get("X_test"), arrays.get("y_test"))
    elif "X" in arrays and "y" in arrays:
        X, y, held = arrays["X"], arrays["y"], (None, None)
    elif len(arrays) == 1:
        M = _numbers(next(iter(arrays.values())), path)
        if M.ndim != 2 or M.shape[1] < 2:
            raise DataError(f"{path}: expected a 2-D array of features and a target column; got shape {M.shape}.")
        t = target_index(None, M.shape[1], target, path)
        X, y, held = np.delete(M, t, axis=1), M[:, t], (None, None)
    else:
        raise DataError(f"{path}: expected arrays named X and y (or X_train, y_train); found {sorted(arrays)}.")
    X = _as_matrix(X, path, "X")
    ys = _label_strings(y, len(X), path, "y")
    try:
        codes, task, classes = _targets(ys, task)
    except DataError as exc:
        raise DataError(f"{path}: y: {exc}") from None
    if held[0] is not None and held[1] is not None:
        Xte = _as_matrix(held[0], path, "X_test")
        if Xte.shape[1] != X.shape[1]:
            raise DataError(f"{path}: X_test has {Xte.shape[1]} features but X_train has {X.shape[1]}.")
        yte = _test_targets(_label_strings(held[1], len(Xte), path, "y_test"), task, classes, path)
        Xtr, ytr = X, codes
    else:
        Xtr, ytr, Xte, yte = _split(X, codes, test_size, seed, task, path)
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
    """One label or value per row of the features, as text for ``_targets``."""
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
        try:
            return _targets(values, "regression")[0]
        except DataError as exc:
            raise DataError(f"{path}: y_test: {exc}") from None
    lookup = {c: i for i, c in enumerate(classes)}
    numbers = [_number(v) for v in values]
    names = [v if v in lookup or n is None or not math.isfinite(n) else _label_name(n) for v, n in zip(values, numbers)]
    missing = sorted({v for v in names if v not in lookup})
    if missing:
        raise DataError(f"{path}: y_test has labels {missing} that y_train lacks.")
    return np.array([lookup[v] for v in names], dtype=np.int64)


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
    version = np.lib.format.read_magic(fh)  # ValueError if this is no .npy
    read = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}.get(version)
    if read is None:
        raise ValueError(f".npy format version {version[0]}.{version[1]} is not supported; save with np.save")
    shape, _, dtype = read(fh)
    return math.prod(shape) * dtype.itemsize


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


def read_idx(path: str | os.PathLike, max_bytes: int = MAX_DATA_BYTES) -> np.ndarray:
    """An array from an IDX file (the MNIST format), gzipped or not.

    The header is read first; a file whose header declares more than ``max_bytes`` of data, or whose data
    are shorter or longer than the header declares, is refused before the data are read into memory, so a
    small gzip file that would inflate to gigabytes costs no more than the declared size.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file.")
    try:
        with open(path, "rb") as raw:
            zipped = raw.read(2) == b"\x1f\x8b"  # gzip's magic number, whatever the file is called
        with (gzip.open if zipped else open)(path, "rb") as fh:
            return _read_idx_stream(fh, path, max_bytes)
    except (OSError, EOFError, zlib.error) as exc:  # unreadable, or a damaged or truncated gzip stream
        raise DataError(f"{path}: cannot read ({exc}); check the download is complete.") from None


def _read_idx_stream(fh: BinaryIO, path: Path, max_bytes: int) -> np.ndarray:
    magic = fh.read(4)
    if len(magic) < 4 or magic[0] != 0 or magic[1] != 0 or magic[2] not in IDX_TYPES:
        raise DataError(f"{path}: not an IDX file (bad magic number).")
    ndim, dtype = magic[3], np.dtype(IDX_TYPES[magic[2]])
    head = fh.read(4 * ndim)
    if len(head) < 4 * ndim:
        raise DataError(f"{path}: IDX header declares {ndim} dimensions but the file ends inside the header.")
    dims = tuple(int.from_bytes(head[4 * i : 4 * i + 4], "big") for i in range(ndim))
    if 0 in dims:
        raise DataError(f"{path}: IDX header says shape {dims}, which holds no data.")
    size = math.prod(dims) * dtype.itemsize
    if size > max_bytes:
        raise DataError(
            f"{path}: IDX header declares shape {dims} of {dtype.name}, {size:,} bytes of data; the limit is "
            f"{max_bytes:,} bytes. The header is damaged, or the file is too large to load at once: split it."
        )
    data = np.empty(size, dtype=np.uint8)  # not touched (so not resident) until the bytes arrive
    view, got = memoryview(data), 0
    while got < size:  # into the buffer the header paid for, never more
        n = fh.readinto(view[got : got + IDX_CHUNK])
        if not n:
            raise DataError(
                f"{path}: IDX header says shape {dims} ({size:,} bytes of data) but the file holds only {got:,} "
                "bytes; the file is truncated."
            )
        got += n
    if fh.read(1):
        raise DataError(
            f"{path}: IDX header says shape {dims} ({size:,} bytes of data) but the file holds more; "
            "the header or the data are wrong."
        )
    return data.view(dtype).reshape(dims)


def load_idx(path: str | os.PathLike, test_size: float = 0.2, seed: int = 0) -> Dataset:
    """MNIST-style IDX images with their labels file beside them (``images-idx3`` → ``labels-idx1``).

    If the matching ``t10k-*`` test files are in the same folder they are the test split.
    """
    path = Path(path)
    labels_path = path.with_name(path.name.replace("images-idx3", "labels-idx1"))
    if labels_path == path or not labels_path.is_file():
        raise DataError(f"{path}: cannot find its labels file {labels_path.name} beside it.")
    X, labels = _idx_pair(path, labels_path)
    values, y = np.unique(labels, return_inverse=True)  # classes: the labels present, not 0..max
    if len(values) < 2:
        raise DataError(f"{labels_path}: every label is {values[0]}; classification needs at least two classes.")
    test_img = path.with_name(path.name.replace("train-", "t10k-"))
    test_lab = labels_path.with_name(labels_path.name.replace("train-", "t10k-"))
    classes = [str(v) for v in values]
    if test_img != path and test_img.is_file() and test_lab.is_file():
        Xte, test_labels = _idx_pair(test_img, test_lab)
        if Xte.shape[1] != X.shape[1]:
            raise DataError(f"{test_img}: images of {Xte.shape[1]} pixels, but the training images have {X.shape[1]}.")
        if not np.isin(test_labels, values).all():
            raise DataError(f"{test_lab.name} has labels that the training labels do not.")
        yte = np.searchsorted(values, test_labels)
        Xtr, ytr = X, y.ravel()
    else:
        Xtr, ytr, Xte, yte = _split(X, y.ravel(), test_size, seed, "classification", path)
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


def _idx_pair(images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Images as a (n, pixels) float matrix scaled by 1/255, and their n labels, checked against each other."""
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim == 0:
        raise DataError(f"{images_path}: holds a single value; expected images of shape (n, rows, columns).")
    if labels.ndim != 1:
        raise DataError(f"{labels_path}: has shape {labels.shape}; expected one label per image, shape (n,).")
    if labels.dtype.kind == "f" and not np.isfinite(labels).all():
        raise DataError(f"{labels_path}: label {int(np.argmin(np.isfinite(labels))) + 1} is not a finite number.")
    if len(images) != len(labels):
        raise DataError(f"{images_path}: {len(images)} images but {len(labels)} labels in {labels_path.name}.")
    X = images.reshape(len(images), -1).astype(float) / 255.0
    check_finite(X, str(images_path))
    return X, labels
