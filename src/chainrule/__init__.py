"""chainrule: neural networks on NumPy with explicit, checkable, explainable backpropagation."""

from . import explain  # a callable module: cr.explain(model, X, y, loss)
from ._version import __version__
from .builders import clone, cnn1d, mlp
from .core._guard import DivergenceError
from .core.callbacks import Callback, EarlyStopping, History
from .core.checkpoint import ModelCheckpoint
from .core.ensemble import Ensemble, EnsembleHistory
from .core.losses import (
    MSE,
    SSE,
    BCEWithLogits,
    BinaryCrossEntropy,
    CategoricalCrossEntropy,
    Loss,
    SoftmaxCrossEntropy,
    get_loss,
)
from .core.model import Sequential
from .core.objective import Objective
from .core.optimizers import (
    SGD,
    Adam,
    CosineDecay,
    ExponentialDecay,
    Optimizer,
    RMSProp,
    StepDecay,
    get_optimizer,
)
from .core.summed_losses import MultilabelBCE, PoissonDeviance
from .explain import Explanation
from .gradcheck import GradcheckResult, gradcheck
from .io import ModelFileError, load
from .layers import (
    AvgPool1D,
    BatchNorm,
    Conv1D,
    Dense,
    Dropout,
    Embedding,
    Flatten,
    GlobalAvgPool1D,
    Layer,
    LayerNorm,
    MaxPool1D,
    PReLU,
    Residual,
)
from .layers.activations import (
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
from .layers.initializers import get_initializer
from .onnx import load as from_onnx
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
    "Embedding",
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
    "MultilabelBCE",
    "Objective",
    "Optimizer",
    "PReLU",
    "PoissonDeviance",
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
