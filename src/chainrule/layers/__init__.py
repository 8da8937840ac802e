"""Layers: the protocol (``base``) and one module per family."""

from .base import Layer, bad_input, bind, chain_sizes
from .dense import Dense

__all__ = ["Dense", "Layer", "bad_input", "bind", "chain_sizes"]
