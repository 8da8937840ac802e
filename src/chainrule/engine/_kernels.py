"""The compiled whole run: every epoch and batch of a Dense/activation chain in one numba call.

Arrays carry the model axis innermost, so the members of an Ensemble are the SIMD lanes of every loop:

    theta, grad, slots   (P, M)        one member's parameters per column, in the order of ``flat_params``
    Z, A                 (L, n, w, M)  each Dense layer's output z and its activation's output a
    D                    (n, w, M)     ∂L/∂z of the layer being visited

Every formula mirrors the NumPy layer, loss and optimiser it stands for, operation by operation, so the
results agree to rounding (the parity tests hold them to it). Codes for the activations, losses and
optimisers are the tables in ``chainrule.engine.spec``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ._lanes import activate, chain, loss_row, softmax_loss_row


# ------------------------------------------------------------------ one batch: forward, loss, backward
@njit(cache=True, error_model="numpy")
def _forward(X, rows, n, theta, offs, dims, acts, alphas, Z, A, exp_limit):
    """Z[l] = A[l−1]·W + b and A[l] = f(Z[l]) for every Dense layer l, on the n ``rows`` of X."""
    M = theta.shape[1]
    for layer in range(len(offs)):
        n_in, n_out, off, code, alpha = dims[layer], dims[layer + 1], offs[layer], acts[layer], alphas[layer]
        for s in range(n):
            for j in range(n_out):
                z = Z[layer, s, j]
                z[:] = 0
                for i in range(n_in):
                    w = theta[off + i * n_out + j]
                    if layer == 0:
                        x = X[rows[s], i]
                        for m in range(M):
                            z[m] += x * w[m]
                    else:
                        a = A[layer - 1, s, i]
                        for m in range(M):
                            z[m] += a[m] * w[m]
                b = theta[off + n_in * n_out + j]
                for m in range(M):
                    z[m] += b[m]
                activate(code, alpha, z, A[layer, s, j], exp_limit)


@njit(cache=True, error_model="numpy")
def _loss(out, Y, rows, n, k, loss_code, count, scaled, eps, exp_limit, D, value, scratch):
    """Each member's loss of outputs ``out`` (n, k, M) into ``value``, its gradient into D (÷ count if ``scaled``).

    Codes: 0 sse, 1 mse, 2 bce on probabilities, 3 bce from logits (σ), 4 cross-entropy from logits (softmax).
    """
    M = out.shape[2]
    c = out.dtype.type(count)
    value[:] = 0
    for s in range(n):
        y = Y[rows[s]]
        if loss_code == 4:
            softmax_loss_row(out[s, :k], y, D[s, :k], value, scratch[0], scratch[1])
        else:
            for j in range(k):
                loss_row(loss_code, out[s, j], y[j], eps, exp_limit, D[s, j], value)
    if scaled:
        for s in range(n):
            for j in range(k):
                for m in range(M):
                    D[s, j, m] = D[s, j, m] / c
        for m in range(M):
            value[m] /= c


@njit(cache=True, error_model="numpy")
def _backward(X, rows, n, theta, offs, dims, acts, alphas, Z, A, D, dA, grad):
    """Every layer's dW = Aᵀ·D and db = Σ D, last first, with D ← f'(z) ∘ (D·Wᵀ) between layers."""
    M = theta.shape[1]
    for layer in range(len(offs) - 1, -1, -1):
        n_in, n_out, off = dims[layer], dims[layer + 1], offs[layer]
        for i in range(n_in):
            for j in range(n_out):
                g = grad[off + i * n_out + j]
                g[:] = 0
                for s in range(n):
                    d = D[s, j]
                    if layer == 0:
                        x = X[rows[s], i]
                        for m in range(M):
                            g[m] += x * d[m]
                    else:
                        a = A[layer - 1, s, i]
                        for m in range(M):
                            g[m] += a[m] * d[m]
        for j in range(n_out):
            g = grad[off + n_in * n_out + j]
            g[:] = 0
            for s in range(n):
                for m in range(M):
                    g[m] += D[s, j, m]
        if layer == 0:
            break
        for s in range(n):
            for i in range(n_in):
                da = dA[s, i]
                da[:] = 0
                for j in range(n_out):
                    w = theta[off + i * n_out + j]
                    for m in range(M):
                        da[m] += D[s, j, m] * w[m]
        code, alpha = acts[layer - 1], alphas[layer - 1]
        for s in range(n):
            for i in range(n_in):
                chain(code, alpha, dA[s, i], Z[layer - 1, s, i], A[layer - 1, s, i], D[s, i])


# ------------------------------------------------------------------ the optimiser step, member by member
@njit(cache=True, error_model="numpy")
def _transform(grad, theta, h, decay, any_decay, norms):
    """g ← g·min(1, clip_norm/‖g‖), clamped to ±clip_value, plus decay·w: as ``Optimizer.step`` rewrites g."""
    P, M = theta.shape
    T = theta.dtype.type
    clip_norm, clip_value = h[4], h[5]
    if clip_norm > 0:
        norms[:] = 0
        for p in range(P):
            for m in range(M):
                norms[m] += grad[p, m] * grad[p, m]
        for m in range(M):
            norms[m] = min(T(1), T(clip_norm) / max(math.sqrt(norms[m]), T(h[11])))
        for p in range(P):
            for m in range(M):
                grad[p, m] = grad[p, m] * norms[m]
    if clip_value > 0:
        lo, hi = T(-clip_value), T(clip_value)
        for p in range(P):
            for m in range(M):
                grad[p, m] = min(max(grad[p, m], lo), hi)
    if any_decay:
        for p in range(P):
            for m in range(M):
                grad[p, m] = grad[p, m] + T(decay[m]) * theta[p, m]


@njit(cache=True, error_model="numpy")
def _step(theta, grad, slot1, slot2, active, lr, opt, t, h, mu):
    """One step of SGD (0), Adam (1) or RMSProp (2), as ``Optimizer._update``; a frozen lane keeps its values.

    h: beta_1, beta_2, eps, rho, clip_norm, clip_value, nesterov (0 or 1), momentum slot (0 or 1).
    Arithmetic is in the parameters' dtype, as NumPy's with Python-number hyperparameters.
    """
    P, M = theta.shape
    T = theta.dtype.type
    if opt == 0:
        nesterov, has_velocity = h[6] > 0, h[7] > 0
        for p in range(P):
            for m in range(M):
                g = grad[p, m]
                if has_velocity:
                    v = slot1[p, m] * T(mu[m]) + g
                    slot1[p, m] = v if active[m] else slot1[p, m]
                    g = g + T(mu[m]) * v if nesterov else v
                w = theta[p, m] - g * T(lr[m])
                theta[p, m] = w if active[m] else theta[p, m]
    elif opt == 1:
        beta_1, beta_2, eps, one_1, one_2 = T(h[0]), T(h[1]), T(h[2]), T(1 - h[0]), T(1 - h[1])
        bias_1, bias_2 = 1 - h[0] ** t, T(math.sqrt(1 - h[1] ** t))
        for p in range(P):
            for m in range(M):
                g = grad[p, m]
                m1 = slot1[p, m] * beta_1 + g * one_1
                v2 = slot2[p, m] * beta_2 + g * g * one_2
                w = theta[p, m] - m1 / (math.sqrt(v2) / bias_2 + eps) * T(lr[m] / bias_1)
                if active[m]:
                    slot1[p, m], slot2[p, m], theta[p, m] = m1, v2, w
    else:
        rho, eps, one_r = T(h[3]), T(h[2]), T(1 - h[3])
        for p in range(P):
            for m in range(M):
                g = grad[p, m]
                s2 = slot1[p, m] * rho + g * g * one_r
                w = theta[p, m] - g / (math.sqrt(s2) + eps) * T(lr[m])
                if active[m]:
                    slot1[p, m], theta[p, m] = s2, w


@njit(cache=True, error_model="numpy")
def _flush(slot, tiny):
    """Zero the optimiser state below the dtype's smallest normal number (see ``Optimizer._flush_subnormals``)."""
    for p in range(slot.shape[0]):
        for m in range(slot.shape[1]):
            if abs(slot[p, m]) < tiny:
                slot[p, m] = 0


@njit(cache=True, error_model="numpy")
def _freeze(m, theta, snapshot, slot1, slot2, active):
    for p in range(theta.shape[0]):
        theta[p, m] = snapshot[p, m]
        slot1[p, m] = 0
        slot2[p, m] = 0
    active[m] = False


# ------------------------------------------------------------------ the whole run
@njit(cache=True, nogil=True, error_model="numpy")
def train(X, Y, orders, batch, lr_epochs, lr_members, theta, slot1, slot2, snapshot, active, div_key, losses, offs,
          dims, acts, alphas, codes, h, mu, decay, status):  # fmt: skip
    """Every epoch of ``losses`` (epochs, M), in the order ``orders[e]`` (or ``orders[0]`` for each): batches,
    steps, divergence checks; the losses filled. Epoch e's rate for member m is lr_epochs[e]·lr_members[m].

    codes: loss, scaled ("mean"), per_element, optimiser, raise_on_divergence, steps taken so far.
    h: the optimiser's floats (see ``_step``), then l2, max_weight, eps of the dtype, tiny, exp_limit.
    A member whose loss or weights go bad is frozen (its div_key set: 2·batch, +1 at the epoch's end);
    with raise_on_divergence the run stops instead, and status holds (kind, epoch, batch, steps), the
    weights as they were then and ``snapshot`` those at the start of that epoch.
    """
    N = X.shape[0]
    P, M = theta.shape
    L = len(offs)
    width = 0
    for w in dims:
        width = max(width, w)
    k = dims[L]
    loss_code, scaled, per_element, opt, raise_mode, t = codes[0], codes[1], codes[2], codes[3], codes[4], codes[5]
    l2, max_weight, eps, tiny, exp_limit = h[8], h[9], h[10], h[11], h[12]
    dt = theta.dtype
    T = dt.type
    Z = np.empty((L, batch, width, M), dt)
    A = np.empty((L, batch, width, M), dt)
    D = np.empty((batch, width, M), dt)
    dA = np.empty((batch, width, M), dt)
    grad = np.empty((P, M), dt)
    value = np.empty(M, dt)
    total = np.empty(M, dt)
    norms = np.empty(M, dt)
    penalty = np.empty(M, dt)
    scratch = np.empty((2, M), dt)
    lr = np.empty(M)
    any_decay = False
    for m in range(M):
        any_decay = any_decay or decay[m] != 0
    n_batches = (N + batch - 1) // batch
    for e in range(losses.shape[0]):
        snapshot[:] = theta
        for m in range(M):  # a schedule's rate for this epoch, or each member's own (the other factor is 1)
            lr[m] = lr_epochs[e] * lr_members[m]
        total[:] = 0
        seen = 0.0
        rows_all = orders[min(e, len(orders) - 1)]  # one row serves every epoch when nothing shuffles
        for b in range(n_batches):
            start = b * batch
            n = min(batch, N - start)
            rows = rows_all[start : start + n]
            _forward(X, rows, n, theta, offs, dims, acts, alphas, Z, A, exp_limit)
            count = n * k if per_element else n
            _loss(A[L - 1], Y, rows, n, k, loss_code, count, scaled, eps, exp_limit, D, value, scratch)
            if l2 > 0:
                penalty[:] = 0
                for layer in range(L):
                    for p in range(offs[layer], offs[layer] + dims[layer] * dims[layer + 1]):
                        for m in range(M):
                            penalty[m] += theta[p, m] * theta[p, m]
                for m in range(M):
                    value[m] = value[m] + T(0.5 * l2 / n) * penalty[m]
            for m in range(M):
                if active[m] and not math.isfinite(value[m]):
                    if raise_mode:
                        status[0], status[1], status[2], status[3] = 1, e, b, t
                        return
                    _freeze(m, theta, snapshot, slot1, slot2, active)
                    div_key[m] = 2 * (e * n_batches + b)
                total[m] += value[m] * T(n)
            seen += n
            if acts[L - 1] != 0 and loss_code < 3:  # the output activation's own step (none when fused)
                for s in range(n):
                    for j in range(k):
                        chain(acts[L - 1], alphas[L - 1], D[s, j], Z[L - 1, s, j], A[L - 1, s, j], D[s, j])
            _backward(X, rows, n, theta, offs, dims, acts, alphas, Z, A, D, dA, grad)
            if l2 > 0:
                for layer in range(L):
                    for p in range(offs[layer], offs[layer] + dims[layer] * dims[layer + 1]):
                        for m in range(M):
                            grad[p, m] += T(l2 / n) * theta[p, m]
            t += 1
            if h[4] > 0 or h[5] > 0 or any_decay:
                _transform(grad, theta, h, decay, any_decay, norms)
            _step(theta, grad, slot1, slot2, active, lr, opt, t, h, mu)
            if t % 128 == 0:
                _flush(slot1, tiny)
                _flush(slot2, tiny)
        for m in range(M):
            losses[e, m] = total[m] / seen
            if not active[m]:
                continue
            bad = False
            for p in range(P):
                if not abs(theta[p, m]) <= max_weight:  # NaN fails too
                    bad = True
                    break
            if bad:
                if raise_mode:
                    status[0], status[1], status[2], status[3] = 2, e, n_batches - 1, t
                    return
                _freeze(m, theta, snapshot, slot1, slot2, active)
                div_key[m] = 2 * (e * n_batches + n_batches - 1) + 1
    status[3] = t
