"""Workload 5: memory of the MNIST-shaped training, in a fresh process.

A child process makes the data (60,000 x 784 float32, a 784-256-128-10 network), trains chainrule for 20 epochs
(3 with ``--quick``) and reports its resident set size after the data exist and after every epoch, and its peak
(VmHWM, or ``resource.getrusage``'s ``ru_maxrss`` off Linux).
Target: peak at most the dataset plus 100 MB, and flat from epoch 2 on (epoch 1 allocates the work buffers).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

from ._harness import Row

EPOCHS, QUICK_EPOCHS = 20, 3


def rss_mb() -> float:
    """Resident set size now, in MB (psutil when installed, else /proc/self/statm)."""
    try:
        import psutil

        return psutil.Process().memory_info().rss / 1e6
    except ImportError:
        import os

        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def peak_mb() -> float:
    """Peak resident set size of this process, in MB.

    Linux's VmHWM when there is one: ``ru_maxrss`` survives exec, so in a child started from a big
    parent it reports the parent's size at the fork.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024 / 1e6
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3  # kilobytes on Linux


def child(n: int, dtype: str, epochs: int) -> None:
    import chainrule as cr

    from . import mnist

    base = rss_mb()
    X, y = mnist.make_data(n, dtype)
    data_mb = (X.nbytes + y.nbytes) / 1e6
    after_data = rss_mb()
    model = mnist.build_model(dtype)
    opt = cr.SGD(lr=mnist.LR, momentum=mnist.MOMENTUM)
    per_epoch = []
    t0 = time.perf_counter()
    for _ in range(epochs):
        model.fit(X, y, loss="softmax_cross_entropy", optimizer=opt, epochs=1, batch_size=mnist.BATCH)
        per_epoch.append(rss_mb())
    out = {
        "base": base,
        "data": data_mb,
        "after_data": after_data,
        "epochs": per_epoch,
        "peak": peak_mb(),
        "seconds": time.perf_counter() - t0,
    }
    print(json.dumps(out))


def run(quick: bool = False, dtype: str = "float32") -> list[Row]:
    n, epochs = (2560, QUICK_EPOCHS) if quick else (60_000, EPOCHS)
    code = f"from benchmarks.memory import child; child({n}, {dtype!r}, {epochs})"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    r = json.loads(res.stdout.strip().splitlines()[-1])
    over = r["peak"] - r["base"] - r["data"]
    settled = r["epochs"][1:]  # from epoch 2: epoch 1 allocates the buffers training reuses
    growth = settled[-1] - settled[0]
    spread = max(settled) - min(settled)
    note = (
        f"peak RSS {r['peak']:.0f} MB = interpreter {r['base']:.0f} + data {r['data']:.0f} + {over:.0f} MB; "
        f"RSS after epochs 1..{epochs}: "
        + ", ".join(f"{m:.0f}" for m in r["epochs"])
        + f" MB; growth epoch 2 to {epochs} {growth:+.1f} MB (range {spread:.1f} MB)"
    )
    extra = {"peak_mb": r["peak"], "data_mb": r["data"], "growth_mb": growth, "rss_mb": r["epochs"]}
    return [Row(f"5 memory, MNIST-shaped {dtype}", "chainrule", r["seconds"], "epoch", epochs, note, extra=extra)]
