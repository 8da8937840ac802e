"""Conv1D, the poolings and Flatten through ONNX: export against onnxruntime, import again, and import of the
MNIST-1D CNN as torch.onnx.export writes it with its legacy (TorchScript) and its default (dynamo) exporter."""

import warnings

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import chainrule as cr  # noqa: E402
import chainrule.onnx as cx  # noqa: E402

TOL = {"float32": 1e-6, "float64": 1e-12}


def run_ort(path, X):
    """onnxruntime's output; in float64, onnx's reference evaluator's (onnxruntime's CPU Conv is float32 only)."""
    if X.dtype == np.float64:
        from onnx.reference import ReferenceEvaluator

        return ReferenceEvaluator(str(path)).run(None, {"X": X})[0]
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"X": X})[0]


def ops(path):
    return [n.op_type for n in onnx.load(str(path)).graph.node]


def close(got, expected, dtype):
    """Absolute up to 1, relative above."""
    diff = np.max(np.abs(got.astype(np.float64) - expected) / np.maximum(1.0, np.abs(expected)))
    assert diff <= TOL[dtype], f"theirs vs mine differ by {diff:.3g}"


def every_signal_layer(dtype):
    """(2, 16) signals through every signal layer, trained a little so no weight is at its initial value."""
    model = cr.Sequential(
        cr.Conv1D(2, 4, 3, stride=2, padding=1, dilation=2), cr.ReLU(),  # (4, 7)
        cr.Conv1D(4, 4, 2, padding="same"), cr.Tanh(),                   # (4, 7): one zero on the right
        cr.MaxPool1D(2), cr.AvgPool1D(2, stride=1),                      # (4, 3), (4, 2)
        cr.Conv1D(4, 3, 1), cr.GlobalAvgPool1D(), cr.Dense(3, 3),
        input_shape=(2, 16), seed=0, dtype=dtype,
    )  # fmt: skip
    rng = np.random.default_rng(0)
    X = rng.normal(size=(32, 2, 16)).astype(dtype)
    model.fit(X, rng.integers(0, 3, 32), loss="softmax_cross_entropy", epochs=2, batch_size=8, verbose=0)
    return model, rng.normal(size=(5, 2, 16)).astype(dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_every_signal_layer_runs_in_onnxruntime_as_predict_and_comes_back(dtype, tmp_path):
    model, X = every_signal_layer(dtype)
    path = tmp_path / "m.onnx"
    cx.export(model, path)
    assert ops(path) == ["Conv", "Relu", "Conv", "Tanh", "MaxPool", "AveragePool", "Conv", "GlobalAveragePool",
                         "Flatten", "MatMul", "Add"]  # fmt: skip
    expected = model.predict(X).astype(np.float64)
    close(run_ort(path, X), expected, dtype)
    again = cx.load(path)
    assert [repr(layer) for layer in again.layers] == [repr(layer) for layer in model.layers]
    close(again.predict(X), expected, dtype)


def test_the_mnist1d_cnn_with_batchnorm_and_flatten_round_trips(tmp_path):
    model = cr.cnn1d(40, 10, seed=0, dtype="float32")
    X = np.random.default_rng(1).normal(size=(7, 1, 40)).astype(np.float32)
    model.fit(X, np.arange(7) % 10, loss="softmax_cross_entropy", epochs=2, verbose=0)
    cx.export(model, tmp_path / "cnn.onnx")
    expected = model.predict(X).astype(np.float64)
    close(run_ort(tmp_path / "cnn.onnx", X), expected, "float32")
    again = cx.load(tmp_path / "cnn.onnx")
    assert [repr(layer) for layer in again.layers] == [repr(layer) for layer in model.layers]
    close(again.predict(X), expected, "float32")


@pytest.mark.parametrize("dynamo", [False, True], ids=["legacy exporter", "default exporter"])
def test_the_mnist1d_cnn_from_torch_onnx_export_predicts_as_pytorch(dynamo, tmp_path):
    torch = pytest.importorskip("torch")
    if dynamo:
        pytest.importorskip("onnxscript")
    torch.manual_seed(0)
    nn = torch.nn
    net = nn.Sequential(
        nn.Conv1d(1, 25, 5, 2, 1), nn.ReLU(), nn.Conv1d(25, 25, 3, 2, 1), nn.ReLU(),
        nn.Conv1d(25, 25, 3, 2, 1), nn.ReLU(), nn.Flatten(), nn.Linear(125, 10),
    ).eval()  # fmt: skip
    path = tmp_path / "t.onnx"
    options = {"dynamic_axes": {"X": {0: "N"}}}
    if dynamo:  # one self-contained file, as the legacy exporter writes
        options = {"dynamic_shapes": ({0: torch.export.Dim("N")},), "external_data": False, "verbose": False}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the legacy exporter is deprecated; the default one logs its progress
        torch.onnx.export(net, (torch.zeros(3, 1, 40),), str(path), dynamo=dynamo, input_names=["X"],
                          output_names=["Y"], **options)  # fmt: skip
    model = cx.load(path)
    assert repr(model) == (
        "Sequential(Conv1D(1, 25, 5, stride=2, padding=1), ReLU(), Conv1D(25, 25, 3, stride=2, padding=1), ReLU(), "
        "Conv1D(25, 25, 3, stride=2, padding=1), ReLU(), Flatten(), Dense(125, 10))"
    )
    X = np.random.default_rng(1).normal(size=(6, 1, 40)).astype(np.float32)
    expected = net(torch.from_numpy(X)).detach().numpy().astype(np.float64)
    close(model.predict(X), expected, "float32")


def pooled_graph(op, **attrs):
    """A hand-built graph: X (N, 2, 8) -> op -> GlobalAveragePool -> Flatten -> Y."""
    from onnx import TensorProto, helper

    nodes = [
        helper.make_node(op, ["X"], ["p"], **attrs),
        helper.make_node("GlobalAveragePool", ["p"], ["g"]),
        helper.make_node("Flatten", ["g"], ["Y"], axis=1),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["N", 2, 8])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["N", 2])],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@pytest.mark.parametrize(
    "attrs, refused",
    [
        ({"kernel_shape": [2], "ceil_mode": 1}, "ceil_mode=1"),
        ({"kernel_shape": [2], "pads": [1, 1]}, "padding"),
        ({"kernel_shape": [2], "auto_pad": "SAME_UPPER"}, "auto_pad"),
        ({"kernel_shape": [2, 2]}, "kernel_shape"),
    ],
)
def test_a_pooling_chainrule_has_no_layer_for_is_refused_naming_the_attribute(attrs, refused, tmp_path):
    path = tmp_path / "p.onnx"
    onnx.save(pooled_graph("MaxPool", **attrs), str(path))
    with pytest.raises(cx.OnnxFileError, match=refused):
        cx.load(path)


def test_a_hand_built_pooling_graph_reads_as_the_layers_it_names(tmp_path):
    path = tmp_path / "p.onnx"
    onnx.save(pooled_graph("AveragePool", kernel_shape=[3], strides=[2]), str(path))
    model = cx.load(path)
    assert [repr(layer) for layer in model.layers] == ["AvgPool1D(3, stride=2)", "GlobalAvgPool1D()"]
    X = np.random.default_rng(0).normal(size=(4, 2, 8)).astype(np.float32)
    close(model.predict(X), run_ort(path, X).astype(np.float64), "float32")
