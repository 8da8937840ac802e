"""How a model puts its layers together: the chain of per-sample shapes, and the flat buffers they share."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .base import Layer


def check_layers(layers: Any) -> list[Layer]:
    """``layers`` as a list, checked: at least one, each a Layer, none twice."""
    if not layers:
        raise ValueError("a model needs at least one layer, e.g. Sequential(Dense(2, 1)).")
    for i, layer in enumerate(layers):
        if not isinstance(layer, Layer):
            raise TypeError(f"layer {i} is {layer!r}, not a chainrule Layer.")
    if len({id(layer) for layer in layers}) != len(layers):
        raise ValueError("the same layer object appears twice; build a separate layer for each position.")
    return list(layers)


def build_chain(
    layers: list[Layer], n_models: int | None, input_shape: tuple[int, ...] | None = None, source: str = ""
) -> tuple[tuple[int, ...] | None, tuple[int, ...] | None]:
    """Build ``layers`` in order (see ``Layer.build``); return the model's input and output sample shapes.

    The input shape is ``input_shape`` (from ``source``, e.g. "the data", for the messages), or the one the
    first layer fixes by itself (Dense's (n_in,)), looking through leading layers that keep any shape
    (activations, Dropout). Where no layer fixes it (a CNN), nothing is built and (None, None) returned:
    the model builds at its first batch. Where two neighbours do not fit, the ValueError names both layers
    and the shape that passes between them.
    """
    if input_shape is None:
        for layer in layers:
            if layer.input_shape is not None or not layer.keeps_shape:
                input_shape = layer.input_shape
                break
        if input_shape is None:
            return None, None
    shape = in_shape = tuple(int(d) for d in input_shape)
    for i, layer in enumerate(layers):
        try:
            shape = layer.build(shape, n_models)
        except ValueError as e:
            for built in layers[:i]:  # nothing stays half-built
                built.in_shape = built.out_shape = None
            before = f"the layer before it, {layers[i - 1]!r}" if i else f"the model's input{source}"
            raise ValueError(f"layer {i}, {layer!r}, does not fit {before}: {e}") from None
    return in_shape, shape


@dataclass
class Buffers:
    """A model's flat buffers: parameters, their gradients, and the untrained state, each (P,) or (n_models, P)."""

    params: np.ndarray
    grads: np.ndarray
    state: np.ndarray


def bind(
    layers: list[Layer], owner: Any, dtype: np.dtype, n_models: int | None = None
) -> tuple[Buffers, list[set[str]]]:
    """Give every layer views into one flat parameter buffer, one gradient buffer and one state buffer.

    With ``n_models`` the buffers are (n_models, P) and every view gains that
    leading axis. Values somebody set (see ``Layer.user_set``) are copied in
    (to every model of a stack); every layer is checked before any is
    changed; state starts from ``reset_state``. Returns the buffers and, per
    layer, the names of the parameters still to be drawn.
    """
    lead = () if n_models is None else (n_models,)
    param_shapes = [layer.param_shapes() for layer in layers]
    state_shapes = [layer.state_shapes() for layer in layers]
    buffers = Buffers(*(_flat(param_shapes, lead, dtype) for _ in range(2)), _flat(state_shapes, lead, dtype))
    params, grads = _views(buffers.params, param_shapes, lead), _views(buffers.grads, param_shapes, lead)
    states = _views(buffers.state, state_shapes, lead)
    for layer in layers:
        layer.check_adoptable(owner)
    unset = []
    for layer, p, g, st in zip(layers, params, grads, states):
        kept = layer.adopt(owner, p, g)
        for name, value in kept.items():
            p[name][...] = value
        old, layer.state = layer.state, st
        layer.reset_state()
        for name, value in old.items():  # state the layer already held (an unpickled model's) is kept
            if name in st and np.shape(value) == st[name].shape:
                st[name][...] = value
        unset.append(set(p) - set(kept))
    return buffers, unset


def _flat(shapes: list[dict[str, tuple[int, ...]]], lead: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    return np.zeros((*lead, sum(math.prod(s) for layer_shapes in shapes for s in layer_shapes.values())), dtype)


def _views(flat: np.ndarray, shapes: list[dict[str, tuple[int, ...]]], lead: tuple[int, ...]) -> list[dict]:
    """Per layer, name -> a view of ``flat`` with that shape (and the lead axes), in layer order."""
    offset, views = 0, []
    for layer_shapes in shapes:
        views.append({})
        for name, shape in layer_shapes.items():
            size = math.prod(shape)
            views[-1][name] = flat[..., offset : offset + size].reshape(*lead, *shape)
            offset += size
    return views
