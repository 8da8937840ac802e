"""chainrule: neural networks on NumPy with explicit, checkable, explainable backpropagation."""

from . import explain  # a callable module: cr.explain(model, X, y, loss)
from ._guard import DivergenceError
from ._version import __version__
from .activations import (
    ELU,
    GELU,
    GELUTanh,
    Identity,
    LeakyReLU,
    ReLU,
    Sigmoid,
    SiLU,
    Softmax,
    Softplus,
    Tanh,
    get_activation,
)
from .builders import clone, cnn1d, mlp
from .callbacks import Callback, EarlyStopping, History
from .checkpoint import ModelCheckpoint
from .ensemble import Ensemble, EnsembleHistory
from .explain import Explanation
from .gradcheck import GradcheckResult, gradcheck
from .initializers import get_initializer
from .io import ModelFileError, load
from .layers import (
    AvgPool1D,
    BatchNorm,
    Conv1D,
    Dense,
    Dropout,
    Flatten,
    GlobalAvgPool1D,
    Layer,
    LayerNorm,
    MaxPool1D,
    Residual,
)
from .losses import (
    MSE,
    SSE,
    BCEWithLogits,
    BinaryCrossEntropy,
    CategoricalCrossEntropy,
    Loss,
    SoftmaxCrossEntropy,
    get_loss,
)
from .model import Sequential
from .objective import Objective
from .onnx import load as from_onnx
from .optimizers import (
    SGD,
    Adam,
    CosineDecay,
    ExponentialDecay,
    Optimizer,
    RMSProp,
    StepDecay,
    get_optimizer,
)
from .replay import Replay

__all__ = [
    "__version__",
    "Adam",
    "AvgPool1D",
    "BCEWithLogits",
    "BatchNorm",
    "BinaryCrossEntropy",
    "Callback",
    "CategoricalCrossEntropy",
    "Conv1D",
    "CosineDecay",
    "Dense",
    "DivergenceError",
    "Dropout",
    "ELU",
    "EarlyStopping",
    "Ensemble",
    "EnsembleHistory",
    "Explanation",
    "ExponentialDecay",
    "Flatten",
    "GELU",
    "GELUTanh",
    "GlobalAvgPool1D",
    "GradcheckResult",
    "History",
    "Identity",
    "Layer",
    "LayerNorm",
    "LeakyReLU",
    "Loss",
    "MSE",
    "MaxPool1D",
    "ModelCheckpoint",
    "ModelFileError",
    "Objective",
    "Optimizer",
    "RMSProp",
    "ReLU",
    "Replay",
    "Residual",
    "SGD",
    "SSE",
    "Sequential",
    "SiLU",
    "Sigmoid",
    "Softmax",
    "SoftmaxCrossEntropy",
    "Softplus",
    "StepDecay",
    "Tanh",
    "clone",
    "cnn1d",
    "explain",
    "from_onnx",
    "get_activation",
    "get_initializer",
    "get_loss",
    "get_optimizer",
    "gradcheck",
    "load",
    "mlp",
]
