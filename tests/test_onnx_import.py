"""ONNX graphs written by other tools come in: skl2onnx's MLPs and both of PyTorch's exporters, checked against
scikit-learn, PyTorch and onnxruntime; external data read only from plain files in the model's folder."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import warnings

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
skl2onnx = pytest.importorskip("skl2onnx")
torch = pytest.importorskip("torch")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.neural_network import MLPClassifier, MLPRegressor  # noqa: E402

import chainrule as cr  # noqa: E402
import chainrule.onnx as cx  # noqa: E402

ACTIVATIONS = ("relu", "tanh", "logistic", "identity")
TOL = 1e-6  # float32


def fitted(est, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X, y)


def write(proto, path):
    path.write_bytes(proto.SerializeToString())
    return path


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((120, 5)).astype(np.float32)
    return X, rng


# ---------------------------------------------------------------- skl2onnx
@pytest.mark.parametrize("zipmap", [True, False])
@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_skl2onnx_classifiers_load_with_their_classes_and_scikit_learns_probabilities(
    activation, n_classes, zipmap, data, tmp_path
):
    X, rng = data
    names = np.array(["cat", "dog", "emu"])[:n_classes] if n_classes == 3 else np.array([3, 7])
    y = names[(X[:, 0] > 0).astype(int) + (X[:, 1] > 1 if n_classes == 3 else 0)]
    est = fitted(MLPClassifier((7,), activation=activation, max_iter=300, random_state=1), X, y)
    path = write(skl2onnx.to_onnx(est, X[:1], options={id(est): {"zipmap": zipmap}}), tmp_path / "m.onnx")
    model = cx.load(path)
    assert model.dtype == np.float32
    assert cx.class_labels(path) == est.classes_.tolist()
    P = model.predict_proba(X)
    assert P.shape == (len(X), n_classes)
    np.testing.assert_allclose(P, est.predict_proba(X), rtol=0, atol=TOL)
    labels = np.array(cx.class_labels(path))[model.predict_classes(X)]
    np.testing.assert_array_equal(labels, est.predict(X))
    theirs = ort.InferenceSession(str(path)).run(None, {"X": X})
    np.testing.assert_array_equal(labels, theirs[0])


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_skl2onnx_regressors_load_and_predict_as_scikit_learn(activation, data, tmp_path):
    X, rng = data
    y = X @ rng.standard_normal(5) + np.sin(X[:, 0])
    est = fitted(MLPRegressor(hidden_layer_sizes=(9,), activation=activation, max_iter=300, random_state=1), X, y)
    path = write(skl2onnx.to_onnx(est, X[:1]), tmp_path / "r.onnx")
    model = cx.load(path)
    assert cx.class_labels(path) is None and model.n_out == 1
    expected = est.predict(X).astype(np.float64)
    got = model.predict(X)[:, 0].astype(np.float64)
    assert np.max(np.abs(got - expected) / np.maximum(1, np.abs(expected))) <= TOL


def test_a_float64_skl2onnx_graph_loads_as_a_float64_model(data, tmp_path):
    X, rng = data
    X64 = X.astype(np.float64)
    est = fitted(MLPClassifier((6,), max_iter=200, random_state=0), X64, (X64[:, 0] > 0).astype(int))
    model = cx.load(write(skl2onnx.to_onnx(est, X64[:1], options={id(est): {"zipmap": False}}), tmp_path / "m.onnx"))
    assert model.dtype == np.float64
    np.testing.assert_allclose(model.predict_proba(X64), est.predict_proba(X64), rtol=0, atol=1e-12)


def test_skl2onnxs_two_output_regressor_is_refused_because_its_reshape_changes_the_rows(data, tmp_path):
    X, rng = data
    est = fitted(MLPRegressor(hidden_layer_sizes=(4,), max_iter=50, random_state=0), X, X[:, :2])
    path = write(skl2onnx.to_onnx(est, X[:1]), tmp_path / "r.onnx")
    assert ort.InferenceSession(str(path)).run(None, {"X": X[:3]})[0].shape == (6, 1)  # not predict's (3, 2)
    with pytest.raises(cx.OnnxFileError, match=r"Reshape.*\(N, 2\) to \(-1, 1\), which changes the rows"):
        cx.load(path)


def graph(nodes, inits, elem=TensorProto.FLOAT, n_in=3, n_out=2, outputs=None):
    g = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("X", elem, ["N", n_in])],
        outputs or [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["N", n_out])],
        initializer=[numpy_helper.from_array(v, k) for k, v in inits.items()],
    )
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


W = np.arange(6, dtype=np.float32).reshape(3, 2) / 7


def test_a_cast_of_a_float64_input_to_float32_makes_a_float32_model(tmp_path):
    nodes = [helper.make_node("Cast", ["X"], ["x"], to=TensorProto.FLOAT),
             helper.make_node("MatMul", ["x", "W"], ["Y"])]  # fmt: skip
    path = write(graph(nodes, {"W": W}, elem=TensorProto.DOUBLE), tmp_path / "c.onnx")
    model = cx.load(path)
    assert model.dtype == np.float32
    X = np.random.default_rng(0).standard_normal((4, 3))
    (theirs,) = ort.InferenceSession(str(path)).run(None, {"X": X})
    np.testing.assert_allclose(model.predict(X), theirs, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize(
    "nodes, message",
    [
        ([helper.make_node("Cast", ["X"], ["x"], to=TensorProto.INT64, name="to_int")], r"'to_int' \(Cast\) casts to"),
        (
            [helper.make_node("Reshape", ["X", "s"], ["x"], name="flat")],
            r"'flat' \(Reshape\) reshapes to \[3, -1\]",
        ),
        ([helper.make_node("Flatten", ["X"], ["x"], axis=0, name="f0")], r"'f0' \(Flatten\) flattens from axis 0"),
    ],
    ids=["cast to int64", "reshape to (3, -1)", "flatten axis 0"],
)
def test_pass_through_ops_that_would_change_the_numbers_are_refused_naming_the_node(nodes, message, tmp_path):
    path = write(graph([*nodes, helper.make_node("MatMul", ["x", "W"], ["Y"])], {"W": W, "s": np.array([3, -1])}),
                 tmp_path / "g.onnx")  # fmt: skip
    with pytest.raises(cx.OnnxFileError, match=message):
        cx.load(path)


def test_flatten_reshape_and_identity_are_no_ops_and_identity_after_a_dense_layer_is_kept(tmp_path):
    nodes = [
        helper.make_node("Flatten", ["X"], ["f"], axis=1),
        helper.make_node("Identity", ["f"], ["i"]),
        helper.make_node("MatMul", ["i", "W"], ["z"]),
        helper.make_node("Identity", ["z"], ["a"]),  # after a dense layer: chainrule's identity activation
        helper.make_node("Reshape", ["a", "s"], ["r"]),
        helper.make_node("Tanh", ["r"], ["t"]),
        helper.make_node("Identity", ["t"], ["Y"]),  # after an activation: nothing
    ]
    path = write(graph(nodes, {"W": W, "s": np.array([-1, 2])}), tmp_path / "g.onnx")
    model = cx.load(path)
    assert [type(la).__name__ for la in model.layers] == ["Dense", "Identity", "Tanh"]
    X = np.random.default_rng(1).standard_normal((5, 3)).astype(np.float32)
    np.testing.assert_allclose(model.predict(X), ort.InferenceSession(str(path)).run(None, {"X": X})[0], atol=1e-7)


def test_refused_ops_name_the_op_and_the_node(tmp_path):
    nodes = [helper.make_node("MatMul", ["X", "W"], ["z"], name="dense"),
             helper.make_node("Normalizer", ["z"], ["Y"], name="norm_7", domain="ai.onnx.ml", norm="L2")]  # fmt: skip
    m = graph(nodes, {"W": W})
    m.opset_import.append(helper.make_opsetid("ai.onnx.ml", 1))
    with pytest.raises(cx.OnnxFileError, match=r"unsupported op 'ai\.onnx\.ml\.Normalizer' \(node 'norm_7'\)"):
        cx.load(write(m, tmp_path / "g.onnx"))


def test_a_label_output_that_names_fewer_classes_than_columns_is_refused(tmp_path):
    out = [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["N", 2]),
           helper.make_tensor_value_info("label", TensorProto.INT64, ["N"])]  # fmt: skip
    nodes = [
        helper.make_node("MatMul", ["X", "W"], ["z"]),
        helper.make_node("Softmax", ["z"], ["Y"], axis=1),
        helper.make_node("ArgMax", ["Y"], ["k"], axis=1),
        helper.make_node("ArrayFeatureExtractor", ["classes", "k"], ["label"], domain="ai.onnx.ml"),
    ]
    m = graph(nodes, {"W": W, "classes": np.array([4, 5, 6])}, outputs=out)
    m.opset_import.append(helper.make_opsetid("ai.onnx.ml", 1))
    with pytest.raises(cx.OnnxFileError, match="names 3 classes for 2 output columns"):
        cx.load(write(m, tmp_path / "g.onnx"))


# ---------------------------------------------------------------- PyTorch
def torch_net(activation=None, seed=0):
    torch.manual_seed(seed)
    act = activation if activation is not None else torch.nn.Tanh()
    return torch.nn.Sequential(
        torch.nn.Flatten(), torch.nn.Linear(6, 50), act, torch.nn.Identity(), torch.nn.Linear(50, 3),
        torch.nn.LogSoftmax(dim=1),
    ).eval()  # fmt: skip


def torch_export(net, path, dynamo, opset, dynamic):
    x = torch.randn(4, 6)
    kw = {}
    if dynamic:
        kw = {"dynamic_shapes": ({0: torch.export.Dim("batch")},)} if dynamo else {"dynamic_axes": {"x": {0: "batch"}}}
    logging.disable(logging.WARNING)
    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(net, (x,), str(path), dynamo=dynamo, opset_version=opset,
                              input_names=["x"], output_names=["y"], **kw)  # fmt: skip
    finally:
        logging.disable(logging.NOTSET)
    return path


@pytest.mark.parametrize("dynamic", [False, True], ids=["fixed batch", "dynamic batch"])
@pytest.mark.parametrize("opset", range(13, 19))
@pytest.mark.parametrize("dynamo", [False, True], ids=["legacy", "dynamo"])
def test_pytorch_exports_load_and_predict_as_pytorch(dynamo, opset, dynamic, tmp_path):
    net = torch_net(seed=opset)
    path = torch_export(net, tmp_path / "net.onnx", dynamo, opset, dynamic)
    assert os.path.exists(str(path) + ".data") == dynamo  # the dynamo exporter keeps the 50×6 weights there
    model = cx.load(path)
    assert [type(la).__name__ for la in model.layers] == ["Dense", "Tanh", "Dense", "Softmax"]
    X = np.random.default_rng(opset).standard_normal((9, 6)).astype(np.float32)
    with torch.no_grad():
        log_p = net(torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(model.predict(X), np.exp(log_p), rtol=0, atol=TOL)
    np.testing.assert_allclose(np.log(model.predict(X)), log_p, rtol=0, atol=1e-5)


@pytest.mark.parametrize(
    "name, layer",
    [
        ("relu", torch.nn.ReLU()),
        ("sigmoid", torch.nn.Sigmoid()),
        ("gelu", torch.nn.GELU()),
        ("gelu_tanh", torch.nn.GELU(approximate="tanh")),
        ("silu", torch.nn.SiLU()),
        ("elu", torch.nn.ELU()),
        ("leaky_relu", torch.nn.LeakyReLU(0.1)),
        ("softplus", torch.nn.Softplus()),
    ],  # fmt: skip
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_the_default_exporter_writes_every_activation_in_a_way_that_loads(name, layer, tmp_path):
    net = torch_net(layer)
    model = cx.load(torch_export(net, tmp_path / "net.onnx", True, 18, True))
    assert model.layers[1].name == name
    X = 3 * np.random.default_rng(2).standard_normal((16, 6)).astype(np.float32)
    with torch.no_grad():
        np.testing.assert_allclose(model.predict(X), net(torch.from_numpy(X)).exp().numpy(), rtol=0, atol=TOL)


def test_logsoftmax_comes_in_as_a_softmax_that_the_loss_fuses_with_and_trains_as_pytorchs_nll(tmp_path):
    net = torch_net(torch.nn.ReLU(), seed=3)
    model = cx.load(torch_export(net, tmp_path / "net.onnx", True, 18, False)).copy("float64")
    objective = model.objective("categorical_cross_entropy")
    assert objective.fused is model.layers[-1] and model.layers[-1].name == "softmax"
    rng = np.random.default_rng(4)
    X, y = rng.standard_normal((10, 6)), rng.integers(0, 3, 10)
    model.gradient(X, y, objective)
    twin = net.double()
    torch.nn.functional.nll_loss(twin(torch.from_numpy(X)), torch.from_numpy(y)).backward()
    np.testing.assert_allclose(model.layers[0].grads["W"], twin[1].weight.grad.numpy().T, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(model.layers[2].grads["b"], twin[4].bias.grad.numpy(), rtol=1e-9, atol=1e-12)
    text = cr.explain(model, X[:2], y[:2], "categorical_cross_entropy").to_text()
    assert "Softmax" in text


def test_a_logsoftmax_that_is_not_the_last_op_is_refused(tmp_path):
    nodes = [helper.make_node("MatMul", ["X", "W"], ["z"]), helper.make_node("LogSoftmax", ["z"], ["l"], name="ls"),
             helper.make_node("Tanh", ["l"], ["Y"])]  # fmt: skip
    with pytest.raises(cx.OnnxFileError, match=r"'ls' \(LogSoftmax\) is not the last op"):
        cx.load(write(graph(nodes, {"W": W}), tmp_path / "g.onnx"))


# ---------------------------------------------------------------- external data
@pytest.fixture(scope="module")
def dynamo_file(tmp_path_factory):
    """A dynamo export with its weights in net.onnx.data; (proto without the data, the data's bytes, the net)."""
    folder = tmp_path_factory.mktemp("dynamo")
    net = torch_net(torch.nn.ReLU(), seed=5)
    path = torch_export(net, folder / "net.onnx", True, 18, True)
    proto = onnx.load(str(path), load_external_data=False)
    return proto, (folder / "net.onnx.data").read_bytes(), net


def external(proto, name="1.weight"):
    t = next(t for t in proto.graph.initializer if t.name == name)
    assert t.data_location == TensorProto.EXTERNAL
    return t


def with_entries(proto, **changes):
    """A copy of ``proto`` whose first weight's external-data fields are changed (None removes one)."""
    m = onnx.ModelProto()
    m.CopyFrom(proto)
    t = external(m)
    fields = {e.key: e.value for e in t.external_data}
    fields.update(changes)
    del t.external_data[:]
    for k, v in fields.items():
        if v is not None:
            t.external_data.add(key=k, value=v)
    return m


def test_external_data_beside_the_model_loads_under_any_file_name(dynamo_file, tmp_path):
    proto, data, net = dynamo_file
    (tmp_path / "weights.bin").write_bytes(data)
    m = onnx.ModelProto()
    m.CopyFrom(proto)
    for t in m.graph.initializer:
        for e in t.external_data:
            if e.key == "location":
                e.value = "weights.bin"
    model = cx.load(write(m, tmp_path / "renamed.onnx"))
    X = np.random.default_rng(0).standard_normal((3, 6)).astype(np.float32)
    with torch.no_grad():
        np.testing.assert_allclose(model.predict(X), net(torch.from_numpy(X)).exp().numpy(), rtol=0, atol=TOL)


def hostile(kind, proto, data, folder):
    """The model file for one hostile case, and the text its refusal must hold."""
    inside = folder / "models"
    inside.mkdir()
    (inside / "net.onnx.data").write_bytes(data)
    (folder / "outside.data").write_bytes(data)
    entries = {e.key: e.value for e in external(proto).external_data}
    length = int(entries["length"])
    plain = "plain file in the model's own folder"
    cases = {
        "absolute path": ({"location": str(folder / "outside.data")}, plain),
        "dot-dot": ({"location": "../outside.data"}, plain),
        "sub-folder": ({"location": "sub/net.onnx.data"}, plain),
        "empty location": ({"location": None}, plain),
        "link out of the folder": ({"location": "link.data"}, "not a readable plain file"),
        "link inside the folder": ({"location": "near.data"}, "not a readable plain file"),
        "a folder": ({"location": "sub"}, "not a regular file"),
        "a FIFO": ({"location": "pipe"}, "not a regular file"),
        "missing file": ({"location": "absent.data"}, "not a readable plain file"),
        "past the end": ({"offset": str(len(data) - length + 4)}, "which has"),
        "offset past the end": ({"offset": str(10 * len(data))}, "which has"),
        "length unlike the dims": ({"length": str(length + 4)}, "its dims need"),
        "negative offset": ({"offset": "-4"}, "a whole number"),
        "hex offset": ({"offset": "0x10"}, "a whole number"),
        "unknown field": ({"basepath": "/etc"}, "field 'basepath'"),
        "wrong checksum": ({"checksum": "0" * 40}, "SHA-1"),
    }
    (inside / "sub").mkdir()
    os.symlink(folder / "outside.data", inside / "link.data")
    os.symlink(inside / "net.onnx.data", inside / "near.data")
    os.mkfifo(inside / "pipe")
    changes, message = cases[kind]
    return write(with_entries(proto, **changes), inside / "net.onnx"), message


HOSTILE = ["absolute path", "dot-dot", "sub-folder", "empty location", "link out of the folder",
           "link inside the folder", "a folder", "a FIFO", "missing file", "past the end", "offset past the end",
           "length unlike the dims", "negative offset", "hex offset", "unknown field", "wrong checksum"]  # fmt: skip


@pytest.mark.parametrize("kind", HOSTILE)
def test_hostile_external_data_is_refused_and_nothing_is_written(kind, dynamo_file, tmp_path):
    proto, data, _ = dynamo_file
    path, message = hostile(kind, proto, data, tmp_path)
    before = sorted((p.name, p.lstat().st_size) for p in path.parent.iterdir())
    with pytest.raises(cx.OnnxFileError, match=message):
        cx.load(path)
    assert sorted((p.name, p.lstat().st_size) for p in path.parent.iterdir()) == before


def test_external_data_beyond_the_budget_is_refused_before_reading(dynamo_file, tmp_path, monkeypatch):
    proto, data, _ = dynamo_file
    (tmp_path / "net.onnx.data").write_bytes(data)
    path = write(proto, tmp_path / "net.onnx")
    cx.load(path)
    monkeypatch.setattr(cx._external, "MAX_EXTERNAL_BYTES", int(external(proto).external_data[-1].value) - 1)
    reads = []
    monkeypatch.setattr(cx._external.ExternalData, "_read_range", lambda *a: reads.append(a))
    with pytest.raises(cx.OnnxFileError, match="external data would exceed"):
        cx.load(path)
    assert reads == []


def test_a_right_checksum_is_accepted(dynamo_file, tmp_path):
    import hashlib

    proto, data, _ = dynamo_file
    entries = {e.key: e.value for e in external(proto).external_data}
    offset, length = int(entries.get("offset", "0")), int(entries["length"])
    (tmp_path / "net.onnx.data").write_bytes(data)
    digest = hashlib.sha1(data[offset : offset + length]).hexdigest()
    assert cx.load(write(with_entries(proto, checksum=digest), tmp_path / "net.onnx")).n_in == 6


def test_class_labels_reads_chainrules_own_metadata_and_refuses_a_bad_one(tmp_path):
    model = cr.mlp([3, 4, 2], "tanh", "softmax", seed=0)
    cx.export(model, tmp_path / "m.onnx", classes=["no", "yes"])
    assert cx.class_labels(tmp_path / "m.onnx") == ["no", "yes"]
    proto = onnx.load(str(tmp_path / "m.onnx"))
    next(p for p in proto.metadata_props if p.key == "classes").value = '{"no": 0}'
    path = write(proto, tmp_path / "bad.onnx")
    assert cx.load(path).n_out == 2  # the model itself does not depend on the labels
    with pytest.raises(cx.OnnxFileError, match="'classes' metadata is not a JSON list"):
        cx.class_labels(path)
    unlabelled = tmp_path / "plain.onnx"
    cx.export(model, unlabelled)
    assert cx.class_labels(unlabelled) is None


def test_skl2onnx_multilabel_classifiers_load_with_their_binarizer_label_output(data, tmp_path):
    X, rng = data
    Y = np.stack([X[:, 0] > 0, X[:, 1] + X[:, 2] > 0, X[:, 3] > 0.5], axis=1).astype(int)
    est = fitted(MLPClassifier((7,), max_iter=300, random_state=1), X, Y)
    path = write(skl2onnx.to_onnx(est, X[:1], options={id(est): {"zipmap": False}}), tmp_path / "m.onnx")
    model = cx.load(path)
    assert model.layers[-1].name == "sigmoid" and cx.class_labels(path) is None
    np.testing.assert_allclose(model.predict_proba(X), est.predict_proba(X), rtol=0, atol=TOL)
    np.testing.assert_array_equal(model.predict_classes(X), est.predict(X))


def test_a_cycle_of_identity_nodes_is_refused_not_followed_forever(tmp_path):
    out = [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["N", 2]),
           helper.make_tensor_value_info("a", TensorProto.FLOAT, ["N", 2])]  # fmt: skip
    nodes = [helper.make_node("MatMul", ["X", "W"], ["Y"]), helper.make_node("Identity", ["b"], ["a"]),
             helper.make_node("Identity", ["a"], ["b"])]  # fmt: skip
    m = graph(nodes, {"W": W}, outputs=out)
    with pytest.raises(cx.OnnxFileError):
        cx.load(write(m, tmp_path / "g.onnx"))
