"""Workload 4: how cost grows with size.

The XOR workload (full batch, loss every epoch, SGD lr 0.5) for 2-4-1, 2-16-1 and 2-64-64-1, and a
40-100-100-10 ReLU MLP on MNIST-1D's 4,000 training samples (40 features, 10 classes, standardised),
batch 100, Adam lr 1e-3, one shuffled epoch per timed run, against PyTorch, a hand-written NumPy loop
of the same maths and, with jax installed, JAX's ``jit`` of the batch step (see ``_jax``). Without the
mnist1d package (and with ``--quick``) the MLP runs on random data of the same shape; the note says
which. PyTorch runs the XOR nets on one thread and the MLP on the machine's threads.
"""

from __future__ import annotations

import numpy as np

import chainrule as cr

from . import _jax, xor
from ._hand import adam_step, relu_mlp_grads
from ._harness import Row, optional, rows_with_ratios, set_torch_weights, time_alternating, torch_linears

MLP_SIZES, N, BATCH, LR = (40, 100, 100, 10), 4000, 100, 1e-3


def mlp_model(dtype, seed=0):
    d = MLP_SIZES
    return cr.Sequential(
        cr.Dense(d[0], d[1]), cr.ReLU(), cr.Dense(d[1], d[2]), cr.ReLU(), cr.Dense(d[2], d[3]), seed=seed, dtype=dtype
    )


def chainrule_mlp(X, y, weights, dtype):
    model = mlp_model(dtype)
    model.set_weights(weights)
    opt = cr.Adam(lr=LR)

    def epoch(shuffle=True):
        model.fit(X, y, loss="softmax_cross_entropy", optimizer=opt, epochs=1, batch_size=BATCH, shuffle=shuffle)
        return model.get_weights()

    return epoch


def numpy_mlp(X, y, weights, dtype):
    """The same maths written out by hand: fancy-indexed batches, fresh arrays, Adam in PyTorch's form."""
    params = [np.array(w, dtype=dtype) for w in weights]
    m, v = [np.zeros_like(p) for p in params], [np.zeros_like(p) for p in params]
    rng, step = np.random.default_rng(1), [0]

    def epoch(shuffle=True):
        n = len(X)
        order = rng.permutation(n) if shuffle else np.arange(n)
        for start in range(0, n, BATCH):
            idx = order[start : start + BATCH]
            step[0] += 1
            adam_step(params, relu_mlp_grads(params, X[idx], y[idx]), m, v, step[0], LR)
        return params

    return epoch


def torch_mlp(X, y, weights, dtype):
    torch = optional("torch")
    if torch is None:
        return None
    lins = torch_linears(torch, MLP_SIZES, dtype)
    net = torch.nn.Sequential(lins[0], torch.nn.ReLU(), lins[1], torch.nn.ReLU(), lins[2])
    set_torch_weights(torch, lins, weights)
    opt = torch.optim.Adam(net.parameters(), lr=LR)
    Xt, yt, gen, loss_fn = (
        torch.from_numpy(X),
        torch.from_numpy(y),
        torch.Generator().manual_seed(1),
        torch.nn.CrossEntropyLoss(),
    )

    def epoch(shuffle=True):
        order = torch.randperm(len(Xt), generator=gen) if shuffle else torch.arange(len(Xt))
        for start in range(0, len(Xt), BATCH):
            idx = order[start : start + BATCH]
            opt.zero_grad()
            loss_fn(net(Xt[idx]), yt[idx]).backward()
            opt.step()
        return [t for lin in lins for t in (lin.weight.detach().numpy().T, lin.bias.detach().numpy())]

    return epoch


def jax_mlp(X, y, weights, dtype, compile_each_epoch=False):
    """The jitted batch step with Adam, or None without jax; returns the trainer (its ``epoch`` is the run)."""
    if _jax.load() is None:
        return None
    return _jax.MLPTrainer(X, y, weights, BATCH, _jax.adam(LR), compile_each_epoch)


def jax_mlp_epoch(X, y, weights, dtype):
    trainer = jax_mlp(X, y, weights, dtype)
    return trainer and trainer.epoch


def mlp_data(n: int, dtype: str, real: bool) -> tuple[np.ndarray, np.ndarray, str]:
    """MNIST-1D's first ``n`` training samples, standardised per feature, when wanted and installed;
    otherwise random values of the same shape. The third item names which."""
    if real and optional("mnist1d") is not None:
        from chainrule import datasets

        data = datasets.load("mnist1d")
        X = data.X_train[:n]
        X = (X - X.mean(axis=0)) / X.std(axis=0)
        return X.astype(dtype), data.y_train[:n], "MNIST-1D"
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((n, MLP_SIZES[0])).astype(dtype), rng.integers(0, MLP_SIZES[-1], n)
    return X, y, "random data of MNIST-1D's shape"


def mlp_rows(quick: bool, dtype: str) -> list[Row]:
    n, repeats = (10 * BATCH, 1) if quick else (N, 5)
    X, y, source = mlp_data(n, dtype, real=not quick)
    workload = f"4 MLP 40-100-100-10 {dtype}"
    weights = mlp_model(dtype).get_weights()
    notes = {"chainrule": source}
    # check: ten unshuffled batches from the same weights agree
    ours = chainrule_mlp(X[: 10 * BATCH], y[: 10 * BATCH], weights, dtype)(shuffle=False)
    tol = 1e-9 if dtype == "float64" else 1e-4
    for name, make in (("numpy loop", numpy_mlp), ("pytorch", torch_mlp), ("jax jit", jax_mlp_epoch)):
        run = make(X[: 10 * BATCH], y[: 10 * BATCH], weights, dtype)
        if run is None:
            continue
        diff = max(float(np.max(np.abs(a - b))) for a, b in zip(ours, run(shuffle=False)))
        if not diff <= tol:
            raise AssertionError(f"{workload}: {name}'s weights differ from chainrule's by {diff:.3g}")
        notes[name] = f"weights agree to {diff:.0e} (tolerance {tol:.0e})"
    jax_steady, jax_compiling = jax_mlp(X, y, weights, dtype), jax_mlp(X, y, weights, dtype, True)
    contenders = {
        "chainrule": chainrule_mlp(X, y, weights, dtype),
        "numpy loop": numpy_mlp(X, y, weights, dtype),
        "pytorch": torch_mlp(X, y, weights, dtype),
        "jax jit": jax_steady and jax_steady.epoch,
        "jax jit, compiling": jax_compiling and jax_compiling.epoch,
    }
    contenders = {k: v for k, v in contenders.items() if v is not None}
    medians = time_alternating(contenders, repeats, warmup=1)
    if jax_steady is not None:
        notes["jax jit"] += f"; compiled before timing; {_jax.threads_note()}"
        notes["jax jit, compiling"] = jax_compiling.compile_note()
    rows = rows_with_ratios(workload, medians, "batch", -(-n // BATCH), notes)
    return rows if jax_steady is not None else [*rows, _jax.skipped_row(workload)]


def run(quick: bool = False, dtype: str = "float32") -> list[Row]:
    epochs, repeats = (200, 1) if quick else (5_000, 3)
    rows = []
    for sizes in ((2, 4, 1), (2, 16, 1), (2, 64, 64, 1)):
        name = "-".join(map(str, sizes))
        rows += xor.measure(sizes, dtype, epochs, repeats, f"4 XOR {name} {dtype}")
    return rows + mlp_rows(quick, dtype)
