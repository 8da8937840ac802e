"""Layers: the protocol (``base``) and one module per family."""

from .base import Layer, bad_input, bind, chain_sizes
from .conv import Conv1D
from .dense import Dense
from .pool import AvgPool1D, GlobalAvgPool1D, MaxPool1D
from .reshape import Flatten

__all__ = [
    "AvgPool1D",
    "Conv1D",
    "Dense",
    "Flatten",
    "GlobalAvgPool1D",
    "Layer",
    "MaxPool1D",
    "bad_input",
    "bind",
    "chain_sizes",
]
