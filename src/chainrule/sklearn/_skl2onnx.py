"""skl2onnx support: a shape calculator and a converter for MLPClassifier and MLPRegressor.

``import chainrule.sklearn`` registers them when skl2onnx is installed (it stays optional), so that
``skl2onnx.to_onnx(Pipeline([StandardScaler(), MLPClassifier()]), X[:1])`` converts the whole pipeline.

The network is written by ``chainrule.onnx.to_model_proto`` (the one ONNX writer) in the dtype of the
converter's input, float32 or float64, and its nodes and initializers are copied into skl2onnx's graph
under fresh names. A classifier gives skl2onnx's two outputs:

    probabilities (N, n_classes) = predict_proba(X)
    label (N,) = classes_[ArgMax(probabilities)]       (ArgMax → ArrayFeatureExtractor → Reshape)

(skl2onnx then adds its ZipMap unless ``options={"zipmap": False}``); a regressor gives predict(X) as
(N, n_outputs). Multilabel classifiers are not converted.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..onnx import to_model_proto

MIN_OPSET = 13  # chainrule.onnx writes opsets 13 and newer


def register_with_skl2onnx() -> bool:
    """Register both estimators with skl2onnx; False (and nothing done) when skl2onnx is not installed."""
    try:
        from skl2onnx import update_registered_converter
    except ImportError:
        return False

    from .classifier import MLPClassifier
    from .regressor import MLPRegressor

    update_registered_converter(
        MLPClassifier, "ChainruleMLPClassifier", _classifier_shapes, _convert_classifier,
        options={"zipmap": [True, False, "columns"], "nocl": [True, False]},
    )  # fmt: skip
    update_registered_converter(MLPRegressor, "ChainruleMLPRegressor", _regressor_shapes, _convert_regressor)
    return True


# ---------------------------------------------------------------- shapes
def _float_type(operator: Any) -> type:
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType

    return DoubleTensorType if isinstance(operator.inputs[0].type, DoubleTensorType) else FloatTensorType


def _classifier_shapes(operator: Any) -> None:
    from skl2onnx.common.data_types import Int64TensorType, StringTensorType

    est, n = operator.raw_operator, operator.inputs[0].get_first_dimension()
    label = StringTensorType if _labels(est)[0] == "string" else Int64TensorType
    operator.outputs[0].type = label([n])
    operator.outputs[1].type = _float_type(operator)([n, len(est.classes_)])


def _regressor_shapes(operator: Any) -> None:
    est, n = operator.raw_operator, operator.inputs[0].get_first_dimension()
    operator.outputs[0].type = _float_type(operator)([n, est.n_outputs_])


def _labels(est: Any) -> tuple[str, list[Any]]:
    """("string" or "int64", the class labels), or a ValueError for what ONNX's label output cannot hold."""
    if est.out_activation_ == "logistic" and est.n_outputs_ > 1:  # one sigmoid per label: multilabel
        raise ValueError("skl2onnx conversion of a multilabel MLPClassifier is not supported; use est.to_onnx.")
    classes = np.asarray(est.classes_)
    if classes.dtype.kind in "OUS" and all(isinstance(c, str) for c in classes.tolist()):
        return "string", [str(c) for c in classes]
    if classes.dtype.kind in "iub" or (classes.dtype.kind == "f" and np.array_equal(classes, np.round(classes))):
        return "int64", [int(c) for c in classes]
    raise ValueError(f"classes_ {classes.tolist()} are neither strings nor whole numbers; skl2onnx needs one of them.")


# ---------------------------------------------------------------- converters
def _convert_classifier(scope: Any, operator: Any, container: Any) -> None:
    import onnx  # skl2onnx, which calls this, depends on it
    est = operator.raw_operator
    kind, labels = _labels(est)
    network, _ = est.onnx_network(_dtype(operator))
    probabilities = operator.outputs[1].full_name
    _embed(scope, container, network, _input(scope, operator, container), probabilities)
    argmax, picked, classes, shape = (
        scope.get_unique_variable_name(s) for s in ("argmax", "label_of_argmax", "classes", "label_shape")
    )
    container.add_node("ArgMax", [probabilities], [argmax], axis=1, name=scope.get_unique_operator_name("ArgMax"))
    if kind == "string":
        container.add_initializer(classes, onnx.TensorProto.STRING, [len(labels)], [s.encode() for s in labels])
    else:
        container.add_initializer(classes, onnx.TensorProto.INT64, [len(labels)], labels)
    container.add_node(
        "ArrayFeatureExtractor", [classes, argmax], [picked], op_domain="ai.onnx.ml",
        name=scope.get_unique_operator_name("ArrayFeatureExtractor"),
    )  # fmt: skip
    container.add_initializer(shape, onnx.TensorProto.INT64, [1], [-1])
    container.add_node(
        "Reshape", [picked, shape], [operator.outputs[0].full_name], name=scope.get_unique_operator_name("Reshape")
    )


def _convert_regressor(scope: Any, operator: Any, container: Any) -> None:
    network, _ = operator.raw_operator.onnx_network(_dtype(operator))
    _embed(scope, container, network, _input(scope, operator, container), operator.outputs[0].full_name)


def _dtype(operator: Any) -> type:
    """The dtype the network is written in: float64 for a float64 input, float32 otherwise."""
    from skl2onnx.common.data_types import DoubleTensorType

    return np.float64 if _float_type(operator) is DoubleTensorType else np.float32


def _input(scope: Any, operator: Any, container: Any) -> str:
    """The converter's input, cast to float32 unless it is float32 or float64 already."""
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType

    x = operator.inputs[0]
    if isinstance(x.type, (FloatTensorType, DoubleTensorType)):
        return x.full_name
    cast = scope.get_unique_variable_name("cast_input")
    container.add_node("Cast", [x.full_name], [cast], to=1, name=scope.get_unique_operator_name("Cast"))
    return cast


def _embed(scope: Any, container: Any, network: Any, x: str, y: str) -> None:
    """Copy the graph ``to_model_proto`` writes for ``network`` into ``container``, from tensor ``x`` to ``y``."""
    import onnx  # skl2onnx, which calls this, depends on it
    opset = min(int(container.target_opset), onnx.defs.onnx_opset_version())
    if opset < MIN_OPSET:
        raise ValueError(f"chainrule's estimators convert to opset {MIN_OPSET} or newer; target_opset is {opset}.")
    graph = to_model_proto(network, opset=opset).graph
    names = {"X": x, "Y": y}

    def rename(name: str) -> str:
        if name not in names:
            names[name] = scope.get_unique_variable_name(name)
        return names[name]

    for t in graph.initializer:
        value = onnx.numpy_helper.to_array(t)
        container.add_initializer(rename(t.name), t.data_type, list(t.dims), value.ravel().tolist())
    for node in graph.node:
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        container.add_node(
            node.op_type, [rename(i) for i in node.input], [rename(o) for o in node.output],
            name=scope.get_unique_operator_name(node.op_type), **attrs,
        )  # fmt: skip
