"""The data contract: files written by pandas are matched to a model by column name, through train, evaluate and
predict on the command line and through ``chainrule.datasets`` in Python; pandas' index column is dropped; ';',
tab and .tsv files are read, decimal commas on request."""

import json
import re
import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule import datasets as ds
from chainrule.cli import main
from chainrule.datasets.preprocess import Preprocessor, sidecar

pd = pytest.importorskip("pandas")
sklearn_datasets = pytest.importorskip("sklearn.datasets")

pytestmark = pytest.mark.usefixtures("one_blas_thread")
SWAP = ("mean radius", "mean area")  # features of very different scales: reading one as the other changes answers


def accuracy(text: str) -> float:
    return float(re.search(r"^accuracy: ([0-9.]+)", text, re.M).group(1))


def run(capsys, *args):
    """(exit status, stdout, stderr lines) of the command line, in-process."""
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err.splitlines()


@pytest.fixture(scope="module")
def cancer(tmp_path_factory):
    """breast_cancer as pandas writes it (no index), a model trained on it, and the frame itself."""
    folder = tmp_path_factory.mktemp("contract")
    frame = sklearn_datasets.load_breast_cancer(as_frame=True).frame
    frame.to_csv(folder / "cancer.csv", index=False)
    code = main(["train", str(folder / "cancer.csv"), "--out", str(folder / "run"), "--epochs", "30", "--quiet",
                 "--no-plots"])  # fmt: skip
    assert code == 0
    return folder, frame


def evaluate(capsys, folder, path, *extra):
    code, out, err = run(capsys, "evaluate", folder / "run" / "model.npz", path, *extra)
    assert code == 0, err
    return accuracy(out), err


def predict(capsys, folder, path, *extra):
    code, out, err = run(capsys, "predict", folder / "run" / "model.npz", path, *extra)
    assert code == 0, err
    return out, err


def test_the_training_columns_are_recorded_by_name(cancer):
    folder, frame = cancer
    pre = Preprocessor.load(sidecar(folder / "run" / "model.npz"))
    assert pre.named_columns and pre.feature_names == [c for c in frame.columns if c != "target"]
    assert pre.index_column is None


def test_swapped_columns_give_the_same_accuracy_and_predictions(cancer, tmp_path, capsys):
    folder, frame = cancer
    a, b = (list(frame.columns).index(c) for c in SWAP)
    order = list(frame.columns)
    order[a], order[b] = order[b], order[a]
    frame[order].to_csv(tmp_path / "swapped.csv", index=False)
    original, _ = evaluate(capsys, folder, folder / "cancer.csv")
    swapped, err = evaluate(capsys, folder, tmp_path / "swapped.csv")
    assert swapped == original > 0.9 and err == []
    assert predict(capsys, folder, tmp_path / "swapped.csv")[0] == predict(capsys, folder, folder / "cancer.csv")[0]
    # the test can fail: read by position, the swapped file gives other answers
    model, pre = cr.load(folder / "run" / "model.npz"), Preprocessor.load(sidecar(folder / "run" / "model.npz"))
    by_position = frame[order].drop(columns="target").to_numpy()
    by_name = frame.drop(columns="target").to_numpy()
    assert (model.predict_classes(pre.transform(by_position)) != model.predict_classes(pre.transform(by_name))).any()


def test_a_model_trained_on_reordered_columns_reads_the_original_order(cancer, tmp_path, capsys):
    folder, frame = cancer
    order = [*reversed(frame.columns[:-1]), "target"]
    frame[order].to_csv(tmp_path / "reversed.csv", index=False)
    code, _, err = run(capsys, "train", tmp_path / "reversed.csv", "--out", tmp_path / "run", "--epochs", "30",
                       "--quiet", "--no-plots")  # fmt: skip
    assert code == 0, err
    model = tmp_path / "run" / "model.npz"
    code, same_order, _ = run(capsys, "evaluate", model, tmp_path / "reversed.csv")
    code2, original_order, err = run(capsys, "evaluate", model, folder / "cancer.csv")
    assert code == code2 == 0 and err == [] and accuracy(original_order) == accuracy(same_order) > 0.9


def test_missing_columns_exit_2_naming_every_one(cancer, tmp_path, capsys):
    folder, frame = cancer
    frame.drop(columns=["mean texture", "worst symmetry"]).to_csv(tmp_path / "missing.csv", index=False)
    for command in ("evaluate", "predict"):
        code, out, err = run(capsys, command, folder / "run" / "model.npz", tmp_path / "missing.csv")
        assert code == 2 and out == "" and len(err) == 1
        assert "no column named 'mean texture', 'worst symmetry'" in err[0] and "delimiter ','" in err[0]


def test_extra_columns_are_ignored_with_one_note(cancer, tmp_path, capsys):
    folder, frame = cancer
    extra = frame.assign(hospital=np.arange(len(frame)) % 7, ward=1.5)
    extra = extra[["ward", *frame.columns[:5], "hospital", *frame.columns[5:]]]
    extra.to_csv(tmp_path / "extra.csv", index=False)
    original, _ = evaluate(capsys, folder, folder / "cancer.csv")
    got, err = evaluate(capsys, folder, tmp_path / "extra.csv")
    assert got == original
    assert len(err) == 1 and err[0].startswith("chainrule evaluate: note:") and "'ward', 'hospital'" in err[0]
    out, err = predict(capsys, folder, tmp_path / "extra.csv")
    assert out == predict(capsys, folder, folder / "cancer.csv")[0] and len(err) == 1 and "'ward'" in err[0]


def test_a_file_without_a_header_is_taken_by_position_with_the_width_checked(cancer, tmp_path, capsys):
    folder, frame = cancer
    features = frame.drop(columns="target")
    features.to_csv(tmp_path / "plain.csv", index=False, header=False)
    out, err = predict(capsys, folder, tmp_path / "plain.csv")
    assert out == predict(capsys, folder, folder / "cancer.csv")[0] and err == []
    frame.to_csv(tmp_path / "plain_with_target.csv", index=False, header=False)
    original, _ = evaluate(capsys, folder, folder / "cancer.csv")
    assert evaluate(capsys, folder, tmp_path / "plain_with_target.csv", "--target", "30")[0] == original
    features.iloc[:, :-1].to_csv(tmp_path / "narrow.csv", index=False, header=False)
    code, out, err = run(capsys, "predict", folder / "run" / "model.npz", tmp_path / "narrow.csv")
    assert code == 2 and len(err) == 1 and "has 29 features but the model was trained on 30" in err[0]


def test_pandas_index_is_dropped_in_training_recorded_and_dropped_in_predict(cancer, tmp_path, capsys):
    _, frame = cancer
    frame.to_csv(tmp_path / "indexed.csv")  # pandas' default: the index as an unnamed first column
    code, out, err = run(capsys, "train", tmp_path / "indexed.csv", "--out", tmp_path / "run", "--epochs", "30",
                         "--quiet", "--no-plots")  # fmt: skip
    assert code == 0 and len(err) == 1 and "note: " in err[0] and "dropped column 1 ('')" in err[0]
    pre = Preprocessor.load(sidecar(tmp_path / "run" / "model.npz"))
    assert pre.index_column == "" and pre.n_features == 30 and "" not in pre.feature_names
    # rows 100..149 keep their index 100..149, which is not 0..n-1: the recorded index column is dropped anyway
    frame.iloc[100:150].drop(columns="target").to_csv(tmp_path / "some.csv")
    frame.iloc[100:150].drop(columns="target").to_csv(tmp_path / "some_plain.csv", index=False)
    model = tmp_path / "run" / "model.npz"
    code, scores, err = run(capsys, "evaluate", model, tmp_path / "indexed.csv")
    assert code == 0 and len(err) == 1 and "dropped column 1" in err[0]
    frame.to_csv(tmp_path / "plain.csv", index=False)
    assert accuracy(scores) == accuracy(run(capsys, "evaluate", model, tmp_path / "plain.csv")[1])
    code, with_index, err = run(capsys, "predict", model, tmp_path / "some.csv")
    assert code == 0 and len(err) == 1 and "dropped column 1" in err[0]
    assert with_index == run(capsys, "predict", model, tmp_path / "some_plain.csv")[1]
    # read back by pandas, the index is 'Unnamed: 0'; the preprocessor drops it from the data frame too
    back = pd.read_csv(tmp_path / "some.csv")
    assert back.columns[0] == "Unnamed: 0"
    with pytest.warns(ds.DataNote, match="dropped column 1"):
        X = pre.transform(back)
    np.testing.assert_array_equal(X, pre.transform(frame.iloc[100:150].drop(columns="target").to_numpy()))


@pytest.mark.parametrize(
    "header, message",
    [
        (["", "a", "b", "y"], "column 1 ('') of the header has no name"),  # not the row numbers 0..n-1
        (["a", "Unnamed: 1", "b", "y"], "column 2 ('Unnamed: 1') of the header has no name"),
        (["a", "", "b", "y"], "column 2 ('') of the header has no name"),
    ],
)
def test_any_other_unnamed_column_is_refused_naming_it(tmp_path, capsys, header, message):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(40, 3)) + 5, columns=header[:3]).assign(y=np.arange(40) % 2)
    frame.columns = header
    frame.to_csv(tmp_path / "bad.csv", index=False)
    code, _, err = run(capsys, "train", tmp_path / "bad.csv", "--out", tmp_path / "run", "--quiet", "--no-plots")
    assert code == 2 and len(err) == 1 and message in err[0] and not (tmp_path / "run").exists()


def test_duplicated_column_names_are_refused(tmp_path, capsys):
    (tmp_path / "twice.csv").write_text("a,b,a,y\n" + "".join(f"{i},{i % 3},{i % 5},{i % 2}\n" for i in range(30)))
    with pytest.raises(ds.DataError, match="the header names 'a' more than once"):
        ds.load(tmp_path / "twice.csv")
    with pytest.raises(ds.DataError, match="the header names 'a' more than once"):
        ds.read_features(tmp_path / "twice.csv", features=["a", "b"], ignore=["y"])
    with pytest.warns(ds.DataNote, match="ignored column 'a', which"):  # a name the model does not use
        X = ds.read_features(tmp_path / "twice.csv", features=["b"], ignore=["y"])
    np.testing.assert_array_equal(X.ravel(), np.arange(30) % 3)


def test_python_loaders_follow_the_same_rules(cancer, tmp_path):
    folder, frame = cancer
    pre = Preprocessor.load(sidecar(folder / "run" / "model.npz"))
    shuffled = frame[list(reversed(frame.columns))]
    shuffled.to_csv(tmp_path / "reversed.csv", index=False)
    expected = frame.drop(columns="target").to_numpy()
    got = ds.read_features(tmp_path / "reversed.csv", features=pre.feature_names, ignore=["target"])
    np.testing.assert_array_equal(got, expected)
    data = ds.load(tmp_path / "reversed.csv", target="target", features=pre.feature_names, test_size=0.5)
    assert data.feature_names == pre.feature_names
    rows = np.vstack([data.X_train, data.X_test])
    np.testing.assert_array_equal(rows[np.lexsort(rows.T)], expected[np.lexsort(expected.T)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a target column named as in training is no extra column
        np.testing.assert_array_equal(pre.transform(shuffled), pre.transform(expected))
    with pytest.raises(ds.DataError, match="no column named 'worst area'"):
        pre.transform(frame.drop(columns="worst area"))
    unlabelled = pd.DataFrame(expected)  # pandas' default column labels 0, 1, … name nothing: by position
    np.testing.assert_array_equal(pre.transform(unlabelled), pre.transform(expected))
    with pytest.raises(ds.DataError, match="no column named 'x', which"):
        ds.read_features(tmp_path / "reversed.csv", features=["mean radius", "x"], ignore=["target"])


def test_a_sidecar_written_before_the_contract_matches_by_name_where_it_recorded_a_header(cancer, tmp_path):
    folder, _ = cancer
    doc = json.loads(sidecar(folder / "run" / "model.npz").read_text())
    del doc["named_columns"], doc["index_column"]
    (tmp_path / "model.preprocess.json").write_text(json.dumps(doc))
    assert Preprocessor.load(tmp_path / "model.preprocess.json").named_columns
    doc["source"]["target"] = 30  # a file without a header records the target's index
    (tmp_path / "model.preprocess.json").write_text(json.dumps(doc))
    assert not Preprocessor.load(tmp_path / "model.preprocess.json").named_columns


# ------------------------------------------------------------------ delimiters and decimal marks
@pytest.mark.parametrize("name, sep", [("semicolon.csv", ";"), ("tabs.csv", "\t"), ("tabs.tsv", "\t")])
def test_semicolon_and_tab_files_are_detected(cancer, tmp_path, capsys, name, sep):
    folder, frame = cancer
    frame.to_csv(tmp_path / name, sep=sep, index=False)
    original, _ = evaluate(capsys, folder, folder / "cancer.csv")
    assert evaluate(capsys, folder, tmp_path / name)[0] == original
    assert predict(capsys, folder, tmp_path / name)[0] == predict(capsys, folder, folder / "cancer.csv")[0]
    data = ds.load(tmp_path / name, test_size=0.5)
    assert data.n_features == 30 and data.classes == ["0", "1"]
    assert ds.columns(tmp_path / name) == (list(frame.columns), 31)


def test_training_on_a_semicolon_file_works(tmp_path, capsys):
    iris = sklearn_datasets.load_iris(as_frame=True).frame
    iris.to_csv(tmp_path / "iris.csv", sep=";", index=False)
    code, out, err = run(capsys, "train", tmp_path / "iris.csv", "--out", tmp_path / "run", "--quiet", "--no-plots")
    assert code == 0, err
    assert Preprocessor.load(sidecar(tmp_path / "run" / "model.npz")).feature_names == list(iris.columns[:4])


def test_delimiter_option_overrides_the_guess(cancer, tmp_path, capsys):
    folder, frame = cancer
    frame.to_csv(tmp_path / "pipes.csv", sep="|", index=False)
    original, _ = evaluate(capsys, folder, folder / "cancer.csv")
    assert evaluate(capsys, folder, tmp_path / "pipes.csv", "--delimiter", "|")[0] == original
    code, _, err = run(capsys, "evaluate", folder / "run" / "model.npz", tmp_path / "pipes.csv")
    assert code == 2 and len(err) == 1 and "delimiter ','" in err[0]
    frame.to_csv(tmp_path / "tabs.txt", sep="\t", index=False)
    assert evaluate(capsys, folder, tmp_path / "tabs.txt", "--delimiter", "tab")[0] == original
    code, _, err = run(capsys, "evaluate", folder / "run" / "model.npz", tmp_path / "tabs.txt", "--delimiter", ";")
    assert code == 2 and len(err) == 1 and "delimiter ';'" in err[0]


def test_decimal_commas_are_read_on_request_and_named_otherwise(cancer, tmp_path, capsys):
    folder, frame = cancer
    frame.to_csv(tmp_path / "comma.csv", sep=";", decimal=",", index=False)
    code, _, err = run(capsys, "evaluate", folder / "run" / "model.npz", tmp_path / "comma.csv")
    assert code == 2 and len(err) == 1 and "decimal comma" in err[0] and "--decimal ," in err[0]
    assert "delimiter ';'" in err[0]
    original, _ = evaluate(capsys, folder, folder / "cancer.csv")
    assert evaluate(capsys, folder, tmp_path / "comma.csv", "--decimal", ",")[0] == original
    # the numbers are pandas' own reading of the file, to the last bit (its Python engine parses exactly)
    theirs = pd.read_csv(tmp_path / "comma.csv", sep=";", decimal=",", engine="python")
    mine = ds.read_features(tmp_path / "comma.csv", decimal=",")
    np.testing.assert_array_equal(mine, theirs.to_numpy())


def test_decimal_commas_in_a_regression_target(tmp_path):
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"u": rng.normal(size=60), "v": rng.normal(size=60) * 1e3, "price": rng.normal(size=60) * 77})
    frame.to_csv(tmp_path / "prices.tsv", sep="\t", decimal=",", index=False)
    data = ds.load(tmp_path / "prices.tsv", decimal=",", test_size=0.5, seed=3)
    theirs = pd.read_csv(tmp_path / "prices.tsv", sep="\t", decimal=",", engine="python")
    assert data.task == "regression"
    assert sorted(np.concatenate([data.y_train, data.y_test])) == sorted(theirs["price"])


@pytest.mark.parametrize(
    "text, options, message",
    [
        ("a;b;y\n1;2;0\n3;4\n", {}, "(delimiter ';'): row 3 has 2 fields but row 1 has 3"),
        ("a\tb\ty\n1\tx\t0\n3\t4\t1\n", {}, "(delimiter tab): row 2, column 'b': 'x' is not a number"),
        ("a;b;y\n1;2,5;0\n3;4;1\n", {}, "(delimiter ';'): row 2, column 'b': '2,5' has a decimal comma"),
        ("a;b;y\n1;2.5;0\n3;4;1\n", {"decimal": ","}, "(delimiter ';', decimal ','): row 2: '2.5' has a '.'"),
        ("a,b,y\n1,2,0\n3,4,1\n", {"decimal": ","}, "(delimiter ','): decimal commas cannot be told apart"),
        ("a;b;y\n1;2;0\n3;4;1\n", {"target": "z"}, "(delimiter ';'): no target column named 'z'"),
        ("a;b;y\n1;;0\n3;4;1\n", {}, "(delimiter ';'): row 2, column 'b' is empty"),
        ("a;b\n", {}, "(delimiter ';') has a header but no data rows"),
    ],
)
def test_every_csv_error_names_the_delimiter(tmp_path, text, options, message):
    (tmp_path / "bad.csv").write_text(text)
    with pytest.raises(ds.DataError) as caught:
        ds.load(tmp_path / "bad.csv", **options)
    assert message in str(caught.value)
