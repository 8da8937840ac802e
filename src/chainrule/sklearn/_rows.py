"""X as the estimators take it: a dense array, or a scipy CSR/CSC matrix that is densified one batch at a time.

The network only ever sees dense rows: ``model.fit`` densifies each minibatch of a sparse X as it takes it
(``chainrule.core.training``), and everything here that runs the network over all of X (``forward``,
lbfgs's full-batch gradient) goes ``ROWS_AT_ONCE`` rows at a time, so the whole matrix is never dense at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from ..core.model import Sequential
from ..core.training import is_sparse

ROWS_AT_ONCE = 1024  # rows of a sparse X densified together


def as_rows(X: Any, dtype: np.dtype) -> Any:
    """X in ``dtype``: a C-contiguous array, or a CSR matrix (a CSC one is converted; its values are kept)."""
    if is_sparse(X):
        return X.tocsr().astype(dtype, copy=False)
    return np.ascontiguousarray(X, dtype=dtype)


def chunks(X: Any) -> Iterator[tuple[slice, np.ndarray]]:
    """(rows, dense X[rows]): the whole of a dense X at once; a sparse X ``ROWS_AT_ONCE`` rows at a time."""
    n = X.shape[0]
    if not is_sparse(X):
        yield slice(0, n), X
        return
    for start in range(0, n, ROWS_AT_ONCE):
        rows = slice(start, min(start + ROWS_AT_ONCE, n))
        yield rows, X[rows].toarray()


def forward(model: Sequential, X: Any) -> np.ndarray:
    """The network's outputs (n_samples, n_outputs) in inference mode."""
    parts = [model.forward(Xc, training=False, keep=False) for _, Xc in chunks(X)]
    return parts[0] if len(parts) == 1 else np.concatenate(parts)
