"""``load``: an ONNX graph that is a chain of chainrule's layers, as a Sequential.

The graph is read backwards, from its output to its input, one pattern at a time. The patterns are the
layer classes' own (``Layer.onnx_ops`` and ``Layer.from_onnx``, over ``Layer.registry``): where several
classes read a node, the largest match wins (a gelu's five nodes before the Mul inside it). Around them:

* an elementwise Add, Sub, Mul or Div by a constant (or skl2onnx's ``ai.onnx.ml.Scaler``, (x − offset)·scale):
  folded into the layer before it (a bias, an output scaling) or, failing that, the one after it (a
  standardisation of the input), through ``Layer.onnx_fold_output`` / ``onnx_fold_input``;
* what other tools write around such a chain (``_foreign``): Cast, Reshape, Flatten, Identity, LogSoftmax,
  skl2onnx's binary pair, and its label and ZipMap outputs, which name the classes.

Every node must be taken by one pattern, once; anything else is refused, naming the node, its op and the
layer it most likely came from.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

import numpy as np

from .._archive import short
from ..io import MODELS
from ..layers import Layer
from . import _foreign
from ._errors import OnnxFileError, require_onnx
from ._registry import readable, readers
from ._safe import DTYPES, INT32, INT64, Reader
from .graph import Node, Read

if TYPE_CHECKING:
    from ..core.model import Sequential

AFFINE = ("Add", "Sub", "Mul", "Div")
# What the damaged-bytes paths of protobuf, NumPy and the layer constructors raise; all become OnnxFileError.
DAMAGE = (ValueError, TypeError, KeyError, IndexError, OverflowError, RecursionError, UnicodeError, RuntimeError)
MAX_NESTING = 16  # residual blocks inside each other (each is read by reading the chain inside it)
MAX_STEPS = 100_000  # patterns tried in all, so that no graph makes the reading run long
LIKELY = {  # ops no layer reads, and the layer a user most likely wrote, the surest first
    "LSTM": "an LSTM layer", "GRU": "a GRU layer", "RNN": "an RNN layer", "Gather": "an Embedding layer",
    "PRelu": "a PReLU layer", "ConvTranspose": "a transposed convolution", "InstanceNormalization": "an InstanceNorm",
    "GroupNormalization": "a GroupNorm", "Attention": "an attention layer", "Einsum": "an attention layer",
    "Resize": "an upsampling layer", "LpNormalization": "a normaliser", "Pad": "a padding layer",
    "ai.onnx.ml.Normalizer": "scikit-learn's Normalizer", "ai.onnx.ml.OneHotEncoder": "scikit-learn's OneHotEncoder",
    "ai.onnx.ml.Imputer": "scikit-learn's SimpleImputer", "Shape": "a layer whose shapes are computed at run time",
}  # fmt: skip


def load(path: str | os.PathLike) -> Sequential:
    """The chainrule Sequential an ONNX file describes; OnnxFileError for anything else.

    A missing path raises FileNotFoundError. Any file, however damaged or hostile, gives either a model
    or an OnnxFileError (a ValueError): never code run from the file, never a read outside it (external
    data only from plain files in its folder), never an allocation larger than the file's size justifies.
    """
    return _read(path, labels=False)[0]


def class_labels(path: str | os.PathLike) -> list[Any] | None:
    """The class labels an ONNX file names, column by column of the model ``load`` returns (None: it names none).

    They come from the "classes" metadata (as ``export`` writes it), else from the label output or ZipMap
    that skl2onnx writes. The file is checked as by ``load``.
    """
    return _read(path, labels=True)[1]


def _read(path: str | os.PathLike, labels: bool) -> tuple[Sequential, list[Any] | None]:
    """The model, and with ``labels`` the class labels (metadata first, which ``load`` leaves unread)."""
    onnx = require_onnx()
    reader = Reader(path)
    try:
        proto = reader.parse(onnx)
        graph = _Graph(reader, proto)
        model = graph.model()
        props = {p.key: p.value for p in proto.metadata_props}
        if not labels or "classes" not in props:
            return model, graph.classes
        named = json.loads(props["classes"])
        if not isinstance(named, list) or not all(isinstance(v, (str, int, float, bool)) for v in named):
            raise reader.fail("its 'classes' metadata is not a JSON list of labels.")
        return model, named
    except OnnxFileError:
        raise
    except DAMAGE as exc:
        raise reader.fail(f"{type(exc).__name__}: {short(str(exc), 200)}") from None
    except MemoryError:
        raise reader.fail("its tensors need more memory than this process may take.") from None


def described() -> str:
    """What ``load`` reads, from the classes, for the refusal of an op."""
    return (
        f"chainrule reads {readable()}; elementwise Add/Sub/Mul/Div by constants and ai.onnx.ml.Scaler; "
        "and Cast, Reshape, Flatten, LogSoftmax and skl2onnx's outputs around them"
    )


class _Graph:
    """The graph's constants, the node producing each tensor, its one input and one output; what layer
    classes read through ``from_onnx``: ``constants``, ``producer``, ``signals``, ``sample``, ``batch``,
    ``dtype``, ``output_of`` and ``layers_between``."""

    def __init__(self, reader: Reader, proto: Any) -> None:
        self.reader, self.fail = reader, reader.fail
        self.readers = readers()
        self.bad_input = ""
        known = set(self.readers) | set(AFFINE) | {"Constant", "Identity"} | set(_foreign.OPS)
        g = proto.graph
        self.constants: dict[str, np.ndarray] = {}
        self.producer: dict[str, Node] = {}
        self._refuse_unknown(g, known)
        for t in g.initializer:
            self._add_constant(t.name, reader.array(t, f"initializer {short(t.name, 60)}"))
        for k, n in enumerate(g.node):
            where = f"node {short(n.name or k, 60)} ({n.op_type[:40]})"
            if len(n.output) != 1 or not n.output[0]:
                raise self.fail(f"{where} has {len(n.output)} outputs; one is expected.")
            attrs = reader.attributes(n, where)
            if n.op_type == "Constant":
                if set(attrs) != {"value"} or isinstance(attrs["value"], (int, float, str, tuple)):
                    raise self.fail(f"{where} is not a Constant with one tensor 'value'.")
                self._add_constant(n.output[0], reader.array(attrs["value"], where))
                continue
            if n.output[0] in self.producer or n.output[0] in self.constants:
                tensor = short(n.output[0], 60)
                raise self.fail(f"{where} writes the tensor {tensor}, which another node or constant also does.")
            self.producer[n.output[0]] = Node(k, n.op_type, tuple(n.input), attrs, where, self.fail, n.output[0])
        self._constant_identities()
        inputs = [i for i in g.input if i.name not in self.constants]
        if len(inputs) != 1 or not len(g.output):
            raise self.fail(f"its graph has {len(inputs)} inputs and {len(g.output)} outputs; one input is expected.")
        self.input = inputs[0].name
        self.output, self.classes, self.head_nodes = _foreign.main_output(self, [o.name for o in g.output])
        self.dtype, self.batch, self.sample = self._input_type(inputs[0])
        self.width = self.sample[0] if self.sample is not None and len(self.sample) == 1 else None
        # samples with more than one axis: signals X (N, C, L), or token indices (N, T) an Embedding makes (N, T, D)
        self.signals = self.sample is not None and (len(self.sample) == 2 or self.indices and len(self.sample) == 1)
        self.nesting = self.steps = 0

    def _refuse_unknown(self, g: Any, known: set[str]) -> None:
        """Refuse an op no pattern reads, before any tensor is read: the one whose likely layer is known first."""
        unknown = []
        for k, n in enumerate(g.node):
            ml = n.domain == "ai.onnx.ml" and n.op_type in _foreign.ML_OPS
            if not ml and (n.domain not in ("", "ai.onnx") or n.op_type not in known):
                op = f"{n.domain}.{n.op_type}" if n.domain not in ("", "ai.onnx") else n.op_type
                unknown.append((list(LIKELY).index(op) if op in LIKELY else len(LIKELY), k, op, n.name))
        if unknown:
            _, k, op, name = min(unknown)
            likely = f", from {LIKELY[op]}, which chainrule does not have" if op in LIKELY else ""
            raise self.fail(f"unsupported op {short(op, 60)} (node {short(name or k, 60)}){likely}; {described()}.")

    def _add_constant(self, name: str, value: np.ndarray) -> None:
        if name in self.constants:
            raise self.fail(f"the constant {short(name, 60)} is defined twice.")
        self.constants[name] = value

    def _constant_identities(self) -> None:
        """An Identity of a constant is that constant (PyTorch writes them for parameters of equal values)."""
        found = True
        while found:
            found = False
            for t, node in list(self.producer.items()):
                if node.op == "Identity" and len(node.inputs) == 1 and node.inputs[0] in self.constants:
                    self.constants[t] = self.constants[node.inputs[0]]
                    del self.producer[t]
                    found = True

    def _input_type(self, info: Any) -> tuple[np.dtype, int | None, tuple[int | None, ...] | None]:
        t = info.type.tensor_type if info.type.HasField("tensor_type") else None
        dtype = DTYPES.get(t.elem_type) if t is not None else None
        self.indices = t is not None and t.elem_type in (INT32, INT64)  # integer indices (an Embedding's input)
        if self.indices:  # the model computes in its weights' dtype
            dtype = next((c.dtype for c in self.constants.values() if c.dtype.kind == "f"), np.dtype("<f4"))
        if dtype is None:
            raise self.fail(f"its input {short(info.name, 60)} is not a float32 or float64 tensor.")
        if not t.HasField("shape"):
            return dtype.newbyteorder("="), None, None
        dims = [d.dim_value if d.HasField("dim_value") else None for d in t.shape.dim]
        if len(dims) not in (2, 3):  # (N, n_features) or signals (N, C, L); refused once the layers are read
            self.bad_input = f"its input {short(info.name, 60)} has {len(dims)} dimensions; (N, n_features) is needed."
            return dtype.newbyteorder("="), None, None
        return dtype.newbyteorder("="), dims[0] or None, tuple(dims[1:])

    def output_of(self, node: Node) -> str:
        return node.output

    # ------------------------------------------------------------ reading the chain
    def model(self) -> Sequential:
        items, used = self.chain(self.output, self.input, set(self.head_nodes))
        unused = [n for n in self.producer.values() if n.index not in used]
        if unused:
            raise self.fail(f"{unused[0].where} is not on the chain from the input to the output.")
        items, self.dtype = _foreign.settle(items[::-1], self.dtype, self.width, self.fail)
        model = self._build(self._finish(items))
        if self.classes is not None and len(self.classes) != model.n_out:
            raise self.fail(f"its label output names {len(self.classes)} classes for {model.n_out} output columns.")
        return model

    def chain(self, t: str, stop: str, used: set[int]) -> tuple[list[Any], set[int]]:
        """The layers and steps from tensor ``t`` back to tensor ``stop`` (last first) and the nodes used,
        ``used`` included; LookupError if the chain reaches the input without meeting ``stop``."""
        items: list[Any] = []
        while t != stop:
            if t == self.input:
                raise LookupError(stop)
            if t in self.constants:
                raise self.fail(f"the tensor {short(t, 60)} on the path to the output is a constant, not made from X.")
            if t not in self.producer:
                raise self.fail(f"the tensor {short(t, 60)} is neither the input, a constant nor a node's output.")
            item, t, nodes = self._step(self.producer[t])
            if nodes & used:
                raise self.fail("a node serves two layers; the graph is not a chain.")
            used |= nodes
            items.append(item)
        return items, used

    def layers_between(self, t: str, stop: str) -> tuple[list[Layer], set[int]] | None:
        """The layers that lead from tensor ``stop`` to ``t`` and the nodes they take (a residual block's inner
        chain), or None when ``t`` is not reached from ``stop`` by a chain of layers."""
        if self.nesting >= MAX_NESTING:
            raise self.fail(f"it nests residual blocks (Add of two computed tensors) more than {MAX_NESTING} deep.")
        self.nesting += 1
        try:
            items, used = self.chain(t, stop, set())
        except LookupError:
            return None
        finally:
            self.nesting -= 1
        layers = self._finish(items[::-1])
        return (layers, used) if layers and all(isinstance(x, Layer) for x in layers) else None

    def _step(self, node: Node) -> tuple[Any, str, set[int]]:
        """The layer (or step) that computes ``node``'s output, the tensor it starts from, and the nodes it takes."""
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise self.fail(f"reading it took more than {MAX_STEPS:,} steps; its residual blocks cross too often.")
        reads: list[Read] = []
        refusals: list[OnnxFileError] = []
        for cls in self.readers.get(node.op, ()):
            try:
                found = cls.from_onnx(node, self)
            except OnnxFileError as exc:
                refusals.append(exc)
                continue
            if found is not None:
                reads.append(found)
        if reads:
            best = max(reads, key=lambda r: len(r.nodes))  # the largest pattern: a composite before its parts
            item = best.layer if best.layer is not None else ("noop", node.where)
            return item, best.input, set(best.nodes)
        foreign = _foreign.step(self, node)
        if foreign is not None:
            return foreign
        if node.op in AFFINE and not refusals:
            return self._affine(node)
        if refusals:
            raise refusals[0]
        raise self.fail(f"{node.where} is not used as in any layer chainrule reads ({described()}).")

    def _affine(self, node: Node) -> tuple[tuple, str, set[int]]:
        """("affine", s, t, where) for x·s + t, from Add, Sub, Mul or Div of the computed input and a constant."""
        if len(node.inputs) != 2 or node.attrs:
            raise self.fail(f"{node.where} must have two inputs and no attributes.")
        left, right = (self.constants.get(i) for i in node.inputs)
        if (left is None) == (right is None):
            computed = 2 if left is None else 0
            raise self.fail(f"{node.where} needs one computed input and one constant; it has {computed} computed.")
        x = node.inputs[1] if right is None else node.inputs[0]
        c = left if left is not None else right
        if c.dtype.kind != "f":
            raise self.fail(f"{node.where} uses a constant of {c.dtype}; a float constant is needed.")
        if c.ndim > 2 or (c.ndim == 2 and c.shape[0] != 1):
            raise self.fail(f"{node.where} uses a constant of shape {c.shape}; a row of per-feature values is needed.")
        c = c.reshape(-1).astype(np.float64)
        one, zero = np.ones_like(c), np.zeros_like(c)
        if node.op == "Add":
            s, t = one, c
        elif node.op == "Mul":
            s, t = c, zero
        elif node.op == "Sub":
            s, t = (one, -c) if right is not None else (-one, c)
        elif right is not None and (c != 0).all():
            s, t = 1 / c, zero
        else:
            raise self.fail(f"{node.where} divides by a constant with a zero, or divides a constant by the input.")
        return ("affine", s, t, node.where), x, {node.index}

    def _finish(self, items: list[Any]) -> list[Any]:
        """Input-to-output items as layers: the affine steps folded into their neighbours, the output steps
        read (``_foreign.outputs``), and read layers that change nothing dropped."""
        items = _foreign.outputs(_fold(items, self.fail), self.fail)
        kept: list[Any] = []
        for item in items:
            if not (isinstance(item, Layer) and item.onnx_redundant_after(kept[-1] if kept else None)):
                kept.append(item)
        return kept

    def _build(self, layers: list[Any]) -> Sequential:
        if self.bad_input:
            raise self.fail(self.bad_input)
        stray = next((x for x in layers if not isinstance(x, Layer)), None)
        if stray is not None:
            raise self.fail(f"{stray[-1]} is not next to a layer that can hold it.")
        if self.indices and (not layers or layers[0].input_kind != "index"):
            raise self.fail(f"its input {short(self.input, 60)} is not a float32 or float64 tensor, and its first "
                            "layer takes values, not integer indices (as an Embedding's Gather does).")  # fmt: skip
        input_shape = None
        if self.indices and self.sample is not None and None not in self.sample:
            input_shape = self.sample  # (T,) tokens per sample, or () for one
        elif self.signals:
            if None in self.sample or min(self.sample) < 1:
                raise self.fail(f"its input X is (N, C, L) with C, L = {self.sample}; chainrule needs both as numbers.")
            input_shape = self.sample
        else:
            first = next((layer for layer in layers if layer.input_shape is not None), None)
            if first is None:
                raise self.fail(
                    "none of its layers fixes the input's width: it has no MatMul or Gemm, so no dense layer."
                )
            if self.width is not None and (self.width,) != first.input_shape:
                raise self.fail(f"its input has {self.width} features but its first layer, {first!r}, takes "
                                f"{first.input_shape[0]}.")  # fmt: skip
        try:  # the class io builds models from
            return MODELS["Sequential"](*layers, dtype=self.dtype, input_shape=input_shape)
        except (ValueError, TypeError) as exc:
            raise self.fail(f"its layers do not fit together ({exc}).") from None


def _fold(items: list[Any], fail: Any) -> list[Any]:
    """Fold each elementwise x·s + t into the layer before it, else into the one after it."""
    kept: list[Any] = []
    for item in items:
        prev = kept[-1] if kept else None
        if _is_affine(item) and _is_affine(prev):
            kept[-1] = ("affine", prev[1] * item[1], prev[2] * item[1] + item[2], prev[3])
            continue
        folded = prev.onnx_fold_output(item[1], item[2]) if _is_affine(item) and isinstance(prev, Layer) else None
        if folded is not None:
            kept[-1] = folded
        else:
            kept.append(item)
    out: list[Any] = []
    for k, item in enumerate(kept):
        if not _is_affine(item):
            out.append(item)
            continue
        nxt = kept[k + 1] if k + 1 < len(kept) else None
        folded = nxt.onnx_fold_input(item[1], item[2]) if isinstance(nxt, Layer) else None
        if folded is None:
            raise fail(f"{item[3]} is not next to a layer that can hold its {max(item[1].size, item[2].size)} values "
                       "(a MatMul or Gemm of that width).")  # fmt: skip
        kept[k + 1] = folded
    return out


def _is_affine(item: Any) -> bool:
    return isinstance(item, tuple) and item[0] == "affine"
