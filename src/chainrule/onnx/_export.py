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
from ..layers.activations import Activation
from ._errors import require_onnx
from ._registry import exportable
from .graph import Writer

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
    pre = _preprocessing(preprocess, math.prod(model.in_shape))  # a signal's values, each position its own
    labels = _labels(classes, preprocess)
    size = sum(p.nbytes for layer in layers for p in layer.params.values())
    if size > MAX_BYTES:
        raise ValueError(f"the model's {size:,} bytes of weights do not fit in one ONNX file (2 GiB at most).")

    g = Writer(onnx, dtype, opset, exportable())
    x = "X"
    if pre["mean"] is not None:
        mean, scale = (pre[k].reshape(model.in_shape) for k in ("mean", "scale"))
        x = g.node("Sub", [x, g.const("preprocess.mean", mean)], "preprocess/Sub")
        x = g.node("Div", [x, g.const("preprocess.scale", scale)], "preprocess")
    for i, layer in enumerate(layers):
        try:
            x = g.layer(layer, x, f"layers.{i}")
        except ValueError as exc:
            raise ValueError(f"layer {i}, {layer!r}: {exc}") from None
    if x == "X":
        x = g.node("Identity", [x], "layers.identity")  # a model of Dropouts alone: Y is still its own tensor
    if pre["y_scale"] is not None:
        x = g.node("Mul", [x, g.const("target.scale", pre["y_scale"])], "target/Mul")
        x = g.node("Add", [x, g.const("target.mean", pre["y_mean"])], "target")
    g.rename(x, "Y")

    helper = onnx.helper
    elem = helper.np_dtype_to_tensor_dtype(dtype)
    indices = model.layers[0].input_kind == "index"  # a model that starts with integer indices (an Embedding)
    in_elem = onnx.TensorProto.INT64 if indices else elem
    graph = helper.make_graph(
        g.nodes,
        "chainrule",
        [helper.make_tensor_value_info("X", in_elem, ["N", *model.in_shape])],
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
