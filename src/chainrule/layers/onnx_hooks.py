"""The ONNX part of the layer protocol: what a layer kind says about itself, for ``chainrule.onnx`` to drive.

``chainrule.onnx.export`` calls ``to_onnx`` on each layer; ``chainrule.onnx.load`` offers every node to the
registered classes whose ``onnx_ops`` hold its op and keeps the largest ``from_onnx`` match. A new layer
kind adds both in its own file and nothing under ``onnx/`` changes: ``layers/prelu.py`` (PRelu) and
``layers/embedding.py`` (Gather) are the shortest examples.

What they are given: ``g`` is a ``chainrule.onnx.graph.Writer`` (``const``, ``node``, ``layer`` for inner
layers, ``recipe``; ``dtype``, ``opset``); ``node`` a ``chainrule.onnx.graph.Node`` (``op``, ``inputs``,
``attrs``, ``where``, ``one_int``, ``require``, ``refuse``, ``computed_input``, ``read``); ``graph`` the graph
being read (``constants``, ``producer``, ``signals``, ``sample``, ``batch``, ``dtype``, ``layers_between``).
Helpers several kinds share are public functions in ``chainrule.onnx.graph``, ``.signals`` and ``.recipes``.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class OnnxHooks:
    """Defaults: a kind with no ONNX form, which reads nothing and folds nothing."""

    def to_onnx(self, g: Any, x: str, name: str) -> str:
        """Write this layer's inference-mode nodes on tensor ``x`` with ``g``; return the output tensor (``name``).

        Raise ValueError saying why, where this layer cannot be written (the driver adds its position).
        """
        raise g.untranslatable(f"layer type {type(self).__name__}")

    @classmethod
    def onnx_ops(cls) -> frozenset[str]:
        """The ONNX ops of the patterns ``from_onnx`` reads: the driver offers it every node of these ops."""
        return frozenset()

    @classmethod
    def from_onnx(cls, node: Any, graph: Any) -> Any:
        """``node.read(layer, x, nodes)`` for this kind's pattern ending at ``node``; None: not its pattern.

        A node of this kind's that it cannot hold is refused with ``raise node.refuse(why)``.
        """
        return None

    @classmethod
    def onnx_describe(cls) -> str:
        """What this kind writes and reads in ONNX, in a few words (for messages)."""
        ops = "/".join(sorted(cls.onnx_ops()))
        return f"{cls.__name__} ({ops})" if ops else cls.__name__

    def onnx_fold_output(self, scale: np.ndarray, shift: np.ndarray) -> Any:
        """This layer followed by y·scale + shift (scale per column, or a matrix) as one layer; None: it cannot."""
        return None

    def onnx_fold_input(self, scale: np.ndarray, shift: np.ndarray) -> Any:
        """x·scale + shift (per feature) followed by this layer as one layer; None: it cannot."""
        return None

    def onnx_redundant_after(self, previous: Any) -> bool:
        """Whether this layer, read right after ``previous`` (None: first), changes nothing and is dropped."""
        return False
