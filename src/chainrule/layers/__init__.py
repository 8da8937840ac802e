"""Layers: the protocol (``base``) and one module per family, the activations included."""

from .activations import Activation
from .base import Layer
from .chain import Buffers, bind, build_chain, check_layers
from .checks import bad_input, check_input
from .conv import Conv1D
from .dense import Dense
from .dropout import Dropout
from .embedding import Embedding
from .norm import BatchNorm, LayerNorm
from .pool import AvgPool1D, GlobalAvgPool1D, MaxPool1D
from .prelu import PReLU
from .reshape import Flatten
from .residual import Residual

__all__ = [
    "Activation",
    "AvgPool1D",
    "BatchNorm",
    "Buffers",
    "Conv1D",
    "Dense",
    "Dropout",
    "Embedding",
    "Flatten",
    "GlobalAvgPool1D",
    "Layer",
    "LayerNorm",
    "MaxPool1D",
    "PReLU",
    "Residual",
    "bad_input",
    "bind",
    "build_chain",
    "check_input",
    "check_layers",
]
