"""The error for unusable ONNX files, and the optional dependency, imported only when needed."""

from __future__ import annotations

from types import ModuleType

from ..io import ModelFileError

INSTALL = 'pip install "chainrule[onnx]"'


class OnnxFileError(ModelFileError):
    """An ONNX file chainrule will not read: damaged, hostile, too large, or not a chain of Dense layers
    and supported activations. A ValueError (and a ``chainrule.ModelFileError``)."""


def require_onnx() -> ModuleType:
    """The ``onnx`` package, or an ImportError whose one line says what to install."""
    try:
        import onnx
    except ImportError:
        raise ImportError(f"chainrule.onnx needs the onnx package, which is not installed: {INSTALL}") from None
    return onnx
