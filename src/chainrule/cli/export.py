"""``chainrule export``: a trained model as an ONNX file, its preprocessing and class names included."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..datasets.preprocess import sidecar
from . import pipeline


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "export",
        help="write a saved model as an ONNX file",
        description="Write a model as ONNX (input X, output Y). With the model.preprocess.json that chainrule "
        "train writes beside it, the standardisation goes into the graph, so X takes raw features; a classifier's Y "
        "is its class probabilities, with the class names in the file's metadata (key 'classes', JSON); a "
        "regression's Y is in the target's units. Needs onnx: pip install \"chainrule[onnx]\".",
    )
    p.add_argument("model", help="model file written by chainrule train (model.npz)")
    p.add_argument("output", help="ONNX file to write, e.g. model.onnx (its folder must exist)")
    p.add_argument("--opset", type=int, help="ONNX opset (default 17; 20 and above write gelu as one Gelu op)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from .. import onnx as chainrule_onnx

    if Path(args.model).suffix.lower() == ".onnx":
        raise pipeline.CLIError(f"{args.model} is an ONNX file already; export takes a chainrule model (model.npz).")
    model, pre = pipeline.open_model(args.model)
    has_sidecar = sidecar(args.model).is_file()
    classifier = model.loss_ is not None and model.loss_.classification
    chainrule_onnx.export(
        model,
        args.output,
        preprocess=pre if has_sidecar else None,
        opset=args.opset,
        proba=classifier,
    )
    output = "class probabilities" if classifier else "predictions"
    extras = [f"the standardisation of {sidecar(args.model).name}"] if has_sidecar else []
    if classifier and pre.classes:
        extras.append(f"classes {', '.join(map(str, pre.classes))} in its metadata")
    print(
        f"wrote {args.output}: {model!r} as ONNX, input X (N, {', '.join(map(str, model.in_shape))}) {model.dtype}, "
        f"output Y (N, "
        f"{model.n_out}) {output}" + (f"; with {' and '.join(extras)}" if extras else "")
    )
    return 0
