"""The layers on (N, C, L) signals in ONNX: Conv, MaxPool, AveragePool, GlobalAveragePool, Flatten and Reshape.

Export writes each layer as one node (GlobalAvgPool1D as GlobalAveragePool, whose (N, C, 1) a Flatten
makes (N, C)); import reads those nodes back, as chainrule, PyTorch's legacy exporter (Flatten) and its
default exporter (Reshape to (N, −1)) write them. A node using what chainrule's layers do not have
(groups, ceil_mode, padding on a pooling, auto_pad other than NOTSET, asymmetric or non-"same" uneven
padding) is refused, naming the node and the attribute.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..layers import AvgPool1D, Conv1D, Flatten, GlobalAvgPool1D, Layer, MaxPool1D

SIGNAL_LAYERS = (Conv1D, MaxPool1D, AvgPool1D, GlobalAvgPool1D, Flatten)
SIGNAL_OPS = {"Conv", "MaxPool", "AveragePool", "GlobalAveragePool", "Flatten", "Reshape"}
DESCRIBE = "Conv, MaxPool, AveragePool and GlobalAveragePool on (N, C, L) signals"


# ---------------------------------------------------------------- export
def is_signal_layer(layer: Any) -> bool:
    return isinstance(layer, SIGNAL_LAYERS)


def check_signal_layer(layer: Layer, i: int) -> None:
    """Refuse a layer whose weights ONNX cannot carry (NaN or infinity)."""
    if not all(np.isfinite(p).all() for p in layer.params.values()):
        raise ValueError(f"layer {i}, {layer!r}, has NaN or infinite weights; they cannot be exported.")


def emit_signal_layer(g: Any, layer: Layer, x: str, out: str) -> str:
    """Write ``layer`` into the graph builder ``g`` on tensor ``x``; its output tensor is ``out``."""
    if isinstance(layer, Conv1D):
        W, b = g.const(f"{out}.W", layer.params["W"]), g.const(f"{out}.b", layer.params["b"])
        return g.node("Conv", [x, W, b], out, kernel_shape=[layer.kernel_size], strides=[layer.stride],
                      pads=list(layer.pads()), dilations=[layer.dilation], group=1)  # fmt: skip
    if isinstance(layer, (MaxPool1D, AvgPool1D)):
        op = "MaxPool" if isinstance(layer, MaxPool1D) else "AveragePool"
        return g.node(op, [x], out, kernel_shape=[layer.kernel_size], strides=[layer.stride], pads=[0, 0])
    if isinstance(layer, GlobalAvgPool1D):
        x = g.node("GlobalAveragePool", [x], f"{out}/GlobalAveragePool")  # (N, C, 1)
    return g.node("Flatten", [x], out, axis=1)


# ---------------------------------------------------------------- import
def read_signal_node(node: Any, constants: dict[str, np.ndarray], fail: Any) -> tuple[Layer, str]:
    """The layer a node computes and the tensor it reads (Flatten and Reshape to (N, −1) are both Flatten).

    ``node`` has ``op``, ``inputs``, ``attrs`` and ``where``; ``constants`` maps names to arrays.
    """
    attrs, where = node.attrs, node.where
    x = node.inputs[0] if node.inputs else ""
    if not x or x in constants:
        raise fail(f"{where} must read a computed tensor as its first input.")
    _refuse_unless(attrs.get("auto_pad", "NOTSET") == "NOTSET", where, "auto_pad other than NOTSET", fail)
    if node.op == "Conv":
        return _conv(node, constants, fail), x
    if node.op in ("MaxPool", "AveragePool"):
        k = _one(attrs.get("kernel_shape"), where, "kernel_shape", fail)
        s = _one(attrs.get("strides", [1]), where, "strides", fail)
        _refuse_unless(list(attrs.get("pads", [0, 0])) == [0, 0], where, "padding", fail)
        _refuse_unless(attrs.get("ceil_mode", 0) == 0, where, "ceil_mode=1", fail)
        _refuse_unless(list(attrs.get("dilations", [1])) == [1], where, "dilations", fail)
        _refuse_unless(attrs.get("storage_order", 0) == 0, where, "storage_order", fail)
        return (MaxPool1D(k, s) if node.op == "MaxPool" else AvgPool1D(k, s)), x
    if node.op == "GlobalAveragePool":
        return GlobalAvgPool1D(), x
    if node.op == "Flatten":
        _refuse_unless(attrs.get("axis", 1) == 1, where, f"axis={attrs.get('axis')}", fail)
        return Flatten(), x
    shape = constants.get(node.inputs[1]) if len(node.inputs) == 2 else None  # Reshape
    # (0 or −1, −1), or (−1, C·L) as PyTorch's default exporter writes it: the layer after checks that C·L fits
    first = (-1,) if attrs.get("allowzero", 0) else (-1, 0)  # with allowzero a 0 is a length, not "copy N"
    if shape is None or shape.shape != (2,) or shape[0] not in first or not (shape[1] == -1 or shape[1] > 0):
        raise fail(f"{where} must reshape to (N, −1) with a constant shape; chainrule reads no other Reshape.")
    return Flatten(), x


def signal_input_shape(sample: tuple[int | None, ...] | None, fail: Any) -> tuple[int, int] | None:
    """The model's input shape (channels, length) for a graph whose input X is (N, C, L); None for (N, n_features)."""
    if sample is None or len(sample) != 2:
        return None
    if None in sample or min(sample) < 1:
        raise fail(f"its input X is (N, C, L) with C, L = {sample}; chainrule needs both as numbers.")
    return sample[0], sample[1]


def drop_redundant_flattens(layers: list[Layer]) -> list[Layer]:
    """``layers`` without a Flatten whose input is already flat (after GlobalAvgPool1D or another Flatten)."""
    kept: list[Layer] = []
    for layer in layers:
        if not (isinstance(layer, Flatten) and kept and isinstance(kept[-1], (GlobalAvgPool1D, Flatten))):
            kept.append(layer)
    return kept


def _conv(node: Any, constants: dict[str, np.ndarray], fail: Any) -> Conv1D:
    attrs, where = node.attrs, node.where
    W = constants.get(node.inputs[1]) if len(node.inputs) > 1 else None
    if W is None or W.ndim != 3:
        raise fail(f"{where} needs a constant weight of shape (O, C, K): chainrule reads one-dimensional Conv.")
    O, C, K = W.shape  # noqa: E741
    b = constants.get(node.inputs[2]) if len(node.inputs) > 2 and node.inputs[2] else np.zeros(O)
    if b is None or b.shape != (O,):
        raise fail(f"{where} needs a constant bias of shape ({O},).")
    _refuse_unless(attrs.get("group", 1) == 1, where, f"group={attrs.get('group')}", fail)
    _refuse_unless(_one(attrs.get("kernel_shape", [K]), where, "kernel_shape", fail) == K, where, "kernel_shape", fail)
    stride = _one(attrs.get("strides", [1]), where, "strides", fail)
    dilation = _one(attrs.get("dilations", [1]), where, "dilations", fail)
    left, right = (list(attrs.get("pads", [0, 0])) + [None, None])[:2]
    padding: int | str = left
    if left != right:
        total = dilation * (K - 1)
        same = stride == 1 and (left, right) == (total // 2, total - total // 2)
        _refuse_unless(same, where, f"pads {attrs.get('pads')} (unequal, and not 'same')", fail)
        padding = "same"
    return Conv1D(C, O, K, stride=stride, padding=padding, dilation=dilation, W=W, b=b)


def _one(value: Any, where: str, name: str, fail: Any) -> int:
    if not isinstance(value, (list, tuple)) or len(value) != 1 or not isinstance(value[0], int):
        raise fail(f"{where} has {name}={value!r}; one-dimensional layers need one whole number.")
    return value[0]


def _refuse_unless(ok: bool, where: str, what: str, fail: Any) -> None:
    if not ok:
        raise fail(f"{where} uses {what}, which chainrule's layers do not have.")
