"""chainrule: neural networks on NumPy with explicit, checkable, explainable backpropagation."""

from . import explain  # a callable module: cr.explain(model, X, y, loss)
from ._guard import DivergenceError
from ._version import __version__
from .activations import Identity, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh, get_activation
from .builders import mlp
from .callbacks import Callback, EarlyStopping, History
from .checkpoint import ModelCheckpoint
from .explain import Explanation
from .gradcheck import GradcheckResult, gradcheck
from .initializers import get_initializer
from .io import ModelFileError, load
from .layers import Dense, Layer
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
from .model import Sequential, clone
from .objective import Objective
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

__all__ = [
    "__version__",
    "Adam",
    "BCEWithLogits",
    "BinaryCrossEntropy",
    "Callback",
    "CategoricalCrossEntropy",
    "CosineDecay",
    "Dense",
    "DivergenceError",
    "EarlyStopping",
    "Explanation",
    "ExponentialDecay",
    "GradcheckResult",
    "History",
    "Identity",
    "Layer",
    "LeakyReLU",
    "Loss",
    "MSE",
    "ModelCheckpoint",
    "ModelFileError",
    "Objective",
    "Optimizer",
    "RMSProp",
    "ReLU",
    "SGD",
    "SSE",
    "Sequential",
    "Sigmoid",
    "Softmax",
    "SoftmaxCrossEntropy",
    "StepDecay",
    "Tanh",
    "clone",
    "explain",
    "get_activation",
    "get_initializer",
    "get_loss",
    "get_optimizer",
    "gradcheck",
    "load",
    "mlp",
]
