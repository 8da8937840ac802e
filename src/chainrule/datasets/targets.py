"""The target of a data file: which column it is, and its labels or values (guessing the task when not given)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._base import DataError, check_task, encode_labels


class TargetError(DataError):
    """A target that names no column of the file: ``header`` (its column names, or None) and ``width`` (its number
    of columns) let a caller that chose the target on the user's behalf say where it came from."""

    def __init__(self, message: str, header: list[str] | None, width: int) -> None:
        super().__init__(message)
        self.header, self.width = header, width


def number(cell: str) -> float | None:
    """``cell`` as a float, or None when it is not a number."""
    try:
        return float(cell)
    except ValueError:
        return None


def target_index(header: list[str] | None, width: int, target: str | int | None, path: Any) -> int:
    """The column index that ``target`` (a name, an index, or None for the last column) names."""
    if target is None:
        return width - 1
    if header is not None and str(target) in header:
        return header.index(str(target))
    try:
        index = int(target)
    except (TypeError, ValueError):
        if header is None:
            raise TargetError(
                f"{path}: target {target!r} is not a column index; this file has no column names, so give the "
                f"target column's index, 0 to {width - 1} (or -1 for the last), e.g. --target {width - 1}.",
                header,
                width,
            ) from None
        raise TargetError(
            f"{path}: no target column named {target!r}; the columns are {', '.join(header)}.", header, width
        ) from None
    if not -width <= index < width:
        raise TargetError(f"{path}: target column index {index} is out of range for {width} columns.", header, width)
    return index % width


def parse_targets(
    values: list[str], task: str | None, where: Any, rows: list[int] | None = None
) -> tuple[np.ndarray, str, list[str]]:
    """Codes and class names, or float values for regression, with the task guessed when ``task`` is None.

    ``where`` begins every error message (the file, and which array); ``rows`` are the file's line numbers, if any.
    """
    try:
        return _parse_targets(values, task, rows)
    except DataError as exc:
        raise DataError(f"{where}: {exc}") from None


def _parse_targets(values: list[str], task: str | None, rows: list[int] | None) -> tuple[np.ndarray, str, list[str]]:
    check_task(task)
    numbers = [number(v) for v in values]
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
