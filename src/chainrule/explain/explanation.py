"""``explain(model, X, y, loss)``: one training step, written out, and the Explanation that holds it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..core.losses import Loss
from ..core.optimizers import SGD
from ..gradcheck import gradcheck
from .layers import LayerStep, check_explainable
from .trace import (
    BackwardStep,
    ChainTerm,
    ForwardStep,
    LossStep,
    PathSum,
    Trace,
    UpdateStep,
    run_step,
    sgd_updates,
)

if TYPE_CHECKING:
    from ..core.model import Sequential

MAX_BATCH = 16
"""Largest batch ``explain`` accepts: every sample's numbers are shown."""

MAX_DETAIL_PARAMS = 64
"""Networks with at most this many parameters get every weight's chain rule written out, factor by factor."""

GRADCHECK_ENTRIES = 32
"""Above ``MAX_DETAIL_PARAMS``, the gradient check samples this many entries per array."""


@dataclass
class Explanation:
    """One training step of a model on a batch, with every intermediate number.

    ``steps`` lists, in order, the forward block records, the loss, the
    backward block records (from the output down), each hidden unit's ∂L/∂a as a
    sum over the units it feeds and the per-weight chain-rule
    terms (small networks only) and the SGD updates (when a rate was given).
    ``gradcheck_error`` is the largest relative error between the backward
    pass and central finite differences, and ``gradcheck_passed`` the
    verdict of ``chainrule.gradcheck``.
    """

    trace: Trace
    gradcheck_error: float
    gradcheck_tol: float
    gradcheck_passed: bool
    model_repr: str
    n_params: int
    lr: float | None = None
    applied: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def detailed(self) -> bool:
        """Whether every weight's chain rule is written out (at most ``MAX_DETAIL_PARAMS`` parameters)."""
        return self.n_params <= MAX_DETAIL_PARAMS

    @property
    def forward(self) -> list[ForwardStep]:
        return self.trace.forward

    @property
    def loss(self) -> LossStep:
        return self.trace.loss

    @property
    def backward(self) -> list[BackwardStep]:
        """Backward records in layer order 1..L (``steps`` lists them from the output down)."""
        return self.trace.backward

    @property
    def chain(self) -> list[ChainTerm]:
        return self.trace.chain

    @property
    def paths(self) -> list[PathSum]:
        """Each hidden unit's ∂L/∂a as the sum over the units it feeds (small networks only)."""
        return self.trace.paths

    @property
    def updates(self) -> list[UpdateStep]:
        return self.trace.updates

    @property
    def layers(self) -> list[LayerStep]:
        """Every layer's labelled numbers, forward and backward (Dropout's mask, BatchNorm's μ, σ², x̂, ...)."""
        return self.trace.layers

    @property
    def dense(self) -> bool:
        """Whether the network is Dense blocks, written out block by block and drawn weight by weight."""
        return bool(self.trace.forward)

    @property
    def steps(self) -> list[ForwardStep | LossStep | BackwardStep | PathSum | ChainTerm | UpdateStep | LayerStep]:
        """The records in order; a network of other layers lists its layer records around the loss."""
        t = self.trace
        if not self.dense:
            return [*t.layers, t.loss, *reversed(t.layers), *t.updates]
        return [*t.forward, t.loss, *reversed(t.backward), *t.paths, *t.chain, *t.updates]

    def to_text(self, precision: int = 5) -> str:
        """Plain text for a terminal, at most 80 columns wide."""
        from .by_layer import render_layers_text
        from .text import render_text

        return render_text(self, precision) if self.dense else render_layers_text(self, precision)

    def to_markdown(self, precision: int = 5) -> str:
        """Markdown with LaTeX maths ($…$ inline, $$…$$ display) for GitHub and Jupyter."""
        from .by_layer import render_layers_markdown
        from .markdown import render_markdown

        return render_markdown(self, precision) if self.dense else render_layers_markdown(self, precision)

    def _repr_markdown_(self) -> str:
        return self.to_markdown()

    def to_html(
        self,
        path: str | Path,
        precision: int = 5,
        *,
        feature_names: Sequence[str] | None = None,
        class_names: Sequence[str] | None = None,
    ) -> Path:
        """Write one self-contained HTML page (no network requests) that draws this step; return its path.

        The network is drawn as SVG with a forward view (z, a, W, b) and a backward view (δ, ∂L/∂W,
        ∂L/∂b); hovering over or focusing a weight or bias shows its chain-rule product and update.
        Numbers are those of ``to_text(precision)``. ``feature_names`` and ``class_names`` label the
        input and output units (shown as text). The folder of ``path`` must exist.
        """
        from .html import write_explanation

        return write_explanation(self, path, precision, feature_names, class_names)

    def _repr_html_(self) -> str:
        """The page of ``to_html`` for a notebook, in a sandboxed iframe."""
        from .html import NOTEBOOK_HEIGHT, explanation_html, iframe

        return iframe(explanation_html(self), NOTEBOOK_HEIGHT["explain"])

    def save_diagrams(self, folder: str | Path, precision: int = 3) -> list[Path]:
        """Write ``forward.png`` and ``backward.png`` into ``folder`` (needs matplotlib); return their paths.

        The numbers on the diagrams are shown with ``precision`` significant digits.
        """
        from .diagram import save_diagrams

        return save_diagrams(self, folder, precision)

    def __str__(self) -> str:
        return self.to_text()


def explain(
    model: Sequential, X: Any, y: Any, loss: str | Loss, lr: float | None = None, apply: bool = False
) -> Explanation:
    """Explain one training step of ``model`` on the batch (X, y), number by number.

    Parameters
    ----------
    model : Sequential
        Any of chainrule's layers, and any layer with ``forward_terms()`` and ``backward_terms(dOut)``
        (see ``chainrule.layers.terms``). A network of Dense layers, each optionally followed by one
        activation, is also written out weight by weight.
    X : array-like, shape (n_samples, n_features)
        The batch; at most ``MAX_BATCH`` samples.
    y : array-like
        Targets, in any form ``loss`` accepts.
    loss : str or Loss
        The loss, by name (``"sse"``, ``"bce"``, …) or as an object.
    lr : float, optional
        Learning rate α; when given, the plain SGD update w − α·∂L/∂w is shown.
    apply : bool
        Perform that update on ``model`` (needs ``lr``), with the running statistics and the generator as
        the step left them. Otherwise the model's weights, state, generator, gradients and caches are left
        exactly as they were.

    The step runs in training mode: Dropout draws its mask from a copy of the model's generator (the
    mask the model's next draw would give; shown in ``layers``), BatchNorm uses the batch's statistics.

    Raises
    ------
    ValueError
        A batch larger than ``MAX_BATCH``, mismatched shapes, or ``apply`` without ``lr``.
    TypeError
        A layer that is neither Dense, an activation, nor a layer with ``forward_terms``/``backward_terms``.
    """
    if getattr(model, "stacked", False):
        raise TypeError("explain writes out one network; pass ens.member(i), a Sequential, to explain member i.")
    check_explainable(model)  # TypeError on unsupported layers, before anything runs
    objective = model.objective(loss)  # refuses a pair that would squash twice
    if apply and lr is None:
        raise ValueError("apply=True needs a learning rate, e.g. explain(model, X, y, 'sse', lr=0.1, apply=True).")
    if lr is not None and (isinstance(lr, bool) or not np.isfinite(lr) or lr <= 0):
        raise ValueError(f"lr must be a positive number; received lr={lr!r}.")
    Xa = model.check_input(X)
    if len(Xa) > MAX_BATCH:
        raise ValueError(
            f"explain shows every sample's numbers, so it takes at most MAX_BATCH = {MAX_BATCH} samples; "
            f"received {len(Xa)}. Pass a slice such as X[:{MAX_BATCH}]."
        )
    Y = objective.loss.prepare_targets(y, model.n_out, model.dtype)
    if len(Y) != len(Xa):
        raise ValueError(f"X has {len(Xa)} samples but y has {len(Y)}.")

    detail = model.n_params <= MAX_DETAIL_PARAMS
    work = model.copy()  # the same layers and weights: the user's model keeps its gradients and caches
    drawn_from = model.rng.bit_generator.state  # Dropout draws the masks the model's next step would draw
    work.rng.bit_generator.state = drawn_from
    with np.errstate(over="ignore", under="ignore"):
        trace = run_step(work, Xa, Y, work.objective(objective.loss), detail)
        after_step = work.rng.bit_generator.state, work.flat_state.copy()  # BatchNorm's running statistics
        work.rng.bit_generator.state = drawn_from  # the check draws the step's Dropout masks again
        check = gradcheck(work, Xa, Y, objective.loss, max_entries=None if detail else GRADCHECK_ENTRIES)
    notes = []
    if lr is not None:
        if trace.forward:
            trace.updates = sgd_updates(trace.backward, trace.forward, float(lr))
        else:
            trace.updates = layer_updates(trace.layers, float(lr))
        opt = model.optimizer_
        if opt is not None and not _plain_sgd(opt):
            notes.append(
                f"The model was fitted with {opt!r}; the updates shown are plain SGD (w − α·∂L/∂w), "
                "not what that optimiser would do."
            )
    if apply:
        if trace.forward:
            from .trace import blocks

            owners = [dense for dense, _ in blocks(model)]
        else:
            owners = list(model.layers)
        for up in trace.updates:
            owners[up.layer - 1].params[up.param][...] = up.new
        model.rng.bit_generator.state, model.flat_state[...] = after_step  # as the training step left them
    return Explanation(
        trace=trace,
        gradcheck_error=check.max_error,
        gradcheck_tol=check.tol,
        gradcheck_passed=check.passed,
        model_repr=repr(model),
        n_params=model.n_params,
        lr=None if lr is None else float(lr),
        applied=apply,
        notes=notes,
    )


def layer_updates(layers: list[LayerStep], lr: float) -> list[UpdateStep]:
    """Plain SGD, θ − lr·∂L/∂θ, for every parameter of every layer (``layer`` is the layer's 1-based index)."""
    return [
        UpdateStep(step.index, name, step.params[name], step.grads[name], step.params[name] - lr * step.grads[name], lr)
        for step in layers
        for name in step.params
    ]


def _plain_sgd(opt: Any) -> bool:
    return (
        type(opt) is SGD and not opt.momentum and not opt.weight_decay and opt.clip_norm is None and not opt.clip_value
    )
