"""User mistakes end with exit status 2 and one line, never an internal error; a file's kind comes from its
extension and content, never from a word in its name."""

import gzip

import numpy as np
import pytest

import chainrule as cr
from chainrule import datasets as ds
from chainrule.cli import main


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err.strip().splitlines()


def test_oversized_layers_are_refused_before_they_are_allocated(tmp_path, capsys):
    code, _, err = run(capsys, "train", "iris", "--layers", "100000,100000", "--out", tmp_path / "run", "--quiet")
    assert code == 2 and len(err) == 1 and "too large" in err[0] and "internal" not in err[0]
    code, _, err = run(capsys, "train", "iris", "--layers", "15000,15000,15000", "--out", tmp_path / "run", "--quiet")
    assert code == 2 and len(err) == 1 and "450,150,003 parameters" in err[0]  # 5·15000 + 2·15001·15000 + 15001·3
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("command", ["evaluate", "predict"])
def test_an_untrained_model_of_two_outputs_is_a_user_error(tmp_path, capsys, command):
    cr.mlp([4, 8, 2], "relu", seed=0).save(tmp_path / "m.npz")  # no loss, no Softmax: neither classes nor a value
    np.savetxt(tmp_path / "x.csv", np.ones((5, 4)), delimiter=",")
    np.savetxt(tmp_path / "xy.csv", np.c_[np.ones((5, 4)), np.arange(5) * 0.5], delimiter=",")
    code, _, err = run(capsys, command, tmp_path / "m.npz", tmp_path / ("x.csv" if command == "predict" else "xy.csv"))
    assert code == 2 and len(err) == 1 and "2 outputs" in err[0] and "internal" not in err[0], err
    code, _, err = run(capsys, "evaluate", tmp_path / "m.npz", "iris")
    assert code == 2 and len(err) == 1 and "for regression" in err[0]


def test_a_csv_named_idx_is_read_as_csv(tmp_path, capsys):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 3))
    np.savetxt(tmp_path / "noh_idx.csv", np.c_[X, X[:, 0] > 0], delimiter=",", fmt="%.6g")
    data = ds.load(tmp_path / "noh_idx.csv")
    assert data.n_features == 3 and data.classes == ["0", "1"]


def test_an_idx_file_is_known_by_its_header(tmp_path):
    header = bytes([0, 0, 0x08, 1]) + (3).to_bytes(4, "big") + bytes([1, 2, 3])
    (tmp_path / "labels.bin").write_bytes(header)
    (tmp_path / "zipped").write_bytes(gzip.compress(header))
    (tmp_path / "notes_idx3.bin").write_bytes(b"idx3 is in this name only")
    assert ds.is_idx_file(tmp_path / "labels.bin") and ds.is_idx_file(tmp_path / "zipped")
    assert not ds.is_idx_file(tmp_path / "notes_idx3.bin")
    with pytest.raises(ds.DataError, match="not an IDX file"):  # read as what its content is: no IDX
        ds.load(tmp_path / "notes_idx3.bin")


def test_explain_takes_class_names_and_says_it_standardises(tmp_path, capsys):
    assert main(["train", "iris", "--out", str(tmp_path / "run"), "--epochs", "2", "--quiet", "--no-plots"]) == 0
    capsys.readouterr()
    model = str(tmp_path / "run" / "model.npz")
    code, by_name, err = run(capsys, "explain", "--model", model, "--x", "5.1,3.5,1.4,0.2", "--y", "setosa")
    assert code == 0 and len(err) == 1 and "standardised with the training statistics" in err[0]
    code, by_code, _ = run(capsys, "explain", "--model", model, "--x", "5.1,3.5,1.4,0.2", "--y", "0")
    assert code == 0 and by_name == by_code  # iris' classes are setosa, versicolor, virginica: setosa is 0
