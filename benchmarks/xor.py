"""Workload 1 (and 4, 6): the seed's XOR network, full batch, loss recorded every epoch.

2-2-2-1 tanh/tanh/sigmoid, binary cross-entropy on probabilities, SGD lr 0.5, 25,000 epochs. Contenders:
chainrule's ``fit``, PyTorch on one thread (``loss.item()`` each epoch, as in the seed), and a plain
hand-written NumPy loop of the same maths, the floor for a NumPy library.
"""

from __future__ import annotations

import numpy as np

import chainrule as cr

from ._harness import Row, optional, rows_with_ratios, set_torch_weights, time_alternating, torch_linears

X_XOR = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
Y_XOR = np.array([0, 1, 1, 0])
LR = 0.5


def build_model(sizes, dtype, seed=0) -> cr.Sequential:
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers += [cr.Dense(a, b), cr.Sigmoid() if i == len(sizes) - 2 else cr.Tanh()]
    return cr.Sequential(*layers, seed=seed, dtype=dtype)


def chainrule_runner(sizes, dtype, epochs, weights):
    model = build_model(sizes, dtype)
    X = X_XOR.astype(dtype)

    def run():
        model.set_weights(weights)
        return np.array(model.fit(X, Y_XOR, loss="bce", optimizer=cr.SGD(lr=LR), epochs=epochs)["loss"])

    return run


def numpy_runner(dtype, epochs, weights):
    """The same maths written out by hand: forward, BCE on probabilities, backward, SGD."""
    X = X_XOR.astype(dtype)
    Y = Y_XOR.reshape(-1, 1).astype(dtype)
    eps = np.finfo(dtype).eps
    n_out = Y.size

    def run():
        Ws = [np.array(w, dtype=dtype) for w in weights[0::2]]
        bs = [np.array(b, dtype=dtype) for b in weights[1::2]]
        losses = np.empty(epochs)
        last = len(Ws) - 1
        for e in range(epochs):
            A, acts = X, [X]
            for i, (W, b) in enumerate(zip(Ws, bs)):
                Z = A @ W + b
                A = 1 / (1 + np.exp(-Z)) if i == last else np.tanh(Z)
                acts.append(A)
            P = np.clip(A, eps, 1 - eps)
            losses[e] = -np.sum(Y * np.log(P) + (1 - Y) * np.log1p(-P)) / n_out
            dA = (P - Y) / (P * (1 - P)) / n_out
            for i in range(last, -1, -1):
                A = acts[i + 1]
                dZ = dA * (A * (1 - A)) if i == last else dA * (1 - A * A)
                if i > 0:
                    dA = dZ @ Ws[i].T
                Ws[i] -= LR * (acts[i].T @ dZ)
                bs[i] -= LR * dZ.sum(axis=0)
        return losses

    return run


def torch_runner(sizes, dtype, epochs, weights):
    torch = optional("torch")
    if torch is None:
        return None
    linears = torch_linears(torch, sizes, dtype)
    tdtype = linears[0].weight.dtype
    mods = []
    for i, lin in enumerate(linears):
        mods += [lin, torch.nn.Sigmoid() if i == len(linears) - 1 else torch.nn.Tanh()]
    net = torch.nn.Sequential(*mods)
    X = torch.tensor(X_XOR, dtype=tdtype)
    Y = torch.tensor(Y_XOR.reshape(-1, 1), dtype=tdtype)
    loss_fn = torch.nn.BCELoss()

    def run():
        set_torch_weights(torch, linears, weights)
        opt = torch.optim.SGD(net.parameters(), lr=LR)
        losses = []
        for _ in range(epochs):
            opt.zero_grad()
            loss = loss_fn(net(X), Y)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        return np.array(losses)

    return run


def measure(sizes, dtype, epochs, repeats, workload) -> list[Row]:
    weights = build_model(sizes, dtype).get_weights()
    contenders = {
        "chainrule": chainrule_runner(sizes, dtype, epochs, weights),
        "numpy loop": numpy_runner(dtype, epochs, weights),
        "pytorch": torch_runner(sizes, dtype, epochs, weights),
    }
    contenders = {k: v for k, v in contenders.items() if v is not None}
    torch = optional("torch")
    threads = torch.get_num_threads() if torch else None
    if torch:
        torch.set_num_threads(1)  # the seed's workload is far too small for threads to help
    try:
        # results checked equal before timing: each loss curve against chainrule's, over the first 50
        # epochs (at lr 0.5 the wide nets' float32 trajectories part later, as rounding differs)
        curves = {name: fn() for name, fn in contenders.items()}
        tol = 1e-6 if np.dtype(dtype) == np.float64 else 2e-3
        notes = {}
        for name, curve in curves.items():
            diff = float(np.max(np.abs(curve[:50] - curves["chainrule"][:50])))
            if not diff <= tol * max(1.0, float(np.max(np.abs(curves["chainrule"])))):
                raise AssertionError(f"{workload}: {name}'s loss curve differs from chainrule's by {diff:.3g}")
            notes[name] = f"final loss {curve[-1]:.4g}" + (
                "" if name == "chainrule" else f", losses within {diff:.0e} over 50 epochs"
            )
        medians = time_alternating(contenders, repeats, warmup=0)  # the check above was the warm-up
    finally:
        if torch:
            torch.set_num_threads(threads)
    return rows_with_ratios(workload, medians, "epoch", epochs, notes)


def run(quick: bool = False, dtype: str = "float32") -> list[Row]:
    epochs, repeats = (200, 1) if quick else (25_000, 3)
    number = 1 if dtype == "float32" else 6  # workload 6 is the float64 version
    return measure((2, 2, 2, 1), dtype, epochs, repeats, f"{number} XOR 2-2-2-1 {dtype}")
