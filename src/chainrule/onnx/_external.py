"""External data: tensor bytes kept in a side file, read only from a plain file in the model's own folder.

PyTorch's exporter keeps every weight of 1 KiB or more in ``<model>.onnx.data`` beside the model; the tensor
names the file and a byte range (``location``, ``offset``, ``length``). Before a byte is read:

* the location is a bare file name: no folder part, no ``..``, not absolute;
* the file is opened inside the model's folder without following links, and must be a regular file;
* offset and length are whole numbers, the range lies within the file, and its length is the tensor's size;
* all external bytes of one model together stay within ``MAX_EXTERNAL_BYTES``.

Anything else is an ``OnnxFileError``; nothing outside the folder is ever opened.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Callable
from typing import Any

from .._archive import short
from ._errors import OnnxFileError

MAX_EXTERNAL_BYTES = 1 << 30  # all side files of one model together, as MAX_FILE_BYTES for the model itself
KEYS = ("location", "offset", "length", "checksum")


class ExternalData:
    """The side files of the model at ``model_path``; ``read`` returns one tensor's bytes."""

    def __init__(self, model_path: str, fail: Callable[[str], OnnxFileError]) -> None:
        self.folder = os.path.dirname(os.path.abspath(model_path))
        self.fail = fail
        self.used = 0

    def read(self, tensor: Any, nbytes: int, what: str) -> bytearray:
        """The ``nbytes`` bytes ``tensor`` keeps outside the model file, every declared field checked first."""
        entries: dict[str, str] = {}
        for e in tensor.external_data:
            if e.key not in KEYS or e.key in entries:
                raise self.fail(f"{what} has the external-data field {short(e.key, 40)} (unknown or given twice).")
            entries[e.key] = e.value
        name = self._plain_name(entries.get("location", ""), what)
        offset = self._whole(entries.get("offset", "0"), "offset", what)
        length = self._whole(entries["length"], "length", what) if "length" in entries else None
        if length is not None and length != nbytes:
            raise self.fail(f"{what} declares {length:,} external bytes; its dims need {nbytes:,}.")
        if self.used + nbytes > MAX_EXTERNAL_BYTES:
            raise self.fail(
                f"its external data would exceed {MAX_EXTERNAL_BYTES:,} bytes at {what} ({self.used + nbytes:,})."
            )
        data = self._read_range(name, offset, nbytes, what)
        if "checksum" in entries and hashlib.sha1(data).hexdigest() != entries["checksum"].lower():
            raise self.fail(f"{what}: the bytes in {short(name, 60)} do not match the file's SHA-1 checksum.")
        self.used += nbytes
        return data

    def _plain_name(self, location: str, what: str) -> str:
        seps = {"/", "\\", os.sep, os.altsep} - {None}
        if (
            not location
            or location in (".", "..")
            or any(s in location for s in seps)
            or "\0" in location
            or os.path.isabs(location)
        ):
            raise self.fail(
                f"{what} keeps its data at {short(location, 80)!r}; chainrule reads external data only from a "
                "plain file in the model's own folder (a bare file name, no folders, no '..')."
            )
        return location

    def _whole(self, text: str, field: str, what: str) -> int:
        if not (text.isascii() and text.isdigit()) or len(text) > 20:
            raise self.fail(f"{what} has the external-data {field} {short(text, 40)!r}; a whole number is needed.")
        return int(text)

    def _read_range(self, name: str, offset: int, nbytes: int, what: str) -> bytearray:
        """Bytes [offset, offset + nbytes) of ``name`` in the folder: a regular file, opened without following links."""
        # no link followed; O_NONBLOCK: a FIFO named as the file cannot hang the open (it is refused below)
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
        where = f"{short(name, 60)} beside the model"
        try:
            if os.open in os.supports_dir_fd:
                folder_fd = os.open(self.folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
                try:
                    fd = os.open(name, flags, dir_fd=folder_fd)
                finally:
                    os.close(folder_fd)
            else:  # no openat: refuse a link seen by lstat, then open the path
                if stat.S_ISLNK(os.lstat(os.path.join(self.folder, name)).st_mode):
                    raise self.fail(f"{what} keeps its data in {where}, which is a link; a plain file is needed.")
                fd = os.open(os.path.join(self.folder, name), flags)
        except OSError as exc:
            reason = "a link" if os.path.islink(os.path.join(self.folder, name)) else exc.strerror
            raise self.fail(f"{what} keeps its data in {where}, not a readable plain file ({reason}).") from None
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            os.close(fd)
            raise self.fail(f"{what} keeps its data in {where}, which is not a regular file.")
        with os.fdopen(fd, "rb") as fh:
            if offset + nbytes > info.st_size:
                raise self.fail(
                    f"{what} needs bytes {offset:,} to {offset + nbytes:,} of {where}, which has {info.st_size:,}."
                )
            fh.seek(offset)
            data = bytearray(nbytes)  # read once, into the buffer the array will view
            got = fh.readinto(data)
        if got != nbytes:
            raise self.fail(f"{what}: {where} was shorter than its size while being read.")
        return data
