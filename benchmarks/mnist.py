"""Workload 2 (and 6): an MNIST-shaped epoch, 60,000 x 784, 784-256-128-10 ReLU, batch 128.

Softmax cross-entropy on logits, SGD lr 0.01 with momentum 0.9, shuffled, one epoch timed after a
warm-up epoch. Contenders: chainrule's ``fit``, PyTorch (the machine's threads), scikit-learn's
MLPClassifier (``partial_fit``, one epoch per call), a plain NumPy loop, and the epoch's eight matrix
products per batch alone (same shapes and dtype, same BLAS): the limit for any NumPy implementation;
with jax installed, JAX's ``jit`` of the batch step, compiled before timing and compiled afresh in every
timed run (see ``_jax``).
The data are random (the shapes set the cost, not the values); the check trains ten unshuffled
batches from the same weights and compares every contender's weights with chainrule's.
"""

from __future__ import annotations

import time
import warnings

import numpy as np

import chainrule as cr

from . import _jax
from ._hand import eight_products, relu_mlp_grads
from ._harness import Row, optional, rows_with_ratios, set_torch_weights, time_alternating, torch_linears

SIZES = (784, 256, 128, 10)
LR, MOMENTUM, BATCH = 0.01, 0.9, 128


def make_data(n: int, dtype, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.random((n, SIZES[0]), dtype=np.float32).astype(dtype, copy=False)  # pixel-like values in [0, 1)
    y = rng.integers(0, SIZES[-1], n)
    return X, y


def build_model(dtype, seed: int = 0) -> cr.Sequential:
    layers = []
    for i, (a, b) in enumerate(zip(SIZES[:-1], SIZES[1:])):
        layers.append(cr.Dense(a, b))
        if i < len(SIZES) - 2:
            layers.append(cr.ReLU())
    return cr.Sequential(*layers, seed=seed, dtype=dtype)


class Chainrule:
    def __init__(self, X, y, weights, dtype):
        self.X, self.y, self.model = X, y, build_model(dtype)
        self.reset(weights)

    def reset(self, weights):
        self.model.set_weights(weights)
        self.opt = cr.SGD(lr=LR, momentum=MOMENTUM)

    def epoch(self, shuffle=True):
        self.model.fit(
            self.X,
            self.y,
            loss="softmax_cross_entropy",
            optimizer=self.opt,
            epochs=1,
            batch_size=BATCH,
            shuffle=shuffle,
        )

    def weights(self):
        return self.model.get_weights()


class NumpyLoop:
    """The same maths written out by hand, as a NumPy user would: fancy-indexed batches, fresh arrays."""

    def __init__(self, X, y, weights, dtype):
        self.X, self.y, self.rng = X, y, np.random.default_rng(1)
        self.reset(weights)

    def reset(self, weights):
        self.params = [np.array(w) for w in weights]
        self.velocity = [np.zeros_like(w) for w in weights]

    def epoch(self, shuffle=True):
        X, y, n = self.X, self.y, len(self.X)
        order = self.rng.permutation(n) if shuffle else np.arange(n)
        for start in range(0, n, BATCH):
            idx = order[start : start + BATCH]
            grads = relu_mlp_grads(self.params, X[idx], y[idx])
            for p, v, g in zip(self.params, self.velocity, grads):
                v *= MOMENTUM
                v += g
                p -= LR * v

    def weights(self):
        return self.params


class MatmulOnly:
    """The eight matrix products of each batch (three forward, three dW, two dX), outputs preallocated."""

    def __init__(self, X, y, weights, dtype):
        self.X, self.W = X, [np.array(w) for w in weights[0::2]]
        d = SIZES
        self.Z = [np.empty((BATCH, k), X.dtype) for k in d[1:]]
        self.dW = [np.empty_like(W) for W in self.W]
        self.dX = [np.empty((BATCH, k), X.dtype) for k in d[1:-1]]

    def reset(self, weights):
        pass

    def epoch(self, shuffle=True):
        (Z1, Z2, Z3), (dX1, dX2) = self.Z, self.dX
        X, n = self.X, len(self.X)
        for start in range(0, n, BATCH):
            Xb = X[start : start + BATCH]
            m = len(Xb)
            eight_products(Xb, self.W, [Z1[:m], Z2[:m], Z3[:m]], self.dW, [dX1[:m], dX2[:m]])

    def weights(self):
        return None


class Torch:
    def __init__(self, X, y, weights, dtype):
        torch = self.torch = optional("torch")
        self.X, self.y = torch.from_numpy(X), torch.from_numpy(y)
        self.linears = torch_linears(torch, SIZES, dtype)
        self.net = torch.nn.Sequential(
            self.linears[0], torch.nn.ReLU(), self.linears[1], torch.nn.ReLU(), self.linears[2]
        )
        self.loss = torch.nn.CrossEntropyLoss()
        self.gen = torch.Generator().manual_seed(1)
        self.reset(weights)

    def reset(self, weights):
        torch = self.torch
        set_torch_weights(torch, self.linears, weights)
        self.opt = torch.optim.SGD(self.net.parameters(), lr=LR, momentum=MOMENTUM)

    def epoch(self, shuffle=True):
        torch, n = self.torch, len(self.X)
        order = torch.randperm(n, generator=self.gen) if shuffle else torch.arange(n)
        for start in range(0, n, BATCH):
            idx = order[start : start + BATCH]
            self.opt.zero_grad()
            loss = self.loss(self.net(self.X[idx]), self.y[idx])
            loss.backward()
            self.opt.step()

    def weights(self):
        out = []
        for lin in self.linears:
            out += [lin.weight.detach().numpy().T, lin.bias.detach().numpy()]
        return out


class Sklearn:
    """MLPClassifier with the same solver settings; its own initial weights (it takes none from outside)."""

    def __init__(self, X, y, weights, dtype):
        from sklearn.neural_network import MLPClassifier

        self.X, self.y = X, y
        self.clf = MLPClassifier(
            hidden_layer_sizes=SIZES[1:-1],
            solver="sgd",
            momentum=MOMENTUM,
            nesterovs_momentum=False,
            alpha=0.0,
            max_iter=1,
            batch_size=BATCH,
            learning_rate_init=LR,
            shuffle=True,
            random_state=0,
        )

    def reset(self, weights):
        pass

    def epoch(self, shuffle=True):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.clf.partial_fit(self.X, self.y, classes=np.arange(SIZES[-1]))  # one epoch per call

    def weights(self):
        return None


def contenders(X, y, weights, dtype):
    out = {"chainrule": Chainrule, "numpy loop": NumpyLoop, "matmul only": MatmulOnly}
    if optional("torch") is not None:
        out["pytorch"] = Torch
    if optional("sklearn") is not None:
        out["scikit-learn"] = Sklearn
    if _jax.load() is not None:
        sgd = _jax.sgd_momentum(LR, MOMENTUM)
        out["jax jit"] = lambda X, y, weights, dtype: _jax.MLPTrainer(X, y, weights, BATCH, sgd)
        out["jax jit, compiling"] = lambda X, y, weights, dtype: _jax.MLPTrainer(X, y, weights, BATCH, sgd, True)
    return {name: cls(X, y, weights, dtype) for name, cls in out.items()}


def check_equal(X, y, weights, dtype, workload: str) -> dict[str, str]:
    """Ten unshuffled batches from the same weights: every contender that takes them must agree."""
    n = 10 * BATCH
    runs = contenders(X[:n], y[:n], weights, dtype)
    runs.pop("jax jit, compiling", None)  # the same step as "jax jit", compiled anew
    for r in runs.values():
        r.epoch(shuffle=False)
    ref = runs["chainrule"].weights()
    tol = 1e-9 if np.dtype(dtype) == np.float64 else 1e-4
    notes = {}
    for name, r in runs.items():
        ws = r.weights()
        if ws is None or name == "chainrule":
            continue
        diff = max(float(np.max(np.abs(a - b))) for a, b in zip(ws, ref))
        if not diff <= tol:
            raise AssertionError(f"{workload}: {name}'s weights differ from chainrule's by {diff:.3g}")
        notes[name] = f"weights agree to {diff:.0e} (tolerance {tol:.0e})"
    return notes


def phases(X, y, weights, dtype) -> dict[str, float]:
    """µs per batch of each phase of chainrule's training step, timed around the very calls ``fit`` makes.

    Shows where an epoch goes beyond the matrix products: the optimiser's passes over every parameter, the
    gather of shuffled rows, and the elementwise work of activations and loss.
    """
    model = build_model(dtype)
    model.set_weights(weights)
    loss = cr.get_loss("softmax_cross_entropy")
    opt = cr.SGD(lr=LR, momentum=MOMENTUM)
    Y = loss.prepare_targets(y, SIZES[-1], model.dtype)
    n, clock = len(X), time.perf_counter
    spent = dict.fromkeys(["gather rows", "Dense forward", "activations", "loss", "Dense backward", "optimiser"], 0.0)
    dense = [isinstance(layer, cr.Dense) for layer in model.layers]
    order = np.random.default_rng(1).permutation(n)
    Xbuf, Ybuf = np.empty((BATCH, X.shape[1]), X.dtype), np.empty(BATCH, Y.dtype)
    for start in range(0, n, BATCH):
        t = clock()
        idx = order[start : start + BATCH]
        Xb = np.take(X, idx, axis=0, out=Xbuf[: len(idx)], mode="clip")
        Yb = np.take(Y, idx, axis=0, out=Ybuf[: len(idx)], mode="clip")
        spent["gather rows"] += clock() - t
        A = Xb
        for layer, is_dense in zip(model.layers, dense):
            t = clock()
            A = layer.forward(A, True)
            spent["Dense forward" if is_dense else "activations"] += clock() - t
        t = clock()
        _, dA = loss.value_and_grad(A, Yb)
        spent["loss"] += clock() - t
        for i in range(len(model.layers) - 1, -1, -1):
            t = clock()
            dA = model.layers[i].backward(dA, i > 0)
            spent["Dense backward" if dense[i] else "activations"] += clock() - t
        t = clock()
        opt.step([model.flat_params], [model.flat_grads])
        spent["optimiser"] += clock() - t
    batches = -(-n // BATCH)
    return {name: s / batches * 1e6 for name, s in spent.items()}


def run(quick: bool = False, dtype: str = "float32") -> list[Row]:
    # an epoch costs seconds per contender: two timed epochs each (one in float64) keep the suite to minutes
    n, repeats = (2 * 10 * BATCH, 1) if quick else (60_000, 2 if dtype == "float32" else 1)
    workload = f"2 MNIST-shaped {dtype}" if dtype == "float32" else f"6 MNIST-shaped {dtype}"
    X, y = make_data(n, dtype)
    weights = build_model(dtype).get_weights()
    notes = check_equal(X, y, weights, dtype, workload)
    notes.setdefault("scikit-learn", "own initial weights")
    notes.setdefault("matmul only", "8 products per batch, the BLAS limit")
    runs = contenders(X, y, weights, dtype)
    medians = time_alternating({name: r.epoch for name, r in runs.items()}, repeats, warmup=1)
    batches = -(-n // BATCH)
    if "jax jit" in runs:
        notes["jax jit"] += f"; compiled before timing; {_jax.threads_note()}"
        notes["jax jit, compiling"] = runs["jax jit, compiling"].compile_note()
    rows = rows_with_ratios(workload, medians, "batch", batches, notes)
    if "jax jit" not in runs:
        rows.append(_jax.skipped_row(workload))
    phases(X, y, weights, dtype)  # warm-up
    split = phases(X, y, weights, dtype)
    text = ", ".join(f"{name} {us:,.0f}" for name, us in split.items())
    rows[0].note = f"µs per batch: {text}"
    rows[0].extra["phases_us_per_batch"] = split
    return rows
