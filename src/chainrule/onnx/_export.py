"""``export``: a Sequential of Dense layers and activations as one ONNX graph, written atomically.

    X (N, n_in) ─► [Sub mean, Div scale] ─► MatMul W + Add b ─► activation ops ─► … ─► [Mul, Add] ─► Y (N, n_out)

Everything is checked (layers, parameters, preprocessing, the output folder) before a byte is written.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .._archive import atomic_write
from .._version import __version__
from ..layers import Dense
from ..layers.activations import Activation
from . import _layers, _table
from ._errors import require_onnx
from ._signal import check_signal_layer, emit_signal_layer, is_signal_layer
from ._table import Op, Param, X

if TYPE_CHECKING:
    from ..core.model import Sequential
    from ..datasets import Preprocessor

DEFAULT_OPSET = 17
MIN_OPSET = 13  # Softmax over the last axis, as chainrule's
MAX_BYTES = (1 << 31) - (16 << 20)  # one protobuf message holds at most 2 GiB; chainrule writes no external data


def export(
    model: Sequential,
    path: str | os.PathLike,
    *,
    preprocess: Preprocessor | None = None,
    opset: int | None = None,
    proba: bool = False,
    classes: Sequence[Any] | None = None,
) -> None:
    """Write ``model`` as an ONNX graph: input "X" (N, n_in), output "Y" (N, n_out), in the model's dtype.

    ``preprocess`` (a ``chainrule.datasets.Preprocessor``) puts its standardisation (X − mean) / scale at
    the front of the graph, and for a regression its target scaling y·y_scale + y_mean at the end, so Y is
    in the target's units. ``proba=True`` writes ``predict_proba``'s output: the fitted loss's Sigmoid or
    Softmax is appended to a model that ends in logits. ``classes`` (default: the preprocessor's, for a
    classifier) go into the metadata as JSON. ``opset`` defaults to 17 (13 at least).
    """
    proto = to_model_proto(model, preprocess=preprocess, opset=opset, proba=proba, classes=classes)
    _write(_check_target(path), proto.SerializeToString())


def to_model_proto(
    model: Sequential,
    *,
    preprocess: Preprocessor | None = None,
    opset: int | None = None,
    proba: bool = False,
    classes: Sequence[Any] | None = None,
) -> Any:
    """The checked ``onnx.ModelProto`` that ``export`` writes (same arguments, no file): to embed the network
    in a larger graph, as ``chainrule.sklearn``'s skl2onnx converter does."""
    onnx = require_onnx()
    opset = _check_opset(onnx, opset)
    dtype = np.dtype(model.dtype)
    layers = list(model.layers)
    if proba:
        head = _proba_head(model)
        layers += [head] if head is not None else []
    steps = [_step(layer, i, opset, dtype) for i, layer in enumerate(layers)]
    pre = _preprocessing(preprocess, math.prod(model.in_shape))  # a signal's values, each position its own
    labels = _labels(classes, preprocess)
    size = sum(p.nbytes for layer in layers for p in layer.params.values())
    if size > MAX_BYTES:
        raise ValueError(f"the model's {size:,} bytes of weights do not fit in one ONNX file (2 GiB at most).")

    g = _Builder(onnx, dtype)
    x = "X"
    if pre["mean"] is not None:
        mean, scale = (pre[k].reshape(model.in_shape) for k in ("mean", "scale"))
        x = g.node("Sub", [x, g.const("preprocess.mean", mean)], "preprocess/Sub")
        x = g.node("Div", [x, g.const("preprocess.scale", scale)], "preprocess")
    for i, step in enumerate(steps):
        x = _write_step(g, step, x, f"layers.{i}")
    if pre["y_scale"] is not None:
        x = g.node("Mul", [x, g.const("target.scale", pre["y_scale"])], "target/Mul")
        x = g.node("Add", [x, g.const("target.mean", pre["y_mean"])], "target")
    g.rename(x, "Y")

    helper = onnx.helper
    elem = helper.np_dtype_to_tensor_dtype(dtype)
    graph = helper.make_graph(
        g.nodes,
        "chainrule",
        [helper.make_tensor_value_info("X", elem, ["N", *model.in_shape])],
        [helper.make_tensor_value_info("Y", elem, ["N", model.n_out])],
        initializer=g.inits,
        doc_string=repr(model),
    )
    opsets = [helper.make_opsetid("", opset)]
    proto = helper.make_model(
        graph,
        opset_imports=opsets,
        producer_name="chainrule",
        producer_version=__version__,
        ir_version=helper.find_min_ir_version_for(opsets),
    )
    props = _metadata(model, layers[-1], labels, pre)
    helper.set_model_props(proto, props)
    onnx.checker.check_model(proto, full_check=True)
    return proto


def _metadata(model: Sequential, last: Any, labels: list[Any] | None, pre: dict[str, Any]) -> dict[str, str]:
    """The model's metadata_props: "chainrule" (what Y is, what the graph holds) and "classes", as JSON."""
    probabilities = bool(getattr(last, "probabilities", False))
    about: dict[str, Any] = {
        "format": "chainrule-onnx",
        "version": 1,
        "model": repr(model),
        "output": "probabilities" if probabilities else "predictions",
        "standardised_input": pre["mean"] is not None,
        "target_units": pre["y_scale"] is not None,
    }
    columns = _columns(labels, model.n_out, probabilities) if labels is not None else None
    if columns is not None:
        about["columns"] = columns
    props = {"chainrule": json.dumps(about)}
    if labels is not None:
        props["classes"] = json.dumps(labels)
    return props


# ---------------------------------------------------------------- checking what goes in
def _check_opset(onnx: Any, opset: Any) -> int:
    newest = onnx.defs.onnx_opset_version()
    if opset is None:
        return min(DEFAULT_OPSET, newest)
    if isinstance(opset, bool) or not isinstance(opset, (int, np.integer)) or not MIN_OPSET <= opset <= newest:
        raise ValueError(f"opset must be a whole number from {MIN_OPSET} to {newest}; received opset={opset!r}.")
    return int(opset)


def _proba_head(model: Sequential) -> Activation | None:
    """The activation that turns the model's output into ``predict_proba``'s (None: it already is)."""
    last = model.layers[-1]
    if isinstance(last, Activation) and last.probabilities:
        return None
    loss = getattr(model, "loss_", None)
    act = getattr(loss, "output_activation", None)
    if act in ("sigmoid", "softmax"):
        return Activation.registry[act]()
    raise ValueError(
        "proba=True needs a model that ends in Sigmoid or Softmax, or one fitted with loss='bce_logits' or "
        "'softmax_cross_entropy'."
    )


def _step(layer: Any, i: int, opset: int, dtype: np.dtype) -> tuple:
    """("dense", W, b) or ("activation", recipe, params) for layer ``i``, or a ValueError naming it."""
    if isinstance(layer, Dense):
        W, b = layer.params["W"], layer.params["b"]
        if not (np.isfinite(W).all() and np.isfinite(b).all()):
            raise ValueError(f"layer {i}, {layer!r}, has NaN or infinite weights; they cannot be exported.")
        return "dense", W.astype(dtype), b.astype(dtype)
    if isinstance(layer, _layers.LAYERS):
        return _layers.step(layer, i, opset, dtype, _step)
    if is_signal_layer(layer):
        check_signal_layer(layer, i)
        return "signal", layer
    name = getattr(layer, "name", None) if isinstance(layer, Activation) else None
    if name not in _table.TABLE:
        what = f"activation {name!r}" if isinstance(layer, Activation) else f"layer type {type(layer).__name__}"
        raise ValueError(
            f"layer {i}, {layer!r}: chainrule.onnx has no ONNX translation for {what}. It exports Dense, Dropout, "
            f"BatchNorm, LayerNorm, Residual, Conv1D, the poolings and Flatten layers and these activations: "
            f"{_table.describe()}."
        )
    config = layer.get_config()
    wanted = {p for r in _table.TABLE[name] for p in _params_of(r.expr)}
    params = {}
    for p in sorted(wanted):
        value = config.get(p, getattr(layer, p, None))
        if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)) or not np.isfinite(value):
            raise ValueError(f"layer {i}, {layer!r}, has {p}={value!r}; a finite number is needed.")
        params[p] = float(value)
    recipe = _table.choose(name, opset, dtype, params)
    if recipe is None:
        raise ValueError(f"layer {i}, {layer!r}: opset {opset} has no ops for {name}; use a newer opset.")
    return "activation", recipe, params


def _write_step(g: _Builder, step: tuple, x: str, name: str) -> str:
    """Write one step on tensor ``x``; return the tensor it makes."""
    if step[0] == "dense":
        x = g.node("MatMul", [x, g.const(f"{name}.W", step[1])], f"{name}/MatMul")
        return g.node("Add", [x, g.const(f"{name}.b", step[2])], name)
    if step[0] == "activation":
        return g.recipe(step[1].expr, x, name, step[2])
    if step[0] == "signal":
        return emit_signal_layer(g, step[1], x, name)
    return _layers.write(g, step, x, name, _write_step)


def _params_of(e: Any) -> set[str]:
    if isinstance(e, Param):
        return {e.name}
    if not isinstance(e, Op):
        return set()
    found = {v.name for _, v in e.attrs if isinstance(v, Param)}
    for i in e.inputs:
        found |= _params_of(i)
    return found


def _preprocessing(pre: Any, n_in: int) -> dict[str, Any]:
    """The standardisation and target scaling to write (None for each that is absent or does nothing)."""
    out: dict[str, Any] = {"mean": None, "scale": None, "y_mean": None, "y_scale": None}
    if pre is None:
        return out
    try:
        mean = np.asarray(pre.mean, dtype=np.float64).reshape(-1)
        scale = np.asarray(pre.scale, dtype=np.float64).reshape(-1)
        y_mean, y_scale = float(getattr(pre, "y_mean", 0.0)), float(getattr(pre, "y_scale", 1.0))
    except (AttributeError, TypeError, ValueError) as exc:
        raise TypeError(f"preprocess must be a chainrule.datasets.Preprocessor; received {pre!r} ({exc}).") from None
    if mean.shape != (n_in,) or scale.shape != (n_in,):
        raise ValueError(f"preprocess has {mean.size} means and {scale.size} scales; the model takes {n_in} features.")
    if not (np.isfinite(mean).all() and np.isfinite(scale).all() and (scale != 0).all()):
        raise ValueError("preprocess has a non-finite mean or scale, or a scale of 0.")
    if (mean != 0).any() or (scale != 1).any():
        out["mean"], out["scale"] = mean, scale
    if getattr(pre, "task", None) == "regression" and (y_mean, y_scale) != (0.0, 1.0):
        if not (np.isfinite(y_mean) and np.isfinite(y_scale) and y_scale != 0):
            raise ValueError(f"preprocess has y_mean={y_mean!r} and y_scale={y_scale!r}; finite, non-zero needed.")
        out["y_mean"], out["y_scale"] = y_mean, y_scale
    return out


def _labels(classes: Sequence[Any] | None, pre: Any) -> list[Any] | None:
    """The class labels as JSON values, from ``classes`` or a classifier's preprocessor."""
    if classes is None and pre is not None and getattr(pre, "task", None) == "classification":
        classes = list(getattr(pre, "classes", []) or []) or None
    if classes is None:
        return None
    labels = [v.item() if isinstance(v, np.generic) else v for v in list(classes)]
    return [v if isinstance(v, (str, int, float, bool)) else str(v) for v in labels]


def _columns(labels: list[Any], n_out: int, probabilities: bool) -> list[Any] | None:
    """The class each column of Y is the probability of (one sigmoid column: the second class)."""
    if not probabilities:
        return None
    if n_out == len(labels):
        return labels
    return [labels[1]] if n_out == 1 and len(labels) == 2 else None


def _check_target(path: str | os.PathLike) -> str:
    target = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(target))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"cannot write {target}: the folder {folder} does not exist.")
    if os.path.isdir(target):
        raise IsADirectoryError(f"cannot write {target}: it is a folder; give a file name such as model.onnx.")
    return target


def _write(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: a temporary file beside it, flushed, then renamed over it."""
    atomic_write(path, lambda fh: fh.write(data), suffix=".onnx.tmp")


# ---------------------------------------------------------------- building the graph
class _Builder:
    """Nodes and initializers, named after the layer they come from (``layers.2/MatMul``, ``layers.2.W``)."""

    def __init__(self, onnx: Any, dtype: np.dtype) -> None:
        self.onnx, self.dtype = onnx, dtype
        self.nodes: list[Any] = []
        self.inits: list[Any] = []

    def const(self, name: str, value: Any) -> str:
        self.inits.append(self.onnx.numpy_helper.from_array(np.asarray(value, dtype=self.dtype), name))
        return name

    def node(self, op: str, inputs: list[str], out: str, **attrs: Any) -> str:
        self.nodes.append(self.onnx.helper.make_node(op, inputs, [out], name=out, **attrs))
        return out

    def recipe(self, expr: Op, x: str, out: str, params: dict[str, float]) -> str:
        """Write ``expr`` with ``X`` = ``x``; its outermost node's output is ``out``."""
        count = iter(range(1 << 30))

        def emit(e: Any, name: str | None) -> str:
            if e == X:
                return x
            if isinstance(e, Param):
                return self.const(f"{out}.{e.name}", params[e.name])
            if not isinstance(e, Op):
                return self.const(f"{out}.c{next(count)}", e)
            inputs = [emit(i, None) for i in e.inputs]
            attrs = {k: float(np.float32(params[v.name])) if isinstance(v, Param) else v.value for k, v in e.attrs}
            attrs = {k: v for k, v in attrs.items() if v is not None}
            return self.node(e.op, inputs, name or f"{out}/{e.op}_{next(count)}", **attrs)

        return emit(expr, out)

    def rename(self, old: str, new: str) -> None:
        """Give the graph's last tensor (a Dense layer always makes one) the output's name."""
        for node in self.nodes:
            for k, name in enumerate(node.output):
                if name == old:
                    node.output[k] = new
