"""Input checks shared by every entry point.

Each check raises before anything changes, with a message that says what was
received and what was expected.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def lookup(kind: str, name: Any, table: Mapping[str, Any]) -> Any:
    """``table[name]``, or a ValueError that lists the valid names."""
    if not isinstance(name, str):
        raise TypeError(f"{kind} must be a name (str) or an object; received {name!r}.")
    key = name.lower().replace("-", "_")
    if key in table:
        return table[key]
    close = difflib.get_close_matches(key, list(table), n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ValueError(f"Unknown {kind} {name!r}.{hint} Valid names: {', '.join(sorted(table))}.")


def check_dtype(dtype: Any) -> np.dtype:
    try:
        dt = np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(f"dtype must be float32 or float64; received {dtype!r}.") from exc
    if dt not in FLOAT_DTYPES:
        raise ValueError(f"dtype must be float32 or float64; received {dt}.")
    return dt


def check_array(
    X: Any,
    name: str = "X",
    *,
    dtype: np.dtype | None = None,
    ndim: int | None = 2,
    allow_empty: bool = False,
) -> np.ndarray:
    """``X`` as a finite, numeric, C-contiguous array (cast to ``dtype`` when given)."""
    try:
        arr = np.asarray(X)
    except (ValueError, TypeError) as exc:  # ragged nested lists
        raise ValueError(f"{name} could not be read as an array: {exc}") from exc
    kind = arr.dtype.kind
    if kind not in "biuf":
        what = {"O": "objects", "U": "strings", "S": "bytes", "c": "complex numbers"}.get(kind, f"dtype {arr.dtype}")
        raise TypeError(
            f"{name} must hold real numbers; it holds {what} (dtype {arr.dtype}). "
            "Convert it first, e.g. np.asarray(X, dtype=float)."
        )
    if ndim is not None and arr.ndim != ndim:
        fix = ""
        if ndim == 2 and arr.ndim == 1:
            fix = " Use X.reshape(-1, 1) for one feature per sample, or X.reshape(1, -1) for a single sample."
        raise ValueError(f"{name} must be {ndim}-D; received shape {arr.shape}.{fix}")
    if arr.size == 0 and not allow_empty:
        raise ValueError(f"{name} is empty (shape {arr.shape}); at least one sample is needed.")
    source = arr
    if dtype is not None and arr.dtype != dtype:
        with np.errstate(over="ignore"):  # values beyond the dtype's range are reported below
            arr = np.ascontiguousarray(arr, dtype=dtype)
    elif dtype is not None:
        arr = np.ascontiguousarray(arr)
    elif kind in "biu":
        arr = np.ascontiguousarray(arr, dtype=np.float64)
    else:
        arr = np.ascontiguousarray(arr)
    if kind == "f" or dtype is not None:
        # a finite sum proves every element finite (one pass, no mask); only when it is not, look closer
        with np.errstate(over="ignore", invalid="ignore"):
            total = np.add.reduce(arr, axis=None)
        if not np.isfinite(total) and not np.isfinite(arr).all():
            bad = np.argwhere(~np.isfinite(arr))[0]
            where = tuple(int(i) for i in bad)
            if np.isfinite(source[where]):
                raise ValueError(
                    f"{name} holds {source[where]} at index {where}, beyond the range of {arr.dtype}; "
                    "scale the data, or use a float64 model."
                )
            raise ValueError(
                f"{name} contains NaN or infinity (first at index {where}); "
                "remove or impute those values before training."
            )
    return arr


def check_same_length(X: np.ndarray, y: np.ndarray, xname: str = "X", yname: str = "y") -> None:
    if len(X) != len(y):
        raise ValueError(f"{xname} and {yname} have different numbers of samples: {len(X)} and {len(y)}.")


def check_positive_int(value: Any, name: str, *, allow_none: bool = False) -> int | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer; received {name}={value!r}.")
    return int(value)


def check_fraction(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must be a number in [0, 1); received {name}={value!r}.")
    return float(value)


def check_positive_float(value: Any, name: str, *, allow_zero: bool = False) -> float:
    ok = isinstance(value, (int, float, np.floating)) and not isinstance(value, bool)
    if ok:
        ok = np.isfinite(value) and (value >= 0 if allow_zero else value > 0)
    if not ok:
        bound = "non-negative" if allow_zero else "positive"
        raise ValueError(f"{name} must be a {bound} finite number; received {name}={value!r}.")
    return float(value)


def table(rows: list[tuple[str, ...]]) -> list[str]:
    """Rows as aligned text lines: a header, a rule, the body, a rule; the last column right-aligned."""
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    cells = lambda r: "  ".join(f"{v:<{w}}" if c < len(r) - 1 else f"{v:>{w}}" for c, (v, w) in enumerate(zip(r, widths)))  # noqa: E731,E501
    rule = "-" * (sum(widths) + 2 * (len(widths) - 1))
    return [cells(rows[0]), rule, *map(cells, rows[1:]), rule]
