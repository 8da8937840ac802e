"""The user's own data: CSV, .npy/.npz and MNIST IDX files (gzipped or not).

One module per format: :mod:`.csv`, :mod:`.arrays` (.npy/.npz), :mod:`.idx`; :mod:`.targets` reads the target
column they share. This module gathers their public names where they were always imported from. Every problem
is reported as a DataError that names the file, and the row and column where there is one.
"""

from __future__ import annotations

from ._base import FILE_DEFAULTS, FILE_TEST_SIZE, MAX_DATA_BYTES
from .arrays import load_array, read_array_file
from .csv import load_csv, parse_features, read_csv_rows
from .idx import IDX_CHUNK, IDX_TYPES, load_idx, read_idx
from .targets import parse_targets, target_index

__all__ = [
    "FILE_DEFAULTS",
    "FILE_TEST_SIZE",
    "IDX_CHUNK",
    "IDX_TYPES",
    "MAX_DATA_BYTES",
    "load_array",
    "load_csv",
    "load_idx",
    "parse_features",
    "parse_targets",
    "read_array_file",
    "read_csv_rows",
    "read_idx",
    "target_index",
]
