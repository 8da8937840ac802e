"""Standardisation fitted on training data only, saved beside the model so predictions apply it.

The model file stays a plain chainrule model (``cr.load`` reads it unchanged); the pipeline lives in a
JSON sidecar named after it: ``model.npz`` → ``model.preprocess.json``. It holds the feature means and
scales, the class names (the label mapping of a CSV target), the feature names and, for regression,
the target's mean and scale; and the data contract: whether the feature names are the training data's
own column names (``named_columns``: files and data frames with a header are then matched to the model by
them) and the name of an index column dropped in training (``index_column``: dropped from later files too).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ._base import DataError, Dataset
from .columns import select_features

LARGEST = float(np.finfo(np.float64).max) / 4  # larger values would overflow x − mean or the plots' padding


def unit_of(A: np.ndarray, axis: int | None = 0) -> np.ndarray:
    """A power of two near the largest magnitude along ``axis`` (1 where all are zero).

    Dividing by it is exact and brings every value within ±2, so sums of squares cannot overflow; results
    multiplied back by it are the same numbers the unscaled data would give, wherever those are finite.
    """
    _, exponent = np.frexp(np.abs(A).max(axis=axis))  # peak = m·2^exponent, 0.5 ≤ m < 1
    return np.ldexp(1.0, exponent - 1)


def mean_std(A: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column means and (population) standard deviations of finite data that do not overflow, even near 1e308."""
    unit = unit_of(A)
    S = A / unit
    return S.mean(axis=0) * unit, S.std(axis=0) * unit


def has_spread(A: np.ndarray, std: np.ndarray) -> np.ndarray:
    """Per column, whether ``std`` is a real spread of its values, not rounding: above a few units in the last
    place of the column's largest magnitude. Relative, so features ×1e-300 are scaled as the unscaled ones are;
    only a column of equal values (or ones a rounding apart) is constant."""
    peak = np.abs(A).max(axis=0) if len(A) else np.zeros(A.shape[1:])
    return std > 8 * np.finfo(np.float64).eps * peak


def _check_magnitude(A: np.ndarray, names: list[str], what: str) -> None:
    peak = np.abs(A).max(axis=0)
    big = np.flatnonzero(np.atleast_1d(peak > LARGEST))
    if len(big):
        j = int(big[0])
        name = names[j] if j < len(names) else f"column {j + 1}"
        value = float(np.atleast_1d(peak)[j])
        raise DataError(
            f"{what if A.ndim == 1 else f'{what} {name!r}'} holds values up to {value:.3g} in magnitude, too close "
            f"to the float64 limit ({np.finfo(np.float64).max:.3g}) to standardise; divide it by a power of ten "
            f"(e.g. 1e300) so its values stay below {LARGEST:.3g}, and try again."
        )


@dataclass
class Preprocessor:
    """``transform(X) = (X − mean) / scale``; for regression targets likewise with ``y_mean``, ``y_scale``.

    ``transform`` takes a matrix by position, or a data frame with named columns (anything with ``columns``,
    such as pandas') by column name where ``named_columns``, as ``chainrule.datasets.columns`` sets out.
    """

    task: str = "classification"
    mean: list[float] = field(default_factory=list)
    scale: list[float] = field(default_factory=list)
    classes: list[str] = field(default_factory=list)
    feature_names: list[str] = field(default_factory=list)
    y_mean: float = 0.0
    y_scale: float = 1.0
    source: dict[str, Any] = field(default_factory=dict)
    named_columns: bool = False
    index_column: str | None = None

    @classmethod
    def fit(cls, data: Dataset, standardize: bool = True) -> Preprocessor:
        """Statistics of ``data.X_train`` (and ``y_train`` for regression); the test split is never looked at."""
        X = data.X_train
        if standardize:
            _check_magnitude(X, data.feature_names, f"{data.name}: feature")
            mean, std = mean_std(X)
        else:
            mean, std = np.zeros(X.shape[1]), np.ones(X.shape[1])
        scale = np.where(has_spread(X, std), std, 1.0)  # constant columns (digits' blank corners) pass through
        pre = cls(
            data.task,
            mean.tolist(),
            scale.tolist(),
            list(data.classes),
            list(data.feature_names),
            source=dict(data.source, dataset=data.name),
            named_columns=data.named_features,
            index_column=data.source.get("index_column"),
        )
        if data.task == "regression":
            y = np.asarray(data.y_train, dtype=float)
            _check_magnitude(y, [], f"{data.name}: the target")
            y_mean, y_std = mean_std(y)
            pre.y_mean, pre.y_scale = float(y_mean), float(y_std or 1.0)
        return pre

    @property
    def n_features(self) -> int:
        return len(self.mean)

    def transform(self, X: Any, where: str = "input") -> np.ndarray:
        if any(isinstance(c, str) for c in getattr(X, "columns", ())):  # pandas' default labels 0, 1, … name nothing
            X = self.align(X, where)
        X = np.asarray(X, dtype=float)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            got = X.shape[1] if X.ndim == 2 else f"shape {X.shape}"
            raise DataError(f"{where} has {got} features but the model was trained on {self.n_features}.")
        return (X - np.asarray(self.mean)) / np.asarray(self.scale)

    def align(self, frame: Any, where: str = "input") -> np.ndarray:
        """The feature columns of a data frame as a matrix in training order: by name where ``named_columns``
        (reordered ones realigned, missing ones refused, extra ones ignored with a note), else by position; an
        index column is dropped as from a file, and a column named as the training target is left out."""
        header = [str(c) for c in frame.columns]
        values = np.asarray(frame)
        if values.ndim != 2:
            raise DataError(f"{where}: expected a table of rows and columns; got shape {values.shape}.")
        features = self.feature_names if self.named_columns else None
        target = self.source.get("target")
        skip = {header.index(target)} if isinstance(target, str) and target in header else set()
        chosen = select_features(header, lambda c: values[:, c], where, skip, features, self.index_column)
        return values[:, chosen.columns]

    def transform_y(self, y: np.ndarray) -> np.ndarray:
        return y if self.task != "regression" else (np.asarray(y, float) - self.y_mean) / self.y_scale

    def inverse_y(self, out: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore"):  # beyond the float range is ±inf, which the callers report
            return np.asarray(out, float) * self.y_scale + self.y_mean

    def to_json(self) -> str:
        return json.dumps({"format": "chainrule-preprocess", "version": 1, **asdict(self)}, indent=1)

    def save(self, path: str | os.PathLike) -> None:
        Path(path).write_text(self.to_json(), encoding="utf-8")

    @classmethod
    def load(cls, path: str | os.PathLike) -> Preprocessor:
        try:
            doc = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DataError(f"{path}: cannot read the preprocessing file ({exc}).") from None
        if not isinstance(doc, dict) or doc.pop("format", None) != "chainrule-preprocess":
            raise DataError(f"{path}: not a chainrule preprocessing file.")
        doc.pop("version", None)
        if "named_columns" not in doc:  # written before the contract: a CSV header's target was recorded by name
            doc["named_columns"] = isinstance((doc.get("source") or {}).get("target"), str)
        known = {k: v for k, v in doc.items() if k in cls.__dataclass_fields__}
        return cls(**known)


def sidecar(model_path: str | os.PathLike) -> Path:
    """Where the preprocessing of the model at ``model_path`` is kept."""
    p = Path(model_path)
    return p.with_name(p.stem + ".preprocess.json")


def load_for(model_path: str | os.PathLike, n_features: int) -> Preprocessor:
    """The sidecar of ``model_path``, or the identity pipeline when there is none."""
    path = sidecar(model_path)
    if path.is_file():
        return Preprocessor.load(path)
    return Preprocessor(mean=[0.0] * n_features, scale=[1.0] * n_features)
