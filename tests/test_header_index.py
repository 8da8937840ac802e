"""Header and index detection cannot shift rows: files written by pandas' ``to_csv`` with and without index and
header are read with one sample per data row, through train, evaluate and predict and the Python loaders; every
guess from numbers is noted once and recorded beside the model; ``--header``/``header=`` settle any case."""

import json

import numpy as np
import pytest

from chainrule import datasets as ds
from chainrule.cli import main
from chainrule.datasets.preprocess import sidecar

pd = pytest.importorskip("pandas")
sklearn_datasets = pytest.importorskip("sklearn.datasets")

pytestmark = pytest.mark.usefixtures("one_blas_thread")
LAYOUTS = [(True, True), (True, False), (False, True), (False, False)]  # (index, header) as to_csv takes them


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err.splitlines()


def notes(err):
    return [line for line in err if ": note: " in line]


@pytest.fixture(scope="module")
def iris():
    X, y = sklearn_datasets.load_iris(return_X_y=True)  # sorted by class: an index column would give the label away
    return X, y.astype(int)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, iris):
    """A model trained on ``pd.DataFrame(np.c_[X, y]).to_csv(index=False)``: a header of 0…4."""
    folder = tmp_path_factory.mktemp("header")
    X, y = iris
    frame = pd.DataFrame(np.c_[X, y])
    frame[4] = frame[4].astype(int)
    frame.to_csv(folder / "num.csv", index=False)
    code = main(["train", str(folder / "num.csv"), "--out", str(folder / "run"), "--epochs", "20", "--quiet",
                 "--no-plots", "--seed", "0"])  # fmt: skip
    assert code == 0
    return folder


@pytest.mark.parametrize("named", [True, False], ids=["named", "pandas_names"])
@pytest.mark.parametrize(("index", "header"), LAYOUTS)
def test_every_to_csv_layout_loads_150_samples_of_4_features_and_3_classes(iris, tmp_path, index, header, named):
    X, y = iris
    frame = pd.DataFrame(X, columns=["sl", "sw", "pl", "pw"] if named else None)
    frame["species"] = y
    frame.to_csv(tmp_path / "iris.csv", index=index, header=header)
    with pytest.warns(ds.DataNote, match="dropped column 1") if index else _no_note():  # a species column: evident
        d = ds.load(tmp_path / "iris.csv")
    assert d.n_features == 4 and d.classes == ["0", "1", "2"]
    assert len(d.X_train) + len(d.X_test) == 150
    rows = np.vstack([d.X_train, d.X_test])
    assert sorted(map(tuple, rows)) == sorted(map(tuple, X))  # every sample is a real row, none a header or index
    assert d.source["header"] is header


class _no_note:
    def __enter__(self):
        import warnings

        self.catch = warnings.catch_warnings()
        self.catch.__enter__()
        warnings.simplefilter("error", ds.DataNote)

    def __exit__(self, *exc):
        self.catch.__exit__(*exc)


def test_a_header_of_0_to_k_is_noted_once_and_recorded(trained, capsys):
    pre = json.loads(sidecar(trained / "run" / "model.npz").read_text())
    assert pre["classes"] == ["0", "1", "2"]  # not a fourth class '4' from the header
    assert pre["feature_names"] == ["0", "1", "2", "3"] and pre["named_columns"] is True
    assert pre["source"]["header"] is True and pre["source"]["target"] == "4"
    code, _, err = run(capsys, "train", trained / "num.csv", "--out", trained / "again", "--epochs", "1", "--quiet",
                       "--no-plots")  # fmt: skip
    assert code == 0 and len(notes(err)) == 1 and "0 to 4" in notes(err)[0] and "--header no" in notes(err)[0]


@pytest.mark.parametrize(("index", "header"), LAYOUTS)
def test_predict_gives_one_row_per_sample_for_every_layout(trained, iris, tmp_path, capsys, index, header):
    """``pd.DataFrame(X).to_csv(...)``: 150 predictions for 150 rows, the same ones in every layout."""
    X, _ = iris
    pd.DataFrame(X).to_csv(tmp_path / "plain.csv", index=False, header=False)
    pd.DataFrame(X).to_csv(tmp_path / "new.csv", index=index, header=header)
    model = trained / "run" / "model.npz"
    code, expected, err = run(capsys, "predict", model, tmp_path / "plain.csv")
    assert code == 0 and notes(err) == [] and len(expected.splitlines()) == 151
    code, out, err = run(capsys, "predict", model, tmp_path / "new.csv")
    assert code == 0, err
    assert out == expected
    assert len(notes(err)) == int(index) + int(header)  # the header of 0…3, the index dropped


def test_evaluate_reads_the_training_file_whole(trained, capsys):
    code, out, err = run(capsys, "evaluate", trained / "run" / "model.npz", trained / "num.csv")
    assert code == 0, err
    assert "all 150 rows" in out and "(150 samples" not in out.split("\n")[0]


def test_numeric_column_names_with_string_labels(tmp_path, capsys):
    """Wavelengths as column names, labels yes/no: no class 'label' and no extra prediction."""
    rng = np.random.default_rng(0)
    spectra = pd.DataFrame(rng.random((60, 5)), columns=[400, 410, 420, 430, 440])
    spectra["label"] = np.where(spectra[400] + spectra[440] > 1, "yes", "no")
    spectra.to_csv(tmp_path / "spectra.csv", index=False)
    spectra.drop(columns="label").iloc[:5].to_csv(tmp_path / "new.csv", index=False)
    code, _, err = run(capsys, "train", tmp_path / "spectra.csv", "--out", tmp_path / "run", "--epochs", "2",
                       "--quiet", "--no-plots")  # fmt: skip
    assert code == 0, err
    assert len(notes(err)) == 1 and "'400'" in notes(err)[0]
    pre = json.loads(sidecar(tmp_path / "run" / "model.npz").read_text())
    assert pre["classes"] == ["no", "yes"] and pre["feature_names"] == ["400", "410", "420", "430", "440"]
    code, out, err = run(capsys, "predict", tmp_path / "run" / "model.npz", tmp_path / "new.csv")
    assert code == 0, err
    assert out.splitlines()[0] == "prediction" and len(out.splitlines()) == 6
    assert set(out.splitlines()[1:]) <= {"yes", "no"}


def test_an_index_without_a_header_is_dropped_not_learnt(iris, tmp_path, capsys):
    """``df.to_csv(header=False)`` on class-sorted iris: the index would give the class away; it is dropped."""
    X, y = iris
    frame = pd.DataFrame(X)
    frame["species"] = y
    frame.to_csv(tmp_path / "indexed.csv", header=False)
    code, _, err = run(capsys, "train", tmp_path / "indexed.csv", "--out", tmp_path / "run", "--epochs", "2",
                       "--quiet", "--no-plots")  # fmt: skip
    assert code == 0, err
    assert len(notes(err)) == 1 and "dropped column 1" in notes(err)[0] and "0…149" in notes(err)[0]
    pre = json.loads(sidecar(tmp_path / "run" / "model.npz").read_text())
    assert len(pre["mean"]) == 4 and pre["index_column"] == ""
    assert max(pre["mean"]) < X.max()  # an index 0…149 would average near 75
    # a slice keeps its index 100…149, which a later file carries too: still dropped, by the record
    frame.iloc[100:].drop(columns="species").to_csv(tmp_path / "part.csv", header=False)
    frame.iloc[100:].drop(columns="species").to_csv(tmp_path / "part_plain.csv", header=False, index=False)
    a = run(capsys, "predict", tmp_path / "run" / "model.npz", tmp_path / "part.csv")
    b = run(capsys, "predict", tmp_path / "run" / "model.npz", tmp_path / "part_plain.csv")
    assert a[0] == b[0] == 0 and a[1] == b[1] and len(a[1].splitlines()) == 51


def test_an_increasing_feature_beside_the_target_alone_is_kept(tmp_path):
    (tmp_path / "curve.csv").write_text("".join(f"{i},{i * i}\n" for i in range(20)))
    d = ds.load(tmp_path / "curve.csv", task="regression")
    assert d.n_features == 1 and d.source["header"] is False


def test_header_settles_any_case_by_hand(trained, iris, tmp_path, capsys):
    X, _ = iris
    # --header no: the row 0,1,2,3,4 is a sample, its '4' a fourth class
    d = ds.load(trained / "num.csv", header="no")
    assert d.classes == ["0", "1", "2", "4"] and len(d.X_train) + len(d.X_test) == 151
    # --header yes: a file of numbers alone gives up its first row as names
    pd.DataFrame(X).to_csv(tmp_path / "plain.csv", index=False, header=False)
    assert len(ds.read_features(tmp_path / "plain.csv", header="yes")) == 149
    assert len(ds.read_features(tmp_path / "plain.csv")) == 150
    code, out, err = run(capsys, "predict", trained / "run" / "model.npz", tmp_path / "plain.csv", "--header", "yes")
    assert code == 2 and "no column named '0'" in err[-1]  # the model's names are not among those of the first row
    with pytest.raises(ds.DataError, match="header 'maybe' is not known"):
        ds.load(trained / "num.csv", header="maybe")
    with pytest.raises(ds.DataError, match="CSV files only"):
        ds.load("iris", header="yes")


@pytest.mark.parametrize(
    ("text", "header"),
    [
        ("a,b,y\n1,2,0\n3,4,1\n", True),  # names
        ("1.5,2,0\n3,4.5,1\n", False),  # numbers
        ("0,1,2\n5.1,3.5,0\n4.9,3.0,1\n", True),  # pandas' names
        ("5,3,1,0,setosa\n5.1,3.5,1.4,0.2,setosa\n4.9,3.0,1.4,0.2,versicolor\n", False),  # whole numbers, in range
        ("400,410,label\n0.1,0.2,yes\n0.3,0.4,no\n", True),  # whole numbers above fractions out of their range
        ("7,8,label\n1,2,yes\n3,4,no\n", False),  # whole numbers above whole numbers: data
    ],
)
def test_the_header_rules(tmp_path, text, header):
    (tmp_path / "f.csv").write_text(text)
    assert (ds.read_csv(tmp_path / "f.csv").header is not None) is header
    assert (ds.columns(tmp_path / "f.csv")[0] is not None) is header  # the first rows alone say the same
