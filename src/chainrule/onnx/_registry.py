"""The layer kinds ONNX export and import drive over: ``Layer.registry``, and what each says it writes and reads."""

from __future__ import annotations

from ..layers import Activation, Layer


def layer_kinds() -> list[type[Layer]]:
    """Every registered layer class, the activations last (they are named by their ``name``)."""
    return sorted(Layer.registry.values(), key=lambda cls: (issubclass(cls, Activation), cls.__name__))


def exportable() -> str:
    """What export writes, read from the classes: each kind with a ``to_onnx``, and its ops."""
    parts = [cls.onnx_describe() for cls in layer_kinds() if cls.to_onnx is not Layer.to_onnx]
    return "; ".join(p for p in parts if p)


def readers() -> dict[str, list[type[Layer]]]:
    """Op name → the layer classes that read patterns holding it."""
    table: dict[str, list[type[Layer]]] = {}
    for cls in layer_kinds():
        for op in sorted(cls.onnx_ops()):
            table.setdefault(op, []).append(cls)
    return table


def readable() -> str:
    """What import reads, from the classes: each kind with a ``from_onnx``, and its ops."""
    return "; ".join(d for d in (cls.onnx_describe() for cls in layer_kinds() if cls.onnx_ops()) if d)


def describe() -> str:
    """The activations ONNX holds, found through their classes, with the ops of those written in several."""
    classes = dict.fromkeys(Activation.registry.values())
    return ", ".join(d for d in (cls.onnx_describe() for cls in classes) if d)
