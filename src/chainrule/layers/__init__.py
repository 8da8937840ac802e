"""Layers: the protocol (``base``) and one module per family."""

from .base import Buffers, Layer, bad_input, bind, build_chain, check_input, check_layers
from .dense import Dense
from .dropout import Dropout
from .norm import BatchNorm, LayerNorm
from .residual import Residual

__all__ = ["BatchNorm", "Buffers", "Dense", "Dropout", "Layer", "LayerNorm", "Residual", "bad_input", "bind",
           "build_chain", "check_input", "check_layers"]  # fmt: skip
