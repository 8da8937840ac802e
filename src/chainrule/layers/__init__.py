"""Layers: the protocol (``base``) and one module per family."""

from .base import Layer, bad_input, bind, chain_sizes
from .dense import Dense
from .dropout import Dropout
from .norm import BatchNorm, LayerNorm
from .residual import Residual

__all__ = ["BatchNorm", "Dense", "Dropout", "Layer", "LayerNorm", "Residual", "bad_input", "bind", "chain_sizes"]
