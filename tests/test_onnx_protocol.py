"""The ONNX part of the layer protocol: a layer kind brings its own export and import, and onnx/ only drives.

A kind defined here, in a test file, is exported and read back with nothing under chainrule/onnx changed; the
refusals name the op, its node and the layer it most likely came from."""

import warnings

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
torch = pytest.importorskip("torch")

import chainrule as cr  # noqa: E402
import chainrule.onnx as cx  # noqa: E402
from chainrule.layers import Layer  # noqa: E402


@pytest.fixture
def prelu_kind():
    """A PReLU with one slope, as a new layer kind would write it: forward, backward and its ONNX hooks."""

    class OneSlopePReLU(Layer):
        def __init__(self, slope=0.25):
            super().__init__()
            self.slope = float(slope)

        def forward(self, X, training=True, keep=True):
            return np.where(X > 0, X, self.slope * X)

        def get_config(self):
            return {"type": "OneSlopePReLU", "slope": self.slope}

        def to_onnx(self, g, x, name):
            return g.node("PRelu", [x, g.const(f"{name}.slope", [self.slope])], name)

        @classmethod
        def onnx_ops(cls):
            return frozenset({"PRelu"})

        @classmethod
        def from_onnx(cls, node, graph):
            slope = graph.constants.get(node.inputs[1])
            if slope is None or slope.size != 1:
                raise node.refuse("needs one constant slope.")
            return node.read(cls(float(slope.reshape(-1)[0])), node.computed_input(graph))

    yield OneSlopePReLU
    del Layer.registry["OneSlopePReLU"]


def test_a_new_layer_kind_brings_its_export_and_import(prelu_kind, tmp_path):
    model = cr.Sequential(cr.Dense(3, 4), prelu_kind(0.1), cr.Dense(4, 2), seed=0)
    cx.export(model, tmp_path / "m.onnx")
    assert [n.op_type for n in onnx.load(str(tmp_path / "m.onnx")).graph.node] == ["MatMul", "Add", "PRelu",
                                                                                  "MatMul", "Add"]  # fmt: skip
    X = np.random.default_rng(0).normal(size=(6, 3))
    (theirs,) = ort.InferenceSession(str(tmp_path / "m.onnx")).run(None, {"X": X})
    expected = np.maximum(X @ model.layers[0].params["W"] + model.layers[0].params["b"], 0)
    z = X @ model.layers[0].params["W"] + model.layers[0].params["b"]
    expected = np.where(z > 0, z, 0.1 * z) @ model.layers[2].params["W"] + model.layers[2].params["b"]
    np.testing.assert_allclose(theirs, expected, rtol=1e-12)
    again = cx.load(tmp_path / "m.onnx")
    assert repr(again).startswith("Sequential(Dense(3, 4), OneSlopePReLU()") and again.layers[1].slope == 0.1
    np.testing.assert_allclose(again.predict(X), expected, rtol=1e-12)


def test_the_lists_of_what_is_written_and_read_come_from_the_registry(prelu_kind, tmp_path):
    class Twice(Layer):
        def forward(self, X, training=True, keep=True):
            return 2 * X

    try:
        with pytest.raises(ValueError, match="layer 1, Twice.*layer type Twice") as info:
            cx.export(cr.Sequential(cr.Dense(2, 2), Twice(), seed=0), tmp_path / "m.onnx")
    finally:
        del Layer.registry["Twice"]
    assert "OneSlopePReLU (PRelu)" in str(info.value) and "Conv1D (Conv)" in str(info.value)
    graph = onnx.helper.make_graph(
        [onnx.helper.make_node("Erf", ["X"], ["Y"], name="e")], "g",
        [onnx.helper.make_tensor_value_info("X", onnx.TensorProto.FLOAT, ["N", 2])],
        [onnx.helper.make_tensor_value_info("Y", onnx.TensorProto.FLOAT, ["N", 2])],
    )  # fmt: skip
    onnx.save(onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 17)]), tmp_path / "e.onnx")
    with pytest.raises(cx.OnnxFileError, match="OneSlopePReLU \\(PRelu\\)"):
        cx.load(tmp_path / "e.onnx")


def torch_file(net, x, path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net.eval(), (x,), str(path), dynamo=False, opset_version=17, input_names=["X"])
    return path


def test_a_conv2d_is_refused_naming_the_layer(tmp_path):
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.Flatten(), torch.nn.Linear(8, 2))
    path = torch_file(net, torch.randn(1, 1, 4, 4), tmp_path / "c.onnx")
    with pytest.raises(cx.OnnxFileError, match=r"Conv with a 2-D kernel \(a Conv2d\): chainrule has Conv1D only"):
        cx.load(path)


def test_an_lstm_is_refused_naming_the_op_its_node_and_the_layer(tmp_path):
    class Last(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = torch.nn.LSTM(3, 4, batch_first=True)

        def forward(self, x):
            return self.lstm(x)[0][:, -1]

    path = torch_file(Last(), torch.randn(2, 5, 3), tmp_path / "l.onnx")
    with pytest.raises(cx.OnnxFileError, match=r"unsupported op 'LSTM' \(node '[^']+'\), from an LSTM layer"):
        cx.load(path)


def test_a_residual_cycle_is_refused_with_an_onnx_file_error(residual_cycle_onnx):
    """Add(a, b) where b is made from a and a from b: a cycle, refused as a file error (never RecursionError)."""
    with pytest.raises(cx.OnnxFileError):
        cx.load(residual_cycle_onnx)


def test_a_kind_that_takes_integer_indices_is_exported_and_read_with_an_int64_input(tmp_path):
    """Embedding writes and reads its own Gather (its hooks in layers/embedding.py): the driver needs nothing more."""
    model = cr.Sequential(cr.Embedding(10, 4), cr.Flatten(), cr.Dense(12, 2), input_shape=(3,), seed=0)
    cx.export(model, tmp_path / "e.onnx")
    X = np.array([[1, 2, 3], [4, 5, 9]])
    (theirs,) = ort.InferenceSession(str(tmp_path / "e.onnx")).run(None, {"X": X})
    np.testing.assert_allclose(theirs, model.predict(X), rtol=1e-12)
    assert repr(cx.load(tmp_path / "e.onnx")) == "Sequential(Embedding(10, 4), Flatten(), Dense(12, 2))"
    net = torch.nn.Sequential(torch.nn.Embedding(10, 4), torch.nn.Flatten(), torch.nn.Linear(12, 2)).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (torch.tensor(X),), str(tmp_path / "t.onnx"), dynamo=False, input_names=["X"],
                          dynamic_axes={"X": {0: "N"}})  # fmt: skip
    with torch.no_grad():
        expected = net(torch.tensor(X)).numpy()
    np.testing.assert_allclose(cx.load(tmp_path / "t.onnx").predict(X), expected, rtol=1e-6, atol=1e-6)
