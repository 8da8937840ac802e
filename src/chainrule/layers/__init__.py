"""Layers: the protocol (``base``) and one module per family."""

from .base import Layer, bad_input, bind, chain_sizes
from .conv import Conv1D
from .dense import Dense
from .dropout import Dropout
from .norm import BatchNorm, LayerNorm
from .pool import AvgPool1D, GlobalAvgPool1D, MaxPool1D
from .reshape import Flatten
from .residual import Residual

__all__ = [
    "AvgPool1D",
    "BatchNorm",
    "Conv1D",
    "Dense",
    "Dropout",
    "Flatten",
    "GlobalAvgPool1D",
    "Layer",
    "LayerNorm",
    "MaxPool1D",
    "Residual",
    "bad_input",
    "bind",
    "chain_sizes",
]
