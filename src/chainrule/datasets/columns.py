"""The data contract: which columns of a file (or data frame) with named columns are a model's features.

* With the model's feature names, columns are matched **by name**: reordered columns are realigned, missing
  ones are refused (all named at once), and extra ones are ignored, named in one :class:`DataNote`.
* **pandas' index.** ``df.to_csv(path)`` writes the row index as a first column with an empty name (read back,
  pandas calls it ``Unnamed: 0``). Such a first column holding 0…n−1 is no feature: it is dropped with a note, and
  its name recorded (``Preprocessor.index_column``) so that files given to the model later lose it too, whatever
  rows they hold. Any other column without a name is refused, naming it.
* Files without a header carry no names: their columns are taken by position, and the width is checked where the
  features meet the model (``Preprocessor.transform``).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

from ._base import DataError, DataNote

UNNAMED = re.compile(r"Unnamed: \d+")  # how pandas names a column whose header cell is empty


def unnamed(name: str) -> bool:
    """Whether a header cell gives its column no name: empty, or pandas' ``Unnamed: k``."""
    return name.strip() == "" or UNNAMED.fullmatch(name.strip()) is not None


def holds_row_numbers(values: Sequence[Any]) -> bool:
    """Whether ``values`` are 0, 1, …, n−1 in order (as numbers or their text)."""
    try:
        return all(float(v) == i for i, v in enumerate(values))
    except (TypeError, ValueError):
        return False


@dataclass(frozen=True)
class Selection:
    """The feature columns of a file, in the model's order, and the index column dropped (its name), if any."""

    columns: list[int]
    index_column: str | None = None


def select_features(
    header: Sequence[str],
    column: Callable[[int], Sequence[Any]],
    where: str,
    skip: Collection[int] = (),
    features: Sequence[str] | None = None,
    index_column: str | None = None,
) -> Selection:
    """The columns of ``header`` that are features: every column but those in ``skip`` (the target) and pandas'
    index, or, given ``features`` (the names a model was trained on), those columns by name, in that order.

    ``column(c)`` gives the values of column ``c`` (to recognise row numbers); ``index_column`` is the name of an
    index column recorded in training, dropped from the first column whatever it holds. ``where`` begins every
    message. Raises DataError for a missing feature, an unnamed or a duplicated column; warns a DataNote for a
    dropped index column and for extra columns.
    """
    names = [str(h).strip() for h in header]
    index = _index_column(names, column, where, skip, index_column)
    kept = [c for c in range(len(names)) if c not in skip and not (index is not None and c == 0)]
    blank = [c for c in kept if unnamed(names[c])]
    if blank:
        listed = ", ".join(f"{c + 1} ({names[c]!r})" for c in blank)
        plural = len(blank) > 1
        raise DataError(
            f"{where}: column{'s' if plural else ''} {listed} of the header {'have' if plural else 'has'} no name; "
            "name every column in the header, or remove the column. Only a first column holding the row "
            "numbers 0…n−1 (pandas' index) may go unnamed: it is dropped."
        )
    twice = sorted({names[c] for c in kept if sum(names[k] == names[c] for k in kept) > 1})
    if twice and (features is None or set(twice) & set(features)):
        raise DataError(
            f"{where}: the header names {', '.join(map(repr, twice))} more than once; give each column its own name."
        )
    if features is None:
        return Selection(kept, index)
    position = {names[c]: c for c in kept}
    missing = [f for f in features if f not in position]
    if missing:
        raise DataError(
            f"{where}: no column named {', '.join(map(repr, missing))}, which the model was trained on; its "
            f"columns are {', '.join(map(repr, (names[c] for c in kept)))}. Give a file with every feature column "
            "named as in training (in any order)."
        )
    wanted = set(features)
    extra = list(dict.fromkeys(names[c] for c in kept if names[c] not in wanted))
    if extra:
        warnings.warn(
            f"{where}: ignored column{'s' if len(extra) > 1 else ''} {', '.join(map(repr, extra))}, which the model "
            "was not trained on.",
            DataNote,
            stacklevel=3,
        )
    return Selection([position[f] for f in features], index)


def _index_column(
    names: list[str], column: Callable[[int], Sequence[Any]], where: str, skip: Collection[int], recorded: str | None
) -> str | None:
    """The name of the first column when it is pandas' index (unnamed, and recorded so or holding 0…n−1)."""
    if not names or 0 in skip or not unnamed(names[0]):
        return None
    if recorded is not None:
        why = "the row index, as in the training data"
    elif holds_row_numbers(column(0)):
        why = "the row numbers 0…n−1 (pandas' index)"
    else:
        return None
    warnings.warn(f"{where}: dropped column 1 ({names[0]!r}), {why}; it is not a feature.", DataNote, stacklevel=4)
    return names[0]
