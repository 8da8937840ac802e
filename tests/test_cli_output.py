"""What the command line writes: predictions at full precision, --proba refused for a regressor, --debug on either
side of the command, and ONNX files (exported by chainrule, or by PyTorch) read by evaluate, predict and explain."""

import io
import re
import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule.cli import main
from chainrule.datasets.preprocess import Preprocessor, sidecar

pd = pytest.importorskip("pandas")
sklearn_datasets = pytest.importorskip("sklearn.datasets")

pytestmark = pytest.mark.usefixtures("one_blas_thread")


def run(capsys, *args):
    """(exit status, stdout, stderr lines) of the command line, in-process."""
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err.splitlines()


def read(text: str):
    """A CSV that chainrule wrote, parsed by pandas' Python engine (Python's own exact float parsing)."""
    return pd.read_csv(io.StringIO(text), engine="python")


def train(folder, data, *options):
    assert main(["train", str(data), "--out", str(folder), "--quiet", "--no-plots", *options]) == 0
    return folder / "model.npz"


def reference(model_path, features_csv):
    """The model's own answers in Python for the rows of ``features_csv`` (parsed exactly by pandas)."""
    model, pre = cr.load(model_path), Preprocessor.load(sidecar(model_path))
    X = pre.transform(pd.read_csv(features_csv, engine="python").to_numpy())
    return model, pre, X


@pytest.fixture(scope="module")
def houses(tmp_path_factory):
    """A regression CSV whose targets have seven or more significant digits (diabetes' × 1000.37), its features, and
    models trained on it in float64 and float32."""
    folder = tmp_path_factory.mktemp("houses")
    frame = sklearn_datasets.load_diabetes(as_frame=True).frame
    frame["target"] = frame["target"] * 1000.37 + 0.123
    frame.to_csv(folder / "houses.csv", index=False)
    frame.drop(columns="target").iloc[:40].to_csv(folder / "features.csv", index=False)
    train(folder / "f64", folder / "houses.csv", "--epochs", "10")
    train(folder / "f32", folder / "houses.csv", "--epochs", "10", "--dtype", "float32")
    return folder


@pytest.fixture(scope="module")
def flowers(tmp_path_factory):
    """iris with its class names as a CSV, a model trained on it, and the model exported to ONNX."""
    folder = tmp_path_factory.mktemp("flowers")
    data = sklearn_datasets.load_iris(as_frame=True)
    frame = data.frame.assign(target=np.asarray(data.target_names)[data.frame["target"]])
    frame.to_csv(folder / "iris.csv", index=False)
    frame.drop(columns="target").iloc[::7].to_csv(folder / "features.csv", index=False)
    train(folder / "run", folder / "iris.csv", "--epochs", "30")
    assert main(["export", str(folder / "run" / "model.npz"), str(folder / "iris.onnx")]) == 0
    return folder


# ------------------------------------------------------------------ precision
def test_predict_writes_float64_regression_values_that_read_back_exactly(houses, capsys):
    code, out, err = run(capsys, "predict", houses / "f64" / "model.npz", houses / "features.csv")
    assert code == 0, err
    model, pre, X = reference(houses / "f64" / "model.npz", houses / "features.csv")
    expected = pre.inverse_y(model.predict(X).ravel())
    got = read(out)["prediction"].to_numpy()
    np.testing.assert_array_equal(got, expected)
    assert max(len(re.sub(r"\D", "", v.split("e")[0]).lstrip("0")) for v in out.split()[1:]) > 6  # not 6 digits


def test_predict_writes_float32_regression_values_with_nine_significant_digits(houses, capsys):
    code, out, err = run(capsys, "predict", houses / "f32" / "model.npz", houses / "features.csv")
    assert code == 0, err
    model, pre, X = reference(houses / "f32" / "model.npz", houses / "features.csv")
    expected = pre.inverse_y(model.predict(X).ravel()).astype(np.float32)
    got = read(out)["prediction"].to_numpy().astype(np.float32)
    np.testing.assert_array_equal(got, expected)
    assert all(len(re.sub(r"\D", "", v.split("e")[0]).lstrip("0")) <= 9 for v in out.split()[1:])


def test_predict_writes_probabilities_that_read_back_exactly(flowers, capsys):
    code, out, err = run(capsys, "predict", flowers / "run" / "model.npz", flowers / "features.csv", "--proba")
    assert code == 0, err
    model, _, X = reference(flowers / "run" / "model.npz", flowers / "features.csv")
    table = read(out)
    assert list(table.columns) == ["prediction", "p_setosa", "p_versicolor", "p_virginica"]
    np.testing.assert_array_equal(table.iloc[:, 1:].to_numpy(), model.predict_proba(X))


def test_proba_on_a_regression_model_is_one_line_and_exit_2(houses, tmp_path, capsys):
    out_file = tmp_path / "p.csv"
    code, out, err = run(capsys, "predict", houses / "f64" / "model.npz", houses / "features.csv", "--proba",
                         "--output", out_file)  # fmt: skip
    assert code == 2 and out == "" and len(err) == 1 and "regression model" in err[0] and "--proba" in err[0]
    assert not out_file.exists()


def test_class_names_holding_a_comma_are_quoted(tmp_path, capsys):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 2))
    frame = pd.DataFrame(X, columns=["u", "v"]).assign(kind=np.where(X[:, 0] > 0, "big, round", "small"))
    frame.to_csv(tmp_path / "kinds.csv", index=False)
    model = train(tmp_path / "run", tmp_path / "kinds.csv", "--epochs", "20")
    capsys.readouterr()
    code, out, err = run(capsys, "predict", model, tmp_path / "kinds.csv", "--proba")
    assert code == 0, err
    table = read(out)
    assert list(table.columns) == ["prediction", "p_big, round", "p_small"]
    assert set(table["prediction"]) == {"big, round", "small"}


# ------------------------------------------------------------------ --debug
@pytest.mark.parametrize("where", ["before", "after"])
def test_debug_is_accepted_before_or_after_the_command(flowers, tmp_path, capsys, where):
    args = ["evaluate", str(flowers / "run" / "model.npz"), str(tmp_path / "missing.csv")]
    args = ["--debug", *args] if where == "before" else [*args, "--debug"]
    code, _, err = run(capsys, *args)
    assert code == 2 and "Traceback" in "\n".join(err) and "missing.csv: no such file" in err[-1]
    code, _, err = run(capsys, *args[:3] if where == "after" else args[1:])
    assert code == 2 and len(err) == 1  # without it: one line, no traceback
    assert run(capsys, "datasets", "--debug")[0] == 0


# ------------------------------------------------------------------ ONNX files
def test_evaluate_and_predict_read_an_exported_onnx_file_with_its_class_names(flowers, capsys):
    ort = pytest.importorskip("onnxruntime")
    code, by_npz, err = run(capsys, "evaluate", flowers / "run" / "model.npz", flowers / "iris.csv")
    assert code == 0, err
    code, by_onnx, err = run(capsys, "evaluate", flowers / "iris.onnx", flowers / "iris.csv")
    assert code == 0, err
    assert by_onnx.splitlines()[1:] == by_npz.splitlines()[1:]  # the same table, class names included
    code, out, err = run(capsys, "predict", flowers / "iris.onnx", flowers / "features.csv", "--proba")
    assert code == 0, err
    table = read(out)
    X = pd.read_csv(flowers / "features.csv", engine="python").to_numpy()
    session = ort.InferenceSession(str(flowers / "iris.onnx"), providers=["CPUExecutionProvider"])
    P = session.run(None, {session.get_inputs()[0].name: X})[0]
    np.testing.assert_allclose(table.iloc[:, 1:].to_numpy(), P, rtol=1e-9, atol=1e-12)
    names = np.array(["setosa", "versicolor", "virginica"])
    assert table["prediction"].tolist() == names[P.argmax(axis=1)].tolist()


def test_explain_takes_an_onnx_model(flowers, capsys):
    ort = pytest.importorskip("onnxruntime")
    x = [6.3, 2.9, 5.6, 1.8]
    code, out, err = run(capsys, "explain", "--model", flowers / "iris.onnx", "--x", ",".join(map(str, x)), "--y",
                         "2", "--precision", "12")  # fmt: skip
    assert code == 0, err
    assert "loss categorical_cross_entropy" in out
    session = ort.InferenceSession(str(flowers / "iris.onnx"), providers=["CPUExecutionProvider"])
    P = session.run(None, {session.get_inputs()[0].name: np.array([x])})[0][0]
    shown = re.search(r"ŷ = p = softmax\(z\)[^\n]*\n\s*\[([^\]]+)\]", out).group(1).split()
    np.testing.assert_allclose([float(v) for v in shown], P, rtol=1e-10, atol=1e-12)


def test_a_regression_onnx_file_scores_as_its_model(houses, tmp_path, capsys):
    assert main(["export", str(houses / "f64" / "model.npz"), str(tmp_path / "h.onnx")]) == 0
    capsys.readouterr()
    code, by_npz, _ = run(capsys, "evaluate", houses / "f64" / "model.npz", houses / "houses.csv")
    code2, by_onnx, err = run(capsys, "evaluate", tmp_path / "h.onnx", houses / "houses.csv")
    assert code == code2 == 0, err
    assert by_onnx.splitlines()[1:] == by_npz.splitlines()[1:]
    code, _, err = run(capsys, "predict", tmp_path / "h.onnx", houses / "features.csv", "--proba")
    assert code == 2 and len(err) == 1 and "regression model" in err[0]


def test_an_onnx_file_from_pytorch_predicts_as_pytorch_does(tmp_path, capsys):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Tanh(), torch.nn.Linear(5, 4), torch.nn.Softmax(-1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter that needs no onnxscript is deprecated
        torch.onnx.export(net, (torch.zeros(2, 3),), str(tmp_path / "net.onnx"), dynamo=False, opset_version=17,
                          input_names=["X"], output_names=["Y"], dynamic_axes={"X": {0: "N"}})  # fmt: skip
    X = np.random.default_rng(0).normal(size=(25, 3))
    pd.DataFrame(X, columns=["a", "b", "c"]).to_csv(tmp_path / "x.csv", index=False)
    code, out, err = run(capsys, "predict", tmp_path / "net.onnx", tmp_path / "x.csv", "--proba")
    assert code == 0, err
    table = read(out)
    with torch.no_grad():
        P = net(torch.tensor(X, dtype=torch.float32)).numpy()
    assert list(table.columns) == ["prediction", "p_0", "p_1", "p_2", "p_3"]  # no class names in its metadata
    assert table["prediction"].tolist() == P.argmax(axis=1).tolist()
    np.testing.assert_allclose(table.iloc[:, 1:].to_numpy(), P, rtol=1e-6, atol=1e-7)


def test_export_refuses_an_onnx_file(flowers, tmp_path, capsys):
    code, _, err = run(capsys, "export", flowers / "iris.onnx", tmp_path / "again.onnx")
    assert code == 2 and len(err) == 1 and "is an ONNX file already" in err[0]
    assert not (tmp_path / "again.onnx").exists()


def test_onnx_class_names_that_do_not_fit_the_graph_are_refused(flowers, tmp_path, capsys):
    onnx = pytest.importorskip("onnx")
    proto = onnx.load(str(flowers / "iris.onnx"))
    onnx.helper.set_model_props(proto, {"classes": '["a", "b"]'})
    onnx.save(proto, str(tmp_path / "two.onnx"))
    code, out, err = run(capsys, "predict", tmp_path / "two.onnx", flowers / "features.csv")
    assert code == 2 and out == "" and len(err) == 1 and "lists 2 classes (a, b)" in err[0]
    onnx.helper.set_model_props(proto, {"classes": "{not json"})
    onnx.save(proto, str(tmp_path / "junk.onnx"))
    code, _, err = run(capsys, "evaluate", tmp_path / "junk.onnx", flowers / "iris.csv")
    assert code == 2 and len(err) == 1 and "metadata key 'classes'" in err[0]
