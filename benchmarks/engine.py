"""Workload 16: the compiled engine (``fit(engine="compiled")``, numba) beside NumPy, PyTorch and JAX.

Rows, every contender alternated in one run on one thread, the fastest of 3 (``_harness.best_ratio``):

1. 100 and 1,000 XOR 2-2-2-1 networks (tanh, tanh, sigmoid; BCE; full-batch SGD 0.5; float64), 5,000 epochs,
   the loss of every member recorded every epoch: the engine against the NumPy engine (the same Ensemble)
   and JAX's ``jit`` of ``lax.scan`` over a ``vmap`` at steady state (``_jax.xor_ensemble``). Targets: at
   most 1.0× JAX at 100 networks, 0.5× at 1,000.
2. The first call in a fresh process, compilation included: a child process imports chainrule and fits
   the 100-network ensemble (numba imported and its kernel loaded from the disk cache during that first
   ``fit``), against a child that imports jax and makes, compiles and runs the same scan. A third child
   runs chainrule with an empty cache directory: the cost of the first fit ever on a machine. Target: the
   engine's first call at most JAX's.
3. One XOR 2-4-1 network, 2,000 epochs: ``Sequential.fit(engine="compiled")`` against PyTorch's loop
   (zero_grad, forward, BCELoss, backward, SGD step, ``loss.item()``) and the NumPy engine. Target: at
   least 10× faster than PyTorch.
4. Memory over epochs: the engine's peak traced allocation (tracemalloc) over a 100-network fit of 50 and
   of 5,000 epochs, less the history's own (epochs × members floats). Target: flat (the same).
5. One epoch of the default MNIST-1D CNN (``cr.cnn1d``: BatchNorm after each convolution; 4,000 random
   signals, Adam, batch 100, float32) with BatchNorm's per-channel sums as products with vectors of ones
   against the same epoch with NumPy's reduce over axes (0, 2).

Every contender's losses are compared with the NumPy engine's before timing (that run is the warm-up).
``--quick`` keeps the rows and shrinks every size. Run alone with ``python -m benchmarks --only engine``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc

import numpy as np

import chainrule as cr

from . import _jax
from ._harness import Row, best_ratio, optional, time_rounds
from ._xor_peers import xor_layers
from .xor import LR, X_XOR, Y_XOR
from .xor import torch_runner as torch_xor

FULL = {"nets": (100, 1_000), "epochs": 5_000, "single": 2_000, "memory": (50, 5_000), "repeats": 3, "signals": 4_000}
QUICK = {"nets": (10, 20), "epochs": 50, "single": 100, "memory": (5, 50), "repeats": 1, "signals": 200}


def ensemble_runner(n_models: int, epochs: int, engine: str):
    ens = cr.Ensemble(*xor_layers(), n_models=n_models, seed=0)
    start = ens.flat_params.copy()

    def run():
        ens.flat_params[...] = start
        return ens.fit(X_XOR, Y_XOR, loss="bce", optimizer=cr.SGD(lr=LR), epochs=epochs, engine=engine)["loss"]

    return run


def single_runner(epochs: int, engine: str):
    model = cr.Sequential(*xor_layers((2, 4, 1)), seed=0)
    start = model.flat_params.copy()

    def run():
        model.flat_params[...] = start
        hist = model.fit(X_XOR, Y_XOR, loss="bce", optimizer=cr.SGD(lr=LR), epochs=epochs, engine=engine)
        return np.array(hist["loss"])

    return run


def agreement(theirs: np.ndarray, ours: np.ndarray) -> str:
    """How far a contender's loss curves are from the NumPy engine's (first 10 epochs, and the final ones)."""
    head = float(np.max(np.abs(theirs[:10] - ours[:10])))
    if not head <= 1e-10:
        raise AssertionError(f"losses differ from the NumPy engine's by {head:.3g} over the first 10 epochs")
    final = np.abs(theirs[-1] - ours[-1])
    return f"losses within {head:.0e} (10 epochs), final within 1e-6 for {int(np.sum(final <= 1e-6))}/{final.size}"


def many_nets(n_models: int, epochs: int, repeats: int) -> list[Row]:
    workload = f"16 {n_models:,} XOR nets × {epochs:,} epochs"
    contenders = {"compiled": ensemble_runner(n_models, epochs, "compiled"),
                  "numpy": ensemble_runner(n_models, epochs, "numpy")}  # fmt: skip
    if _jax.load() is not None:
        members = [cr.Sequential(*xor_layers(), seed=s).get_weights() for s in range(n_models)]
        contenders["jax"] = _jax.xor_ensemble(members, X_XOR, Y_XOR, epochs, LR)[0]
    curves = {name: np.asarray(fn()) for name, fn in contenders.items()}  # the warm-up
    notes = {name: agreement(curve, curves["numpy"]) for name, curve in curves.items() if name != "numpy"}
    rounds = time_rounds(contenders, repeats, warmup=0)
    return _rows(workload, rounds, "epoch", epochs, notes)


def _rows(workload: str, rounds: dict, per: str, units: int, notes: dict) -> list[Row]:
    """One row per contender: its fastest run, and the engine's fastest over it (the ratio column)."""
    return [
        Row(workload, f"chainrule {name}" if name in ("compiled", "numpy") else name, min(ts), per, units,
            notes.get(name, ""), None if name == "compiled" else best_ratio(rounds, "compiled", name))
        for name, ts in rounds.items()
    ]  # fmt: skip


FIRST_CALL = """
import json, sys, time
import numpy as np
t0 = time.perf_counter()
{imports}
t1 = time.perf_counter()
{work}
t2 = time.perf_counter()
print(json.dumps({{"import": t1 - t0, "first": t2 - t1}}))
"""
CHAINRULE_FIRST = """
from benchmarks._xor_peers import xor_layers
from benchmarks.xor import LR, X_XOR, Y_XOR
ens = cr.Ensemble(*xor_layers(), n_models={n}, seed=0)
ens.fit(X_XOR, Y_XOR, loss="bce", optimizer=cr.SGD(lr=LR), epochs={epochs}, engine="compiled")
"""
JAX_FIRST = """
from benchmarks import _jax
from benchmarks._xor_peers import xor_layers
from benchmarks.xor import LR, X_XOR, Y_XOR
members = [cr.Sequential(*xor_layers(), seed=s).get_weights() for s in range({n})]
_jax.load()
_jax.xor_ensemble(members, X_XOR, Y_XOR, {epochs}, LR)[0]()
"""


def _child(imports: str, work: str, env: dict | None = None) -> dict:
    code = FIRST_CALL.format(imports=imports, work=work)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root,
                          env={**os.environ, **(env or {})}, check=True)  # fmt: skip
    return json.loads(done.stdout.strip().splitlines()[-1])


def first_calls(n_models: int, epochs: int, repeats: int, cold: bool = True) -> list[Row]:
    workload = f"16 first call, {n_models:,} XOR nets × {epochs:,} epochs"
    ours = CHAINRULE_FIRST.format(n=n_models, epochs=epochs)
    times: dict[str, list[float]] = {"compiled": [], "jax": [], "compiled, empty cache": []}
    _child("import chainrule as cr", ours)  # fills the disk cache, if this is the first run ever
    for _ in range(repeats):
        times["compiled"].append(_child("import chainrule as cr", ours)["first"])
        if optional("jax") is not None:
            jax_work = JAX_FIRST.format(n=n_models, epochs=epochs)
            times["jax"].append(_child("import chainrule as cr; import jax", jax_work)["first"])
    if cold:  # once: a compilation takes many times the rest
        with tempfile.TemporaryDirectory() as cache:
            times["compiled, empty cache"].append(
                _child("import chainrule as cr", ours, {"NUMBA_CACHE_DIR": cache})["first"]
            )
    times = {k: v for k, v in times.items() if v}
    notes = {"compiled": "first fit in a fresh process: numba imported, the kernel loaded from the disk cache",
             "jax": "in a fresh process (jax imported before timing): its CPU client made, the scan traced, "
             "compiled and run",
             "compiled, empty cache": "the first fit ever on a machine: the kernel compiled (then cached)"}  # fmt: skip
    return _rows(workload, times, "run", 1, notes)


def one_net(epochs: int, repeats: int) -> list[Row]:
    workload = f"16 one XOR 2-4-1 net × {epochs:,} epochs"
    contenders = {"compiled": single_runner(epochs, "compiled"), "numpy": single_runner(epochs, "numpy")}
    torch = optional("torch")
    if torch is not None:
        weights = cr.Sequential(*xor_layers((2, 4, 1)), seed=0).get_weights()
        contenders["pytorch"] = torch_xor((2, 4, 1), "float64", epochs, weights)
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
    try:
        curves = {name: np.asarray(fn()).reshape(epochs, -1) for name, fn in contenders.items()}
        notes = {name: agreement(c, curves["numpy"]) for name, c in curves.items() if name != "numpy"}
        rounds = time_rounds(contenders, repeats, warmup=0)
    finally:
        if torch is not None:
            torch.set_num_threads(threads)
    return _rows(workload, rounds, "epoch", epochs, notes)


def memory(n_models: int, short: int, long: int) -> list[Row]:
    """Peak traced allocation of a compiled fit, short and long, less what the returned history holds."""
    peaks = {}
    for epochs in (short, long):
        ens = cr.Ensemble(*xor_layers(), n_models=n_models, seed=0)
        ens.fit(X_XOR, Y_XOR, loss="bce", optimizer=cr.SGD(lr=LR), epochs=1, engine="compiled")  # compiled first
        tracemalloc.start()
        t0 = time.perf_counter()
        hist = ens.fit(X_XOR, Y_XOR, epochs=epochs, engine="compiled")
        seconds = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        rows = hist.history["loss"]  # one array per epoch, viewing the kernel's (epochs, members) losses
        kept = sum(sys.getsizeof(r) + r.nbytes for r in rows) + sum(map(sys.getsizeof, [rows, hist.epoch, *hist.epoch]))
        peaks[epochs] = (peak - kept, seconds)
    (a, _), (b, seconds) = peaks[short], peaks[long]
    note = f"peak less the history it returns: {a / 1e6:.2f} MB over {short} epochs, {b / 1e6:.2f} MB over {long}"
    return [Row(f"16 memory, {n_models} XOR nets", "chainrule compiled", seconds, "epoch", long, note, b / a)]


def _reduce_sums(X, over):
    """BatchNorm's sums as NumPy's reduce over several axes at once (what ``norm._sums`` replaced)."""
    return X.sum(axis=over, keepdims=True)


def batchnorm_epoch(n: int, repeats: int) -> list[Row]:
    """One epoch of the default MNIST-1D CNN (BatchNorm after each convolution, Adam, batch 100, float32): the
    per-channel statistics as products with ones against the same epoch with NumPy's reduce over axes (0, 2)."""
    from chainrule.layers import norm

    from .cnn import CLASSES, LENGTH, make_data

    X, y = make_data(n, "float32")
    model = cr.cnn1d(LENGTH, CLASSES, seed=0, dtype="float32")
    start = model.flat_params.copy()
    products = norm._sums

    def epoch(sums):
        def run():
            norm._sums = sums
            try:
                model.flat_params[...] = start
                return model.fit(X, y, loss="softmax_cross_entropy", optimizer=cr.Adam(lr=1e-2), epochs=1,
                                 batch_size=100, seed=0)["loss"]  # fmt: skip
            finally:
                norm._sums = products

        return run

    contenders = {"products": epoch(products), "reduce": epoch(_reduce_sums)}
    first = {name: fn()[0] for name, fn in contenders.items()}
    note = f"epoch losses {first['products']:.6f} and {first['reduce']:.6f}"
    rounds = time_rounds(contenders, repeats, warmup=0)
    ratio = best_ratio(rounds, "products", "reduce")
    return [Row(f"16 MNIST-1D CNN with BatchNorm, {n:,} signals", f"chainrule, sums as {name}", min(ts), "epoch", 1,
                note if name == "products" else "", None if name == "products" else ratio)
            for name, ts in rounds.items()]  # fmt: skip


def run(quick: bool = False, dtype: str = "float64") -> list[Row]:
    sizes = QUICK if quick else FULL
    rows = []
    for n in sizes["nets"]:
        rows += many_nets(n, sizes["epochs"], sizes["repeats"])
    rows += first_calls(sizes["nets"][0], sizes["epochs"], sizes["repeats"], cold=not quick)
    rows += one_net(sizes["single"], sizes["repeats"])
    rows += memory(sizes["nets"][0], *sizes["memory"])
    rows += batchnorm_epoch(sizes["signals"], sizes["repeats"])
    return rows
