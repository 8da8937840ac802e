"""Activations in ONNX: each class's recipes (``_table``), written by ``to_onnx`` and matched by ``from_onnx``."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._table import Attr, Op, Param, X
from .graph import Node, Read, Writer


def activation_to_onnx(layer: Any, g: Writer, x: str, name: str) -> str:
    """Write activation ``layer`` with the first of its recipes the opset and dtype allow."""
    recipes = type(layer).onnx_recipes()
    if not recipes:
        raise g.untranslatable(f"activation {layer.name!r}")
    config = layer.get_config()
    params = {}
    for p in sorted({p for r in recipes for p in r.params()}):
        value = config.get(p, getattr(layer, p, None))
        if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)) or not np.isfinite(value):
            raise ValueError(f"it has {p}={value!r}; a finite number is needed.")
        params[p] = float(value)
    recipe = next((r for r in recipes if r.min_opset <= g.opset and r.exact(g.dtype, params)), None)
    if recipe is None:
        raise ValueError(f"opset {g.opset} has no ops for {layer.name}; use a newer opset.")
    return g.recipe(recipe.expr, x, name, params)


def activation_from_onnx(cls: Any, node: Node, graph: Any) -> Read | None:
    """The largest of ``cls``'s recipes that computes ``node``'s output, as a layer of ``cls``."""
    best: tuple[int, dict[str, Any]] | None = None
    for recipe in cls.onnx_recipes():
        if recipe.expr.op != node.op:
            continue
        env = match(recipe.expr, graph.output_of(node), graph, {"X": None, "nodes": frozenset()})
        if env is not None and (best is None or len(env["nodes"]) > best[0]):
            best = (len(env["nodes"]), env)
    if best is None:
        return None
    params = best[1].get("params", {})
    if graph.dtype == np.float32:  # the shortest decimal of a float32 attribute: 0.01, not 0.00999999977648
        params = {k: float(str(np.float32(v))) for k, v in params.items()}
    return Read(cls.from_config({"type": cls.__name__, **params}), best[1]["X"], best[1]["nodes"])


def match(e: Any, t: str, graph: Any, env: dict[str, Any]) -> dict[str, Any] | None:
    """``env`` extended by matching recipe expression ``e`` to tensor ``t`` (None: no match)."""
    if e == X:
        if t in graph.constants or env["X"] not in (None, t):
            return None
        return {**env, "X": t}
    if not isinstance(e, Op):
        c = graph.constants.get(t)
        if c is None or c.size != 1 or c.dtype.kind != "f":
            return None
        value = float(c.reshape(-1)[0])
        if isinstance(e, Param):
            return _bind(env, e.name, value)
        return env if math.isclose(value, e, rel_tol=1e-6, abs_tol=1e-12) else None
    node = graph.producer.get(t)
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
            bound = _bind(env, spec.name, value) if isinstance(value, float) else None
            if bound is None:
                return None
            env = bound
    orders = [e.inputs, e.inputs[::-1]] if e.op in ("Add", "Mul") else [e.inputs]
    for inputs in orders:
        found: dict[str, Any] | None = env
        for sub, name in zip(inputs, node.inputs):
            found = match(sub, name, graph, found) if found is not None else None
        if found is not None:
            return found
    return None


def _bind(env: dict[str, Any], name: str, value: float) -> dict[str, Any] | None:
    params = env.get("params", {})
    if name in params and params[name] != value:
        return None
    return {**env, "params": {**params, name: value}}
