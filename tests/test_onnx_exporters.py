"""Every graph PyTorch's two exporters and skl2onnx write for the layers chainrule has, read back.

Each cell of the README's table is one test here: an exporter (PyTorch's default dynamo exporter, its legacy
TorchScript exporter ``dynamo=False``, skl2onnx), a model, and a dynamic or fixed batch axis. The expected
numbers are the source's own predictions (PyTorch's forward, scikit-learn's ``predict``/``predict_proba``),
matched within 1e-6 (float32; relative above 1). The files are exported once per module.
"""

import logging
import warnings

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
torch = pytest.importorskip("torch")
nn = torch.nn

import chainrule.onnx as cx  # noqa: E402

TOL = 1e-6


def close(got, expected):
    diff = np.max(np.abs(got.astype(np.float64) - expected) / np.maximum(1.0, np.abs(expected)))
    assert diff <= TOL, f"theirs vs mine differ by {diff:.3g}"


class _Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.f = nn.Sequential(nn.Linear(6, 6), nn.Tanh())

    def forward(self, x):
        return x + self.f(x)


class _Mean(nn.Module):
    def forward(self, x):
        return x.mean(-1)  # ReduceMean over the last axis


def _net(name):
    """(the PyTorch model, one sample's shape, chainrule's reading of it)."""
    torch.manual_seed(0)
    nets = {
        "MLP": (nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 3)), (4,)),
        "MLP + BatchNorm, Dropout": (
            nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Dropout(0.2), nn.Linear(6, 3)),
            (4,),
        ),
        "residual MLP": (nn.Sequential(nn.Linear(4, 6), _Residual(), nn.Linear(6, 3)), (4,)),
        "LayerNorm MLP": (nn.Sequential(nn.Linear(4, 6), nn.LayerNorm(6), nn.ReLU(), nn.Linear(6, 3)), (4,)),
        "GELU MLP": (nn.Sequential(nn.Linear(4, 6), nn.GELU(), nn.Linear(6, 3)), (4,)),
        "1-D CNN, pooling": (
            nn.Sequential(
                nn.Conv1d(2, 4, 3),
                nn.ReLU(),
                nn.MaxPool1d(2),
                nn.Conv1d(4, 4, 3),
                nn.AvgPool1d(2),
                nn.AdaptiveAvgPool1d(1),
                nn.Flatten(),
                nn.Linear(4, 3),
            ),
            (2, 16),
        ),  # fmt: skip
        "same, dilated Conv1d": (
            nn.Sequential(
                nn.Conv1d(2, 4, 3, padding="same"),
                nn.ReLU(),
                nn.Conv1d(4, 3, 3, dilation=2),
                nn.Flatten(),
                nn.Linear(3 * 12, 3),
            ),
            (2, 16),
        ),  # fmt: skip
        "x.mean(-1) head": (
            nn.Sequential(nn.Conv1d(2, 4, 4, padding="same"), nn.Tanh(), _Mean(), nn.Linear(4, 3)),
            (2, 16),
        ),
    }
    net, shape = nets[name]
    for m in net.modules():
        if isinstance(m, nn.BatchNorm1d):  # running statistics and affine parameters that are not 0 and 1
            m.running_mean.uniform_(-1, 1), m.running_var.uniform_(0.5, 2), m.weight.data.uniform_(0.5, 2)
    return net.eval(), shape


TORCH_MODELS = ["MLP", "MLP + BatchNorm, Dropout", "residual MLP", "LayerNorm MLP", "GELU MLP", "1-D CNN, pooling",
                "same, dilated Conv1d", "x.mean(-1) head"]  # fmt: skip
EXPORTERS = {"dynamo (opset 18)": (True, 18), "legacy (opset 17)": (False, 17), "legacy (opset 13)": (False, 13)}
NOT_READ = {("legacy (opset 13)", "LayerNorm MLP")}  # below opset 17 LayerNorm is written as nine elementwise ops


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """(exporter, model, batch) → (path, X, PyTorch's output), each file written once for the module."""
    folder, cache = tmp_path_factory.mktemp("exported"), {}

    def get(exporter, name, batch):
        key = (exporter, name, batch)
        if key not in cache:
            net, shape = _net(name)
            dynamo, opset = EXPORTERS[exporter]
            X = torch.from_numpy(np.random.default_rng(1).normal(size=(5, *shape)).astype(np.float32))
            kw = {"input_names": ["X"], "opset_version": opset, "dynamo": dynamo}
            if batch == "dynamic":
                kw.update(
                    {"dynamic_shapes": ({0: torch.export.Dim("N")},)} if dynamo else {"dynamic_axes": {"X": {0: "N"}}}
                )
            path = folder / f"{len(cache)}.onnx"
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                logging.disable(logging.WARNING)
                try:
                    torch.onnx.export(net, (X,), str(path), **kw)
                finally:
                    logging.disable(logging.NOTSET)
            with torch.no_grad():
                cache[key] = path, X.numpy(), net(X).numpy().astype(np.float64)
        return cache[key]

    return get


@pytest.mark.parametrize("batch", ["dynamic", "fixed"])
@pytest.mark.parametrize("name", TORCH_MODELS)
@pytest.mark.parametrize("exporter", list(EXPORTERS))
def test_pytorch_exports_read_back_as_the_source_predicts(exporter, name, batch, exported):
    path, X, expected = exported(exporter, name, batch)
    if (exporter, name) in NOT_READ:
        with pytest.raises(cx.OnnxFileError, match="unsupported op"):
            cx.load(path)
        return
    model = cx.load(path)
    close(model.predict(X), expected)
    close(model.predict(X[:2]), expected[:2])  # a fixed batch axis in the file does not fix chainrule's


def test_the_readings_are_the_layers_chainrule_has(exported):
    expected = {
        "1-D CNN, pooling": "Sequential(Conv1D(2, 4, 3), ReLU(), MaxPool1D(2), Conv1D(4, 4, 3), AvgPool1D(2), "
        "GlobalAvgPool1D(), Dense(4, 3))",
        "same, dilated Conv1d": "Sequential(Conv1D(2, 4, 3, padding=1), ReLU(), Conv1D(4, 3, 3, dilation=2), "
        "Flatten(), Dense(36, 3))",
        "x.mean(-1) head": "Sequential(Conv1D(2, 4, 4, padding='same'), Tanh(), GlobalAvgPool1D(), Dense(4, 3))",
    }
    for name, text in expected.items():
        for exporter in ("dynamo (opset 18)", "legacy (opset 17)"):
            assert repr(cx.load(exported(exporter, name, "fixed")[0])) == text, (exporter, name)


# ------------------------------------------------------------------------------------- skl2onnx pipelines
SCALERS = ["StandardScaler", "MinMaxScaler", "MaxAbsScaler", "RobustScaler"]


@pytest.fixture(scope="module")
def pipelines():
    """(scaler, estimator) → the fitted scikit-learn pipeline and its X."""
    from sklearn import preprocessing
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.pipeline import make_pipeline

    rng = np.random.default_rng(0)
    X = (rng.normal(size=(60, 4)) * [1, 10, 100, 0.1] + [0, 5, -50, 1]).astype(np.float32)  # scales far apart
    y = (X[:, 0] + X[:, 1] / 10 > 0.5).astype(int) + (X[:, 2] > -50)
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # not converged: the weights are what they are
        for scaler in SCALERS:
            estimators = [
                (MLPClassifier((5,), max_iter=50, random_state=0), y),
                (MLPRegressor(hidden_layer_sizes=(5,), max_iter=50, random_state=0), X @ [1, 0.1, 0.01, 3]),
            ]
            for est, target in estimators:  # fmt: skip
                out[scaler, type(est).__name__] = make_pipeline(getattr(preprocessing, scaler)(), est).fit(X, target), X
    return out


@pytest.mark.parametrize("batch", ["dynamic", "fixed"])
@pytest.mark.parametrize("estimator", ["MLPClassifier", "MLPRegressor"])
@pytest.mark.parametrize("scaler", SCALERS)
def test_skl2onnx_pipelines_with_each_scaler_read_back_as_scikit_learn_predicts(scaler, estimator, batch, pipelines,
                                                                                 tmp_path):  # fmt: skip
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType

    pipe, X = pipelines[scaler, estimator]
    types = [("X", FloatTensorType([None if batch == "dynamic" else len(X), 4]))]
    onnx.save(to_onnx(pipe, initial_types=types, target_opset=17), str(tmp_path / "p.onnx"))
    model = cx.load(tmp_path / "p.onnx")
    assert repr(model).startswith("Sequential(Dense(4, 5)")  # the scaler is folded into the first layer
    if estimator == "MLPClassifier":
        close(model.predict(X), pipe.predict_proba(X))
        assert cx.class_labels(tmp_path / "p.onnx") == [0, 1, 2]
    else:
        close(model.predict(X)[:, 0], pipe.predict(X))


# ------------------------------------------------------------------------------------- auto_pad, by hand
def conv_graph(length, **attrs):
    W = onnx.numpy_helper.from_array(
        np.random.default_rng(0).normal(size=(3, 2, attrs.pop("K", 3))).astype(np.float32), "W"
    )
    graph = onnx.helper.make_graph(
        [onnx.helper.make_node("Conv", ["X", "W"], ["Y"], name="conv", **attrs)], "g",
        [onnx.helper.make_tensor_value_info("X", onnx.TensorProto.FLOAT, ["N", 2, length])],
        [onnx.helper.make_tensor_value_info("Y", onnx.TensorProto.FLOAT, None)], initializer=[W],
    )  # fmt: skip
    return onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 17)])


@pytest.mark.parametrize(
    "attrs, padding",
    [
        ({"auto_pad": "SAME_UPPER", "K": 4}, "same"),  # 3 zeros: 1 before, 2 after
        ({"auto_pad": "SAME_UPPER", "K": 3, "dilations": [2]}, 2),
        ({"auto_pad": "SAME_LOWER", "K": 3}, 1),
        ({"auto_pad": "VALID", "K": 3}, 0),
        ({"auto_pad": "SAME_UPPER", "K": 3, "strides": [2]}, 1),  # L = 9: ⌈9/2⌉ = 5 outputs need 2 zeros
    ],
)
def test_auto_pad_reads_as_the_padding_onnx_defines(attrs, padding, tmp_path):
    path = tmp_path / "c.onnx"
    onnx.save(conv_graph(9, **attrs), str(path))
    model = cx.load(path)
    assert model.layers[0].padding == padding
    X = np.random.default_rng(1).normal(size=(4, 2, 9)).astype(np.float32)
    from onnx.reference import ReferenceEvaluator

    (theirs,) = ReferenceEvaluator(str(path)).run(None, {"X": X})  # onnxruntime: no dilated SAME
    assert model.predict(X).shape == theirs.shape
    close(model.predict(X), theirs.astype(np.float64))


@pytest.mark.parametrize(
    "attrs, refused",
    [
        ({"auto_pad": "SAME_LOWER", "K": 4}, r"pads \(2, 1\) \(unequal, not 'same'\)"),
        ({"auto_pad": "SAME_UPPER", "K": 4, "strides": [2]}, r"pads \(1, 2\)"),
        ({"pads": [1_000_000, 1_000_000]}, "pads by at most the input's length"),
        ({"dilations": [1_000_000]}, "its kernel fits the padded input"),
    ],
)
def test_padding_chainrule_cannot_hold_or_that_outgrows_the_input_is_refused(attrs, refused, tmp_path):
    path = tmp_path / "c.onnx"
    onnx.save(conv_graph(9, **attrs), str(path))
    with pytest.raises(cx.OnnxFileError, match=refused):
        cx.load(path)
