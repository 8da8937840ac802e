"""Dropout, BatchNorm, LayerNorm and Residual through ONNX: export, onnxruntime against predict, import again,
and import of what PyTorch's exporter writes for the same modules."""

import warnings

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import chainrule as cr  # noqa: E402
import chainrule.onnx as cx  # noqa: E402

# float64 against onnxruntime: epsilon is an attribute, and ONNX attributes are float32 (1e-5 becomes
# 9.99999974738e-06), which moves 1/√(σ² + ε) by up to ~1e-12 relative for σ² near 0.01
TOL = {"float32": 2e-6, "float64": 1e-12, "onnx float64": 1e-10}


def run_ort(path, X):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"X": X})[0]


def ops(path):
    return [n.op_type for n in onnx.load(str(path)).graph.node]


def close(got, expected, dtype):
    """Absolute up to 1, relative above."""
    diff = np.max(np.abs(got.astype(np.float64) - expected) / np.maximum(1.0, np.abs(expected)))
    assert diff <= TOL[dtype], f"theirs vs mine differ by {diff:.3g}"


def trained(dtype, seed=0):
    """A model holding all four layers, trained a little so that γ, β and the running statistics are not 1 and 0."""
    model = cr.Sequential(
        cr.Dense(4, 6), cr.BatchNorm(6), cr.ReLU(), cr.Dropout(0.3),
        cr.Residual(cr.Dense(6, 6), cr.LayerNorm(6), cr.Tanh(), cr.Dropout(0.1)),
        cr.Dense(6, 3), seed=seed, dtype=dtype,
    )  # fmt: skip
    rng = np.random.default_rng(seed)
    X = rng.normal(1, 2, size=(64, 4)).astype(dtype)
    model.fit(X, rng.integers(0, 3, 64), loss="softmax_cross_entropy", epochs=3, batch_size=16, verbose=0)
    return model, rng.normal(1, 2, size=(9, 4)).astype(dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_export_runs_in_onnxruntime_as_predict_and_comes_back(dtype, tmp_path):
    model, X = trained(dtype)
    cx.export(model, tmp_path / "m.onnx")
    assert ops(tmp_path / "m.onnx") == ["MatMul", "Add", "BatchNormalization", "Relu", "MatMul", "Add",
                                        "LayerNormalization", "Tanh", "Add", "MatMul", "Add"]  # fmt: skip
    expected = model.predict(X).astype(np.float64)
    close(run_ort(tmp_path / "m.onnx", X), expected, "onnx float64" if dtype == "float64" else dtype)
    again = cx.load(tmp_path / "m.onnx")
    assert repr(again) == ("Sequential(Dense(4, 6), BatchNorm(6), ReLU(), Residual(Dense(6, 6), LayerNorm(6), "
                           "Tanh()), Dense(6, 3))")  # fmt: skip (Dropout is gone: inference is the identity)
    close(again.predict(X), expected, dtype)
    np.testing.assert_array_equal(again.layers[1].state["running_var"], model.layers[1].state["running_var"])


def test_layer_norm_needs_opset_17(tmp_path):
    model = cr.Sequential(cr.Dense(3, 3), cr.LayerNorm(3), seed=0)
    with pytest.raises(ValueError, match=r"layer 1, LayerNorm\(3\): LayerNormalization needs opset 17"):
        cx.export(model, tmp_path / "m.onnx", opset=16)
    assert not (tmp_path / "m.onnx").exists()


class Block:
    """x + f(x) as a PyTorch module."""

    def __new__(cls, torch, *layers):
        class Res(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.f = torch.nn.Sequential(*layers)

            def forward(self, x):
                return x + self.f(x)

        return Res()


def test_what_pytorch_writes_comes_in_and_predicts_like_pytorch(tmp_path):
    torch = pytest.importorskip("torch")
    nn = torch.nn
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Dropout(0.3),
                        Block(torch, nn.Linear(6, 6), nn.LayerNorm(6), nn.Tanh()), nn.Linear(6, 2))  # fmt: skip
    with torch.no_grad():  # statistics and affine parameters away from their starting values
        for module in (net[1], net[4].f[1]):
            module.weight.uniform_(0.5, 2)
            module.bias.uniform_(-1, 1)
        net[1].running_mean.uniform_(-1, 1)
        net[1].running_var.uniform_(0.5, 3)
    net.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter is deprecated in favour of one needing onnxscript
        torch.onnx.export(net, (torch.zeros(2, 4),), str(tmp_path / "t.onnx"), dynamo=False, opset_version=17,
                          input_names=["X"], output_names=["Y"], dynamic_axes={"X": {0: "N"}})  # fmt: skip
    model = cx.load(tmp_path / "t.onnx")
    assert repr(model) == ("Sequential(Dense(4, 6), BatchNorm(6), ReLU(), Residual(Dense(6, 6), LayerNorm(6), "
                           "Tanh()), Dense(6, 2))")  # fmt: skip
    X = np.random.default_rng(1).normal(size=(7, 4)).astype(np.float32)
    expected = net(torch.from_numpy(X)).detach().numpy().astype(np.float64)
    close(model.predict(X), expected, "float32")
    close(run_ort(tmp_path / "t.onnx", X), expected, "float32")


def save_graph(path, nodes, arrays, width):
    """A float32 graph X (N, width) -> Y (N, width) of ``nodes``, with ``arrays`` as its initializers."""
    from onnx import TensorProto, helper, numpy_helper

    inits = [numpy_helper.from_array(np.asarray(v, dtype=np.float32), k) for k, v in arrays.items()]
    io = [helper.make_tensor_value_info(name, TensorProto.FLOAT, ["N", width]) for name in "XY"]
    graph = helper.make_graph([helper.make_node(*n) for n in nodes], "g", io[:1], io[1:], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def test_a_dropout_node_becomes_a_dropout_layer(tmp_path):
    nodes = [("MatMul", ["X", "W"], ["h"]), ("Dropout", ["h", "ratio"], ["Y"])]
    path = save_graph(tmp_path / "d.onnx", nodes, {"W": np.eye(3), "ratio": 0.25}, 3)
    assert repr(cx.load(path)) == "Sequential(Dense(3, 3), Dropout(0.25))"


def test_a_negative_variance_in_a_file_is_refused(tmp_path):
    arrays = {"W": np.eye(2), "s": np.ones(2), "b": np.zeros(2), "m": np.zeros(2), "v": [1.0, -1.0]}
    nodes = [("MatMul", ["X", "W"], ["h"]), ("BatchNormalization", ["h", "s", "b", "m", "v"], ["Y"])]
    with pytest.raises(cx.OnnxFileError, match="negative or non-finite variance"):
        cx.load(save_graph(tmp_path / "v.onnx", nodes, arrays, 2))


def test_an_add_of_two_unrelated_branches_is_refused(tmp_path):
    nodes = [("MatMul", ["X", "W"], ["a"]), ("MatMul", ["X", "V"], ["b"]), ("Add", ["a", "b"], ["Y"])]
    with pytest.raises(cx.OnnxFileError, match="adds two computed tensors"):
        cx.load(save_graph(tmp_path / "a.onnx", nodes, {"W": np.eye(2), "V": 2 * np.eye(2)}, 2))
