"""Timing, result rows and the report header shared by every workload."""

from __future__ import annotations

import math
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Row:
    """One line of the table: a contender's median on a workload, and its ratio to chainrule."""

    workload: str
    contender: str
    seconds: float  # median wall time of one timed run; NaN when not timed (a skipped peer, a published figure)
    per: str = ""  # what one unit is ("epoch", "run"), for the per-unit column
    units: int = 1  # units in one timed run
    note: str = ""
    ratio: float | None = None  # chainrule / this contender (None for chainrule itself)
    extra: dict = field(default_factory=dict)

    @property
    def per_unit_us(self) -> float:
        return self.seconds / self.units * 1e6


def time_alternating(contenders: dict[str, Callable[[], object]], repeats: int, warmup: int = 1) -> dict[str, float]:
    """Median wall time of each callable, calling them in turn (A B C A B C …) after ``warmup`` rounds.

    Alternating spreads the noise of a shared machine over every contender instead of one.
    """
    return {name: statistics.median(ts) for name, ts in time_rounds(contenders, repeats, warmup).items()}


def time_rounds(contenders: dict[str, Callable[[], object]], repeats: int, warmup: int = 1) -> dict[str, list[float]]:
    """Every round's wall time of each callable, called in turn (A B C A B C …) after ``warmup`` rounds."""
    for _ in range(warmup):
        for fn in contenders.values():
            fn()
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, fn in contenders.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return times


def best_ratio(times: dict[str, list[float]], a: str, b: str, scale: float = 1.0) -> float:
    """a's fastest run over b's fastest (× ``scale``).

    On a shared machine other tenants only ever add time, in bursts of seconds: the fastest of several
    runs is each contender's own cost, and their ratio wanders far less between runs than the medians'.
    """
    return min(times[a]) / (min(times[b]) * scale)


def rows_with_ratios(workload: str, medians: dict[str, float], per: str, units: int, notes=None) -> list[Row]:
    """Table rows for one workload; the ratio column is chainrule's median over each peer's."""
    notes = notes or {}
    ours = medians["chainrule"]
    return [
        Row(workload, name, t, per, units, notes.get(name, ""), None if name == "chainrule" else ours / t)
        for name, t in medians.items()
    ]


def optional(module: str):
    """The module, or None when it is not installed (peers are optional)."""
    try:
        return __import__(module)
    except ImportError:
        return None


def torch_linears(torch, sizes, dtype) -> list:
    """PyTorch Linear layers for the layer ``sizes``, in the torch dtype matching ``dtype``."""
    tdtype = torch.float64 if np.dtype(dtype) == np.float64 else torch.float32
    return [torch.nn.Linear(a, b, dtype=tdtype) for a, b in zip(sizes[:-1], sizes[1:])]


def set_torch_weights(torch, linears, weights) -> None:
    """Copy chainrule's [W1, b1, …] into PyTorch Linear layers (chainrule's W is PyTorch's weightᵀ)."""
    with torch.no_grad():
        for lin, W, b in zip(linears, weights[0::2], weights[1::2]):
            lin.weight.copy_(torch.from_numpy(np.ascontiguousarray(W.T)))
            lin.bias.copy_(torch.from_numpy(np.asarray(b)))


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def blas_name() -> str:
    try:
        cfg = np.show_config(mode="dicts")
        blas = cfg["Build Dependencies"]["blas"]
        return f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    except Exception:  # numpy < 1.25 has no mode="dicts"
        return "unknown"


def blas_threads() -> int | None:
    """Threads of NumPy's BLAS (the largest count among the BLAS libraries loaded), None when unknown."""
    tpc = optional("threadpoolctl")
    if tpc is None:
        return None
    counts = [info["num_threads"] for info in tpc.threadpool_info() if info.get("user_api") == "blas"]
    return max(counts) if counts else None


def thread_counts() -> dict[str, str]:
    counts = {"cpus": str(os.cpu_count())}
    tpc = optional("threadpoolctl")
    if tpc is not None:
        for info in tpc.threadpool_info():
            counts[f"{info.get('internal_api')}({info.get('prefix')})"] = str(info.get("num_threads"))
    torch = optional("torch")
    if torch is not None:
        counts["torch"] = str(torch.get_num_threads())
    return counts


def header() -> str:
    import chainrule

    lines = [
        f"machine: {cpu_model()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}",
        f"python {platform.python_version()}, numpy {np.__version__} ({blas_name()}), "
        f"chainrule {chainrule.__version__}",
    ]
    peers = []
    for mod in ("torch", "jax", "sklearn", "psutil"):
        m = optional(mod)
        peers.append(f"{mod} {m.__version__}" if m is not None else f"{mod} (not installed)")
    lines.append("peers: " + ", ".join(peers))
    lines.append("threads: " + ", ".join(f"{k}={v}" for k, v in thread_counts().items()))
    return "\n".join(lines)


def format_table(rows: list[Row]) -> str:
    head = ("workload", "contender", "median", "per unit", "chainrule/this", "note")
    body = []
    for r in rows:
        untimed = math.isnan(r.seconds)
        per = f"{r.per_unit_us:,.1f} µs/{r.per}" if r.per and not untimed else ""
        ratio = "" if r.ratio is None else f"{r.ratio:.2f}"
        body.append((r.workload, r.contender, "—" if untimed else _fmt_seconds(r.seconds), per, ratio, r.note))
    widths = [max(len(x[i]) for x in [head, *body]) for i in range(len(head))]
    fmt = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([fmt(head), sep, *map(fmt, body)])


def _fmt_seconds(s: float) -> str:
    if s >= 1:
        return f"{s:.3f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.2f} ms"
    return f"{s * 1e6:.1f} µs"
