"""What other tools write around a chain of dense layers and activations, read as what it means.

* **Outputs** (skl2onnx): besides the probabilities, a label output ArgMax → ArrayFeatureExtractor(classes)
  → [Reshape to (−1,)] → Cast/Identity… (a multilabel one: Binarizer(0.5) → Cast), and a ZipMap of the
  probabilities into one dict per row. They are recognised from the output back and give the class labels;
  the probabilities are the model's output.
* **Pass-through ops**: Cast to the model's dtype (a no-op; a Cast of the input to float32 or float64 makes
  that the model's dtype); Reshape to (−1, k) of an (N, k) tensor and Flatten(axis=1) of a 2-D one
  (no-ops); Identity after an activation (a no-op; after a dense layer it is chainrule's identity layer).
* **A binary classifier's pair** (skl2onnx): Concat(1 − σ(z), σ(z)) of a one-column z. It is read as
  softmax(−z/2, z/2), which is the same pair: the dense layer before it gains a second column, W·[−½, ½].
* **LogSoftmax**, as the last op: read as Softmax. The model's output is then the probabilities exp(Y) of
  the file's Y (log them for the file's numbers); categorical cross-entropy fuses with it as with any Softmax.

``step`` gives the chain step of one such node (None for other ops); ``settle`` turns the steps into plain
dense and activation steps once the chain is read, checking the dtypes and widths they claim.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .._archive import short
from ._errors import OnnxFileError
from ._safe import DTYPES

if TYPE_CHECKING:
    from ._load import _Graph
    from .graph import Node as _Node

ML_OPS = ("ZipMap", "ArrayFeatureExtractor", "Binarizer", "Scaler")  # the ai.onnx.ml ops read
OPS = ("Cast", "Reshape", "Flatten", "LogSoftmax", "Concat", "ArgMax", *ML_OPS)
Fail = Callable[[str], OnnxFileError]


@dataclass(frozen=True)
class Head:
    """An output derived from the probabilities ``source``: the nodes it takes and the class labels it names."""

    source: str
    classes: list[Any] | None  # None: the output names no labels (multilabel: column j is label j)
    nodes: frozenset[int]


# ---------------------------------------------------------------- outputs
def main_output(graph: _Graph, names: list[str]) -> tuple[str, list[Any] | None, set[int]]:
    """The tensor the chain ends in, the class labels the other outputs name, and the nodes they take."""
    heads: list[Head] = []
    plain: list[str] = []
    for name in names:
        head = _zipmap(graph, name) or _label(graph, name)
        if head is None:
            plain.append(name)
        else:
            heads.append(head)
    sources = {_unaliased(graph, t) for t in [h.source for h in heads] + plain}
    if len(sources) != 1 or len(plain) > 1:
        raise graph.fail(
            f"its graph has {len(names)} outputs ({', '.join(short(n, 40) for n in names)}); chainrule reads one "
            "output, optionally with a label output and a ZipMap of it (as skl2onnx writes)."
        )
    labels = [h.classes for h in heads if h.classes is not None]
    if any(c != labels[0] for c in labels):
        raise graph.fail(f"its label output and ZipMap name different classes ({labels[0]} and {labels[-1]}).")
    nodes = set().union(*(h.nodes for h in heads)) if heads else set()
    return (plain[0] if plain else heads[0].source), labels[0] if labels else None, nodes


def _unaliased(graph: _Graph, name: str) -> str:
    """The tensor ``name`` copies through Identity nodes (itself if none)."""
    seen: set[int] = set()
    node = graph.producer.get(name)
    while node is not None and node.op == "Identity" and len(node.inputs) == 1 and node.index not in seen:
        seen.add(node.index)
        name = node.inputs[0]
        node = graph.producer.get(name)
    return name


def _zipmap(graph: _Graph, name: str) -> Head | None:
    node = graph.producer.get(name)
    if node is None or node.op != "ZipMap":
        return None
    found = [node.attrs[k] for k in ("classlabels_int64s", "classlabels_strings") if k in node.attrs]
    if len(found) != 1 or len(node.inputs) != 1 or set(node.attrs) - {"classlabels_int64s", "classlabels_strings"}:
        raise graph.fail(f"{node.where} needs one input and one list of class labels.")
    return Head(node.inputs[0], list(found[0]), frozenset({node.index}))


def _label(graph: _Graph, name: str) -> Head | None:
    """ArgMax(P) → ArrayFeatureExtractor(classes) → [Reshape to (−1,)] → Cast/Identity…, or Binarizer(P) →
    Cast/Identity… for multilabel, read from the end."""
    nodes: set[int] = set()
    node = graph.producer.get(name)
    while node is not None and node.op in ("Cast", "Identity") and len(node.inputs) == 1 and node.index not in nodes:
        nodes.add(node.index)
        node = graph.producer.get(node.inputs[0])
    if node is not None and node.op == "Binarizer" and node.attrs == {"threshold": 0.5} and len(node.inputs) == 1:
        return Head(node.inputs[0], None, frozenset(nodes | {node.index}))
    if node is not None and node.op == "Reshape" and _shape(graph, node) == [-1]:
        nodes.add(node.index)
        node = graph.producer.get(node.inputs[0])
    if node is None or node.op != "ArrayFeatureExtractor" or len(node.inputs) != 2:
        return None
    classes = graph.constants.get(node.inputs[0])
    argmax = graph.producer.get(node.inputs[1])
    if classes is None or classes.ndim != 1 or classes.dtype.kind not in "iO" or argmax is None:
        return None
    if argmax.op != "ArgMax" or argmax.attrs.get("axis", 0) not in (1, -1) or argmax.attrs.get("select_last_index", 0):
        return None
    if set(argmax.attrs) - {"axis", "keepdims", "select_last_index"}:
        return None
    return Head(argmax.inputs[0], classes.tolist(), frozenset(nodes | {node.index, argmax.index}))


def _shape(graph: _Graph, node: _Node) -> list[int] | None:
    """The target shape of a Reshape node, when it is an int64 constant (None otherwise)."""
    if len(node.inputs) != 2 or set(node.attrs) - {"allowzero"}:
        return None
    shape = graph.constants.get(node.inputs[1])
    return shape.tolist() if shape is not None and shape.dtype.kind == "i" and shape.ndim == 1 else None


# ---------------------------------------------------------------- steps on the chain
def step(graph: _Graph, node: _Node) -> tuple[tuple, str, set[int]] | None:
    """The chain step of a pass-through node, the binary pair or LogSoftmax; None for any other op."""
    attrs, fail = node.attrs, graph.fail
    if node.op == "Cast":
        dtype = DTYPES.get(attrs.get("to", -1))
        if dtype is None or len(node.inputs) != 1 or set(attrs) - {"to", "saturate"}:
            raise fail(f"{node.where} casts to data type {attrs.get('to')}; chainrule computes in float32 or float64.")
        return ("cast", dtype.newbyteorder("="), node.where), node.inputs[0], {node.index}
    if node.op == "Reshape":
        shape = _shape(graph, node)
        if shape is None or len(shape) != 2 or shape[0] != -1 or shape[1] < 1:
            raise fail(f"{node.where} reshapes to {short(shape, 40)}; chainrule reads a Reshape to (-1, k) only.")
        return ("width", shape[1], node.where), node.inputs[0], {node.index}
    if node.op == "Flatten":
        if attrs.get("axis", 1) != 1 or set(attrs) - {"axis"} or len(node.inputs) != 1:
            raise fail(f"{node.where} flattens from axis {attrs.get('axis')}; chainrule reads Flatten(axis=1).")
        return ("noop", node.where), node.inputs[0], {node.index}
    if node.op == "LogSoftmax":
        if attrs.get("axis", -1) not in (1, -1) or set(attrs) - {"axis"} or len(node.inputs) != 1:
            raise fail(f"{node.where} works over axis {attrs.get('axis')}; chainrule reads the last axis.")
        return ("log_softmax", node.where), node.inputs[0], {node.index}
    if node.op == "Concat":
        return _binary_pair(graph, node)
    if node.op == "Scaler":
        return _scaler(node)
    return None


def _scaler(node: _Node) -> tuple[tuple, str, set[int]]:
    """ai.onnx.ml.Scaler, y = (x − offset)·scale, as an affine step (folded into the first dense layer)."""
    offset, scale = (np.asarray(node.attrs.get(k, ()), dtype=np.float64) for k in ("offset", "scale"))
    if set(node.attrs) - {"offset", "scale"} or len(node.inputs) != 1 or not offset.size or not scale.size:
        raise node.refuse("needs one input and its offset and scale.")
    if not (np.isfinite(offset).all() and np.isfinite(scale).all()):
        raise node.refuse("has a non-finite offset or scale.")
    return ("affine", scale, -offset * scale, node.where), node.inputs[0], {node.index}


def _binary_pair(graph: _Graph, node: _Node) -> tuple[tuple, str, set[int]]:
    """Concat(1 − σ(z), σ(z)) over the last axis: the step, z, and the three nodes."""
    if node.attrs.get("axis") in (1, -1) and len(node.inputs) == 2 and set(node.attrs) == {"axis"}:
        sub, sig = graph.producer.get(node.inputs[0]), graph.producer.get(node.inputs[1])
        if sub is not None and sig is not None and sub.op == "Sub" and sig.op == "Sigmoid" and not sub.attrs:
            one = graph.constants.get(sub.inputs[0])
            if one is not None and one.size == 1 and one.dtype.kind == "f" and float(one.reshape(-1)[0]) == 1.0:
                if sub.inputs[1] == node.inputs[1] and not sig.attrs:
                    return ("binary", node.where), sig.inputs[0], {node.index, sub.index, sig.index}
    raise graph.fail(f"{node.where} is not the pair (1 − σ(z), σ(z)) of a binary classifier, the one Concat read.")


def settle(items: list[Any], dtype: np.dtype, width: int | None, fail: Fail) -> tuple[list[Any], np.dtype]:
    """Drop the pass-through steps (input to output order), checking the dtypes and widths they state.

    Returns the remaining items (layers and elementwise steps) and the model's dtype: the input's, or that
    of the Casts of the input.
    """
    casts = [s for s in items if _kind(s) == "cast"]
    targets = {s[1] for s in casts}
    if len(targets) > 1:
        raise fail(f"its Casts go to {len(targets)} dtypes ({', '.join(sorted(map(str, targets)))}); one is needed.")
    if targets and targets != {dtype} and _kind(items[0]) != "cast":
        raise fail(f"{casts[0][2]} changes the dtype inside the network; chainrule casts only the input.")
    out: list[Any] = []
    for s in items:
        if _kind(s) == "width":
            if width is not None and width != s[1]:
                raise fail(f"{s[2]} reshapes (N, {width}) to (-1, {s[1]}), which changes the rows; it must keep them.")
            width = s[1]
        elif _kind(s) is None:  # a layer: the width it gives, where it is known
            shape = s.input_shape if width is None else (width,)
            try:
                out_shape = s.output_shape(shape) if shape is not None else None
            except ValueError:
                out_shape = None
            width = out_shape[0] if out_shape is not None and len(out_shape) == 1 else None
        if _kind(s) not in ("cast", "noop", "width"):
            out.append(s)
    return out, (targets.pop() if targets else dtype)


def outputs(items: list[Any], fail: Fail) -> list[Any]:
    """After folding: the binary pair and LogSoftmax as Softmax (the layer before the pair gains its column)."""
    from ..layers import Activation

    out: list[Any] = []
    for k, s in enumerate(items):
        if _kind(s) == "log_softmax" and k != len(items) - 1:
            raise fail(f"{s[1]} is not the last op; chainrule reads LogSoftmax only as the output.")
        if _kind(s) == "binary":
            pair = np.array([[-0.5, 0.5]])
            both = out[-1].onnx_fold_output(pair, np.zeros(2)) if out and _kind(out[-1]) is None else None
            if both is None:
                raise fail(f"{s[1]} needs a dense layer of one output before its sigmoid.")
            out[-1] = both
        if _kind(s) in ("binary", "log_softmax"):
            s = Activation.registry["softmax"]()
        out.append(s)
    return out


def _kind(item: Any) -> str | None:
    """The kind of a step ("cast", "affine", …); None for a layer."""
    return item[0] if isinstance(item, tuple) else None
