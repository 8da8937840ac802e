"""The XOR network of workload 8 and its peers' ensembles: PyTorch's ``torch.func`` and JAX's ``vmap``.

Each peer starts member i from the weights ``Sequential(<the XOR layers>, seed=i)`` draws, as the Ensemble
does, and ``check_curves`` compares its loss curves with the Ensemble's before anything is timed.
"""

from __future__ import annotations

import copy

import numpy as np

import chainrule as cr

from . import _jax
from ._harness import Row, best_ratio, set_torch_weights, torch_linears
from .xor import LR, X_XOR, Y_XOR

SIZES = (2, 2, 2, 1)


def xor_layers(sizes=SIZES) -> list:
    """Fresh layers of the XOR network: tanh after each hidden Dense, a sigmoid after the last."""
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers += [cr.Dense(a, b), cr.Sigmoid() if i == len(sizes) - 2 else cr.Tanh()]
    return layers


def torch_func_xor(torch, n_models, epochs, dtype):
    """PyTorch's model ensembling: the members' stacked parameters, one vmapped gradient call per epoch."""
    from torch.func import functional_call, grad_and_value, stack_module_state, vmap

    nets = []
    for s in range(n_models):
        lins = torch_linears(torch, SIZES, dtype)
        set_torch_weights(torch, lins, cr.Sequential(*xor_layers(), seed=s, dtype=dtype).get_weights())
        mods = []
        for i, lin in enumerate(lins):
            mods += [lin, torch.nn.Sigmoid() if i == len(lins) - 1 else torch.nn.Tanh()]
        nets.append(torch.nn.Sequential(*mods))
    params, buffers = stack_module_state(nets)
    start = {k: v.detach().clone() for k, v in params.items()}  # (n_models, …) each
    base = copy.deepcopy(nets[0]).to("meta")
    tdtype = start["0.weight"].dtype
    X = torch.tensor(X_XOR, dtype=tdtype)
    Y = torch.tensor(Y_XOR.reshape(-1, 1), dtype=tdtype)

    def loss_fn(p, b, X, Y):
        return torch.nn.functional.binary_cross_entropy(functional_call(base, (p, b), (X,)), Y)

    step = vmap(grad_and_value(loss_fn), in_dims=(0, 0, None, None))

    def run():
        p = {k: v.clone() for k, v in start.items()}
        losses = torch.empty(epochs, n_models, dtype=tdtype)
        for e in range(epochs):
            grads, loss = step(p, buffers, X, Y)
            for k, v in p.items():
                v.sub_(grads[k], alpha=LR)
            losses[e] = loss
        return losses.numpy()

    return run


JAX_ROWS = ("jax vmap scan", "jax vmap scan, compiling")


def add_jax(contenders: dict, n_models: int, epochs: int, dtype) -> list[float] | None:
    """JAX's steady and compiling runs (``jit`` of ``lax.scan`` over epochs of a ``vmap`` over members) added
    to ``contenders``, from the weights member i starts with; returns the list its compile times go to, or
    None without jax."""
    if _jax.load() is None:
        return None
    members = [cr.Sequential(*xor_layers(), seed=s, dtype=dtype).get_weights() for s in range(n_models)]
    steady, compiling, compile_s = _jax.xor_ensemble(members, X_XOR, Y_XOR, epochs, LR)
    contenders[JAX_ROWS[0]], contenders[JAX_ROWS[1]] = steady, compiling
    return compile_s


def jax_notes(workload: str, curves: dict, rounds: dict, compile_s: list[float] | None, fastest: str) -> dict:
    """JAX's two notes: its losses checked against the Ensemble's, its threads, speed and compile time."""
    if compile_s is None:
        return {}
    steady, compiling = JAX_ROWS
    ours = curves["chainrule"]
    ratio = best_ratio(rounds, "chainrule", steady)
    return {
        steady: f"{check_curves(workload, 'jax', curves[steady], ours)}; compiled before timing; "
        f"{_jax.threads_note()}; the Ensemble takes {ratio:.1f}× its time ({fastest})",
        compiling: f"{check_curves(workload, 'jax', curves[compiling], ours)}; a new jit each run: compiling "
        f"took {_jax.seconds_note(compile_s)}, then the epochs",
    }


def with_skipped_jax(rows: list[Row], compile_s: list[float] | None) -> list[Row]:
    return rows if compile_s is not None else [*rows, _jax.skipped_row(rows[0].workload)]


def check_curves(workload: str, name: str, theirs: np.ndarray, ours: np.ndarray) -> str:
    """Every member's first epochs agree; the final loss of at least 90 % of them, too.

    At lr 0.5 a member that lingers near a saddle magnifies rounding differences, so over thousands of
    epochs a few members' trajectories may part; the note gives how many agree at the end.
    """
    head = min(10, len(ours))
    early = float(np.max(np.abs(theirs[:head] - ours[:head])))
    final = np.abs(theirs[-1] - ours[-1])  # (members,)
    close = int(np.sum(final <= 1e-6))
    if not (early <= 1e-10 and close >= 0.9 * final.size):
        raise AssertionError(
            f"{workload}: {name}'s losses differ from the Ensemble's members' by {early:.3g} over the first "
            f"{head} epochs; final losses agree for {close} of {final.size} members"
        )
    if close == final.size:
        return f"losses within {float(final.max()):.0e} (final) and {early:.0e} (first {head} epochs)"
    return (
        f"losses within {early:.0e} over the first {head} epochs; final losses within 1e-6 for {close} of "
        f"{final.size} members (max {float(final.max()):.1e}: rounding amplified near saddles)"
    )
