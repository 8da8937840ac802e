"""Reading 1-D signal layers from ONNX: the helpers Conv1D, Flatten and GlobalAvgPool1D call from ``from_onnx``.

Padding (explicit pads or ``auto_pad``) is bounded by the graph's own input length; a mean over the length
is recognised by running its few nodes on a probe, whichever way an exporter spelled it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._archive import short
from .graph import Node


def auto_pads(node: Node, kernel: int, stride: int, dilation: int, length: int | None) -> tuple[int, int]:
    """The (left, right) padding an ``auto_pad`` of SAME_UPPER, SAME_LOWER or VALID stands for, else ``pads``.

    SAME pads so that the output has ⌈L / stride⌉ positions: total = max(0, (⌈L/s⌉ − 1)·s + d·(K − 1) + 1 − L),
    the odd one at the end (UPPER) or the start (LOWER). With stride 1 this needs no length; otherwise the
    graph's input length must be known.
    """
    mode = node.attrs.get("auto_pad", "NOTSET")
    if mode == "VALID":
        return 0, 0
    if mode == "NOTSET":
        pads = node.attrs.get("pads", (0, 0))
        if (
            not isinstance(pads, (list, tuple))
            or len(pads) != 2
            or not all(isinstance(p, int) and p >= 0 for p in pads)
        ):
            raise node.refuse(f"has pads {short(pads, 40)}; a 1-D layer needs two whole numbers ≥ 0.")
        return pads[0], pads[1]
    if mode not in ("SAME_UPPER", "SAME_LOWER"):
        raise node.refuse(f"has auto_pad {short(mode, 20)!r}; NOTSET, VALID, SAME_UPPER or SAME_LOWER are read.")
    span = dilation * (kernel - 1) + 1
    if stride == 1:
        total = span - 1
    elif length is None:
        raise node.refuse(f"uses auto_pad {mode} with stride {stride} on an input of unknown length.")
    else:
        total = max(0, (-(-length // stride) - 1) * stride + span - length)
    small, large = total // 2, total - total // 2
    return (small, large) if mode == "SAME_UPPER" else (large, small)


def flattens(node: Node, constants: dict[str, np.ndarray], batch: int | None = None) -> str:
    """The input of a Flatten(axis=1), or of a Reshape to (N, −1) with a constant shape: (0 or −1, −1),
    (−1, C·L) as PyTorch's default exporter writes it, or (N, −1) with the graph's fixed batch N."""
    if node.op == "Flatten":
        if node.attrs.get("axis", 1) != 1:
            raise node.refuse(f"uses axis={node.attrs.get('axis')}, which chainrule's layers do not have.")
        return node.inputs[0]
    shape = constants.get(node.inputs[1]) if len(node.inputs) == 2 else None
    first = {-1} if node.attrs.get("allowzero", 0) else {-1, 0}  # with allowzero a 0 is a length, not "copy N"
    if batch is not None:
        first.add(batch)
    if shape is None or shape.shape != (2,) or shape[0] not in first or not (shape[1] == -1 or shape[1] > 0):
        raise node.refuse("must reshape to (N, −1) with a constant shape; chainrule reads no other Reshape.")
    return node.inputs[0]


def conv_padding(node: Node, graph: Any, kernel: int, stride: int, dilation: int) -> int | str:
    """A Conv node's padding as Conv1D takes it: a whole number, or "same" for stride 1's uneven split.

    Bounded by the graph's own input length L (when it is known): each pad at most L, the kernel's span
    at most L plus the pads, so a file cannot ask for more zeros than its signals hold.
    """
    length = graph.sample[1] if graph.sample is not None and len(graph.sample) == 2 else None
    left, right = auto_pads(node, kernel, stride, dilation, length)
    span = dilation * (kernel - 1) + 1
    if length is not None and (max(left, right) > length or span > length + left + right):
        raise node.refuse(
            f"has pads ({left}, {right}) and a kernel spanning {span} samples for an input of length {length}; "
            "a 1-D Conv pads by at most the input's length and its kernel fits the padded input."
        )
    if length is None and max(left, right) >= span:
        raise node.refuse(f"has pads ({left}, {right}) for a kernel spanning {span}; each pad must be below the span.")
    if left == right:
        return left
    total = span - 1
    node.require(
        stride == 1 and (left, right) == (total // 2, total - total // 2),
        f"pads ({left}, {right}) (unequal, not 'same')",
    )
    return "same"


GLOBAL_MEAN_OPS = frozenset({"GlobalAveragePool", "ReduceMean", "Unsqueeze", "Squeeze", "Flatten", "Reshape"})
MEAN_OPS = ("GlobalAveragePool", "ReduceMean")


def global_mean(node: Node, graph: Any) -> tuple[str, set[int]] | None:
    """(the input, the nodes) of a mean over the last axis ending at ``node``, or None.

    The nodes (at most five: an Unsqueeze, GlobalAveragePool or ReduceMean, Squeezes, a Flatten or Reshape)
    are run on a probe signal (B, 3, 5); they are the mean when they give its mean over the length.
    """
    if not graph.signals:
        return None
    chain = [node]
    while len(chain) < 5 and chain[-1].op in GLOBAL_MEAN_OPS and chain[-1].op not in MEAN_OPS[:1]:
        below = graph.producer.get(chain[-1].inputs[0]) if chain[-1].inputs else None
        if below is None or below.op not in GLOBAL_MEAN_OPS:
            break
        chain.append(below)
    for end in range(len(chain), 0, -1):  # the longest run that is a mean
        nodes = chain[:end][::-1]
        if sum(n.op in MEAN_OPS for n in nodes) != 1:
            continue
        B = graph.batch or 2
        probe = np.arange(B * 15.0).reshape(B, 3, 5) ** 2
        got = _run(nodes, probe, graph)
        if (
            got is not None
            and got.size == 3 * B
            and got.shape[:2] == (B, 3)
            and np.allclose(got.reshape(B, 3), probe.mean(-1))
        ):
            return nodes[0].inputs[0], {n.index for n in nodes}
    return None


def _run(nodes: list[Node], x: np.ndarray, graph: Any) -> np.ndarray | None:
    """``nodes`` (shape ops and means) run on ``x`` with NumPy; None where one does not apply."""
    constants = graph.constants
    try:
        for n in nodes:
            axes = n.attrs.get("axes")
            if axes is None and len(n.inputs) > 1 and n.inputs[1]:
                c = constants.get(n.inputs[1])
                if c is None or c.dtype.kind != "i":
                    return None
                axes = c.reshape(-1).tolist()
            if n.op == "GlobalAveragePool":
                x = x.mean(axis=tuple(range(2, x.ndim)), keepdims=True)
            elif n.op == "ReduceMean":
                if axes is None and n.attrs.get("noop_with_empty_axes", 0) or not axes:
                    return None
                x = x.mean(axis=tuple(axes), keepdims=bool(n.attrs.get("keepdims", 1)))
            elif n.op == "Unsqueeze":
                x = np.expand_dims(x, tuple(axes))
            elif n.op == "Squeeze":
                x = np.squeeze(x, axis=tuple(axes) if axes else None)
            elif n.op == "Flatten":
                x = x.reshape(int(np.prod(x.shape[: n.attrs.get("axis", 1)])), -1)
            else:
                flattens(n, constants, graph.batch)  # a Reshape to (N, −1), else refused
                x = x.reshape(x.shape[0], -1)
    except (ValueError, TypeError, IndexError, np.exceptions.AxisError):  # OnnxFileError is a ValueError
        return None
    return x
