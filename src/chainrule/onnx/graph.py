"""What a layer class sees of an ONNX graph: ``Writer`` when it writes itself, ``Node`` when it reads itself back.

A layer kind's ONNX facts sit on its class (see ``chainrule.layers.Layer``): ``to_onnx(g, x, name)`` writes its
inference-mode nodes with a ``Writer``; ``onnx_ops()`` names the ops its patterns hold, and
``from_onnx(node, graph)`` reads a ``Node`` whose output it may compute, returning a ``Read`` (or None: not its
pattern). ``export`` and ``load`` are drivers over ``Layer.registry``; the helpers here are what layers share.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .._archive import short
from ._table import Op, Param, X

if TYPE_CHECKING:
    from ._errors import OnnxFileError


# ---------------------------------------------------------------- writing
class Writer:
    """Nodes and initializers, named after the layer they come from (``layers.2/MatMul``, ``layers.2.W``).

    ``dtype`` is the model's, ``opset`` the one being written. A layer that cannot be written raises
    ValueError saying why; the driver prefixes the layer's position.
    """

    def __init__(self, onnx: Any, dtype: np.dtype, opset: int, exports: str = "") -> None:
        self.onnx, self.dtype, self.opset = onnx, dtype, opset
        self.exports = exports  # what export writes, for the refusal of what it cannot
        self.nodes: list[Any] = []
        self.inits: list[Any] = []

    def const(self, name: str, value: Any) -> str:
        """An initializer of the model's dtype holding ``value``; returns its name."""
        self.inits.append(self.onnx.numpy_helper.from_array(np.asarray(value, dtype=self.dtype), name))
        return name

    def node(self, op: str, inputs: list[str], out: str, **attrs: Any) -> str:
        """One node whose one output (and name) is ``out``; returns ``out``."""
        self.nodes.append(self.onnx.helper.make_node(op, inputs, [out], name=out, **attrs))
        return out

    def layer(self, layer: Any, x: str, name: str) -> str:
        """Write ``layer`` (finite parameters and state checked) on tensor ``x``; returns its output tensor."""
        for part, arrays in (("weights", layer.params), ("state", layer.state)):
            bad = next((k for k, v in arrays.items() if not np.isfinite(v).all()), None)
            if bad is not None:
                raise ValueError(f"it has NaN or infinite {part} ({bad}); they cannot be exported.")
        return layer.to_onnx(self, x, name)

    def recipe(self, expr: Op, x: str, out: str, params: dict[str, float]) -> str:
        """Write recipe ``expr`` (``chainrule.onnx._table``) with ``X`` = ``x``; its last node writes ``out``."""
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

    def untranslatable(self, what: str) -> ValueError:
        """The refusal of a layer kind with no ONNX form, listing the kinds that have one."""
        return ValueError(f"chainrule.onnx has no ONNX translation for {what}. It exports {self.exports}.")

    def rename(self, old: str, new: str) -> None:
        """Give the graph's last tensor (the output) the name ``new``."""
        for node in self.nodes:
            for k, name in enumerate(node.output):
                if name == old:
                    node.output[k] = new


# ---------------------------------------------------------------- reading
@dataclass(frozen=True)
class Read:
    """What one pattern read: the layer (None: a no-op), the tensor it reads, and the nodes it took."""

    layer: Any
    input: str
    nodes: frozenset[int]


@dataclass(frozen=True)
class Node:
    """One node of a graph being read, with the checks layers share when reading it."""

    index: int
    op: str
    inputs: tuple[str, ...]
    attrs: dict[str, Any]
    where: str  # "node 'name' (Op)", for messages
    fail: Callable[[str], OnnxFileError] = field(repr=False, compare=False)
    output: str = ""

    def refuse(self, what: str) -> OnnxFileError:
        """The error for this node: ``where`` then ``what``."""
        return self.fail(f"{self.where} {what}")

    def computed_input(self, graph: Any, k: int = 0) -> str:
        """Input ``k``, which must be computed from X (not a constant)."""
        x = self.inputs[k] if len(self.inputs) > k else ""
        if not x or x in graph.constants:
            raise self.refuse(f"must read a computed tensor as input {k}.")
        return x

    def one_int(self, name: str, default: Any = None) -> int:
        """The attribute ``name`` (``default`` when absent) holding one whole number, as 1-D layers need."""
        value = self.attrs.get(name, default)
        if not isinstance(value, (list, tuple)) or len(value) != 1 or not isinstance(value[0], int):
            raise self.refuse(f"has {name}={short(value, 40)}; one-dimensional layers need one whole number.")
        return value[0]

    def require(self, ok: bool, what: str) -> None:
        """Refuse the node unless ``ok``: it uses ``what``, which chainrule's layers do not have."""
        if not ok:
            raise self.refuse(f"uses {what}, which chainrule's layers do not have.")

    def read(self, layer: Any, x: str, nodes: Any = ()) -> Read:
        """The ``Read`` of ``layer`` on tensor ``x`` taking this node and ``nodes``."""
        return Read(layer, x, frozenset({self.index, *nodes}))


def dropout_ratio(node: Node, constants: dict[str, np.ndarray]) -> float:
    """A Dropout node's ratio (attribute or constant input), in inference mode; refused otherwise."""
    rest = node.inputs[1:]
    ratio = node.attrs.get("ratio", 0.5)
    if rest and rest[0]:
        c = constants.get(rest[0])
        if c is None or c.size != 1:
            raise node.refuse("needs its ratio as a constant scalar.")
        ratio = float(c.reshape(-1)[0])
    if len(rest) > 1 and rest[1] and not (rest[1] in constants and not constants[rest[1]].any()):
        raise node.refuse("is in training mode; chainrule reads inference graphs.")
    if not 0 <= ratio < 1:
        raise node.refuse(f"has ratio {ratio}; a Dropout rate is in [0, 1).")
    return float(str(np.float32(ratio)))


def constant_vectors(node: Node, constants: dict[str, np.ndarray], count: int) -> list[np.ndarray]:
    """Inputs 1 … ``count`` of ``node`` as constant vectors of one length (a normalisation's scale, bias, …)."""
    names = node.inputs[1:]
    arrays = [constants.get(n) if n else None for n in names]
    if len(arrays) != count or any(a is None or a.ndim != 1 for a in arrays) or len({a.size for a in arrays}) != 1:
        raise node.refuse(f"needs {count} constant vectors of one length after its input (scale, bias, statistics).")
    return arrays  # type: ignore[return-value]


def epsilon(node: Node, default: float = 1e-5) -> float:
    """A positive ``epsilon`` attribute as the shortest decimal of its float32 (1e-05, not 9.99999974738e-06)."""
    eps = node.attrs.get("epsilon", default)
    if not isinstance(eps, float) or not eps > 0:
        raise node.refuse(f"has epsilon {eps!r}; a positive number is needed.")
    return float(str(np.float32(eps)))


def linear_weights(node: Node, constants: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, str]:
    """(W, b, x) of MatMul(x, W) or Gemm(x, B, C): alpha, beta and transB folded in; transA must be 0."""
    ins = list(node.inputs)
    if node.op == "Gemm" and len(ins) == 3 and ins[2] == "":
        ins = ins[:2]
    if len(ins) != (2 if node.op == "MatMul" else len(ins)) or len(ins) not in (2, 3):
        raise node.refuse(f"has {len(node.inputs)} inputs.")
    first, W = constants.get(ins[0]), constants.get(ins[1])
    if first is None and W is None:
        raise node.refuse("needs one computed input and one constant; it has 2 computed.")
    if first is not None or W is None or W.ndim != 2 or W.dtype.kind != "f":
        raise node.refuse("must multiply the computed input by a constant matrix on its right.")
    attrs = node.attrs
    if node.op == "MatMul" and attrs:
        raise node.refuse(f"has attributes {sorted(attrs)}.")
    if not set(attrs) <= {"alpha", "beta", "transA", "transB"} or attrs.get("transA", 0) != 0:
        raise node.refuse(f"has attributes {sorted(attrs)}; transA must be 0.")
    if attrs.get("transB", 0):
        W = W.T
    if attrs.get("alpha", 1.0) != 1.0:
        W = W * attrs["alpha"]
    b = np.zeros(W.shape[1], W.dtype)
    if len(ins) == 3:
        C = constants.get(ins[2])
        if C is None or C.dtype.kind != "f" or C.size not in (1, W.shape[1]) or (C.ndim == 2 and C.shape[0] != 1):
            raise node.refuse(f"needs a constant bias C of shape ({W.shape[1]},).")
        b = b + C.reshape(-1) * attrs.get("beta", 1.0)
    return W, b, ins[0]
