"""JAX as an optional contender: the same training steps, compiled by XLA.

Two shapes of program, as a JAX user would write them:

- ``MLPTrainer``: ``jax.jit`` of one batch step (forward, softmax cross-entropy, ``value_and_grad``, the
  optimiser's update) called from a Python loop over the epoch's batches; the rows are gathered inside the
  step from the data held on the device. Used by the MNIST-shaped (2, 6) and the MLP 40-100-100-10 (4)
  workloads.
- ``xor_ensemble``: ``jit`` of ``lax.scan`` over the epochs of a ``vmap`` over the members' stacked weights,
  full batch, the loss of every member recorded every epoch. Used by workload 8.

Each is timed twice: at steady state (compiled before timing) and compiling afresh in every timed run (a new
``jit``, traced, lowered and compiled, then the same work); the note gives the compile time alone. Without
jax installed every JAX row is a skipped row with a note. Float64 is enabled (``jax_enable_x64``) because
workloads 6 and 8 run in float64; float32 data stay float32.

Threads: when NumPy's BLAS runs one thread, XLA gets one too. ``XLA_FLAGS`` carries
``--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1``, but with jaxlib 0.10 a matrix product
still splits over two threads under those flags alone, so the CPU client is also created while the
calling thread is confined to one CPU (its thread pool is sized from that mask), and the new threads are
given the full mask back so they may run on any core.
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

import numpy as np

from ._harness import Row, blas_threads

SINGLE_THREAD_FLAGS = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
SKIP_NOTE = "skipped: jax is not installed (pip install jax, or the bench extra)"
_setup: dict[str, str] = {}  # filled once the CPU client exists: {"threads": the setting, in words}


def load():
    """The jax module, set up once for the suite (float64 on, the CPU client's threads); None when absent."""
    try:
        import jax
    except ImportError:
        return None
    if not _setup:
        jax.config.update("jax_enable_x64", True)
        _setup["threads"] = _start_cpu_client(jax)
    return jax


def threads_note() -> str:
    return _setup.get("threads", "")


def _start_cpu_client(jax) -> str:
    if blas_threads() != 1:
        jax.devices()
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        return f"XLA's default threads ({cpus} CPUs)"
    flags = os.environ.get("XLA_FLAGS", "")
    if SINGLE_THREAD_FLAGS not in flags:
        os.environ["XLA_FLAGS"] = f"{flags} {SINGLE_THREAD_FLAGS}".strip()
    if not hasattr(os, "sched_setaffinity"):
        jax.devices()
        return f"XLA_FLAGS={SINGLE_THREAD_FLAGS} (no CPU mask on this system)"
    mask, before = os.sched_getaffinity(0), _thread_ids()
    os.sched_setaffinity(0, {min(mask)})
    try:
        jax.devices()  # creates the client and its thread pools
    finally:
        os.sched_setaffinity(0, mask)
        for tid in _thread_ids() - before:
            os.sched_setaffinity(tid, mask)
    return f"XLA 1 thread: XLA_FLAGS={SINGLE_THREAD_FLAGS} and its client made under a one-CPU mask"


def _thread_ids() -> set[int]:
    return {int(p.name) for p in Path("/proc/self/task").iterdir()}


def skipped_row(workload: str) -> Row:
    return Row(workload, "jax", float("nan"), note=SKIP_NOTE)


# ------------------------------------------------------------------------------ MLP: jit of the batch step
def sgd_momentum(lr: float, momentum: float):
    """v ← μ·v + g;  w ← w − α·v  (PyTorch's form, as chainrule's SGD)."""

    def init(params):
        return [np.zeros_like(p) for p in params]

    def update(params, grads, velocity, t):
        velocity = [momentum * v + g for v, g in zip(velocity, grads)]
        return [p - lr * v for p, v in zip(params, velocity)], velocity

    return init, update


def adam(lr: float, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8):
    """Adam with bias correction, in chainrule's form: w ← w − α/(1 − β₁ᵗ)·m / (√v / √(1 − β₂ᵗ) + ε)."""

    def init(params):
        return [(np.zeros_like(p), np.zeros_like(p)) for p in params]

    def update(params, grads, moments, t):  # t: the step count, an array of the parameters' dtype
        import jax.numpy as jnp

        moments = [(b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g) for (m, v), g in zip(moments, grads)]
        step, root = lr / (1 - b1**t), jnp.sqrt(1 - b2**t)
        return [p - step * m / (jnp.sqrt(v) / root + eps) for p, (m, v) in zip(params, moments)], moments

    return init, update


def relu_mlp_loss(params, Xb, yb):
    """Mean softmax cross-entropy of a ReLU MLP whose ``params`` are [W1, b1, …, WL, bL], on logits."""
    import jax

    A = Xb
    for i in range(0, len(params), 2):
        Z = A @ params[i] + params[i + 1]
        A = jax.numpy.maximum(Z, 0) if i + 2 < len(params) else Z
    log_p = jax.nn.log_softmax(Z)
    return -log_p[np.arange(len(yb)), yb].mean()


class MLPTrainer:
    """One model trained by a jitted batch step; the interface of the workloads' other contenders.

    Compiled once at construction, or, with ``compile_each_epoch``, afresh at the start of every epoch (the
    cost of a first run). ``compile_s`` lists the seconds each compilation took: tracing, lowering and XLA
    compilation of the step for the full and the last, shorter batch.
    """

    def __init__(self, X, y, weights, batch: int, optimizer, compile_each_epoch: bool = False):
        jax = load()
        self.X, self.y = jax.device_put(X), jax.device_put(y)
        self.n, self.batch, self.dtype = len(X), batch, X.dtype
        self.init, self.update = optimizer
        self.rng, self.compile_s, self.compile_each_epoch = np.random.default_rng(1), [], compile_each_epoch
        self.reset(weights)
        if not compile_each_epoch:
            self.compile()

    def reset(self, weights):
        self.params = [np.array(w, dtype=self.dtype) for w in weights]
        self.state, self.t = self.init(self.params), 0

    def compile(self) -> None:
        """A new jit of the step, compiled for each batch shape the epoch meets (AOT: no compile while timed)."""
        jax = load()

        def step(params, state, t, X, y, idx):  # a new function object each time: nothing is cached
            loss, grads = jax.value_and_grad(relu_mlp_loss)(params, X[idx], y[idx])
            params, state = self.update(params, grads, state, t)
            return params, state, loss

        t0 = time.perf_counter()
        sizes = {self.batch, self.n % self.batch or self.batch} if self.n > self.batch else {self.n}
        self.steps = {}
        for size in sizes:
            args = (self.params, self.state, self._t(1), self.X, self.y, np.arange(size))
            self.steps[size] = jax.jit(step).lower(*args).compile()
        self.compile_s.append(time.perf_counter() - t0)

    def _t(self, t: int):
        return np.asarray(t, dtype=self.dtype)

    def epoch(self, shuffle: bool = True):
        if self.compile_each_epoch:
            self.compile()
        order = self.rng.permutation(self.n) if shuffle else np.arange(self.n)
        params, state = self.params, self.state
        for start in range(0, self.n, self.batch):
            idx = order[start : start + self.batch]
            self.t += 1
            params, state, _ = self.steps[len(idx)](params, state, self._t(self.t), self.X, self.y, idx)
        self.params, self.state = load().block_until_ready((params, state))
        return self.weights()

    def weights(self) -> list[np.ndarray]:
        return [np.asarray(p) for p in self.params]

    def compile_note(self) -> str:
        shapes = f"{len(self.steps)} batch shape" + ("s" if len(self.steps) > 1 else "")
        return f"a new jit each run: compiling the step ({shapes}) took {seconds_note(self.compile_s)}, then the epoch"


def seconds_note(times: list[float]) -> str:
    return f"{statistics.median(times):.2f} s (median of {len(times)})"


# --------------------------------------------------------------- XOR ensembles: jit + vmap + lax.scan
def xor_ensemble(members: list[list[np.ndarray]], X: np.ndarray, Y: np.ndarray, epochs: int, lr: float):
    """Steady-state and compiling runs of full-batch SGD on every member at once; each returns the losses
    (epochs, members). ``members[i]`` is member i's [W1, b1, …]: tanh after each hidden layer, a sigmoid
    output under binary cross-entropy, computed from the logits (softplus(z) − y·z)."""
    jax = load()
    jnp = jax.numpy
    start = [np.stack(ws) for ws in zip(*members)]  # (members, …) each
    X, Y = jnp.asarray(X, start[0].dtype), jnp.asarray(Y.reshape(-1, 1), start[0].dtype)
    compile_s: list[float] = []

    def loss(params, X, Y):
        A = X
        for i in range(0, len(params) - 2, 2):
            A = jnp.tanh(A @ params[i] + params[i + 1])
        Z = A @ params[-2] + params[-1]
        return jnp.mean(jax.nn.softplus(Z) - Y * Z)

    def compiled():
        grads = jax.vmap(jax.value_and_grad(loss), in_axes=(0, None, None))

        def train(params):
            def epoch(params, _):
                value, g = grads(params, X, Y)
                return [p - lr * d for p, d in zip(params, g)], value

            return jax.lax.scan(epoch, params, length=epochs)[1]  # (epochs, members)

        t0 = time.perf_counter()
        fn = jax.jit(train).lower(start).compile()
        compile_s.append(time.perf_counter() - t0)
        return fn

    steady = compiled()
    compile_s.clear()

    def run_steady():
        return np.asarray(steady(start))

    def run_compiling():
        return np.asarray(compiled()(start))

    return run_steady, run_compiling, compile_s
