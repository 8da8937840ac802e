"""Workload 11: one epoch of the MNIST-1D CNN, 4,000 signals (1 channel, length 40), batch 100.

The paper's network: Conv1D(1, 25, 5, stride 2, padding 1), ReLU, Conv1D(25, 25, 3, 2, 1), ReLU,
Conv1D(25, 25, 3, 2, 1), ReLU, Flatten, Dense(125, 10); softmax cross-entropy, Adam 1e-2, shuffled.
Contenders, all on one thread (networks this small only lose from threads): chainrule's ``fit``, PyTorch
with the same layers, a hand-written NumPy im2col loop (the floor), and JAX ``jit`` where installed. The
data are random signals (the shapes set the cost, not the values); the check trains ten unshuffled
batches from the same weights and compares every contender's weights with chainrule's.
"""

from __future__ import annotations

from contextlib import nullcontext

import numpy as np

import chainrule as cr

from ._hand import adam_step
from ._harness import Row, optional, rows_with_ratios, time_alternating

CONVS = ((1, 25, 5), (25, 25, 3), (25, 25, 3))  # (in_channels, out_channels, kernel_size), stride 2, padding 1
STRIDE, PADDING, LENGTH, CLASSES, LR, BATCH = 2, 1, 40, 10, 1e-2, 100


def make_data(n: int, dtype, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 1, LENGTH)).astype(dtype), rng.integers(0, CLASSES, n)


def build_model(dtype, seed: int = 0) -> cr.Sequential:
    """The paper's network, as ``cr.cnn1d`` builds it without BatchNorm."""
    return cr.cnn1d(LENGTH, CLASSES, [o for _, o, _ in CONVS], [k for _, _, k in CONVS], stride=STRIDE, padding=PADDING,
                    batchnorm=False, seed=seed, dtype=dtype)  # fmt: skip


class Chainrule:
    def __init__(self, X, y, weights, dtype):
        self.X, self.y, self.model = X, y, build_model(dtype)
        self.reset(weights)

    def reset(self, weights):
        self.model.set_weights(weights)
        self.opt = cr.Adam(lr=LR)

    def epoch(self, shuffle=True):
        self.model.fit(self.X, self.y, loss="softmax_cross_entropy", optimizer=self.opt, epochs=1,
                       batch_size=BATCH, shuffle=shuffle)  # fmt: skip

    def weights(self):
        return self.model.get_weights()


# ------------------------------------------------------------------ the hand-written loop
def conv_forward(X, W, b):
    """im2col with an index array, one product: X (n, C, L), W (O, C, K) -> Z (n, O, L_out), and the columns."""
    n, C, L = X.shape
    O, _, K = W.shape  # noqa: E741
    Xp = np.pad(X, ((0, 0), (0, 0), (PADDING, PADDING)))
    L_out = (L + 2 * PADDING - K) // STRIDE + 1
    idx = STRIDE * np.arange(L_out)[:, None] + np.arange(K)  # (L_out, K)
    cols = Xp[:, :, idx].transpose(0, 2, 1, 3).reshape(n * L_out, C * K)
    Z = cols @ W.reshape(O, C * K).T + b
    return Z.reshape(n, L_out, O).transpose(0, 2, 1), cols


def conv_backward(dZ, cols, W, in_shape, need_dX):
    """dW, db and (when asked) dX: the columns scattered back one kernel tap at a time."""
    n, C, L = in_shape
    O, _, K = W.shape  # noqa: E741
    L_out = dZ.shape[2]
    dZ2 = dZ.transpose(0, 2, 1).reshape(n * L_out, O)
    dW, db = (dZ2.T @ cols).reshape(W.shape), dZ2.sum(0)
    if not need_dX:
        return dW, db, None
    dcols = (dZ2 @ W.reshape(O, C * K)).reshape(n, L_out, C, K)
    dXp = np.zeros((n, C, L + 2 * PADDING), dZ.dtype)
    for k in range(K):
        dXp[:, :, k : k + STRIDE * (L_out - 1) + 1 : STRIDE] += dcols[:, :, :, k].transpose(0, 2, 1)
    return dW, db, dXp[:, :, PADDING : PADDING + L]


def hand_grads(params, Xb, yb):
    """Gradients of the mean softmax cross-entropy, in params order [W1, b1, …, Wd, bd]."""
    A, saved = Xb, []
    for i in range(len(CONVS)):
        Z, cols = conv_forward(A, params[2 * i], params[2 * i + 1])
        saved.append((cols, A.shape, Z))
        A = np.maximum(Z, 0)
    flat = A.reshape(len(Xb), -1)
    logits = flat @ params[-2] + params[-1]
    P = np.exp(logits - logits.max(1, keepdims=True))
    P /= P.sum(1, keepdims=True)
    P[np.arange(len(Xb)), yb] -= 1
    dlogits = P / len(Xb)
    grads = [None] * len(params)
    grads[-2], grads[-1] = flat.T @ dlogits, dlogits.sum(0)
    dA = (dlogits @ params[-2].T).reshape(A.shape)
    for i in range(len(CONVS) - 1, -1, -1):
        cols, in_shape, Z = saved[i]
        grads[2 * i], grads[2 * i + 1], dA = conv_backward(dA * (Z > 0), cols, params[2 * i], in_shape, i > 0)
    return grads


class NumpyLoop:
    def __init__(self, X, y, weights, dtype):
        self.X, self.y, self.rng = X, y, np.random.default_rng(1)
        self.reset(weights)

    def reset(self, weights):
        self.params = [np.array(w) for w in weights]
        self.m, self.v, self.t = [np.zeros_like(w) for w in weights], [np.zeros_like(w) for w in weights], 0

    def epoch(self, shuffle=True):
        n = len(self.X)
        order = self.rng.permutation(n) if shuffle else np.arange(n)
        for start in range(0, n, BATCH):
            idx = order[start : start + BATCH]
            self.t += 1
            adam_step(self.params, hand_grads(self.params, self.X[idx], self.y[idx]), self.m, self.v, self.t, LR)

    def weights(self):
        return self.params


# ------------------------------------------------------------------ peers
class Torch:
    def __init__(self, X, y, weights, dtype):
        torch = self.torch = optional("torch")
        torch.set_num_threads(1)
        tdtype = torch.float64 if np.dtype(dtype) == np.float64 else torch.float32
        convs = [torch.nn.Conv1d(c, o, k, STRIDE, PADDING, dtype=tdtype) for c, o, k in CONVS]
        self.params_in_order = [p for conv in convs for p in (conv.weight, conv.bias)]
        self.dense = torch.nn.Linear(125, CLASSES, dtype=tdtype)
        layers = [m for conv in convs for m in (conv, torch.nn.ReLU())]
        self.net = torch.nn.Sequential(*layers, torch.nn.Flatten(), self.dense)
        self.X, self.y = torch.from_numpy(X), torch.from_numpy(y)
        self.loss, self.gen = torch.nn.CrossEntropyLoss(), torch.Generator().manual_seed(1)
        self.reset(weights)

    def reset(self, weights):
        with self.torch.no_grad():
            for p, w in zip(self.params_in_order, weights[:-2]):
                p.copy_(self.torch.from_numpy(np.asarray(w)))
            self.dense.weight.copy_(self.torch.from_numpy(np.ascontiguousarray(weights[-2].T)))
            self.dense.bias.copy_(self.torch.from_numpy(np.asarray(weights[-1])))
        self.opt = self.torch.optim.Adam(self.net.parameters(), lr=LR)

    def epoch(self, shuffle=True):
        torch, n = self.torch, len(self.X)
        order = torch.randperm(n, generator=self.gen) if shuffle else torch.arange(n)
        for start in range(0, n, BATCH):
            idx = order[start : start + BATCH]
            self.opt.zero_grad()
            self.loss(self.net(self.X[idx]), self.y[idx]).backward()
            self.opt.step()

    def weights(self):
        out = [p.detach().numpy() for p in self.params_in_order]
        return out + [self.dense.weight.detach().numpy().T, self.dense.bias.detach().numpy()]


class Jax:
    """The same network as one ``jax.jit``-compiled training step (lax convolutions, Adam written out)."""

    def __init__(self, X, y, weights, dtype):
        import jax

        jax.config.update("jax_enable_x64", True)  # float64 for the check; float32 arrays stay float32
        jnp, lax = jax.numpy, jax.lax

        def loss(params, Xb, yb):
            A = Xb
            for i in range(len(CONVS)):
                A = lax.conv_general_dilated(A, params[2 * i], (STRIDE,), [(PADDING, PADDING)])
                A = jax.nn.relu(A + params[2 * i + 1][:, None])
            logits = A.reshape(len(Xb), -1) @ params[-2] + params[-1]
            return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), yb[:, None], axis=1))

        def step(params, m, v, t, Xb, yb):
            grads = jax.grad(loss)(params, Xb, yb)
            m = [0.9 * mi + 0.1 * g for mi, g in zip(m, grads)]
            v = [0.999 * vi + 0.001 * g * g for vi, g in zip(v, grads)]
            step_size, root = LR / (1 - 0.9**t), jnp.sqrt(1 - 0.999**t)  # Adam in PyTorch's form, as _hand
            params = [p - step_size * mi / (jnp.sqrt(vi) / root + 1e-8) for p, mi, vi in zip(params, m, v)]
            return params, m, v

        self.jnp, self.step = jnp, jax.jit(step)
        self.X, self.y, self.rng = jnp.asarray(X), jnp.asarray(y), np.random.default_rng(1)
        self.reset(weights)

    def reset(self, weights):
        self.params = [self.jnp.asarray(w) for w in weights]
        self.m = [self.jnp.zeros_like(p) for p in self.params]
        self.v = [self.jnp.zeros_like(p) for p in self.params]
        self.t = 0

    def epoch(self, shuffle=True):
        n = len(self.X)
        order = self.rng.permutation(n) if shuffle else np.arange(n)
        for start in range(0, n, BATCH):
            idx = order[start : start + BATCH]
            self.t += 1
            self.params, self.m, self.v = self.step(self.params, self.m, self.v, self.t, self.X[idx], self.y[idx])
        self.params[0].block_until_ready()

    def weights(self):
        return [np.asarray(p) for p in self.params]


def contenders(X, y, weights, dtype):
    out = {"chainrule": Chainrule, "numpy im2col loop": NumpyLoop}
    if optional("torch") is not None:
        out["pytorch"] = Torch
    if optional("jax") is not None:
        out["jax jit"] = Jax
    return {name: cls(X, y, weights, dtype) for name, cls in out.items()}


def check_equal(X, y, weights, workload: str) -> dict[str, str]:
    """Ten unshuffled batches from the same weights, in float64: every contender must agree with chainrule.

    float64, whatever the timed dtype: Adam's first steps move a weight by about lr whatever its gradient's size,
    so a gradient near 0 that float32 rounding flips in one contender's summation order moves that weight by 2·lr.
    """
    X, weights = X[: 10 * BATCH].astype(np.float64), [np.asarray(w, np.float64) for w in weights]
    runs = contenders(X, y[: 10 * BATCH], weights, np.float64)
    for r in runs.values():
        r.epoch(shuffle=False)
    ref = runs["chainrule"].weights()
    tol = 1e-9
    notes = {}
    for name, r in runs.items():
        if name == "chainrule":
            continue
        diff = max(float(np.max(np.abs(a - b))) for a, b in zip(r.weights(), ref))
        if not diff <= tol:
            raise AssertionError(f"{workload}: {name}'s weights differ from chainrule's by {diff:.3g}")
        notes[name] = f"weights agree to {diff:.0e}"
    return notes


def run(quick: bool = False, dtype: str = "float32") -> list[Row]:
    tpc = optional("threadpoolctl")
    with tpc.threadpool_limits(1) if tpc is not None else nullcontext():
        n, repeats = (10 * BATCH, 1) if quick else (4000, 7)
        workload = f"11 MNIST-1D CNN {dtype}"
        X, y = make_data(n, dtype)
        weights = build_model(dtype).get_weights()
        notes = check_equal(X, y, weights, workload)
        runs = contenders(X, y, weights, dtype)
        medians = time_alternating({name: r.epoch for name, r in runs.items()}, repeats, warmup=1)
    notes["numpy im2col loop"] = "the floor; " + notes.get("numpy im2col loop", "")
    return rows_with_ratios(workload, medians, "batch", -(-n // BATCH), notes)
