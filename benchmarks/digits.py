"""Workload 3: time to reach scikit-learn's accuracy on the 8x8 digits, 5 seeds.

75/25 stratified split per seed, pixels scaled to [0, 1], one hidden layer of 64 ReLU units, Adam.
scikit-learn's MLPClassifier(hidden_layer_sizes=(64,)) with its other defaults (Adam lr 1e-3,
batch 200, up to 200 epochs, early stopping on the training loss) sets the target: its mean test
accuracy over the seeds. chainrule trains epoch by epoch (Adam lr 0.01, batch 32) until its test
accuracy reaches that target; the time counted is training only (scikit-learn's fit, chainrule's fit
calls), not the accuracy checks between epochs. A hand-written NumPy loop of the same training, from the
same initial weights and batches, is the floor.
"""

from __future__ import annotations

import statistics
import time
import warnings

import numpy as np

import chainrule as cr

from ._hand import adam_step, relu_mlp_grads, relu_mlp_logits
from ._harness import Row, optional

SEEDS = (0, 1, 2, 3, 4)
MAX_EPOCHS = 100


def splits(quick: bool):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    for seed in SEEDS[: 2 if quick else len(SEEDS)]:
        yield seed, train_test_split(X, y, test_size=0.25, stratify=y, random_state=seed)


def sklearn_fit(seed, Xtr, Xte, ytr, yte, quick):
    from sklearn.neural_network import MLPClassifier

    clf = MLPClassifier(hidden_layer_sizes=(64,), random_state=seed, max_iter=20 if quick else 200)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning when max_iter is reached
        t0 = time.perf_counter()
        clf.fit(Xtr, ytr)
        elapsed = time.perf_counter() - t0
    return elapsed, clf.score(Xte, yte), clf.n_iter_


def chainrule_to_target(seed, Xtr, Xte, ytr, yte, target, max_epochs):
    model = cr.Sequential(cr.Dense(64, 64), cr.ReLU(), cr.Dense(64, 10), seed=seed)
    opt = cr.Adam(lr=0.01)
    elapsed, acc, epochs = 0.0, 0.0, 0
    while epochs < max_epochs:
        epochs += 1
        t0 = time.perf_counter()
        model.fit(Xtr, ytr, loss="softmax_cross_entropy", optimizer=opt, epochs=1, batch_size=32)
        elapsed += time.perf_counter() - t0
        acc = float(np.mean(model.predict_classes(Xte) == yte))
        if acc >= target:
            break
    return elapsed, acc, epochs


def numpy_to_target(seed, Xtr, Xte, ytr, yte, target, max_epochs):
    """The same training written out by hand, from chainrule's initial weights and shuffling generator."""
    start = cr.Sequential(cr.Dense(64, 64), cr.ReLU(), cr.Dense(64, 10), seed=seed)
    params = start.get_weights()
    rng = np.random.default_rng()
    rng.bit_generator.state = start.rng.bit_generator.state  # the batches chainrule's fit will draw
    m, v = [np.zeros_like(p) for p in params], [np.zeros_like(p) for p in params]
    elapsed, acc, epochs, step = 0.0, 0.0, 0, 0
    while epochs < max_epochs:
        epochs += 1
        t0 = time.perf_counter()
        order = rng.permutation(len(Xtr))
        for i in range(0, len(Xtr), 32):
            idx = order[i : i + 32]
            step += 1
            adam_step(params, relu_mlp_grads(params, Xtr[idx], ytr[idx]), m, v, step, 0.01)
        elapsed += time.perf_counter() - t0
        acc = float(np.mean(np.argmax(relu_mlp_logits(params, Xte), axis=1) == yte))
        if acc >= target:
            break
    return elapsed, acc, epochs


def run(quick: bool = False, dtype: str = "float64") -> list[Row]:
    workload = "3 digits to accuracy"
    if optional("sklearn") is None:
        return [Row(workload, "chainrule", float("nan"), note="skipped: scikit-learn is not installed")]
    data = list(splits(quick))
    sk = [sklearn_fit(seed, *parts, quick) for seed, parts in data]
    target = statistics.mean(acc for _, acc, _ in sk)
    max_epochs = 3 if quick else MAX_EPOCHS
    ours = [chainrule_to_target(seed, *parts, target, max_epochs) for seed, parts in data]
    loop = [numpy_to_target(seed, *parts, target, max_epochs) for seed, parts in data]
    t_sk = statistics.median(t for t, _, _ in sk)
    t_cr = statistics.median(t for t, _, _ in ours)
    t_loop = statistics.median(t for t, _, _ in loop)
    acc_cr = statistics.mean(a for _, a, _ in ours)
    reached = sum(a >= target for _, a, _ in ours)
    return [
        Row(
            workload,
            "chainrule",
            t_cr,
            note=f"mean acc {acc_cr:.4f}, target reached {reached}/{len(ours)} seeds, "
            f"median {statistics.median(e for _, _, e in ours):.0f} epochs",
        ),
        Row(
            workload,
            "numpy loop",
            t_loop,
            ratio=t_cr / t_loop,
            note=f"mean acc {statistics.mean(a for _, a, _ in loop):.4f}, "
            f"median {statistics.median(e for _, _, e in loop):.0f} epochs (same weights and batches)",
        ),
        Row(
            workload,
            "scikit-learn",
            t_sk,
            ratio=t_cr / t_sk,
            note=f"mean acc {target:.4f} (the target), median {statistics.median(n for _, _, n in sk):.0f} epochs",
        ),
    ]
