"""Layers: the protocol (``base``) and one module per family."""

from .base import Buffers, Layer, bad_input, bind, build_chain, check_input, check_layers
from .dense import Dense

__all__ = ["Buffers", "Dense", "Layer", "bad_input", "bind", "build_chain", "check_input", "check_layers"]
