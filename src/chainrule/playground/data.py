"""The playground's data: seven generated sets of two classes on the plane, two regression sets, an uploaded
CSV, and the input features.

Points lie roughly in [-6, 6]²; the class is 0 or 1, a regression target lies in about [-1, 1]. ``noise``
(0 to 0.5) blurs each set in its own way. The same seed gives the same points. The features turn the point
(x₁, x₂) into the network's inputs.

    spirals-1.75   two arms of 1.75 turns each, radius growing from 0 to 5, every point moved by up to
                   (0.1 + 2·noise) in each coordinate: harder than ``spirals`` with x₁, x₂ alone
    reg-plane      y = (x₁ + x₂)/10, measured at a point moved by up to 6·noise in each coordinate
    reg-gauss      six bumps of height ±1 at (−4, ±2.5), (0, ±2.5), (4, ±2.5), each falling linearly to 0 at
                   distance 2; y is the bump of largest size, measured at a moved point as above
"""

from __future__ import annotations

import csv
import io

import numpy as np

from ..datasets.generated import circles, moons, planar, spirals

MAX_UPLOAD_BYTES = 200_000
MAX_UPLOAD_ROWS = 5_000
MAX_CELL_CHARS = 100
MAX_CELL = 1e6  # larger coordinates would overflow once centred and squared
N_POINTS = 400
REGRESSION = ("reg-plane", "reg-gauss")
BUMPS = ((-4, 2.5, 1), (0, 2.5, -1), (4, 2.5, 1), (-4, -2.5, -1), (0, -2.5, 1), (4, -2.5, -1))
EXTENT = 6.0

FEATURE_FUNCTIONS = {
    "x1": lambda P: P[:, 0],
    "x2": lambda P: P[:, 1],
    "x1^2": lambda P: P[:, 0] ** 2,
    "x2^2": lambda P: P[:, 1] ** 2,
    "x1x2": lambda P: P[:, 0] * P[:, 1],
    "sin x1": lambda P: np.sin(P[:, 0]),
    "sin x2": lambda P: np.sin(P[:, 1]),
}
FEATURE_LABELS = {"x1": "x₁", "x2": "x₂", "x1^2": "x₁²", "x2^2": "x₂²", "x1x2": "x₁x₂", "sin x1": "sin x₁",
                  "sin x2": "sin x₂"}  # fmt: skip


class UploadError(ValueError):
    """An uploaded file the playground cannot read; the message says what is wrong and what it expects."""


def features(P: np.ndarray, names: list[str]) -> np.ndarray:
    """The network's inputs for the points P (n, 2): one column per named feature."""
    return np.stack([FEATURE_FUNCTIONS[name](P) for name in names], axis=1)


def _scaled(X: np.ndarray) -> np.ndarray:
    """Points centred and scaled so that the largest coordinate is 5 (inside the drawn square of ±6)."""
    X = X - X.mean(axis=0)
    return 5.0 * X / max(float(np.abs(X).max()), 1e-12)


def generate(name: str, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The points (n, 2) and labels (n,) of the set ``name`` (targets, floats, for a regression set)."""
    rng = np.random.default_rng(seed)
    if name in REGRESSION:
        P = rng.uniform(-EXTENT, EXTENT, (N_POINTS, 2))
        at = P + noise * rng.uniform(-EXTENT, EXTENT, P.shape)
        return P, (at.sum(axis=1) / 10 if name == "reg-plane" else bumps(at))
    if name == "spirals-1.75":
        y = np.arange(N_POINTS) % 2
        r = np.repeat(np.arange(N_POINTS // 2) / (N_POINTS // 2), 2) * 5
        t = 1.75 * 2 * np.pi * r / 5 + np.pi * y
        P = np.stack([r * np.sin(t), r * np.cos(t)], axis=1)
        return P + (0.1 + 2 * noise) * rng.uniform(-1, 1, P.shape), y.astype(np.int64)
    if name == "xor":
        P = rng.uniform(-5, 5, (N_POINTS, 2))
        P += np.sign(P) * 0.3  # a small gap along the axes, as the quadrants' border
        y = (P[:, 0] * P[:, 1] < 0).astype(np.int64)
        return P + noise * 6 * rng.standard_normal(P.shape), y
    if name == "gaussians":
        y = np.arange(N_POINTS) % 2
        centres = np.where(y[:, None] == 1, 2.0, -2.0)
        return centres + (0.6 + 4 * noise) * rng.standard_normal((N_POINTS, 2)), y.astype(np.int64)
    if name == "spirals":
        d = spirals(seed=seed, n=N_POINTS, k=2, noise=0.2 + 2 * noise)
    elif name == "circles":
        d = circles(seed=seed, n=N_POINTS, noise=0.02 + 0.3 * noise)
    elif name == "moons":
        d = moons(seed=seed, n=N_POINTS, noise=0.05 + 0.5 * noise)
    else:
        d = planar(seed=seed, n=N_POINTS)
    P, y = np.vstack([d.X_train, d.X_test]), np.concatenate([d.y_train, d.y_test])
    if name == "planar" and noise:
        P = P + noise * rng.standard_normal(P.shape)
    return _scaled(P), y.astype(np.int64)


def bumps(P: np.ndarray) -> np.ndarray:
    """reg-gauss's target at each point: of the six signed bumps max(0, 1 − d/2), the one largest in size."""
    values = np.stack([sign * np.clip(1 - np.hypot(P[:, 0] - cx, P[:, 1] - cy) / 2, 0, 1) for cx, cy, sign in BUMPS])
    return values[np.abs(values).argmax(axis=0), np.arange(len(P))]


def split(P: np.ndarray, y: np.ndarray, ratio: float, seed: int) -> tuple[np.ndarray, ...]:
    """(P_train, y_train, P_test, y_test): a shuffled split with ``ratio`` of the points for training (≥ 1 each)."""
    order = np.random.default_rng(seed + 1).permutation(len(P))
    cut = min(max(1, round(ratio * len(P))), len(P) - 1)
    train, test = order[:cut], order[cut:]
    return P[train], y[train], P[test], y[test]


def read_upload(raw: bytes) -> tuple[np.ndarray, np.ndarray, list[str], list[str]]:
    """Points, 0/1 labels, the two column names and the two class names from a CSV: x₁, x₂, label.

    The first row is a header. The label column may hold any two distinct values (text or numbers).
    Names are returned as plain text: the page shows them with textContent, never as HTML.
    """
    if len(raw) > MAX_UPLOAD_BYTES:
        raise UploadError(f"the file is {len(raw):,} bytes; the playground reads CSV files of at most "
                          f"{MAX_UPLOAD_BYTES:,} bytes.")  # fmt: skip
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UploadError("the file is not UTF-8 text; upload a CSV file with columns x1, x2, label.") from None
    if "\x00" in text:
        raise UploadError("the file holds binary data, not CSV text; upload a CSV file with columns x1, x2, label.")
    try:
        rows = [r for r in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in r)]
    except csv.Error as err:
        raise UploadError(f"the file is not readable as CSV ({err}); give rows of x1, x2, label, each cell of "
                          f"at most {MAX_CELL_CHARS} characters.") from None  # fmt: skip
    long = next(((q, len(c)) for q, r in enumerate(rows) for c in r if len(c) > MAX_CELL_CHARS), None)
    if long:
        raise UploadError(f"row {long[0] + 1} has a cell of {long[1]:,} characters; a cell holds at most "
                          f"{MAX_CELL_CHARS} characters.")  # fmt: skip
    if len(rows) < 3 or any(len(r) != 3 for r in rows):
        bad = next((q + 1 for q, r in enumerate(rows) if len(r) != 3), None)
        where = f" (row {bad} has {len(rows[bad - 1])} columns)" if bad else ""
        raise UploadError(f"expected a header and at least two rows of exactly 3 columns: x1, x2, label{where}.")
    if len(rows) - 1 > MAX_UPLOAD_ROWS:
        raise UploadError(f"the file has {len(rows) - 1:,} rows; the playground reads at most {MAX_UPLOAD_ROWS:,}.")
    header, body = rows[0], rows[1:]
    try:
        P = np.array([[float(r[0]), float(r[1])] for r in body])
    except ValueError:
        q = next(q for q, r in enumerate(body) if not _floats(r[:2]))
        raise UploadError(f"row {q + 2}: the first two columns must be numbers; received {body[q][:2]!r}.") from None
    if not np.isfinite(P).all():
        raise UploadError("the feature columns hold NaN or infinite values; give finite numbers.")
    if np.abs(P).max() > MAX_CELL:
        raise UploadError(f"the feature columns hold values up to {np.abs(P).max():.3g}; the playground reads values "
                          f"of at most {MAX_CELL:g} in size (rescale the columns).")  # fmt: skip
    labels = [r[2].strip() for r in body]
    classes = sorted(set(labels))
    if len(classes) != 2:
        raise UploadError(f"the label column must hold exactly two classes; it holds {len(classes)}.")
    y = np.array([classes.index(v) for v in labels], dtype=np.int64)
    return _scaled(P), y, [header[0], header[1]], classes


def _floats(cells: list[str]) -> bool:
    try:
        [float(c) for c in cells]
    except ValueError:
        return False
    return True
