"""What the compiled engine covers, read from the model's layers, its objective and its optimiser.

``describe(model, plan)`` gives a ``Spec`` (the chain as arrays of codes and sizes, the loss and the
optimiser as numbers), or a one-line reason naming the layer or option the engine does not take. It
reads public facts only: each Dense layer's ``W`` and ``b``, each activation's ``name`` (and ``alpha``),
the loss's ``name``, ``reduction`` and ``per_element``, the objective's ``fused`` layer and ``l2``, and
the optimiser's configuration. NumPy alone is needed here; numba only when a run starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..layers import Activation, Dense

# activation name -> the kernel's code (chainrule.engine._kernels._f and _chain)
ACTIVATIONS = {"identity": 0, "tanh": 1, "sigmoid": 2, "relu": 3, "leaky_relu": 4, "elu": 5, "softplus": 6,
               "silu": 7, "gelu": 8, "gelu_tanh": 9}  # fmt: skip
# (loss name, output taken from logits through) -> the kernel's loss code (chainrule.engine._kernels._loss)
LOSSES = {("sse", None): 0, ("mse", None): 1, ("bce", None): 2, ("bce", "sigmoid"): 3, ("bce_logits", None): 3,
          ("softmax_cross_entropy", None): 4, ("categorical_cross_entropy", "softmax"): 4}  # fmt: skip
OPTIMIZERS = {"SGD": 0, "Adam": 1, "RMSProp": 2}
# under engine="auto", a Dense layer with more weights than this runs faster on NumPy's BLAS than in the engine
AUTO_MAX_WEIGHTS = 64 * 64


@dataclass
class Spec:
    """A covered fit, as the kernel takes it: per Dense layer its offset in a member's parameters, the
    widths, the activation after it (code and α); the loss code and whether it divides by the count."""

    offsets: np.ndarray  # (L,) int64: where each Dense layer's W starts (its b follows W)
    dims: np.ndarray  # (L + 1,) int64: n_in of the first layer, then each layer's n_out
    acts: np.ndarray  # (L,) int64: the activation code after each Dense layer (0: none, or fused)
    alphas: np.ndarray  # (L,) float64
    loss_code: int
    scaled: bool  # "mean": the gradient and value divide by the count
    per_element: bool
    optimizer_code: int
    largest: str  # the largest Dense layer, for the reason under "auto"
    largest_size: int


def _is_builtin(obj: Any, package: str) -> bool:
    """The object is one of chainrule's own classes in ``package`` (a user subclass may compute otherwise)."""
    return type(obj).__module__.startswith(package)


def _laid_out(model: Any, dense: list, offsets: list[int], size: int) -> bool:
    """Each Dense layer's W (then b) sits in ``flat_params`` at its offset, row-major, and nothing else does."""
    flat = model.flat_params
    member = flat if not model.stacked else flat[0]
    if member.size != size or not flat.flags.c_contiguous:
        return False
    for layer, offset in zip(dense, offsets):
        W, b = (layer.params[k] if not model.stacked else layer.params[k][0] for k in ("W", "b"))
        at = (W.ctypes.data - flat.ctypes.data) // flat.itemsize
        if at != offset or not W.flags.c_contiguous or (b.ctypes.data - W.ctypes.data) // flat.itemsize != W.size:
            return False
    return True


def describe(model: Any, plan: Any) -> Spec | str:
    """The Spec of this fit, or why the engine does not cover it (one line naming the layer or option)."""
    if plan.batches.sparse:
        return "the compiled engine takes a dense X; a sparse one trains on NumPy, densified a batch at a time."
    layers, objective = model.layers, plan.objective
    fused = objective.fused
    body = layers[:-1] if fused is not None else layers
    offsets, dims, acts, alphas = [], [], [], []
    offset, largest, largest_size = 0, "", 0
    for i, layer in enumerate(body):
        if type(layer) is Dense:
            if not dims:
                dims.append(layer.n_in)
            offsets.append(offset)
            dims.append(layer.n_out)
            acts.append(0)
            alphas.append(0.0)
            if layer.n_in * layer.n_out > largest_size:
                largest, largest_size = repr(layer), layer.n_in * layer.n_out
        elif isinstance(layer, Activation) and type(layer) is Activation.registry.get(layer.name):
            if layer.name not in ACTIVATIONS:
                where = "only as the output fused with its loss" if layer.name == "softmax" else "at all"
                return f"the compiled engine does not take {layer!r} {where}."
            if i == 0 or type(layers[i - 1]) is not Dense:
                after = f"after {layers[i - 1]!r}" if i else "first"
                return f"the compiled engine takes each Dense layer followed by one activation, not {layer!r} {after}."
            acts[-1] = ACTIVATIONS[layer.name]
            alphas[-1] = float(getattr(layer, "alpha", 0.0))
        else:
            return f"the compiled engine covers Dense layers and elementwise activations, not {layer!r}."
        offset += sum(p[0].size if model.stacked else p.size for p in layer.params.values())
    if not dims:
        return "the compiled engine needs at least one Dense layer."
    if not _laid_out(model, [layer for layer in body if type(layer) is Dense], offsets, offset):
        return "the compiled engine could not place every parameter of this model in its flat buffer."
    loss = objective.loss
    key = (loss.name, None if fused is None else fused.name)
    if not _is_builtin(loss, "chainrule.") or key not in LOSSES:
        return f"the compiled engine does not cover the loss {loss!r}" + (f" after {fused!r}." if fused else ".")
    if LOSSES[key] >= 3 and acts[-1] != 0:
        return "the compiled engine does not cover an activation under a loss on logits."
    opt = plan.optimizer
    if not _is_builtin(opt, "chainrule.") or type(opt).__name__ not in OPTIMIZERS:
        return f"the compiled engine covers SGD, Adam and RMSProp, not {opt!r}."
    if plan.batches.w is not None:
        return "the compiled engine does not take sample_weight."
    if plan.metrics:
        return f"the compiled engine does not compute metrics ({', '.join(plan.metrics)})."
    return Spec(
        np.array(offsets, np.int64), np.array(dims, np.int64), np.array(acts, np.int64), np.array(alphas),
        LOSSES[key], loss.reduction == "mean", bool(loss.per_element), OPTIMIZERS[type(opt).__name__],
        largest, largest_size,
    )  # fmt: skip
