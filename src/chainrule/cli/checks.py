"""``gradcheck`` and ``explain``: backprop checked by finite differences, and one step spelled out."""

from __future__ import annotations

import argparse
import warnings
from typing import Any

import numpy as np

from ..builders import mlp
from ..core.losses import get_loss
from ..datasets import DataNote
from ..datasets.preprocess import sidecar
from . import pipeline
from .pipeline import CLIError


def add_parsers(sub: Any) -> None:
    p = sub.add_parser(
        "gradcheck",
        help="compare backprop with finite differences, per parameter",
        description="Check a saved model, or one built from --layers, on a random batch.",
    )
    p.add_argument("model", nargs="?", help="model file (or use --layers)")
    p.add_argument("--layers", help="all layer sizes, input to output, e.g. 2,3,1")
    p.add_argument("--activation", default="tanh", help="hidden activation for --layers (default tanh)")
    p.add_argument("--loss", help="loss (default: the model's, or mse)")
    p.add_argument("--samples", type=int, default=4, help="batch size of the random batch")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tol", type=float, default=1e-6)
    pipeline.add_threads_option(p)
    p.set_defaults(run=gradcheck)

    p = sub.add_parser(
        "explain",
        help="one training step, every number of the chain rule shown",
        description="Explain a worked example, a network built from --layers, or a saved --model.",
    )
    p.add_argument(
        "example", nargs="?", help="single-neuron, two-neurons, mlp-2-3-2 (default), bce-neuron, two-two-two"
    )
    p.add_argument("--layers", help="layer sizes, input to output, e.g. 2,3,2")
    p.add_argument("--activation", default="sigmoid")
    p.add_argument("--loss", help="loss (default sse; a --model's own loss)")
    p.add_argument("--x", help="one input sample, e.g. 0.05,0.1 (rows separated by ';')")
    p.add_argument(
        "--y",
        help="its target: values, e.g. 0.01,0.99, or for a classification loss with several outputs one class "
        "label per row, e.g. 3",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--model", help="a saved model file to explain (model.npz, or an ONNX file)")
    p.add_argument("--lr", type=float, help="learning rate for the update step")
    p.add_argument("--apply", action="store_true", help="apply the update to the model")
    p.add_argument("--markdown", action="store_true", help="print Markdown instead of text")
    p.add_argument(
        "--precision",
        type=_digits,
        default=5,
        help="significant digits of the numbers, in the text, the Markdown and the diagrams (default 5)",
    )
    p.add_argument("--diagrams", help="folder to write the diagrams to")
    p.add_argument("--html", metavar="FILE", help="also write a self-contained HTML page of the step to FILE")
    pipeline.add_threads_option(p)
    p.set_defaults(run=explain)


def _digits(text: str) -> int:
    """``--precision``'s value: a whole number of significant digits from 1 to 17, or argparse's one-line error."""
    try:
        n = int(text)
    except ValueError:
        n = 0
    if not 1 <= n <= 17:
        raise argparse.ArgumentTypeError(f"takes a whole number of significant digits, 1 to 17; received {text!r}")
    return n


def _random_targets(loss, n_out: int, n: int, rng: np.random.Generator) -> np.ndarray:
    if not loss.classification:
        return rng.standard_normal((n, n_out))
    if loss.output_activation == "softmax" or "categorical" in type(loss).__name__.lower():
        return rng.integers(0, n_out, n)
    return rng.integers(0, 2, (n, n_out)).astype(float)


def gradcheck(args: argparse.Namespace) -> int:
    from ..gradcheck import gradcheck as check

    if (args.model is None) == (args.layers is None):
        raise CLIError("give a MODEL file or --layers (e.g. --layers 2,3,1), not both and not neither.")
    if args.model is not None:
        model, _ = pipeline.open_model(args.model)
        loss = get_loss(args.loss) if args.loss else pipeline.model_loss(model) or get_loss("mse")
    else:
        sizes = pipeline.parse_sizes(args.layers)
        if len(sizes) < 2:
            raise CLIError(f"--layers needs the input and output sizes at least, e.g. 2,1; received {args.layers!r}.")
        loss = get_loss(args.loss or "mse")
        model = mlp(sizes, args.activation, loss.fuses, seed=args.seed)
    rng = np.random.default_rng(args.seed)
    X = rng.standard_normal((args.samples, *model.in_shape))
    y = _random_targets(loss, model.n_out, args.samples, rng)
    result = check(model, X, y, loss, tol=args.tol)
    print(f"{model!r}, loss {loss.name}, {args.samples} random samples (seed {args.seed})")
    print(result)
    return 0 if result.passed else 1


def _rows(text: str, what: str) -> np.ndarray:
    try:
        return np.array([[float(v) for v in row.split(",")] for row in text.split(";")])
    except ValueError:
        raise CLIError(f"{what} takes numbers such as 0.05,0.1 (rows separated by ';'); received {text!r}.") from None


def _labels(text: str, classes: list[str]) -> np.ndarray:
    """``--y`` of a classifier: class names as ``predict`` prints them (``setosa``, or ``setosa;virginica`` for two
    rows) become their codes; numbers are read as they are."""
    rows = [row.strip() for row in text.split(";")]
    if all(row in classes for row in rows):
        return np.array([[float(classes.index(row))] for row in rows])
    return _rows(text, "--y")


def explain_targets(y: np.ndarray, loss: Any, n_out: int) -> np.ndarray:
    """``--y`` as ``loss`` reads it: one value per row is a class label when a classification loss has several
    outputs (``--y 3``, or ``3;0`` for two rows); other shapes (one-hot rows, regression targets) are kept."""
    if get_loss(loss).classification and n_out > 1 and y.shape[1] == 1:
        return y.ravel()  # (n,) class labels
    return y


def explain(args: argparse.Namespace) -> int:
    try:
        from ..explain import EXAMPLES, from_layers
        from ..explain import explain as explain_step
    except ImportError as exc:
        raise CLIError(f"chainrule.explain is not available in this installation ({exc}).") from None
    pre = None  # a saved model's preprocessing, whose feature and class names label the page
    if args.model or args.layers:
        if args.x is None or args.y is None:
            raise CLIError("--x and --y give the sample to explain, e.g. --x 0.05,0.1 --y 0.01,0.99.")
        X = _rows(args.x, "--x")
        if args.model:
            model, pre = pipeline.open_model(args.model)
            y = _labels(args.y, pre.classes) if pre.task == "classification" and pre.classes else _rows(args.y, "--y")
            loss = args.loss or pipeline.model_loss(model) or "sse"
            X = pipeline.model_input(model, pre.transform(X, "--x"))  # standardised, as in training
            if any(m != 0 for m in pre.mean) or any(s != 1 for s in pre.scale):
                warnings.warn(
                    f"--x is standardised with the training statistics in {sidecar(args.model).name}, as predict "
                    "does: the numbers below are those the network sees.",
                    DataNote,
                    stacklevel=2,
                )
            if pre.task == "regression":
                y = pre.transform_y(y)
        else:
            y = _rows(args.y, "--y")
            loss = args.loss or "sse"
            model = from_layers(pipeline.parse_sizes(args.layers), args.activation, loss, args.seed)
        y = explain_targets(y, loss, model.n_out)
        lr = args.lr
    else:
        name = args.example or "mlp-2-3-2"
        if name not in EXAMPLES:
            raise CLIError(f"unknown example {name!r}; choose one of {', '.join(EXAMPLES)}, or use --layers.")
        model, X, y, loss, lr = EXAMPLES[name]()
        lr = args.lr if args.lr is not None else lr
    if args.html:
        from ..explain.html import check_target

        check_target(args.html)  # a missing folder fails before anything runs
    result = explain_step(model, X, y, loss, lr=lr, apply=args.apply)
    print(result.to_markdown(args.precision) if args.markdown else result.to_text(args.precision))
    if args.diagrams:  # save_diagrams makes the folder once it knows it can draw the network
        result.save_diagrams(args.diagrams, precision=args.precision)
        print(f"diagrams written to {args.diagrams}/")
    if args.html:
        names = {} if pre is None else {"feature_names": pre.feature_names or None, "class_names": pre.classes or None}
        result.to_html(args.html, precision=args.precision, **names)
        print(f"page written to {args.html}")
    return 0
