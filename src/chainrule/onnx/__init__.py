"""Models that leave chainrule, and come back: ONNX export and import.

``export(model, "model.onnx")`` writes a Sequential of Dense layers and activations as one ONNX graph;
``load("model.onnx")`` reads such a graph (from chainrule, PyTorch or elsewhere) back as a Sequential.
Both need the optional ``onnx`` package (``pip install "chainrule[onnx]"``, which also brings onnxruntime
to run the files); ``import chainrule`` never imports it.

The graph::

    X (N, n_in) ─► [Sub mean ─► Div scale] ─► MatMul W ─► Add b ─► activation ─► … ─► [Mul ─► Add] ─► Y (N, n_out)

* "X" and "Y" are in the model's dtype, float32 or float64; N is left free.
* A Dense layer is MatMul + Add, its weights initializers named ``layers.<i>.W`` and ``layers.<i>.b``.
* Each activation is mapped by its ``name`` through one table (``chainrule.onnx._table``): identity,
  sigmoid, tanh, relu, leaky_relu (alpha), elu (alpha), softplus and softmax (axis −1) are one op each.
  Written as several ops: silu as x·Sigmoid(x); gelu as 0.5·x·(1 + Erf(x/√2)); gelu_tanh as
  0.5·x·(1 + Tanh(√(2/π)·(x + 0.044715·Pow(x, 3)))). From opset 20 a float32 model's gelu and gelu_tanh
  are one Gelu op (a float64 model keeps the composites: Gelu's definition holds float32 constants). A
  float64 leaky_relu or elu whose alpha no float32 holds is written with Relu/Neg/Mul/Sub(/Exp) and alpha
  as a float64 constant (ONNX attributes are float32). ``describe()`` lists them; any other activation
  or layer is refused, naming it.
* Dropout writes nothing (inference is the identity); BatchNorm is one BatchNormalization node holding γ, β
  and the running statistics; LayerNorm one LayerNormalization (opset 17 on; a float64 model's computes its
  statistics in float64); a Residual block its inner layers' nodes, then Add(x, f(x)). Their ``epsilon`` is
  an attribute, so float32 (``chainrule.onnx._layers``).
* ``preprocess=`` (a ``chainrule.datasets.Preprocessor``, as ``chainrule train`` saves beside a model in
  ``model.preprocess.json``) puts the standardisation (X − mean) / scale in front of the first layer; for
  a regression its target scaling y·y_scale + y_mean follows the last, so Y is in the target's units.
* ``proba=True`` appends the fitted loss's Sigmoid or Softmax to a model that ends in logits, so Y is
  ``predict_proba``'s output.

The label mapping travels in the model's ``metadata_props``: "classes" holds the JSON list of class
labels (class code i is ``classes[i]``, as in ``chainrule predict``), and "chainrule" a JSON object
saying what Y is ("output": "probabilities" or "predictions"; "columns": the class each column of Y is the
probability of — one sigmoid column is the second class's), whether the standardisation and the target
scaling are in the graph, and the chainrule model it came from. Read them with
``json.loads(dict((p.key, p.value) for p in onnx.load(path).metadata_props)["classes"])``.

Import reads a chain from input to output: MatMul or Gemm (alpha, beta and transB folded into W and b),
elementwise Add/Sub/Mul/Div by constants (folded into the neighbouring dense layer: biases,
standardisation, output scaling), and every recipe of the table, composites included (also as PyTorch
writes gelu and gelu_tanh); BatchNormalization (inference mode), LayerNormalization over the last axis,
Dropout (as a Dropout layer of its ratio), Add of two computed tensors where one is reached from the other
by a chain (a Residual block), and an Identity of a constant (PyTorch writes one for parameters of equal
values). Anything else is refused with an ``OnnxFileError`` naming the op.

Untrusted files: ``load`` reads at most ``MAX_FILE_BYTES`` from a regular file, parses only those bytes
(never external data: tensors stored outside the file are refused, so no path in a file is ever
opened), checks the IR version, the opset (``MIN_OPSET`` to the newest the installed onnx knows), node
domains, ops, attribute types, and each tensor's type, dims (at most ``MAX_ELEMENTS`` elements) and
byte count against the bytes present before converting it to NumPy. A damaged, truncated or hostile
file gives an ``OnnxFileError`` (a ValueError, and a ``chainrule.ModelFileError``), never another
exception, never code run from the file.

Where the two differ: chainrule's softplus is z itself above 20, as PyTorch's; ONNX's Softplus is
log(1 + eᶻ) everywhere (PyTorch exports it so too), less than e⁻²⁰ ≈ 2e-9 apart, which float32 cannot see.
onnxruntime's CPU provider has no float64 kernels for Elu, Softplus and Erf (so exact gelu): such float64
graphs run in ``onnx.reference.ReferenceEvaluator`` (whose Erf computes in float32) and other runtimes, or
export ``model.copy("float32")``.
"""

from ._errors import INSTALL, OnnxFileError
from ._export import DEFAULT_OPSET, export
from ._load import load
from ._safe import MAX_ELEMENTS, MAX_FILE_BYTES, MIN_OPSET
from ._table import SUPPORTED, describe

__all__ = [
    "DEFAULT_OPSET",
    "INSTALL",
    "MAX_ELEMENTS",
    "MAX_FILE_BYTES",
    "MIN_OPSET",
    "OnnxFileError",
    "SUPPORTED",
    "describe",
    "export",
    "load",
]
