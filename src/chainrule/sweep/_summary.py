"""A sweep's results per grid point: converged count with its Wilson interval, loss and epoch quantiles.

The Wilson score interval for k successes in n trials, with p = k/n and z the normal quantile
(1.96 for 95 %):

    centre = (p + z²/2n) / (1 + z²/n)
    half   = z·√(p(1 − p)/n + z²/4n²) / (1 + z²/n)

It stays inside [0, 1] and keeps a sensible width at k = 0 or k = n, where p ± z·√(p(1 − p)/n) collapses.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ._grid import Member, MemberResult

Z95 = 1.959963984540054  # the standard normal's 97.5 % quantile
COLUMNS = ["lr", "init", "n", "converged", "rate", "ci_low", "ci_high", "diverged",
           "loss_min", "loss_q25", "loss_median", "loss_q75", "loss_max",
           "epochs_q25", "epochs_median", "epochs_q75"]  # fmt: skip


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval (low, high) for ``k`` successes out of ``n`` (NaNs when n = 0)."""
    if n == 0:
        return math.nan, math.nan
    p, z2 = k / n, z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def _quantiles(values: Sequence[float], qs: Sequence[float]) -> list[float]:
    return [float(v) for v in np.quantile(values, qs)] if len(values) else [math.nan] * len(qs)


def summarize(points: Sequence[dict], members: Sequence[Member], results: Sequence[MemberResult]) -> list[dict]:
    """One row per grid point (the keys of ``COLUMNS``); ``results`` holds one entry per member, by index.

    The loss quantiles are over the members that did not diverge; the epoch quantiles over those that
    ended converged.
    """
    by_index = {r.index: r for r in results}
    rows = []
    for p, point in enumerate(points):
        mine = [by_index[m.index] for m in members if m.point == p]
        k, n = sum(r.converged for r in mine), len(mine)
        losses = [r.final_loss for r in mine if math.isfinite(r.final_loss)]
        epochs = [r.epochs_to_converge for r in mine if r.converged]
        low, high = wilson(k, n)
        row = {"lr": point["lr"], "init": point["init"] or "default", "n": n, "converged": k,
               "rate": k / n if n else math.nan, "ci_low": low, "ci_high": high,
               "diverged": sum(r.diverged_epoch is not None for r in mine)}  # fmt: skip
        names = ["loss_min", "loss_q25", "loss_median", "loss_q75", "loss_max"]
        row.update(zip(names, _quantiles(losses, [0, 0.25, 0.5, 0.75, 1])))
        row.update(zip(["epochs_q25", "epochs_median", "epochs_q75"], _quantiles(epochs, [0.25, 0.5, 0.75])))
        rows.append(row)
    return rows


def _num(x: float, fmt: str) -> str:
    return "-" if x is None or not math.isfinite(x) else format(x, fmt)


def table(rows: Sequence[dict]) -> str:
    """The summary as a text table, one line per grid point."""
    width = max(4, *(len(r["init"]) for r in rows))
    head = (f"{'lr':>8}  {'init':<{width}}  {'converged':>11}  {'95% CI':>13}  {'div':>4}  "
            f"{'loss min':>9} {'25%':>9} {'median':>9} {'75%':>9} {'max':>9}  "
            f"{'epochs 25%':>10} {'median':>7} {'75%':>7}")  # fmt: skip
    lines = [head, "-" * len(head)]
    for r in rows:
        conv = f"{r['converged']}/{r['n']}"
        ci = f"{_num(r['ci_low'], '.3f')}–{_num(r['ci_high'], '.3f')}"
        losses = " ".join(f"{_num(r[k], '9.3g'):>9}" for k in COLUMNS[8:13])
        epochs = f"{_num(r['epochs_q25'], '10.0f'):>10} {_num(r['epochs_median'], '7.0f'):>7} "
        epochs += f"{_num(r['epochs_q75'], '7.0f'):>7}"
        head_cells = f"{r['lr']:>8g}  {r['init']:<{width}}  {conv:>11}  {ci:>13}  {r['diverged']:>4}"
        lines.append(f"{head_cells}  {losses}  {epochs}")
    return "\n".join(lines)


def _plain(x: Any) -> Any:
    """``x`` with NaN and infinities as None (JSON has no NaN), recursively."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    return x


def to_csv(rows: Sequence[dict]) -> str:
    """The summary as CSV: a header of ``COLUMNS``, one row per grid point; missing numbers left empty."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, COLUMNS, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: "" if v is None else repr(v) if isinstance(v, float) else v for k, v in _plain(r).items()})
    return buf.getvalue()


def to_json(settings: dict, rows: Sequence[dict], members: Sequence[Member], results: Sequence[MemberResult],
            curve_epochs: Sequence[int]) -> str:  # fmt: skip
    """Settings, the summary rows, and every member (its settings, result and loss curve) as JSON."""
    by_index = {r.index: r for r in results}
    per_member = [
        {"index": m.index, "point": m.point, "lr": m.lr, "init": m.init or "default", "seed": m.seed,
         "final_loss": by_index[m.index].final_loss, "converged": by_index[m.index].converged,
         "epochs_to_converge": by_index[m.index].epochs_to_converge,
         "diverged_epoch": by_index[m.index].diverged_epoch, "loss_curve": by_index[m.index].loss_curve}
        for m in members
    ]  # fmt: skip
    doc = {"settings": settings, "points": list(rows), "curve_epochs": list(curve_epochs), "members": per_member}
    return json.dumps(_plain(doc), allow_nan=False)
