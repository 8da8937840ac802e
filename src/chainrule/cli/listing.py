"""``chainrule datasets``: the table of named datasets, made without loading the packaged ones.

The NumPy-generated sets are simply generated (a few hundred points each, well under a millisecond). The
sets that come with scikit-learn or mnist1d are described by the constants below, so the listing imports
neither package: importing scikit-learn takes about a second, and generating MNIST-1D several.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

import numpy as np

from .. import datasets
from ..datasets import bundled

# Sizes as documented by each package: scikit-learn's dataset descriptions (``load_iris().DESCR`` and so on:
# samples, features, samples per class) and mnist1d's ``get_dataset_args()`` (5,000 sequences of length 40,
# 10 classes, split 4,000 / 1,000). ``tests/test_cli.py`` checks them against the loaded data.
SKLEARN_SIZES: dict[str, tuple[int, int, list[int] | None]] = {  # samples, features, samples per class
    "iris": (150, 4, [50, 50, 50]),
    "digits": (1797, 64, [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]),
    "breast_cancer": (569, 30, [212, 357]),
    "wine": (178, 13, [59, 71, 48]),
    "diabetes": (442, 10, None),  # regression
}
MNIST1D_SIZES = (4000, 1000, 40, 10)  # train, test, features, classes (the package's fixed split)
PACKAGE_MODULES = {"scikit-learn": "sklearn", "mnist1d": "mnist1d"}


@dataclass(frozen=True)
class Row:
    """One line of the table: a dataset's name, where it comes from, its split and shape."""

    name: str
    source: str
    n_train: int
    n_test: int
    n_features: int
    task: str  # "3 classes" or "regression"

    @property
    def n_samples(self) -> int:
        return self.n_train + self.n_test


def _sklearn_row(name: str) -> Row:
    n, n_features, per_class = SKLEARN_SIZES[name]
    if per_class is None:
        y = np.zeros(n)
    else:
        y = np.repeat(np.arange(len(per_class)), per_class)
    # the real split on stand-in labels with the documented class sizes, so the rounding is the loader's own
    stratify = per_class is not None
    _, y_train, _, y_test = datasets.split(np.zeros((n, 0)), y, bundled.SKLEARN_TEST_SIZE, 0, stratify=stratify)
    task = "regression" if per_class is None else f"{len(per_class)} classes"
    return Row(name, "scikit-learn", len(y_train), len(y_test), n_features, task)


def _loaded_row(name: str, source: str) -> Row:
    d = datasets.load(name)
    task = f"{d.n_classes} classes" if d.task == "classification" else "regression"
    return Row(name, source, len(d.X_train), len(d.X_test), d.n_features, task)


def rows() -> list[Row | tuple[str, str]]:
    """A Row per named dataset, or (name, source) where the package that provides it is not installed."""
    out: list[Row | tuple[str, str]] = []
    for name, (_, source) in datasets.DATASETS.items():
        module = PACKAGE_MODULES.get(source)
        if module is not None and importlib.util.find_spec(module) is None:
            out.append((name, source))
        elif source == "scikit-learn" and name in SKLEARN_SIZES:
            out.append(_sklearn_row(name))
        elif name == "mnist1d":
            n_train, n_test, n_features, k = MNIST1D_SIZES
            out.append(Row(name, source, n_train, n_test, n_features, f"{k} classes"))
        else:  # generated with NumPy (cheap), or a set added without sizes here: load it
            out.append(_loaded_row(name, source))
    return out


def table() -> str:
    """The listing printed by ``chainrule datasets``."""
    lines = [f"{'name':<14} {'source':<13} {'train':>6} {'test':>6} {'features':>8}  task"]
    for row in rows():
        if isinstance(row, tuple):
            name, source = row
            lines.append(f'{name:<14} {source:<13} needs: pip install "chainrule[datasets]"')
            continue
        r = row
        lines.append(f"{r.name:<14} {r.source:<13} {r.n_train:>6} {r.n_test:>6} {r.n_features:>8}  {r.task}")
    lines.append(
        f"\ndefault: {datasets.DEFAULT}. Files: CSV, .npy/.npz and MNIST IDX (gzipped or not) also work as DATASET."
    )
    return "\n".join(lines)
