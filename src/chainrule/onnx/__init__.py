"""Models that leave chainrule, and come back: ONNX export and import.

``export(model, "model.onnx")`` writes a Sequential of Dense layers and activations as one ONNX graph
(``to_model_proto`` gives the same graph as an ``onnx.ModelProto``, without a file);
``load("model.onnx")`` reads such a graph (from chainrule, PyTorch, skl2onnx or elsewhere) back as a
Sequential, and ``class_labels("model.onnx")`` the class names it carries.
Both need the optional ``onnx`` package (``pip install "chainrule[onnx]"``, which also brings onnxruntime
to run the files); ``import chainrule`` never imports it.

The graph::

    X (N, n_in) ─► [Sub mean ─► Div scale] ─► MatMul W ─► Add b ─► activation ─► … ─► [Mul ─► Add] ─► Y (N, n_out)

* "X" and "Y" are in the model's dtype, float32 or float64; N is left free.
* A Dense layer is MatMul + Add, its weights initializers named ``layers.<i>.W`` and ``layers.<i>.b``.
* Every layer kind writes and reads itself (``Layer.to_onnx``, ``onnx_ops``, ``from_onnx``; see
  ``chainrule.layers.onnx_hooks``): export and load are drivers over ``Layer.registry``, and a new kind
  needs no change here. Each activation finds its recipes by its ``name`` in one table (``_table``): identity,
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
  an attribute, so float32.
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
standardisation, output scaling), and every recipe of the table, composites included (also as both of
PyTorch's exporters write gelu, gelu_tanh and softplus); BatchNormalization (inference mode),
LayerNormalization over the last axis, Dropout (as a Dropout layer of its ratio), Add of two computed tensors
where one is reached from the other by a chain (a Residual block), an Identity of a constant (PyTorch writes
one for parameters of equal values), and on signals X (N, C, L) Conv, MaxPool, AveragePool,
GlobalAveragePool, Flatten and a Reshape to (N, −1). Around the chain it reads what other tools write:

* skl2onnx's MLPClassifier and MLPRegressor graphs: the input Cast (a no-op where the dtype matches;
  otherwise its target is the model's dtype), the Reshape to (−1, k) of an (N, k) output, the label output
  (ArgMax → ArrayFeatureExtractor → Reshape → Cast) and the ZipMap, with or without it. Their class labels
  come back from ``class_labels(path)``, as those of chainrule's own "classes" metadata do. A binary
  classifier's Concat(1 − σ(z), σ(z)) becomes a two-column Dense layer and Softmax (softmax(−z/2, z/2) is
  that pair), so ``predict_proba`` gives both columns, as scikit-learn's does.
* Flatten(axis=1) of the 2-D input, and Identity after an activation: no-ops. After a dense layer,
  Identity is chainrule's identity activation, as ``export`` writes it.
* BatchNormalization (inference mode), LayerNormalization over the last axis, Dropout (as a Dropout layer of
  its ratio), Add of two computed tensors where one is reached from the other by a chain (a Residual
  block), and an Identity of a constant (PyTorch writes one for parameters of equal values).
* **LogSoftmax**, as the last op, imports as **Softmax**: the model outputs the probabilities exp(Y), not
  the file's log-probabilities Y (``np.log(model.predict(X))`` gives those). So ``predict_proba`` and
  explain see an ordinary softmax output, and ``categorical_cross_entropy`` fuses with it into the
  step (p − y)/n, which is also the gradient of the negative log-likelihood on the file's LogSoftmax.
  A LogSoftmax anywhere else is refused.

Anything else is refused with an ``OnnxFileError`` naming the op and its node.

Untrusted files: ``load`` reads at most ``MAX_FILE_BYTES`` from a regular file, parses only those bytes,
checks the IR version, the opset (``MIN_OPSET`` to the newest the installed onnx knows), node
domains, ops, attribute types, and each tensor's type, dims (at most ``MAX_ELEMENTS`` elements) and
byte count against the bytes present before converting it to NumPy. A damaged, truncated or hostile
file gives an ``OnnxFileError`` (a ValueError, and a ``chainrule.ModelFileError``), never another
exception, never code run from the file. External data (PyTorch keeps weights of 1 KiB or more in
``model.onnx.data`` by default) is read only from a regular file directly in the model's own folder, named
by a bare file name, opened without following links, within its size and ``MAX_EXTERNAL_BYTES`` in all;
absolute paths, ``..``, folders, links, ranges past the end of the file and oversized tensors are refused.

Where the two differ: chainrule's softplus is z itself above 20, as PyTorch's; ONNX's Softplus is
log(1 + eᶻ) everywhere (PyTorch exports it so too), less than e⁻²⁰ ≈ 2e-9 apart, which float32 cannot see.
onnxruntime's CPU provider has no float64 kernels for Elu, Softplus and Erf (so exact gelu): such float64
graphs run in ``onnx.reference.ReferenceEvaluator`` (whose Erf computes in float32) and other runtimes, or
export ``model.copy("float32")``.
"""

from ._errors import INSTALL, OnnxFileError
from ._export import DEFAULT_OPSET, export, to_model_proto
from ._load import class_labels, load
from ._registry import describe
from ._safe import MAX_ELEMENTS, MAX_FILE_BYTES, MIN_OPSET
from ._table import SUPPORTED

__all__ = [
    "DEFAULT_OPSET",
    "INSTALL",
    "MAX_ELEMENTS",
    "MAX_FILE_BYTES",
    "MIN_OPSET",
    "OnnxFileError",
    "SUPPORTED",
    "class_labels",
    "describe",
    "export",
    "load",
    "to_model_proto",
]
