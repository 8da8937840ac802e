"""``load``: an ONNX graph that is a chain of dense layers and activations, as a chainrule Sequential.

The graph is read backwards, from its output to its input, one step at a time:

* an activation: any recipe of the translation table (``_table``), composite ones included;
* a dense layer: MatMul(x, W), or Gemm(x, B, C) with alpha, beta and transB folded into W and b;
* an elementwise Add, Sub, Mul or Div by a constant: folded into the dense layer before it (a bias,
  an output scaling) or, failing that, the one after it (a standardisation of the input);
* BatchNormalization, LayerNormalization and Dropout nodes, and Add(x, f(x)) of two computed tensors, where
  f is a chain back to x: a residual block (``_layers``). An Identity of a constant is that constant;
* what other tools write around such a chain (``_foreign``): Cast, Reshape, Flatten, Identity, LogSoftmax,
  skl2onnx's binary pair, and its label and ZipMap outputs, which name the classes.

Every node must be one of these steps, used once; anything else is refused, naming the node and its op.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .._archive import short
from ..io import MODELS
from ..layers import Dense
from ..layers.activations import Activation
from . import _foreign, _layers, _table
from ._errors import OnnxFileError, require_onnx
from ._safe import DTYPES, Reader
from ._signal import DESCRIBE, SIGNAL_OPS, drop_redundant_flattens, read_signal_node, signal_input_shape
from ._table import Attr, Op, Param, X

if TYPE_CHECKING:
    from ..core.model import Sequential

LINEAR = ("MatMul", "Gemm")
AFFINE = ("Add", "Sub", "Mul", "Div")
# What the damaged-bytes paths of protobuf, NumPy and the layer constructors raise; all become OnnxFileError.
DAMAGE = (ValueError, TypeError, KeyError, IndexError, OverflowError, RecursionError, UnicodeError, RuntimeError)


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


@dataclass(frozen=True)
class _Node:
    index: int
    op: str
    inputs: tuple[str, ...]
    attrs: dict[str, Any]
    where: str  # "node 'name' (Op)", for messages


class _Graph:
    """The graph's constants, the node producing each tensor, its one input and one output."""

    def __init__(self, reader: Reader, proto: Any) -> None:
        self.reader, self.fail = reader, reader.fail
        g = proto.graph
        self.constants: dict[str, np.ndarray] = {}
        self.producer: dict[str, _Node] = {}
        for t in g.initializer:
            self._add_constant(t.name, reader.array(t, f"initializer {short(t.name, 60)}"))
        for k, n in enumerate(g.node):
            where = f"node {short(n.name or k, 60)} ({n.op_type[:40]})"
            ml = n.domain == "ai.onnx.ml" and n.op_type in _foreign.ML_OPS
            if not ml and (n.domain not in ("", "ai.onnx") or n.op_type not in KNOWN_OPS):
                op = f"{n.domain}.{n.op_type}" if n.domain not in ("", "ai.onnx") else n.op_type
                raise self.fail(
                    f"unsupported op {short(op, 60)} (node {short(n.name or k, 60)}); chainrule reads MatMul or Gemm, "
                    f"elementwise Add/Sub/Mul/Div by constants, {_layers.DESCRIBE}, {DESCRIBE}, these activations: "
                    f"{_table.describe()}; and Cast, Reshape, Flatten, LogSoftmax and skl2onnx's outputs around them."
                )
            if len(n.output) != 1 or not n.output[0]:
                raise self.fail(f"{where} has {len(n.output)} outputs; one is expected.")
            attrs = reader.attributes(n, where)
            if n.op_type == "Constant":
                if set(attrs) != {"value"} or isinstance(attrs["value"], (int, float, str)):
                    raise self.fail(f"{where} is not a Constant with one tensor 'value'.")
                self._add_constant(n.output[0], reader.array(attrs["value"], where))
                continue
            if n.output[0] in self.producer or n.output[0] in self.constants:
                tensor = short(n.output[0], 60)
                raise self.fail(f"{where} writes the tensor {tensor}, which another node or constant also does.")
            self.producer[n.output[0]] = _Node(k, n.op_type, tuple(n.input), attrs, where)
        _layers.constant_identities(self)
        inputs = [i for i in g.input if i.name not in self.constants]
        if len(inputs) != 1 or not len(g.output):
            raise self.fail(f"its graph has {len(inputs)} inputs and {len(g.output)} outputs; one input is expected.")
        self.input = inputs[0].name
        self.output, self.classes, self.head_nodes = _foreign.main_output(self, [o.name for o in g.output])
        self.dtype, self.sample = self._input_type(inputs[0])
        self.width = self.sample[0] if self.sample is not None and len(self.sample) == 1 else None
        windowed = SIGNAL_OPS - set(_foreign.OPS)  # ops only signal models have
        self.signals = len(self.sample or ()) == 2 or any(n.op in windowed for n in self.producer.values())

    def _add_constant(self, name: str, value: np.ndarray) -> None:
        if name in self.constants:
            raise self.fail(f"the constant {short(name, 60)} is defined twice.")
        self.constants[name] = value

    def _input_type(self, info: Any) -> tuple[np.dtype, tuple[int | None, ...] | None]:
        t = info.type.tensor_type if info.type.HasField("tensor_type") else None
        dtype = DTYPES.get(t.elem_type) if t is not None else None
        if dtype is None:
            raise self.fail(f"its input {short(info.name, 60)} is not a float32 or float64 tensor.")
        if not t.HasField("shape"):
            return dtype.newbyteorder("="), None
        dims = t.shape.dim
        if len(dims) not in (2, 3):  # (N, n_features) or signals (N, C, L)
            raise self.fail(f"its input {short(info.name, 60)} has {len(dims)} dimensions; (N, n_features) is needed.")
        return dtype.newbyteorder("="), tuple(d.dim_value if d.HasField("dim_value") else None for d in dims[1:])

    # ------------------------------------------------------------ reading the chain
    def model(self) -> Sequential:
        steps, used = self.chain(self.output, self.input, set(self.head_nodes))
        unused = [n for n in self.producer.values() if n.index not in used]
        if unused:
            raise self.fail(f"{unused[0].where} is not on the chain from the input to the output.")
        steps, self.dtype = _foreign.settle(steps[::-1], self.dtype, self.width, self.fail)
        model = self._build(_foreign.outputs(_fold(steps, self.fail), self.fail))
        if self.classes is not None and len(self.classes) != model.n_out:
            raise self.fail(f"its label output names {len(self.classes)} classes for {model.n_out} output columns.")
        return model

    def chain(self, t: str, stop: str, used: set[int]) -> tuple[list[tuple], set[int]]:
        """The steps from tensor ``t`` back to tensor ``stop`` (last first) and the nodes used, ``used`` included;
        LookupError if the chain reaches the input without meeting ``stop``."""
        steps: list[tuple] = []
        while t != stop:
            if t == self.input:
                raise LookupError(stop)
            if t in self.constants:
                raise self.fail(f"the tensor {short(t, 60)} on the path to the output is a constant, not made from X.")
            if t not in self.producer:
                raise self.fail(f"the tensor {short(t, 60)} is neither the input, a constant nor a node's output.")
            step, t, nodes = self._step(t)
            if nodes & used:
                raise self.fail("a node serves two layers; the graph is not a chain.")
            used |= nodes
            steps.append(step)
        return steps, used


    def _step(self, t: str) -> tuple[tuple, str, set[int]]:
        """The step that computes ``t``, the tensor it starts from, and the nodes it takes."""
        node = self.producer[t]
        if node.op in SIGNAL_OPS and (self.signals or node.op not in _foreign.OPS):  # a Flatten of signals: a layer
            layer, x = read_signal_node(node, self.constants, self.fail)
            return ("signal", layer), x, {node.index}
        foreign = _foreign.step(self, node)
        if foreign is not None:
            return foreign
        for name, recipe in RECIPES.get(self.producer[t].op, ()):
            env = self._match(recipe.expr, t, {"X": None, "nodes": frozenset()})
            if env is not None:
                return ("activation", name, env.get("params", {})), env["X"], set(env["nodes"])
        node = self.producer[t]
        if node.op in LINEAR:
            return self._linear(node)
        if node.op in _layers.OPS_READ:
            step, x = _layers.read(node, self.constants, self.fail)
            return step, x, {node.index}
        if node.op == "Add" and len(set(node.inputs)) == 2 and not set(node.inputs) & set(self.constants):
            return _layers.residual(self, node, lambda steps: _foreign.outputs(_fold(steps, self.fail), self.fail))
        if node.op in AFFINE:
            return self._affine(node)
        raise self.fail(f"{node.where} is not used as in any supported activation ({_table.describe()}).")

    def _match(self, e: Any, t: str, env: dict[str, Any]) -> dict[str, Any] | None:
        """``env`` extended by matching recipe expression ``e`` to tensor ``t`` (None: no match)."""
        if e == X:
            if t in self.constants or env["X"] not in (None, t):
                return None
            return {**env, "X": t}
        if not isinstance(e, Op):
            c = self.constants.get(t)
            if c is None or c.size != 1 or c.dtype.kind != "f":
                return None
            value = float(c.reshape(-1)[0])
            if isinstance(e, Param):
                return self._bind(env, e.name, value)
            return env if math.isclose(value, e, rel_tol=1e-6, abs_tol=1e-12) else None
        node = self.producer.get(t)
        if node is None or node.op != e.op or len(node.inputs) != len(e.inputs) or node.index in env["nodes"]:
            return None
        env = {**env, "nodes": env["nodes"] | {node.index}}
        if not set(node.attrs) <= {k for k, _ in e.attrs}:
            return None
        for key, spec in e.attrs:
            value = node.attrs.get(key, spec.default)
            if isinstance(spec, Attr) and value not in spec.accepted:
                return None
            if isinstance(spec, Param):
                bound = self._bind(env, spec.name, value) if isinstance(value, float) else None
                if bound is None:
                    return None
                env = bound
        orders = [e.inputs, e.inputs[::-1]] if e.op in ("Add", "Mul") else [e.inputs]
        for inputs in orders:
            found: dict[str, Any] | None = env
            for sub, name in zip(inputs, node.inputs):
                found = self._match(sub, name, found) if found is not None else None
            if found is not None:
                return found
        return None

    @staticmethod
    def _bind(env: dict[str, Any], name: str, value: float) -> dict[str, Any] | None:
        params = env.get("params", {})
        if name in params and params[name] != value:
            return None
        return {**env, "params": {**params, name: value}}

    def _operands(self, node: _Node) -> tuple[str, np.ndarray | None, np.ndarray | None]:
        """(the computed input, the first operand if constant, the second if constant) of a two-input node."""
        ins = list(node.inputs)
        if node.op == "Gemm" and len(ins) == 3 and ins[2] == "":
            ins = ins[:2]
        consts = [self.constants.get(i) for i in ins[:2]]
        computed = [i for i, c in zip(ins[:2], consts) if c is None]
        if len(ins) < 2 or len(computed) != 1:
            raise self.fail(f"{node.where} needs one computed input and one constant; it has {len(computed)} computed.")
        return computed[0], consts[0], consts[1]

    def _linear(self, node: _Node) -> tuple[tuple, str, set[int]]:
        if len(node.inputs) != (2 if node.op == "MatMul" else len(node.inputs)) or len(node.inputs) not in (2, 3):
            raise self.fail(f"{node.where} has {len(node.inputs)} inputs.")
        x, first, W = self._operands(node)
        if first is not None or W is None or W.ndim != 2 or W.dtype.kind != "f":
            raise self.fail(f"{node.where} must multiply the computed input by a constant matrix on its right.")
        if node.op == "Gemm":
            attrs = node.attrs
            if not set(attrs) <= {"alpha", "beta", "transA", "transB"} or attrs.get("transA", 0) != 0:
                raise self.fail(f"{node.where} has attributes {sorted(attrs)}; transA must be 0.")
            W = (W.T if attrs.get("transB", 0) else W) * attrs.get("alpha", 1.0)
            b = np.zeros(W.shape[1])
            if len(node.inputs) == 3 and node.inputs[2]:
                C = self.constants.get(node.inputs[2])
                bad = C is None or C.dtype.kind != "f" or C.size not in (1, W.shape[1])
                if bad or (C.ndim == 2 and C.shape[0] != 1):
                    raise self.fail(f"{node.where} needs a constant bias C of shape ({W.shape[1]},).")
                b = b + C.reshape(-1) * attrs.get("beta", 1.0)
        elif node.attrs:
            raise self.fail(f"{node.where} has attributes {sorted(node.attrs)}.")
        else:
            b = np.zeros(W.shape[1])
        return ("linear", W, b), x, {node.index}

    def _affine(self, node: _Node) -> tuple[tuple, str, set[int]]:
        """x·s + t, from Add, Sub, Mul or Div of the computed input and a constant (either side)."""
        if len(node.inputs) != 2 or node.attrs:
            raise self.fail(f"{node.where} must have two inputs and no attributes.")
        x, left, right = self._operands(node)
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

    def _build(self, steps: list[tuple]) -> Sequential:
        states: list[tuple[Any, dict[str, np.ndarray]]] = []  # running statistics, written once a model holds them
        layers = drop_redundant_flattens(self._layers(steps, states))
        input_shape = signal_input_shape(self.sample, self.fail)
        if input_shape is None:
            first = next((layer for layer in layers if isinstance(layer, Dense)), None)
            if first is None:
                raise self.fail("it has no MatMul or Gemm, so no dense layer.")
            if self.width is not None and self.width != first.n_in:
                raise self.fail(f"its input has {self.width} features but its first MatMul takes {first.n_in}.")
        try:  # the class io builds models from
            model = MODELS["Sequential"](*layers, dtype=self.dtype, input_shape=input_shape)
        except (ValueError, TypeError) as exc:
            raise self.fail(f"its layers do not fit together ({exc}).") from None
        for layer, state in states:
            for name, value in state.items():
                layer.state[name][...] = value
        return model

    def _layers(self, steps: list[tuple], states: list[tuple[Any, dict[str, np.ndarray]]]) -> list[Any]:
        layers: list[Any] = []
        for step in steps:
            if step[0] in _layers.kinds():
                layer, state = _layers.build(step, lambda inner: self._layers(inner, states))
                layers.append(layer)
                states.append((layer, state))
                continue
            if step[0] == "linear":
                W, b = step[1], step[2]
                layers.append(Dense(W.shape[0], W.shape[1], W=W, b=b))
                continue
            if step[0] == "signal":
                layers.append(step[1])
                continue
            cls = Activation.registry.get(step[1])
            if cls is None:
                raise self.fail(f"it uses the activation {step[1]}, which this chainrule has no class for.")
            params = step[2]
            if self.dtype == np.float32:  # the shortest decimal of a float32 attribute: 0.01, not 0.00999999977648
                params = {k: float(str(np.float32(v))) for k, v in params.items()}
            layers.append(cls.from_config({"type": cls.__name__, **params}))
        return layers


RECIPES: dict[str, list[tuple[str, _table.Recipe]]] = {}
"""Every recipe by its outermost op, the largest first: a composite is recognised before the single ops inside it."""
for _name, _recipe in sorted(
    ((name, r) for name, recipes in _table.TABLE.items() for r in recipes), key=lambda item: -len(item[1].ops())
):
    RECIPES.setdefault(_recipe.expr.op, []).append((_name, _recipe))
KNOWN_OPS = _table.ops_read() | set(LINEAR) | set(AFFINE) | {"Constant", "Identity"} | set(_foreign.OPS)
KNOWN_OPS |= _layers.OPS_READ | SIGNAL_OPS


def _fold(steps: list[tuple], fail: Any) -> list[tuple]:
    """Fold each elementwise x·s + t into the dense layer before it, else into the one after it."""
    kept: list[tuple] = []
    for step in steps:
        prev = kept[-1] if kept else None
        if step[0] == "affine" and prev is not None and prev[0] in ("linear", "affine"):
            s, t = step[1], step[2]
            if prev[0] == "affine":
                kept[-1] = ("affine", prev[1] * s, prev[2] * s + t, prev[3])
                continue
            W, b = prev[1], prev[2]
            if s.size not in (1, W.shape[1]) or t.size not in (1, W.shape[1]):
                raise fail(f"{step[3]} has {max(s.size, t.size)} values after a layer of {W.shape[1]} outputs.")
            kept[-1] = ("linear", W * s, b * s + t)
        else:
            kept.append(step)
    out: list[tuple] = []
    for k, step in enumerate(kept):
        if step[0] != "affine":
            out.append(step)
            continue
        nxt = kept[k + 1] if k + 1 < len(kept) else None
        if nxt is None or nxt[0] != "linear":
            raise fail(f"{step[3]} is not next to a MatMul or Gemm, so no chainrule layer holds it.")
        W, b = nxt[1], nxt[2]
        if step[1].size not in (1, W.shape[0]) or step[2].size not in (1, W.shape[0]):
            raise fail(f"{step[3]} has {max(step[1].size, step[2].size)} values before a layer of {W.shape[0]} inputs.")
        s = np.broadcast_to(step[1], (W.shape[0],))
        t = np.broadcast_to(step[2], (W.shape[0],))
        kept[k + 1] = ("linear", s[:, None] * W, t @ W + b)
    return out
