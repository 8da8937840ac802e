"""CSV files: rows of numbers split by a delimiter, an optional header, and a target column of labels or values.

The delimiter is detected: tab, ';' or ',' (tried in that order), the first that splits the first row into more
than one field and most of the first rows into as many; a ``.tsv`` file is tab-separated. ``delimiter=``
overrides the guess, and ``decimal=","`` reads numbers written with a decimal comma (``1,5``). Every error
names the file and the delimiter it was read with, so that a wrong guess shows.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ._base import FILE_DEFAULTS, FILE_TEST_SIZE, DataError, Dataset, split_file
from .columns import select_features
from .layout import BELOW, check_header, first_row_is_header, is_index_run, note_header, note_index
from .targets import number, parse_targets, target_index

DETECTED = ("\t", ";", ",")  # tried in this order: a tab or ';' is rarely inside a number, a ',' often is
SNIFF_ROWS = 50
DECIMAL_COMMA = re.compile(r"[+-]?(\d+,\d*|,\d+)([eE][+-]?\d+)?")


def delimiter_name(delimiter: str) -> str:
    return "tab" if delimiter == "\t" else repr(delimiter)


def _where(path: Path, delimiter: str, decimal: str = ".") -> str:
    """The file and how it is read, to begin every message: ``data.csv (delimiter ';', decimal ',')``."""
    mark = f", decimal {decimal!r}" if decimal != "." else ""
    return f"{path} (delimiter {delimiter_name(delimiter)}{mark})"


@dataclass(frozen=True)
class CsvTable:
    """The cells of a CSV file: its header (None when it has none), data rows, their line numbers, and how it was
    split. With ``decimal=","`` the numbers are stored with a decimal point, as ``float`` reads them."""

    path: Path
    header: list[str] | None
    rows: list[list[str]]
    lines: list[int]
    delimiter: str
    decimal: str = "."

    @property
    def where(self) -> str:
        return _where(self.path, self.delimiter, self.decimal)

    @property
    def width(self) -> int:
        return len(self.rows[0])

    def column(self, c: int) -> list[str]:
        return [r[c] for r in self.rows]

    def names(self, cols: Sequence[int]) -> list[str]:
        """The names of ``cols`` for messages: the header's, else 'column k' (from 1)."""
        return [self.header[c] for c in cols] if self.header else [f"column {c + 1}" for c in cols]

    def numbers(self, cols: Sequence[int]) -> np.ndarray:
        """Float matrix of the cells of ``cols``, naming the first cell that is not a finite number."""
        names = self.names(cols)
        X = np.empty((len(self.rows), len(cols)))
        for i, r in enumerate(self.rows):
            for j, c in enumerate(cols):
                value = number(r[c])
                if value is None:
                    raise DataError(f"{self.where}: row {self.lines[i]}, column {names[j]!r}{_not_a_number(r[c])}")
                X[i, j] = value
        bad = ~np.isfinite(X)
        if bad.any():
            i, j = np.argwhere(bad)[0]
            raise DataError(
                f"{self.where}: row {self.lines[i]}, column {names[j]!r} is {self.rows[i][cols[j]]!r}; "
                "remove or fill missing values first."
            )
        return X


def _not_a_number(cell: str) -> str:
    """The end of the message for a cell that is not a number, naming a decimal comma where it sees one."""
    if cell == "":
        return " is empty; fill it in, or remove the row or column."
    if DECIMAL_COMMA.fullmatch(cell):
        return (
            f": {cell!r} has a decimal comma; pass --decimal , (decimal=',' in Python) to read it, with a delimiter "
            "other than ','."
        )
    return f": {cell!r} is not a number; feature columns must be numeric."


def read_csv(
    path: str | os.PathLike,
    delimiter: str | None = None,
    decimal: str = ".",
    header: str = "auto",
    names: Sequence[str] = (),
) -> CsvTable:
    """The header, rows and line numbers of a CSV file, split by ``delimiter`` (None: detected); every row is
    checked to have as many fields as the first. ``header`` ("auto", "yes", "no") and ``names`` (a model's
    column names) decide whether the first row is a header, by the rules of ``chainrule.datasets.layout``."""
    path = Path(path)
    check_header(header)
    delimiter = _check_format(path, delimiter, decimal)
    rows = _cells(path, delimiter, decimal)
    width = len(rows[0][1])
    for n, r in rows:
        if len(r) != width:
            raise DataError(
                f"{_where(path, delimiter, decimal)}: row {n} has {len(r)} fields but row {rows[0][0]} has {width}; "
                f"every row needs {width}. If another character separates the fields, pass it with --delimiter "
                "(delimiter= in Python)."
            )
    is_header, reason = first_row_is_header([r for _, r in rows[: 1 + BELOW]], header, names)
    note_header(str(path), reason)
    header_row = rows[0][1] if is_header else None
    data = rows[1:] if is_header else rows
    if not data:
        raise DataError(f"{_where(path, delimiter, decimal)} has a header but no data rows.")
    return CsvTable(path, header_row, [r for _, r in data], [n for n, _ in data], delimiter, decimal)


def read_csv_rows(
    path: str | os.PathLike, delimiter: str | None = None, decimal: str = ".", header: str = "auto"
) -> tuple[list[str] | None, list[list[str]], list[int]]:
    """(header or None, rows of cells, their line numbers in the file), as ``read_csv`` reads them."""
    table = read_csv(path, delimiter, decimal, header)
    return table.header, table.rows, table.lines


def read_csv_columns(
    path: str | os.PathLike,
    delimiter: str | None = None,
    decimal: str = ".",
    header: str = "auto",
    names: Sequence[str] = (),
) -> tuple[list[str] | None, int]:
    """(header or None, number of columns), as ``read_csv`` sees them, from the first rows alone (no note)."""
    path = Path(path)
    rows = _cells(path, _check_format(path, delimiter, decimal), decimal, limit=1 + BELOW)
    is_header, _ = first_row_is_header([r for _, r in rows], header, names)
    return (rows[0][1] if is_header else None), len(rows[0][1])


def _cells(path: Path, delimiter: str, decimal: str, limit: int | None = None) -> list[tuple[int, list[str]]]:
    """``_read_rows``, with decimal commas turned into points where ``decimal`` is ','."""
    rows = _read_rows(path, delimiter, limit)
    if decimal == ",":
        where = _where(path, delimiter, decimal)
        rows = [(n, [_decimal_point(c, n, where) for c in r]) for n, r in rows]
    return rows


def _check_format(path: Path, delimiter: str | None, decimal: str) -> str:
    """The delimiter to split ``path`` with (``delimiter``, else detected), refusing ones that cannot work."""
    if decimal not in (".", ","):
        raise DataError(f"decimal {decimal!r} is not supported; use '.' or ','.")
    if delimiter is not None and (len(delimiter) != 1 or delimiter in '"\r\n' or delimiter == decimal):
        raise DataError(
            f"delimiter {delimiter!r} cannot split a CSV file: give one character other than a quote, a line break "
            f"and the decimal mark {decimal!r}, e.g. ',', ';' or tab."
        )
    if delimiter is None:
        delimiter = _detect(path)
    if decimal == "," and delimiter == ",":
        raise DataError(
            f"{_where(path, delimiter)}: decimal commas cannot be told apart from the delimiter ','; a file with "
            "decimal commas separates its fields with ';' or tab: pass that delimiter (--delimiter ';')."
        )
    return delimiter


def _detect(path: Path) -> str:
    """Tab for a .tsv file; else the first of tab, ';' and ',' that splits the first row into more than one field,
    and at least half of the first rows into as many (so that a ragged row is reported, not taken for another
    delimiter); ',' when none does (or the file cannot be read: reading it says why)."""
    if path.suffix.lower() == ".tsv":
        return "\t"
    sample: list[str] = []
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            for line in fh:
                if line.strip():
                    sample.append(line)
                if len(sample) == SNIFF_ROWS:
                    break
    except (OSError, UnicodeDecodeError):
        return ","
    for delimiter in DETECTED:
        try:
            widths = [len(r) for r in csv.reader(sample, delimiter=delimiter)]
        except csv.Error:
            continue
        if widths and widths[0] > 1 and 2 * widths.count(widths[0]) >= len(widths):
            return delimiter
    return ","


def _read_rows(path: Path, delimiter: str, limit: int | None = None) -> list[tuple[int, list[str]]]:
    """(line number, stripped cells) of the rows that are not blank, the first ``limit`` of them if given."""
    if not path.is_file():
        raise DataError(f"{path}: no such file.")
    rows: list[tuple[int, list[str]]] = []
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            for n, r in enumerate(csv.reader(fh, delimiter=delimiter), 1):
                cells = [c.strip() for c in r]
                if any(cells):
                    rows.append((n, cells))
                    if len(rows) == limit:
                        break
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{_where(path, delimiter)}: not a UTF-8 CSV text file ({exc}).") from None
    if not rows:
        raise DataError(f"{path} is empty: expected rows of values separated by {delimiter_name(delimiter)}.")
    return rows


def _decimal_point(cell: str, line: int, where: str) -> str:
    """A cell of a file with decimal commas as ``float`` reads it: '1,5' → '1.5'. A number with a '.' is refused:
    in such files it is usually a thousands separator ('1.500'), which would silently read as 1.5."""
    if DECIMAL_COMMA.fullmatch(cell):
        return cell.replace(",", ".")
    if "." in cell and number(cell) is not None:
        raise DataError(
            f"{where}: row {line}: {cell!r} has a '.', but this file is read with decimal commas; remove "
            "thousands separators, or read it with --decimal . (decimal='.' in Python)."
        )
    return cell


def parse_features(rows: list[list[str]], cols: list[int], names: list[str], path: Any, lines: list[int]) -> np.ndarray:
    """Float matrix from the cells ``cols`` of comma-separated ``rows``, named ``names`` (see ``CsvTable.numbers``)."""
    table = CsvTable(Path(path), list(names), [[r[c] for c in cols] for r in rows], list(lines), ",")
    return table.numbers(range(len(cols)))


def load_csv(
    path: str | os.PathLike,
    target: str | int | None = None,
    task: str | None = None,
    test_size: float = FILE_TEST_SIZE,
    seed: int = 0,
    *,
    features: Sequence[str] | None = None,
    index_column: str | None = None,
    delimiter: str | None = None,
    decimal: str = ".",
    header: str = "auto",
) -> Dataset:
    """A Dataset from a CSV file whose ``target`` column holds the labels or values.

    The features are every other column, or, where ``features`` names them (a model's, in its order) and the
    file has a header, those columns matched by name (see ``columns.select_features``): reordered ones
    realigned, missing ones refused, extra ones noted and ignored. A first column with no name holding the row
    numbers 0…n−1 (pandas' index) is dropped, as is one named ``index_column`` (recorded in training). In a file
    without a header, a first column of consecutive integers (a row index) is dropped, as is the first column
    where training dropped one. ``header`` says whether the first row is a header (see ``layout``); the decision
    is kept in ``source["header"]``.
    """
    table = read_csv(path, delimiter, decimal, header, features or ())
    if table.width < 2:
        raise DataError(
            f"{table.where}: a training file needs at least one feature column and a target column, but each row "
            "has one field; if another character separates the fields, pass it with --delimiter (delimiter= in Python)."
        )
    t = target_index(table.header, table.width, target, table.where)
    if table.header is not None:
        chosen = select_features(table.header, table.column, table.where, {t}, features, index_column)
        cols, index = chosen.columns, chosen.index_column
    else:
        cols, index = [c for c in range(table.width) if c != t], _headerless_index(table, t, index_column)
        cols = cols[1:] if index is not None else cols
    X = table.numbers(cols)
    y, task, classes = parse_targets(table.column(t), task, table.where, table.lines)
    source = {"path": str(path), "target": table.header[t] if table.header else t, "column": t}
    source["header"] = table.header is not None
    if index is not None:
        source["index_column"] = index
    return Dataset(
        Path(path).stem,
        *split_file(X, y, test_size, seed, task, table.where),
        task=task,
        classes=classes,
        feature_names=table.names(cols) if table.header else [f"x{c + 1}" for c in cols],
        named_features=table.header is not None,
        defaults=dict(FILE_DEFAULTS),
        source=source,
    )


def _headerless_index(table: CsvTable, target: int, recorded: str | None) -> str | None:
    """"" when the first column of a file without a header is an index to drop (recorded in training, or a run of
    consecutive integers beside at least one other feature), else None."""
    first = table.column(0)
    if target == 0 or table.width < 3 or (recorded is None and not is_index_run(first)):
        return None  # with the target alone beside it, a run of integers is the one feature (x in x, f(x))
    if recorded is None:
        note_index(table.where, first)
    return ""
