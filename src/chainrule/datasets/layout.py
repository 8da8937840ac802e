"""Where a CSV file's data begins: whether its first row is a header, and whether a file without one starts
with an index column. A wrong guess would shift every row, so each rule is stated here and every guess that
is not evident is said in one line (a :class:`DataNote`); ``header="yes"``/``"no"`` (``--header``) settles
any case by hand.

The first row is a header when (``header="auto"``):

* it names every column a model was trained on (``names``), numbers included;
* none of its cells is a number, or one is text above a number (the evident cases: no note);
* its cells are 0, 1, …, k−1 (after an empty first cell): the names pandas gives a table without names;
* all its cells are integers (or text above text, such as a label column's name), and below one of those
  integers the column holds text, or numbers with a fraction none of which is as large or as small.

A file without a header whose first column holds a run of consecutive integers (0…n−1, 1…n, 100…149: a row
index, as ``df.to_csv(header=False)`` writes it) has that column dropped, with a note; it is no feature.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence

from ._base import DataError, DataNote

HEADER_CHOICES = ("auto", "yes", "no")
BELOW = 50  # rows under the first looked at to judge it, so that the first rows alone give the same answer
INTEGER = re.compile(r"[+-]?\d+")
MIN_INDEX_ROWS = 3


def check_header(header: str) -> str:
    if header not in HEADER_CHOICES:
        raise DataError(f"header {header!r} is not known; use 'auto' (detect it), 'yes' or 'no'.")
    return header


def _number(cell: str) -> float | None:
    try:
        return float(cell)
    except ValueError:
        return None


def _kind(cell: str) -> str:
    """'int', 'number', 'text' or 'empty'."""
    if cell == "":
        return "empty"
    if INTEGER.fullmatch(cell):
        return "int"
    return "number" if _number(cell) is not None else "text"


def first_row_is_header(
    rows: Sequence[Sequence[str]], header: str = "auto", names: Sequence[str] = ()
) -> tuple[bool, str]:
    """(whether ``rows[0]`` is a header, why where that is not evident); ``names`` are a model's column names."""
    check_header(header)
    if header != "auto":
        return header == "yes", ""
    first = [str(c).strip() for c in rows[0]]
    below = [list(r) for r in rows[1 : 1 + BELOW]]
    kinds = [_kind(c) for c in first]
    if names and set(names) <= set(first):
        numeric = any(k in ("int", "number") for k in kinds)
        return True, "it names the columns the model was trained on" if numeric else ""
    if not any(k in ("int", "number") for k in kinds):
        return True, ""
    if any(k == "text" and r[c] and _number(r[c]) is not None for r in below[:1] for c, k in enumerate(kinds)):
        return True, ""
    cells = first[1:] if first and first[0] == "" else first
    if len(cells) >= 2 and cells == [str(i) for i in range(len(cells))]:
        return True, f"its cells are 0 to {len(cells) - 1}, the column names pandas writes for a table without names"
    if below and all(k in ("int", "text") for k in kinds):
        return _integers_above_other_kinds(first, kinds, below)
    return False, ""


def _integers_above_other_kinds(first: list[str], kinds: list[str], below: list[list[str]]) -> tuple[bool, str]:
    """A first row of integers (and text above text) is a header where an integer stands above text, or where
    every integer standing above numbers with fractions lies outside the range of those numbers."""
    outside = []
    for c, k in enumerate(kinds):
        column = [r[c] for r in below if c < len(r) and r[c] != ""]
        if k == "text" and any(_kind(v) != "text" for v in column):
            return True, ""
        if k != "int" or not column:
            continue
        values = [_number(v) for v in column]
        if any(v is None for v in values):
            return True, f"its integer {first[c]!r} stands above text in column {c + 1}"
        if any(_kind(v) == "number" and not float(v).is_integer() for v in column):
            if min(values) <= float(first[c]) <= max(values):
                return False, ""  # a whole number among its column's values: a sample
            outside.append(f"{first[c]!r} above values from {min(values):g} to {max(values):g} (column {c + 1})")
    if outside:
        return True, "its cells are integers outside the range of the numbers below them: " + "; ".join(outside[:2])
    return False, ""


def note_header(where: str, reason: str) -> None:
    """Say, once, why a first row of numbers was taken as a header."""
    if reason:
        warnings.warn(
            f"{where}: the first row is read as the header: {reason}. If it is data, pass --header no "
            "(header='no' in Python).",
            DataNote,
            stacklevel=4,
        )


def is_index_run(values: Sequence[str]) -> bool:
    """Whether ``values`` are consecutive integers k, k+1, …, k+n−1 in order (n ≥ 3): a row index."""
    if len(values) < MIN_INDEX_ROWS or not all(INTEGER.fullmatch(v) for v in values):
        return False
    start = int(values[0])
    return all(int(v) == start + i for i, v in enumerate(values))


def note_index(where: str, values: Sequence[str]) -> None:
    warnings.warn(
        f"{where}: dropped column 1, which holds the row numbers {values[0]}…{values[-1]} (an index, as "
        "df.to_csv(header=False) writes it); it is not a feature. To keep it, give the file a header naming it.",
        DataNote,
        stacklevel=4,
    )
