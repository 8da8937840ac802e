"""Backpropagation explained step by step, with the real numbers, for any small network.

    import chainrule as cr
    model, X, y, loss, lr = cr.explain.EXAMPLES["single-neuron"]()
    ex = cr.explain(model, X, y, loss, lr=lr)      # the model is left unchanged
    print(ex.to_text())                            # or ex.to_markdown(), ex.save_diagrams("out/")

``chainrule.explain`` is a module that can be called: ``cr.explain(...)`` is
``cr.explain.explain(...)``.

``frozen={"b"}`` leaves the named parameters as they are (as ``fit(..., frozen=...)`` does);
``optimizer=model.optimizer_`` writes out that optimiser's real update (momentum's v, Adam's m, v and
bias corrections, clipping and weight decay) instead of plain SGD; ``ex.to_text(notation="mazur")``
gives the same numbers under Mazur's names (w1…w8, net_h1, out_h1, E_o1, E_o2, E_total).

Every network is written out layer by layer (``ex.layers``): each layer gives its numbers as
``Term`` records (symbol, formula, array and a ``Role`` such as input, weight, weight gradient or
per-window winner) through ``forward_terms()`` and ``backward_terms(dOut)``, and explain reads the
roles. Dense networks are also written out block by block and weight by weight.

Limits: batches of at most ``MAX_BATCH`` (16) samples; every weight's chain
rule, and every hidden unit's ∂L/∂a as the sum over the units it feeds
(``ex.paths``), is written out for networks of at most ``MAX_DETAIL_PARAMS`` (64)
parameters, larger ones get the layer-level (matrix) explanation, and arrays
of more than ``MAX_SHOWN_ENTRIES`` (48) numbers are summarised by shape and norms.
"""

import sys
import types

from ..layers.terms import Role, Term
from .examples import EXAMPLES, from_layers
from .explanation import GRADCHECK_ENTRIES, MAX_BATCH, MAX_DETAIL_PARAMS, Explanation, explain
from .layers import LayerStep
from .text import MAX_SHOWN_ENTRIES
from .trace import BackwardStep, ChainTerm, ForwardStep, LossStep, PathSum, UpdateStep

__all__ = [
    "EXAMPLES",
    "GRADCHECK_ENTRIES",
    "MAX_BATCH",
    "MAX_DETAIL_PARAMS",
    "MAX_SHOWN_ENTRIES",
    "BackwardStep",
    "ChainTerm",
    "Explanation",
    "ForwardStep",
    "LayerStep",
    "LossStep",
    "PathSum",
    "Role",
    "Term",
    "UpdateStep",
    "explain",
    "from_layers",
]


class _CallableModule(types.ModuleType):
    def __call__(self, *args, **kwargs) -> Explanation:
        return explain(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
