"""An ONNX file as the commands read it: the model through ``chainrule.onnx.load``, and a preprocessing that
passes features through as they are (an exported graph holds its own standardisation and target scaling) and
knows the task and the class names. A CNN's input shape (C, L) comes from the graph: each row of a file holds its
C·L values, channel after channel, as ``Flatten`` lays them out.

The task follows the graph: a classifier ends in Softmax or Sigmoid (probabilities), anything else is a
regression. The class names come from the file's metadata, key "classes" (a JSON list, as ``chainrule export``
writes it), where present; else classes are numbered 0…k−1. An ONNX file has no column names, so files are
matched to it by position.
"""

from __future__ import annotations

import json
import math
import os

from ..core.model import Sequential
from ..datasets import Preprocessor
from ..io import ModelFileError


def open_onnx(path: str | os.PathLike) -> tuple[Sequential, Preprocessor]:
    """The model in the ONNX file ``path`` and its pass-through preprocessing, with the task and class names."""
    from .. import onnx as chainrule_onnx

    model = chainrule_onnx.load(path)
    classifier = bool(getattr(model.layers[-1], "probabilities", False))  # an imported model has no fitted loss
    classes = metadata_classes(path, chainrule_onnx.MAX_FILE_BYTES)
    if classes:
        n_classes = 2 if model.n_out == 1 else model.n_out
        if not classifier or len(classes) != n_classes:
            what = f"{n_classes} classes" if classifier else "values (it does not end in Softmax or Sigmoid)"
            raise ModelFileError(
                f"{path}: its metadata lists {len(classes)} classes ({', '.join(classes)}), but the graph predicts "
                f"{what}; fix or remove the metadata key 'classes'."
            )
    width = math.prod(model.in_shape)  # a CNN's (C, L) input: each row holds C·L values, channel after channel
    return model, Preprocessor(
        task="classification" if classifier else "regression",
        mean=[0.0] * width,
        scale=[1.0] * width,
        classes=classes,
        source={"path": str(path)},
    )


def metadata_classes(path: str | os.PathLike, limit: int) -> list[str]:
    """The class names in the metadata of the ONNX file ``path`` (key "classes"), or [] where there are none.

    Only the file's first ``limit`` bytes are read, and only its own protobuf is parsed: no data beside it."""
    import onnx
    from google.protobuf.message import DecodeError

    with open(path, "rb") as fh:
        data = fh.read(limit + 1)
    proto = onnx.ModelProto()
    try:
        proto.ParseFromString(data)
    except (DecodeError, ValueError, RuntimeError) as exc:
        raise ModelFileError(f"{path}: cannot read the metadata of this ONNX file ({exc}).") from None
    props = {p.key: p.value for p in proto.metadata_props}
    if "classes" not in props:
        return []
    try:
        labels = json.loads(props["classes"])
    except ValueError:
        labels = None
    if not isinstance(labels, list) or not all(isinstance(v, (str, int, float)) for v in labels):
        raise ModelFileError(
            f'{path}: its metadata key \'classes\' must hold a JSON list of class names, such as ["cat", "dog"]; '
            f"it holds {props['classes'][:80]!r}."
        )
    return [str(int(v)) if isinstance(v, float) and v.is_integer() else str(v) for v in labels]
