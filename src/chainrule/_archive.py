"""Zip archives of one JSON document and plain .npy arrays, written atomically and read defensively.

Reading trusts nothing: member counts and sizes are checked against the
file's own size before anything is inflated (zip bombs, lying headers),
every array's .npy header is read and checked against the shape and dtype
the caller expects before a byte of data is, object arrays are refused (no
pickle, ever), and every failure of the zip, zlib or .npy readers on
damaged bytes becomes a ``ModelFileError``. Writing goes to a temporary
file in the same folder, is flushed to disk, then renamed over the target.
"""

from __future__ import annotations

import json
import math
import os
import struct
import tempfile
import zipfile
import zlib
from collections.abc import Callable
from typing import Any, BinaryIO

import numpy as np

MAX_JSON_BYTES = 1 << 20
MAX_MEMBERS = 10_000
MAX_INFLATION = 20  # unpacked bytes per byte of file; chainrule writes stored (1x) members
MIN_BUDGET = 64 << 20  # small files may always inflate to this many bytes


class ModelFileError(ValueError):
    """A file that is not a valid chainrule model."""


# What the zip, zlib, struct and numpy readers raise on damaged bytes; all become ModelFileError.
DAMAGE = (
    KeyError,
    EOFError,
    OSError,
    ValueError,
    TypeError,
    IndexError,
    OverflowError,
    RecursionError,
    NotImplementedError,
    RuntimeError,
    UnicodeError,
    zlib.error,
    struct.error,
)


def write(path: str | os.PathLike, doc: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    """Write ``doc`` as model.json and each array as <name>.npy, atomically (see ``atomic_write``)."""

    def fill(fh: BinaryIO) -> None:
        with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_STORED) as zf:
            zf.writestr("model.json", json.dumps(doc, indent=1))
            for name, arr in arrays.items():
                with zf.open(f"{name}.npy", "w", force_zip64=arr.nbytes > (1 << 30)) as member:
                    np.lib.format.write_array(member, np.ascontiguousarray(arr), allow_pickle=False)

    atomic_write(path, fill)


def atomic_write(path: str | os.PathLike, fill: Callable[[BinaryIO], None], suffix: str = ".tmp") -> None:
    """Call ``fill`` on a temporary file beside ``path``, flush it to disk, then rename it over ``path``.

    After a crash the file at ``path`` is the previous one or the new one, never a mix; a
    ``.chainrule-*`` temporary may be left beside it.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".chainrule-", suffix=suffix, dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            fill(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # as an ordinary new file, not the temporary's owner-only 0600
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    _fsync_folder(folder)


def _fsync_folder(folder: str) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def short(value: Any, limit: int = 80) -> str:
    """``repr(value)``, cut to ``limit`` characters: values from a hostile file can be huge."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Archive:
    """An open archive, checked as a whole; ``fail`` makes the errors that name the file."""

    def __init__(self, zf: zipfile.ZipFile, path: str) -> None:
        self.zf, self.path = zf, path
        file_size = os.path.getsize(path)
        infos = zf.infolist()
        if len(infos) > MAX_MEMBERS:
            raise self.fail(f"it holds {len(infos):,} members (limit {MAX_MEMBERS:,}).")
        packed = sum(i.compress_size for i in infos)
        if packed > file_size:
            raise self.fail(f"its members claim {packed:,} packed bytes but the file has {file_size:,}.")
        unpacked = sum(i.file_size for i in infos)
        self.data_bytes = unpacked  # at most what the arrays can hold: every declared size is checked against it
        if unpacked > max(MAX_INFLATION * file_size, MIN_BUDGET):
            raise self.fail(
                f"its members inflate to {unpacked:,} bytes from a {file_size:,}-byte file "
                f"(more than {MAX_INFLATION}x: a zip bomb?)."
            )

    def fail(self, what: str) -> ModelFileError:
        return ModelFileError(f"{self.path!r} is not a valid chainrule model: {what}")

    def json(self) -> Any:
        """model.json, parsed, read no further than ``MAX_JSON_BYTES``."""
        try:
            info = self.zf.getinfo("model.json")
        except KeyError:
            raise self.fail("model.json is missing.") from None
        if info.file_size > MAX_JSON_BYTES:
            raise self.fail(f"model.json declares {info.file_size:,} bytes (limit {MAX_JSON_BYTES:,}).")
        with self.zf.open(info) as fh:
            raw = fh.read(MAX_JSON_BYTES + 1)
        try:
            return json.loads(raw.decode("utf-8"))
        except (ValueError, RecursionError) as exc:  # bad UTF-8, bad JSON, nesting too deep, huge integers
            raise self.fail(f"model.json is not valid JSON ({type(exc).__name__}: {short(str(exc), 200)}).") from exc

    def _open(self, name: str):
        try:
            info = self.zf.getinfo(f"{name}.npy")
        except KeyError:
            raise self.fail(f"array {name!r} is missing.") from None
        return info, self.zf.open(info)

    def _header(self, fh, name: str) -> tuple[tuple[int, ...], bool, np.dtype]:
        try:
            version = np.lib.format.read_magic(fh)
            if version == (1, 0):
                return np.lib.format.read_array_header_1_0(fh)
            if version == (2, 0):
                return np.lib.format.read_array_header_2_0(fh)
        except ValueError as exc:
            raise self.fail(f"array {name!r} has a damaged .npy header ({exc}).") from exc
        raise self.fail(f"array {name!r} uses .npy version {version}, which is not supported.")

    def check(self, name: str, shape: tuple[int, ...], dtype: np.dtype) -> None:
        """Refuse array ``name`` unless its header says ``shape`` and ``dtype`` and its size agrees."""
        info, fh = self._open(name)
        with fh:
            got_shape, _, got_dtype = self._header(fh, name)
        if got_dtype.hasobject or got_dtype != dtype:
            raise self.fail(f"array {name!r} has dtype {got_dtype}; the model is {dtype}.")
        if tuple(got_shape) != tuple(shape):
            raise self.fail(f"array {name!r} has shape {tuple(got_shape)} but the architecture needs {tuple(shape)}.")
        nbytes = math.prod(shape) * dtype.itemsize
        if not nbytes <= info.file_size <= nbytes + 4096:
            raise self.fail(f"array {name!r} declares {info.file_size:,} bytes; its shape needs {nbytes:,} + header.")

    def read(self, name: str, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        """Array ``name`` (checked first with ``check``), finite, read-only."""
        self.check(name, shape, dtype)
        _, fh = self._open(name)
        with fh:
            got_shape, fortran, got_dtype = self._header(fh, name)
            if got_dtype.hasobject or got_dtype != dtype or tuple(got_shape) != tuple(shape):
                raise self.fail(f"array {name!r} does not match its declaration.")
            nbytes = math.prod(shape) * dtype.itemsize
            data = fh.read(nbytes + 1)  # reading to the end also verifies the CRC
            if len(data) != nbytes:
                raise self.fail(f"array {name!r} holds {len(data):,} bytes; its shape needs {nbytes:,} (truncated?).")
        arr = np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C")
        if not np.isfinite(arr).all():
            raise self.fail(f"array {name!r} contains NaN or infinity.")
        return arr
