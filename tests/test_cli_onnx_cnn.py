"""The command line serves CNNs read from ONNX: evaluate, predict and explain on (n, C, L) signals, the input
shape taken from the graph, each row of a file holding C·L values channel after channel. onnxruntime, run on
the (n, C, L) signals, gives the expected predictions."""

import numpy as np
import pytest

import chainrule as cr
from chainrule.cli import main

pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    from chainrule.onnx import export

    folder = tmp_path_factory.mktemp("onnx_cnn")
    model = cr.Sequential(
        cr.Conv1D(2, 3, 3, padding=1),
        cr.ReLU(),
        cr.Flatten(),
        cr.Dense(24, 3),
        cr.Softmax(),
        input_shape=(2, 8),
        seed=0,
        dtype="float32",
    )  # fmt: skip (onnxruntime's Conv: float32)
    export(model, folder / "cnn.onnx")
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 16))
    session = ort.InferenceSession(str(folder / "cnn.onnx"), providers=["CPUExecutionProvider"])
    feed = {session.get_inputs()[0].name: X.reshape(30, 2, 8).astype(np.float32)}
    labels = session.run(None, feed)[0].argmax(axis=1)
    np.savetxt(folder / "x.csv", X, delimiter=",")
    np.savetxt(folder / "xy.csv", np.c_[X, labels], delimiter=",", fmt=["%.17g"] * 16 + ["%d"])
    return folder, labels


def test_predict_and_evaluate_a_cnn_from_onnx(exported, capsys):
    folder, labels = exported
    assert main(["predict", str(folder / "cnn.onnx"), str(folder / "x.csv")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "prediction" and [int(v) for v in out[1:]] == labels.tolist()
    assert main(["evaluate", str(folder / "cnn.onnx"), str(folder / "xy.csv")]) == 0
    assert "accuracy: 1.0000 (30/30)" in capsys.readouterr().out  # the targets are onnxruntime's own predictions


def test_explain_a_cnn_from_onnx(exported, capsys):
    folder, _ = exported
    x = ",".join(["0.1"] * 16)
    assert main(["explain", "--model", str(folder / "cnn.onnx"), "--x", x, "--y", "1"]) == 0
    assert "Conv1D" in capsys.readouterr().out
    assert main(["explain", "--model", str(folder / "cnn.onnx"), "--x", ",".join(["0.1"] * 15), "--y", "1"]) == 2
    assert "15 features but the model was trained on 16" in capsys.readouterr().err
