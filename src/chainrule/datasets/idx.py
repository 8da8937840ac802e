"""MNIST's IDX files, gzipped or not: a header that declares the shape, checked before the data are read."""

from __future__ import annotations

import gzip
import math
import os
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np

from ._base import (
    FILE_DEFAULTS,
    FILE_TEST_SIZE,
    MAX_DATA_BYTES,
    DataError,
    Dataset,
    check_finite,
    check_task,
    split_file,
)

IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
IDX_CHUNK = 2**24


def is_idx_file(path: str | os.PathLike) -> bool:
    """Whether ``path`` begins with an IDX header (two zero bytes, a known type, 1 to 4 dimensions), gzipped or
    not: a file's kind comes from its content, never from its name."""
    try:
        with open(path, "rb") as raw:
            zipped = raw.read(2) == b"\x1f\x8b"
        with (gzip.open if zipped else open)(path, "rb") as fh:
            magic = fh.read(4)
    except (OSError, EOFError, zlib.error):
        return False
    return len(magic) == 4 and magic[:2] == b"\0\0" and magic[2] in IDX_TYPES and 1 <= magic[3] <= 4


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


def load_idx(
    path: str | os.PathLike, test_size: float = FILE_TEST_SIZE, seed: int = 0, task: str | None = None
) -> Dataset:
    """MNIST-style IDX images with their labels file beside them (``images-idx3`` → ``labels-idx1``).

    If the matching ``t10k-*`` test files are in the same folder they are the test split. The labels are classes,
    so the task is classification: ``task`` may be None or "classification"; "regression" raises DataError
    rather than being ignored.
    """
    path = Path(path)
    labels_path = path.with_name(path.name.replace("images-idx3", "labels-idx1"))
    check_task(task)
    if task not in (None, "classification"):
        raise DataError(
            f"{path}: task {task!r} cannot be used: an MNIST IDX file holds class labels (in {labels_path.name}), "
            f"so its task is classification. Leave out the task (--task), or save the data to a CSV or .npy file "
            f"and load that with task {task!r}."
        )
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
        parts = (X, y.ravel(), Xte, yte)
    else:
        parts = split_file(X, y.ravel(), test_size, seed, "classification", path)
    defaults = dict(FILE_DEFAULTS, layers=[128], lr=0.001, epochs=10, batch_size=128)
    return Dataset(
        path.name.split("-")[0],
        *parts,
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
