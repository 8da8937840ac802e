"""``explain(model, X, y, loss)``: one training step, written out, and the Explanation that holds it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..core.frozen import frozen_parameters
from ..core.losses import Loss
from ..core.optimizers import SGD, Optimizer, get_optimizer
from ..gradcheck import gradcheck
from .layers import LayerStep, check_explainable
from .optimizer import optimizer_markdown, optimizer_text, optimizer_updates, rule_lines
from .trace import (
    BackwardStep,
    ChainTerm,
    ForwardStep,
    LossStep,
    PathSum,
    Trace,
    UpdateStep,
    blocks,
    run_step,
    sgd_updates,
)

if TYPE_CHECKING:
    from ..core.model import Sequential
    from ..core.objective import Objective

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
    optimizer: str | None = None  # the optimiser whose real update ``updates`` holds (None: plain SGD at ``lr``)
    optimizer_step: int = 0  # the step count t of that update
    rule: list[str] = field(default_factory=list)  # its update rule, from its docstring

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

    def to_text(self, precision: int = 5, notation: str = "chainrule") -> str:
        """Plain text for a terminal, at most 80 columns wide.

        ``notation="mazur"`` renames and reorders the same numbers as Mazur's 2-2-2 walk-through writes
        them (w1…w8, net_h1, out_h1, E_o1, E_o2, E_total; see ``chainrule.explain.notation``).
        """
        from .by_layer import render_layers_text
        from .notation import check_notation, render_mazur_text
        from .text import render_text

        check_notation(notation, self)
        if notation == "mazur":
            return render_mazur_text(self, precision)

        return render_text(self, precision) if self.dense else render_layers_text(self, precision)

    def to_markdown(self, precision: int = 5) -> str:
        """Markdown with LaTeX maths ($…$ inline, $$…$$ display) for GitHub and Jupyter."""
        from .by_layer import render_layers_markdown
        from .markdown import render_markdown

        return render_markdown(self, precision) if self.dense else render_layers_markdown(self, precision)

    def update_lines(self, precision: int = 5, markdown: bool = False) -> list[str]:
        """The optimiser's real update (``explain(..., optimizer=...)``) as lines of text or of Markdown."""
        return optimizer_markdown(self, precision) if markdown else optimizer_text(self, precision)

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
    model: Sequential,
    X: Any,
    y: Any,
    loss: str | Loss | Objective,
    lr: float | None = None,
    apply: bool = False,
    frozen: Iterable[str] | None = None,
    optimizer: str | Optimizer | None = None,
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
    loss : str, Loss or Objective
        The loss, by name (``"sse"``, ``"bce"``, …) or as an object; an Objective
        (``model.objective(loss, l2=α, l1=β)``) brings its penalty terms, which the step's gradients,
        the gradient check and the shown update then include.
    lr : float, optional
        Learning rate α; when given, the plain SGD update w − α·∂L/∂w is shown.
    apply : bool
        Perform that update on ``model`` (needs ``lr``), with the running statistics and the generator as
        the step left them. Otherwise the model's weights, state, generator, gradients and caches are left
        exactly as they were.
    frozen : iterable of str, optional
        Parameters the update leaves as they are, named as ``fit`` names them (``{"b"}``: every bias;
        ``{"2.W"}``: the W of ``model.layers[2]``). Their gradients are still shown.
    optimizer : str or Optimizer, optional
        Show that optimiser's real update instead of plain SGD: momentum's v, Nesterov's look-ahead,
        RMSProp's s, Adam's m, v, bias corrections and step, with weight decay and clipping where they act.
        Pass ``model.optimizer_`` for the one the model trains with: a copy of it takes the step, so its
        moments carry on from the training and the optimiser itself is left unchanged. A name (``"adam"``)
        makes a fresh one, at ``lr`` when given.

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
    frozen_pairs = set(frozen_parameters(model, frozen))  # ValueError for a name no layer has
    if apply and lr is None and optimizer is None:
        raise ValueError("apply=True needs a learning rate, e.g. explain(model, X, y, 'sse', lr=0.1, apply=True).")
    if lr is not None and (isinstance(lr, bool) or not np.isfinite(lr) or lr <= 0):
        raise ValueError(f"lr must be a positive number; received lr={lr!r}.")
    opt = None if optimizer is None else _chosen_optimizer(optimizer, lr)
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
        trace = run_step(work, Xa, Y, work.objective(objective.loss, l2=objective.l2, l1=objective.l1), detail)
        after_step = work.rng.bit_generator.state, work.flat_state.copy()  # BatchNorm's running statistics
        trained_grads = work.flat_grads.copy()  # what the optimiser steps with: the data term plus any penalty
        work.rng.bit_generator.state = drawn_from  # the check draws the step's Dropout masks again
        check = gradcheck(work, Xa, Y, work.objective(objective.loss, l2=objective.l2, l1=objective.l1),
                          max_entries=None if detail else GRADCHECK_ENTRIES)  # fmt: skip
    notes = []
    if objective.penalized:
        values, grads = zip(*objective.penalty_terms())
        notes.append(
            f"The objective adds the penalty {' + '.join(values)}: each ∂L/∂W shown is the data term; the gradient "
            f"that trains, and that the gradient check checked, adds {' + '.join(grads)}."
        )
    owners = [dense for dense, _ in blocks(model)] if trace.forward else list(model.layers)
    rule: list[str] = []
    if lr is not None or opt is not None:
        rate = float(lr if opt is None else np.asarray(opt.current_lr))
        if trace.forward:
            trace.updates = sgd_updates(trace.backward, trace.forward, rate)
        else:
            trace.updates = layer_updates(trace.layers, rate)
        freeze_updates(trace.updates, owners, model, frozen_pairs)
        if opt is not None:
            offsets = [flat_offset(model, owners[up.layer - 1].params[up.param]) for up in trace.updates]
            for up, off in zip(trace.updates, offsets):
                up.grad = trained_grads[off : off + up.old.size].reshape(up.old.shape)
            stepped = optimizer_updates(opt, trace.updates, offsets, bool(objective.penalized))
            rule = rule_lines(opt)
        fitted = model.optimizer_
        if opt is None and fitted is not None and not _plain_sgd(fitted):
            notes.append(
                f"The model was fitted with {fitted!r}; the updates shown are plain SGD (w − α·∂L/∂w), "
                "not what that optimiser would do: pass optimizer=model.optimizer_ to see its own update."
            )
    if apply:
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
        lr=None if lr is None or opt is not None else float(lr),
        applied=apply,
        notes=notes,
        optimizer=None if opt is None else repr(opt),
        optimizer_step=0 if opt is None else stepped.t,
        rule=rule,
    )


def layer_updates(layers: list[LayerStep], lr: float) -> list[UpdateStep]:
    """Plain SGD, θ − lr·∂L/∂θ, for every parameter of every layer (``layer`` is the layer's 1-based index)."""
    return [
        UpdateStep(step.index, name, step.params[name], step.grads[name], step.params[name] - lr * step.grads[name], lr)
        for step in layers
        for name in step.params
    ]


def freeze_updates(updates: list[UpdateStep], owners: list, model: Sequential, frozen: set[tuple[int, str]]) -> None:
    """Mark the updates of frozen parameters (``owners[u.layer - 1]`` owns update u) and keep their values."""
    position = {id(layer): i for i, layer in enumerate(model.layers)}
    for up in updates:
        if (position[id(owners[up.layer - 1])], up.param) in frozen:
            up.new, up.frozen = up.old.copy(), True


def _chosen_optimizer(optimizer: str | Optimizer, lr: float | None) -> Optimizer:
    """The optimiser whose update to show: an instance as given, a name made fresh (at ``lr`` if given)."""
    if isinstance(optimizer, Optimizer) and lr is not None:
        raise ValueError(f"give lr or an optimizer object, not both: {optimizer!r} carries its own rate.")
    opt = get_optimizer(optimizer, **({} if lr is None or isinstance(optimizer, Optimizer) else {"lr": lr}))
    if opt.n_values is not None:
        raise ValueError(f"{opt!r} holds one value per ensemble member; explain writes out one network.")
    return opt


def flat_offset(model: Sequential, param: np.ndarray) -> int:
    """Where the view ``param`` starts in ``model.flat_params`` (in elements)."""
    flat = model.flat_params
    start = param.__array_interface__["data"][0] - flat.__array_interface__["data"][0]
    assert 0 <= start < flat.nbytes and np.shares_memory(param, flat), "a parameter outside the flat buffer"
    return start // flat.itemsize


def _plain_sgd(opt: Any) -> bool:
    return (
        type(opt) is SGD and not opt.momentum and not opt.weight_decay and opt.clip_norm is None and not opt.clip_value
    )
