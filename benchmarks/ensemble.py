"""Workload 8: ensembles, many networks of one architecture trained at once by ``chainrule.Ensemble``.

Four rows, each from a fixed seed (member i starts as ``Sequential(<the same layers>, seed=i)`` would):

1. 100 XOR 2-2-2-1 networks (tanh, tanh, sigmoid; BCE; SGD lr 0.5; float64) × 5,000 full-batch epochs,
   the loss recorded every epoch. The Ensemble against ONE network's ``Sequential.fit`` for the same epochs
   (target: at most 4× its time), PyTorch's ``torch.func`` ensemble (``stack_module_state`` over 100 twins,
   ``vmap(grad_and_value(loss))`` with ``functional_call``, an SGD update of the stacked parameters and the
   loss every epoch, on one thread; target: the Ensemble at least 10× faster) and a loop of
   ``Sequential.fit`` over the members (timed on 10 of them and scaled to 100). With jax installed, JAX's
   ``jit`` of ``lax.scan`` over the epochs of a ``vmap`` over the members, at steady state and compiling
   afresh in each run (see ``_jax``).
2. 1,000 such networks × 1,000 epochs: throughput, networks × epochs per second, of the Ensemble against a
   loop of ``Sequential.fit`` (timed on 10 members and scaled), target at least 40×, and against JAX.
3. 16 MLPs 40-100-100-10 (ReLU, softmax cross-entropy, Adam lr 1e-3, batch 100, float32) on MNIST-1D's
   4,000 training samples (random data of that shape without the mnist1d package, and with ``--quick``;
   the note says which), one shuffled epoch per timed run: the 16-member Ensemble against 16 separate
   ``Sequential.fit``; target at least 2× their throughput. A third contender runs only the eight matrix
   products and the Adam update of each batch for all members: the separate fits' time over it bounds what
   any ensemble can gain.
4. A 10,000-member XOR Ensemble's peak resident set size (the kernel's high-water mark, VmHWM, in a fresh
   process) over its construction and a 100-epoch fit, less the interpreter and the data; target at most
   200 MB.

Every contender's losses (or weights) are checked against the Ensemble's before timing; that run is the
warm-up. The contenders alternate; the table gives medians, and each target's ratio is that of the fastest
runs (see ``_harness.best_ratio``). ``--quick`` keeps the rows and shrinks every
size. Run alone with ``python -m benchmarks --only ensemble``; the torch.func contender and the loop take
most of its time.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import numpy as np

import chainrule as cr

from . import sweep
from ._hand import eight_products
from ._harness import Row, best_ratio, optional, rows_with_ratios, time_rounds
from ._xor_peers import add_jax, check_curves, jax_notes, torch_func_xor, with_skipped_jax, xor_layers
from .memory import peak_mb, rss_mb
from .xor import LR, X_XOR, Y_XOR

# xor, throughput: (members, epochs, members the Sequential.fit loop times); mlp: (members, samples);
# memory: (members, epochs)
FULL = {"xor": (100, 5_000, 10), "throughput": (1_000, 1_000, 10), "mlp": (16, sweep.N), "memory": (10_000, 100)}
QUICK = {"xor": (5, 50, 2), "throughput": (20, 50, 2), "mlp": (2, 5 * sweep.BATCH), "memory": (1_000, 5)}


def mlp_layers() -> list:
    d = sweep.MLP_SIZES
    return [cr.Dense(d[0], d[1]), cr.ReLU(), cr.Dense(d[1], d[2]), cr.ReLU(), cr.Dense(d[2], d[3])]


# ------------------------------------------------------------------ XOR contenders, each returns (epochs, members)
def ensemble_xor(n_models, epochs, dtype):
    ens = cr.Ensemble(*xor_layers(), n_models=n_models, seed=0, dtype=dtype)
    start = ens.flat_params.copy()  # (n_models, P)
    X = X_XOR.astype(dtype)

    def run():
        ens.flat_params[...] = start
        return ens.fit(X, Y_XOR, loss="bce", optimizer=cr.SGD(lr=LR), epochs=epochs)["loss"]

    return run


def sequential_loop(seeds, epochs, dtype):
    """``Sequential.fit`` on each member in turn, from the weights ``Sequential(..., seed=s)`` draws."""
    models = [cr.Sequential(*xor_layers(), seed=s, dtype=dtype) for s in seeds]
    starts = [m.get_weights() for m in models]
    X = X_XOR.astype(dtype)

    def run():
        curves = []
        for model, weights in zip(models, starts):
            model.set_weights(weights)
            curves.append(model.fit(X, Y_XOR, loss="bce", optimizer=cr.SGD(lr=LR), epochs=epochs)["loss"])
        return np.array(curves).T  # (epochs, members)

    return run


def loop_scaled_medians(rounds: dict[str, list[float]], scale: float) -> dict[str, float]:
    """Each contender's median run; the "Sequential.fit loop", timed on a subset of the members, scaled up."""
    return {name: float(np.median(ts)) * (scale if name == "Sequential.fit loop" else 1) for name, ts in rounds.items()}


def xor_rows(quick: bool, dtype: str) -> list[Row]:
    n_models, epochs, subset = (QUICK if quick else FULL)["xor"]
    repeats = 1 if quick else 5
    workload = f"8 ensemble XOR 2-2-2-1, {n_models:,} nets × {epochs:,} epochs {dtype}"
    contenders = {
        "chainrule": ensemble_xor(n_models, epochs, dtype),
        "one Sequential.fit": sequential_loop([0], epochs, dtype),
        "Sequential.fit loop": sequential_loop(range(subset), epochs, dtype),
    }
    torch = optional("torch")
    if torch is not None:
        contenders["torch.func vmap"] = torch_func_xor(torch, n_models, epochs, dtype)
    compile_s = add_jax(contenders, n_models, epochs, dtype)
    threads = torch.get_num_threads() if torch else None
    if torch:
        torch.set_num_threads(1)  # as in workload 1: networks this small only lose from threads
    try:
        curves = {name: fn() for name, fn in contenders.items()}  # the check, and the warm-up
        ours = curves["chainrule"]
        notes = {
            "chainrule": f"Ensemble(n_models={n_models}); mean final loss {float(np.mean(ours[-1])):.4g}",
            "one Sequential.fit": check_curves(workload, "member 0's fit", curves["one Sequential.fit"], ours[:, :1]),
            "Sequential.fit loop": check_curves(workload, "the loop", curves["Sequential.fit loop"], ours[:, :subset]),
        }
        if "torch.func vmap" in curves:
            notes["torch.func vmap"] = check_curves(workload, "torch.func", curves["torch.func vmap"], ours)
        rounds = time_rounds(contenders, repeats, warmup=0)
    finally:
        if torch:
            torch.set_num_threads(threads)
    medians = loop_scaled_medians(rounds, n_models / subset)
    fastest = f"fastest of {repeats} runs each"
    notes["one Sequential.fit"] += (
        f"; target ≤ 4: measured {best_ratio(rounds, 'chainrule', 'one Sequential.fit'):.2f} ({fastest})"
    )
    notes["Sequential.fit loop"] += f"; timed on {subset} of the {n_models} members, scaled ×{n_models / subset:g}"
    if "torch.func vmap" in medians:
        faster = best_ratio(rounds, "torch.func vmap", "chainrule")
        notes["torch.func vmap"] += f"; one thread; target: Ensemble ≥ 10× faster, measured {faster:.1f}× ({fastest})"
    notes.update(jax_notes(workload, curves, rounds, compile_s, fastest))
    return with_skipped_jax(rows_with_ratios(workload, medians, "epoch", epochs, notes), compile_s)


def throughput_rows(quick: bool, dtype: str) -> list[Row]:
    n_models, epochs, subset = (QUICK if quick else FULL)["throughput"]
    repeats = 1 if quick else 3
    workload = f"8 ensemble XOR throughput, {n_models:,} nets × {epochs:,} epochs {dtype}"
    contenders = {
        "chainrule": ensemble_xor(n_models, epochs, dtype),
        "Sequential.fit loop": sequential_loop(range(subset), epochs, dtype),
    }
    compile_s = add_jax(contenders, n_models, epochs, dtype)
    curves = {name: fn() for name, fn in contenders.items()}  # the check, and the warm-up
    ours = curves["chainrule"]
    loop_note = check_curves(workload, "the loop", curves["Sequential.fit loop"], ours[:, :subset])
    rounds = time_rounds(contenders, repeats, warmup=0)
    medians = loop_scaled_medians(rounds, n_models / subset)
    rate = {name: n_models * epochs / t for name, t in medians.items()}  # networks × epochs per second
    speedup = best_ratio(rounds, "Sequential.fit loop", "chainrule", scale=subset / n_models)
    fastest = f"fastest of {repeats} runs each"
    notes = {
        "chainrule": f"Ensemble(n_models={n_models:,}): {rate['chainrule']:,.0f} net-epochs/s",
        "Sequential.fit loop": f"{rate['Sequential.fit loop']:,.0f} net-epochs/s; timed on {subset} of the "
        f"{n_models:,} members, scaled ×{n_models / subset:g}; {loop_note}; "
        f"target: Ensemble ≥ 40× the throughput, measured {speedup:.1f}× ({fastest})",
    }
    for name, note in jax_notes(workload, curves, rounds, compile_s, fastest).items():
        notes[name] = f"{rate[name]:,.0f} net-epochs/s; {note}"
    return with_skipped_jax(rows_with_ratios(workload, medians, "net-epoch", n_models * epochs, notes), compile_s)


# ------------------------------------------------------------------------------------------------ MLPs
def mlp_rows(quick: bool, dtype: str) -> list[Row]:
    n_models, n = (QUICK if quick else FULL)["mlp"]
    repeats = 1 if quick else 5
    X, y, source = sweep.mlp_data(n, dtype, real=not quick)
    workload = f"8 ensemble MLP 40-100-100-10, {n_models} nets, {dtype}"
    fit_args = dict(loss="softmax_cross_entropy", epochs=1, batch_size=sweep.BATCH)

    def fresh():
        ens = cr.Ensemble(*mlp_layers(), n_models=n_models, seed=0, dtype=dtype)
        singles = [cr.Sequential(*mlp_layers(), seed=s, dtype=dtype) for s in range(n_models)]
        return ens, singles

    # check: (up to) ten unshuffled batches from the same starting weights give every member the same weights
    ens, singles = fresh()
    n_check = min(n, 10 * sweep.BATCH)
    Xc, yc = X[:n_check], y[:n_check]
    ens.fit(Xc, yc, optimizer=cr.Adam(lr=sweep.LR), shuffle=False, **fit_args)
    diff = 0.0
    for i, model in enumerate(singles):
        model.fit(Xc, yc, optimizer=cr.Adam(lr=sweep.LR), shuffle=False, **fit_args)
        diff = max(diff, float(np.max(np.abs(ens.member(i).flat_params - model.flat_params))))
    if not diff <= (1e-9 if dtype == "float64" else 1e-5):
        raise AssertionError(f"{workload}: separate fits' weights differ from the Ensemble's members' by {diff:.3g}")

    ens, singles = fresh()
    ens_opt, single_opts = cr.Adam(lr=sweep.LR), [cr.Adam(lr=sweep.LR) for _ in singles]

    def ensemble_epoch():
        ens.fit(X, y, optimizer=ens_opt, **fit_args)

    def separate_epochs():
        for model, opt in zip(singles, single_opts):
            model.fit(X, y, optimizer=opt, **fit_args)

    contenders = {
        "chainrule": ensemble_epoch,
        "separate Sequential.fit": separate_epochs,
        "products and Adam only": products_and_adam(ens, X),
    }
    rounds = time_rounds(contenders, repeats)
    medians = {name: float(np.median(ts)) for name, ts in rounds.items()}
    speedup = best_ratio(rounds, "separate Sequential.fit", "chainrule")
    ceiling = best_ratio(rounds, "separate Sequential.fit", "products and Adam only")
    notes = {
        "chainrule": f"Ensemble(n_models={n_models}), one shuffled epoch of {n:,} samples ({source}); "
        "the members share one shuffle order",
        "separate Sequential.fit": f"{n_models} models, each its own shuffle; weights agree to {diff:.0e} over "
        f"{n_check // sweep.BATCH} unshuffled batches; target: Ensemble ≥ 2× the throughput, measured {speedup:.2f}× "
        f"(fastest of {repeats} runs each)",
        "products and Adam only": f"the 8 matrix products and the Adam update of each batch for all {n_models} "
        f"members, nothing else: the separate fits take {ceiling:.2f}× this time (fastest runs), the most any "
        "ensemble of these networks could gain here",
    }
    return rows_with_ratios(workload, medians, "batch", -(-n // sweep.BATCH), notes)


def products_and_adam(ens, X):
    """One epoch of only the arithmetic no ensemble can skip: per batch, the eight matrix products (three
    forward, three dW, two dX) of every member on the ensemble's (M, n_in, n_out) weights, and one Adam update
    of an (M, P) buffer in twelve in-place passes; every output preallocated."""
    Ws = [layer.params["W"] for layer in ens.layers if layer.params]
    M, B = ens.n_models, sweep.BATCH
    zs = [np.empty((M, B, W.shape[-1]), X.dtype) for W in Ws]
    dWs = [np.empty(W.shape, X.dtype) for W in Ws]
    dx1, dx2 = np.empty_like(zs[0]), np.empty_like(zs[1])
    p, g = ens.flat_params.copy(), np.full_like(ens.flat_params, 1e-3)
    m, v, tmp = np.zeros_like(p), np.zeros_like(p), np.empty_like(p)
    b1, b2 = 0.9, 0.999

    def adam():  # in place, as chainrule's Adam: m, v and p are updated through out=
        np.multiply(m, b1, out=m)
        np.add(m, np.multiply(g, 1 - b1, out=tmp), out=m)
        np.multiply(v, b2, out=v)
        np.multiply(g, g, out=tmp)
        np.multiply(tmp, 1 - b2, out=tmp)
        np.add(v, tmp, out=v)
        np.sqrt(v, out=tmp)
        np.add(tmp, 1e-8, out=tmp)
        np.divide(m, tmp, out=tmp)
        np.multiply(tmp, sweep.LR, out=tmp)
        np.subtract(p, tmp, out=p)

    def epoch():
        for start in range(0, len(X) - B + 1, B):
            eight_products(X[start : start + B], Ws, zs, dWs, [dx1, dx2])
            adam()

    return epoch


# ---------------------------------------------------------------------------------------------- memory
def memory_child(n_models: int, epochs: int, dtype: str) -> None:
    """Runs in a fresh process: build and fit the ensemble, print RSS figures (MB) and times as JSON."""
    base = rss_mb()
    X = X_XOR.astype(dtype)
    data_mb = (X.nbytes + Y_XOR.nbytes) / 1e6
    t0 = time.perf_counter()
    ens = cr.Ensemble(*xor_layers(), n_models=n_models, seed=0, dtype=dtype)
    build_s, built = time.perf_counter() - t0, rss_mb()
    t0 = time.perf_counter()
    hist = ens.fit(X, Y_XOR, loss="bce", optimizer=cr.SGD(lr=LR), epochs=epochs)
    fit_s = time.perf_counter() - t0
    out = {
        "base": base,
        "data": data_mb,
        "built": built,
        "fitted": rss_mb(),
        "peak": peak_mb(),
        "params": ens.flat_params.nbytes / 1e6,
        "history": sum(losses.nbytes for losses in hist.history["loss"]) / 1e6,
        "build_s": build_s,
        "fit_s": fit_s,
    }
    print(json.dumps(out))


def memory_rows(quick: bool, dtype: str) -> list[Row]:
    n_models, epochs = (QUICK if quick else FULL)["memory"]
    code = f"from benchmarks.ensemble import memory_child; memory_child({n_models}, {epochs}, {dtype!r})"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    r = json.loads(res.stdout.strip().splitlines()[-1])
    over = r["peak"] - r["base"] - r["data"]
    note = (
        f"peak RSS (VmHWM, fresh process) {r['peak']:.0f} MB = interpreter and imports {r['base']:.0f} + data "
        f"({r['data'] * 1e6:,.0f} bytes) + {over:.1f} MB (target ≤ 200); parameters {r['params']:.1f} MB, loss history "
        f"{r['history']:.1f} MB; RSS after building {r['built']:.0f} MB ({r['build_s']:.2f} s), after the "
        f"fit {r['fitted']:.0f} MB"
    )
    extra = {"peak_mb": r["peak"], "over_data_mb": over, "build_s": r["build_s"]}
    workload = f"8 ensemble memory, {n_models:,} XOR nets × {epochs} epochs {dtype}"
    return [Row(workload, "chainrule", r["fit_s"], "epoch", epochs, note, extra=extra)]


def run(quick: bool = False, dtype: str = "float64") -> list[Row]:
    """Rows 1, 2 and 4 in ``dtype``; the MLP row in float32, as workload 4's MLP."""
    rows = xor_rows(quick, dtype) + throughput_rows(quick, dtype)
    return rows + mlp_rows(quick, "float32") + memory_rows(quick, dtype)
