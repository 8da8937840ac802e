"""chainrule.datasets: generated, bundled and file datasets, and the preprocessing saved with a model."""

import gzip
import io
import struct
import zipfile

import numpy as np
import pytest

from chainrule import datasets as ds
from chainrule.datasets.preprocess import Preprocessor, load_for, sidecar

GENERATED = ["xor", "and", "or", "planar", "moons", "circles", "spirals", "curve"]


@pytest.mark.parametrize("name", GENERATED)
def test_generated_datasets_are_deterministic_and_well_formed(name):
    a, b = ds.load(name, seed=3), ds.load(name, seed=3)
    np.testing.assert_array_equal(a.X_train, b.X_train)
    np.testing.assert_array_equal(a.y_test, b.y_test)
    assert a.X_train.ndim == 2 and a.X_train.shape[1] == a.X_test.shape[1] == a.n_features
    assert len(a.X_train) == len(a.y_train) and len(a.X_test) == len(a.y_test)
    if a.task == "classification":
        assert set(np.unique(a.y_train)) <= set(range(a.n_classes))
    assert np.isfinite(a.X_train).all()


def test_gates_hold_the_truth_tables():
    assert ds.load("xor").y_train.tolist() == [0, 1, 1, 0]
    assert ds.load("and").y_train.tolist() == [0, 0, 0, 1]
    assert ds.load("or").y_train.tolist() == [0, 1, 1, 1]


def test_planar_is_the_seed_projects_gaussian_quantiles_problem():
    d = ds.load("planar", seed=0)
    X = np.vstack([d.X_train, d.X_test])
    y = np.concatenate([d.y_train, d.y_test])
    assert X.shape == (200, 2) and d.n_classes == 2
    assert np.bincount(y).tolist() == [100, 100]
    r = np.linalg.norm(X, axis=1)
    assert r[y == 0].max() <= r[y == 1].min()  # class 1 is the outer quantile


def test_bundled_datasets_have_their_documented_sizes():
    digits = ds.load("digits")
    assert len(digits.X_train) + len(digits.X_test) == 1797 and digits.n_features == 64 and digits.n_classes == 10
    iris = ds.load("iris")
    assert len(iris.X_train) + len(iris.X_test) == 150 and iris.classes == ["setosa", "versicolor", "virginica"]
    assert ds.load("diabetes").task == "regression"
    assert ds.load("wine").n_classes == 3 and ds.load("breast_cancer").n_classes == 2


def test_mnist1d_is_generated_offline_and_leaves_numpys_global_state_alone():
    np.random.seed(123)
    expected = np.random.random()
    np.random.seed(123)
    d = ds.load("mnist1d")
    assert np.random.random() == expected
    assert d.X_train.shape == (4000, 40) and d.X_test.shape == (1000, 40) and d.n_classes == 10


def test_unknown_dataset_lists_the_choices():
    with pytest.raises(ds.DataError, match="unknown dataset 'digitz'.*digits"):
        ds.load("digitz")


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_csv_with_header_and_categorical_target(tmp_path):
    rows = "\n".join(f"{i},{i % 3 * 1.5},{'cat' if i % 2 else 'dog'}" for i in range(20))
    d = ds.load(write(tmp_path, "pets.csv", "a,b,animal\n" + rows + "\n"), seed=0)
    assert d.classes == ["cat", "dog"] and d.feature_names == ["a", "b"] and d.task == "classification"
    assert len(d.X_train) + len(d.X_test) == 20


def test_csv_without_header_target_by_index_and_regression(tmp_path):
    rows = "\n".join(f"{i * 0.37},{i},{i * 0.1}" for i in range(30))
    path = write(tmp_path, "plain.csv", rows)
    d = ds.load(path, target=0)
    assert d.task == "regression" and d.n_features == 2 and d.source["target"] == 0
    assert ds.load(path, target="1").task == "classification"


@pytest.mark.parametrize(
    "text, target, message",
    [
        ("", None, "is empty"),
        ("a,b,c\n1,2,0\n3,4\n", None, "row 3 has 2 fields but row 1 has 3"),
        ("a,b,c\n1,2,0\n3,x,1\n", None, "row 3, column 'b': 'x' is not a number"),
        ("a,b,c\n1,2,0\n3,4,1\n", "label", "no target column named 'label'; the columns are a, b, c"),
        ("a,b,c\n1,2,0\n3,nan,1\n", None, "row 3, column 'b' is 'nan'"),
        ("a,b,c\n", None, "header but no data rows"),
        ("a,b,c\n1,,0\n3,4,1\n", None, "row 2, column 'b' is empty; fill it in, or remove the row or column"),
    ],
)
def test_bad_csv_is_reported_with_file_row_and_column(tmp_path, text, target, message):
    with pytest.raises(ds.DataError, match=message):
        ds.load(write(tmp_path, "bad.csv", text), target=target)


def test_npy_and_npz(tmp_path):
    rng = np.random.default_rng(0)
    M = np.c_[rng.normal(size=(40, 3)), np.arange(40) % 2]
    np.save(tmp_path / "m.npy", M)
    assert ds.load(tmp_path / "m.npy").n_features == 3
    np.savez(tmp_path / "s.npz", X_train=M[:30, :3], y_train=M[:30, 3], X_test=M[30:, :3], y_test=M[30:, 3])
    d = ds.load(tmp_path / "s.npz")
    assert len(d.X_test) == 10 and d.classes == ["0", "1"]
    X = M[:, :3].copy()
    X[5, 1] = np.nan
    np.savez(tmp_path / "nan.npz", X=X, y=M[:, 3])
    with pytest.raises(ds.DataError, match="row 6, column 2 is nan"):
        ds.load(tmp_path / "nan.npz")


def write_idx(path, array, zipped):
    codes = {np.uint8: 0x08, np.dtype(">i4").type: 0x0C}
    header = bytes([0, 0, codes[array.dtype.type], array.ndim]) + b"".join(struct.pack(">I", n) for n in array.shape)
    data = header + array.tobytes()
    (gzip.open if zipped else open)(path, "wb").write(data)


@pytest.mark.parametrize("zipped", [False, True])
def test_mnist_idx_files(tmp_path, zipped):
    rng = np.random.default_rng(0)
    ext = ".gz" if zipped else ""
    for prefix, n in [("train", 50), ("t10k", 20)]:
        write_idx(
            tmp_path / f"{prefix}-images-idx3-ubyte{ext}", rng.integers(0, 256, (n, 4, 4), dtype=np.uint8), zipped
        )
        write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte{ext}", (np.arange(n) % 10).astype(np.uint8), zipped)
    d = ds.load(tmp_path / f"train-images-idx3-ubyte{ext}")
    assert d.X_train.shape == (50, 16) and d.X_test.shape == (20, 16) and d.n_classes == 10
    assert 0 <= d.X_train.min() and d.X_train.max() <= 1


def test_idx_classes_are_the_labels_present_not_zero_to_max(tmp_path):
    # a label near 2**31 once made the loader list two billion class names
    labels = np.array([7, 2**31 - 1] * 10, dtype=">i4")
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((20, 2, 2), dtype=np.uint8), False)
    write_idx(tmp_path / "train-labels-idx1-ubyte", labels, False)
    d = ds.load(tmp_path / "train-images-idx3-ubyte")
    assert d.classes == ["7", str(2**31 - 1)] and d.n_classes == 2
    assert set(np.concatenate([d.y_train, d.y_test])) == {0, 1}


def test_idx_with_bad_magic(tmp_path):
    (tmp_path / "x-images-idx3-ubyte").write_bytes(b"hello world")
    (tmp_path / "x-labels-idx1-ubyte").write_bytes(b"hello world")
    with pytest.raises(ds.DataError, match="not an IDX file"):
        ds.load(tmp_path / "x-images-idx3-ubyte")


def test_standardisation_is_fitted_on_train_only_and_round_trips(tmp_path):
    d = ds.load("iris")
    pre = Preprocessor.fit(d)
    Z = pre.transform(d.X_train)
    np.testing.assert_allclose(Z.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(Z.std(axis=0), 1)
    assert not np.allclose(pre.transform(d.X_test).mean(axis=0), 0, atol=1e-3)
    model_path = tmp_path / "model.npz"
    pre.save(sidecar(model_path))
    again = load_for(model_path, 4)
    np.testing.assert_array_equal(again.transform(d.X_test), pre.transform(d.X_test))
    assert again.classes == d.classes
    with pytest.raises(ds.DataError, match="has 3 features but the model was trained on 4"):
        pre.transform(d.X_test[:, :3])


def test_regression_targets_are_scaled_and_restored():
    d = ds.load("curve")
    pre = Preprocessor.fit(d)
    np.testing.assert_allclose(pre.inverse_y(pre.transform_y(d.y_test)), d.y_test)


# ------------------------------------------------------------------ hostile files: bombs, short and long IDX data

GiB = 2**30


def idx_header(code, dims):
    return bytes([0, 0, code, len(dims)]) + b"".join(struct.pack(">I", n) for n in dims)


def zero_members(n_bytes, chunk=2**24):
    """``n_bytes`` zero bytes as concatenated gzip members: a valid gzip stream, built by compressing one chunk once."""
    member = gzip.compress(bytes(chunk), compresslevel=9)
    return member * (n_bytes // chunk)


def peak_bytes_of(call):
    """(the exception ``call`` raised, the peak of memory traced by tracemalloc while it ran)."""
    import tracemalloc

    tracemalloc.start()
    try:
        with pytest.raises(ds.DataError) as info:
            call()
        return info.value, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_gzip_bomb_after_a_valid_idx_payload_is_refused_without_inflating_it(tmp_path):
    # 1000 images of 28x28 bytes, then 2 GiB of zeros: a 2 MB file that would inflate to 2 GiB if read whole
    body = gzip.compress(idx_header(0x08, (1000, 28, 28)) + bytes(1000 * 28 * 28))
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(body + zero_members(2 * GiB))
    assert path.stat().st_size < 10 * 2**20
    error, peak = peak_bytes_of(lambda: ds.idx.read_idx(path))
    assert peak < 200 * 2**20, f"reading the bomb peaked at {peak / 2**20:.0f} MiB"
    assert "says shape (1000, 28, 28) (784,000 bytes of data) but the file holds more" in str(error)


def test_idx_header_declaring_more_than_the_limit_is_refused_before_reading(tmp_path):
    # 2**20 x 2**12 float64 values are 2**35 bytes (32 GiB); the zeros behind the header inflate to 1 GiB
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(idx_header(0x0E, (2**20, 2**12))) + zero_members(GiB))
    error, peak = peak_bytes_of(lambda: ds.idx.read_idx(path))
    assert peak < 10 * 2**20, f"reading the header peaked at {peak / 2**20:.0f} MiB"
    assert "declares shape (1048576, 4096) of float64, 34,359,738,368 bytes of data" in str(error)
    assert "the limit is 2,147,483,648 bytes" in str(error)
    small = tmp_path / "small-idx1"
    small.write_bytes(idx_header(0x08, (11,)) + bytes(11))
    with pytest.raises(ds.DataError, match="11 bytes of data; the limit is 10 bytes"):
        ds.idx.read_idx(small, max_bytes=10)
    assert ds.idx.read_idx(small, max_bytes=11).tolist() == [0] * 11


@pytest.mark.parametrize("zipped", [False, True])
def test_idx_data_shorter_or_longer_than_the_header_says(tmp_path, zipped):
    path = tmp_path / "x-idx1"
    pack = gzip.compress if zipped else bytes
    path.write_bytes(pack(idx_header(0x0C, (5,)) + bytes(4 * 5 - 3)))  # 5 int32s need 20 bytes; 17 are there
    with pytest.raises(ds.DataError, match=r"says shape \(5,\) \(20 bytes of data\) but the file holds only 17 bytes"):
        ds.idx.read_idx(path)
    path.write_bytes(pack(idx_header(0x0C, (5,)) + bytes(21)))
    with pytest.raises(ds.DataError, match=r"says shape \(5,\) \(20 bytes of data\) but the file holds more"):
        ds.idx.read_idx(path)
    path.write_bytes(pack(idx_header(0x0C, (5, 2))[:9]))
    with pytest.raises(ds.DataError, match="declares 2 dimensions but the file ends inside the header"):
        ds.idx.read_idx(path)


def test_gzip_is_recognised_by_content_and_a_damaged_stream_is_a_data_error(tmp_path):
    values = np.array([3, 1, 4, 1, 5], dtype=">i4")
    packed = gzip.compress(idx_header(0x0C, (5,)) + values.tobytes())
    (tmp_path / "no-suffix-idx1").write_bytes(packed)
    assert ds.idx.read_idx(tmp_path / "no-suffix-idx1").tolist() == [3, 1, 4, 1, 5]
    (tmp_path / "cut-idx1.gz").write_bytes(packed[:-12])  # the end of the deflate data and the trailer are gone
    with pytest.raises(ds.DataError, match="cut-idx1.gz: cannot read"):
        ds.idx.read_idx(tmp_path / "cut-idx1.gz")


# ------------------------------------------------------------------ unusable arrays: the message says what is wrong


def test_unusable_arrays_are_named_with_what_to_do(tmp_path):
    X = np.arange(24.0).reshape(8, 3)
    cases = {
        "text.npy": (np.array([["1", "a"], ["2", "b"]]), "a single array must hold numbers only; got dtype <U1"),
        "flat.npz": (
            {"X": X, "y": np.zeros((8, 2))},
            r"y must hold one label per row, shape \(8,\); got shape \(8, 2\)",
        ),
        "short.npz": ({"X": X, "y": np.arange(7) % 2}, "y has 7 labels but its features have 8 rows"),
        "scalar.npz": ({"X": np.float64(3), "y": np.arange(1)}, r"X has shape \(\), which holds no samples"),
        "when.npz": ({"X": X, "y": np.arange(8).astype("M8[D]")}, "y must hold numbers or text labels; got dtype"),
        "nan.npz": ({"X": X, "y": np.r_[0.0, 1, np.nan, 1, 0, 1, 0, 1]}, "y: the target of sample 3 is 'nan'"),
        "one.npz": ({"X": X, "y": np.full(8, 4)}, "every target is '4': classification needs at least two classes"),
        "tiny.npz": ({"X": X[:2], "y": np.array([0.5, 1.5])}, "2 samples are too few to hold out a test set"),
        "cols.npz": (
            {"X_train": X, "y_train": np.arange(8) % 2, "X_test": X[:, :2], "y_test": np.arange(8) % 2},
            "X_test has 2 features but X_train has 3",
        ),
        "unseen.npz": (
            {"X_train": X, "y_train": np.arange(8) % 2, "X_test": X, "y_test": np.arange(8) % 3},
            r"y_test has labels \['2'\] that y_train lacks",
        ),
    }
    for name, (content, message) in cases.items():
        path = tmp_path / name
        np.save(path, content) if name.endswith(".npy") else np.savez(path, **content)
        with pytest.raises(ds.DataError, match=message):
            ds.arrays.load_array(path)
    np.save(tmp_path / "m.npy", np.c_[X, np.arange(8) % 2])
    with pytest.raises(ds.DataError, match="target column index 4 is out of range for 4 columns"):
        ds.arrays.load_array(tmp_path / "m.npy", target=4)
    assert ds.arrays.load_array(tmp_path / "m.npy", target=-1).n_features == 3


def test_test_labels_match_training_labels_written_another_way(tmp_path):
    X = np.arange(24.0).reshape(8, 3)
    np.savez(tmp_path / "s.npz", X_train=X, y_train=np.arange(8) % 2, X_test=X[:3], y_test=np.array(["1.0", "0", "1"]))
    d = ds.arrays.load_array(tmp_path / "s.npz")
    assert d.classes == ["0", "1"] and d.y_test.tolist() == [1, 0, 1]


@pytest.mark.parametrize(
    "text, message",
    [
        ("a,b,y\n1,2,0\n3,4,\n5,6,1\n", "row 3 is ''; remove that row or fill in its label"),
        ("a,b,y\n1,2,0.5\n3,4,inf\n5,6,1\n", "row 3 is 'inf'"),
        ("a,b,y\n" + "1,2,cat\n" * 6, "every target is 'cat'"),
    ],
)
def test_missing_or_single_class_targets_in_a_csv(tmp_path, text, message):
    with pytest.raises(ds.DataError, match=message):
        ds.load(write(tmp_path, "t.csv", text))


def test_programming_errors_are_not_turned_into_data_errors(tmp_path, monkeypatch):
    np.save(tmp_path / "m.npy", np.c_[np.arange(24.0).reshape(8, 3), np.arange(8) % 2])
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((10, 2, 2), dtype=np.uint8), False)
    write_idx(tmp_path / "train-labels-idx1-ubyte", (np.arange(10) % 2).astype(np.uint8), False)

    def broken(*args, **kwargs):
        raise TypeError("a bug in split")

    monkeypatch.setattr(ds._base, "split", broken)
    with pytest.raises(TypeError, match="a bug in split"):
        ds.arrays.load_array(tmp_path / "m.npy")
    with pytest.raises(TypeError, match="a bug in split"):
        ds.idx.load_idx(tmp_path / "train-images-idx3-ubyte")


def test_idx_images_and_labels_that_do_not_fit_together(tmp_path):
    images = tmp_path / "train-images-idx3-ubyte"
    labels = tmp_path / "train-labels-idx1-ubyte"
    write_idx(images, np.zeros((10, 2, 2), dtype=np.uint8), False)
    write_idx(labels, (np.arange(9) % 2).astype(np.uint8), False)
    with pytest.raises(ds.DataError, match="10 images but 9 labels in train-labels-idx1-ubyte"):
        ds.load(images)
    write_idx(labels, (np.arange(10) % 2).astype(np.uint8).reshape(5, 2), False)
    with pytest.raises(ds.DataError, match=r"has shape \(5, 2\); expected one label per image"):
        ds.load(images)
    write_idx(labels, np.full(10, 3, dtype=np.uint8), False)
    with pytest.raises(ds.DataError, match="every label is 3; classification needs at least two classes"):
        ds.load(images)
    write_idx(labels, (np.arange(10) % 2).astype(np.uint8), False)
    write_idx(tmp_path / "t10k-images-idx3-ubyte", np.zeros((4, 3, 3), dtype=np.uint8), False)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", (np.arange(4) % 2).astype(np.uint8), False)
    with pytest.raises(ds.DataError, match="images of 9 pixels, but the training images have 4"):
        ds.load(images)


def npy_header(shape, descr="<f8"):
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False, "shape": shape})
    return buf.getvalue()


def test_npy_and_npz_declaring_too_much_data_are_refused_before_reading(tmp_path):
    # 10**10 float64 values are 8e10 bytes: numpy would try to allocate 75 GiB for this 200-byte file
    (tmp_path / "huge.npy").write_bytes(npy_header((10**10,)) + bytes(64))
    with pytest.raises(ds.DataError, match="declare 80,000,000,000 bytes of data; the limit is 2,147,483,648 bytes"):
        ds.arrays.read_array_file(tmp_path / "huge.npy")
    # a compressed member holding 2**25 float64 zeros (256 MiB) inflates from under 1 MB
    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open("X.npy", "w", force_zip64=True) as member:
            member.write(npy_header((2**25,)))
            for _ in range(16):
                member.write(bytes(2**24))
        zf.writestr("y.npy", npy_header((3,), "<i8") + bytes(24))
    assert path.stat().st_size < 2**20
    error, peak = peak_bytes_of(lambda: ds.arrays.read_array_file(path, max_bytes=2**27))
    assert peak < 20 * 2**20, f"reading the headers peaked at {peak / 2**20:.0f} MiB"
    assert "declare 268,435,480 bytes of data; the limit is 134,217,728 bytes" in str(error)
    (tmp_path / "v9.npy").write_bytes(b"\x93NUMPY\x09\x00" + bytes(8))
    with pytest.raises(ds.DataError, match="not a readable NumPy file"):
        ds.arrays.read_array_file(tmp_path / "v9.npy")


def test_npz_with_an_encrypted_member_is_a_data_error(tmp_path):
    buf = io.BytesIO()
    np.savez(buf, X=np.zeros((3, 2)), y=np.arange(3))
    data = bytearray(buf.getvalue())
    for signature, flag_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):  # local and central headers' flag bit 0
        i = data.find(signature)
        while i >= 0:
            data[i + flag_at] |= 1
            i = data.find(signature, i + 4)
    (tmp_path / "locked.npz").write_bytes(bytes(data))
    with pytest.raises(ds.DataError, match="not a readable NumPy file.*encrypted"):
        ds.load(tmp_path / "locked.npz")


def test_file_loaders_are_still_importable_from_datasets_files():
    from chainrule.datasets import arrays, csv, files, idx, targets

    assert files.load_csv is csv.load_csv and files.read_csv_rows is csv.read_csv_rows
    assert files.parse_features is csv.parse_features and files.target_index is targets.target_index
    assert files.load_array is arrays.load_array and files.read_array_file is arrays.read_array_file
    assert files.load_idx is idx.load_idx and files.read_idx is idx.read_idx
    assert ds.files is files and ds.load_csv is csv.load_csv and ds.read_idx is idx.read_idx
    assert set(files.__all__) <= set(dir(files))


@pytest.mark.parametrize("target", ["abc", "1.5", ""])
def test_npy_target_that_is_not_a_column_index_is_a_data_error(tmp_path, target):
    np.save(tmp_path / "m.npy", np.c_[np.arange(24.0).reshape(8, 3), np.arange(8) % 2])  # 4 columns
    with pytest.raises(ds.DataError, match=r"m\.npy: target '.*' is not a column index; .* give the target") as info:
        ds.load(tmp_path / "m.npy", target=target)
    assert "0 to 3 (or -1 for the last), e.g. --target 3" in str(info.value)
    assert ds.load(tmp_path / "m.npy", target="1").feature_names == ["x1", "x2", "x3"]  # digits still work


# ------------------------------------------------------------------ a target for a file that names its own
def test_target_of_an_npz_with_x_and_y_is_refused_unless_it_names_y(tmp_path):
    """X and y are separate arrays, so there is no column to choose: any target but y's own name is refused
    (it was ignored before, silently training on y whatever column the user meant)."""
    X = np.arange(40.0).reshape(10, 4)
    np.savez(tmp_path / "xy.npz", X=X, y=np.arange(10) % 2)
    np.savez(tmp_path / "split.npz", X_train=X, y_train=np.arange(10) % 2, X_test=X[:4], y_test=np.array([0, 1, 0, 1]))
    refused = r"xy.npz: target .* cannot be used: this file holds arrays X and y, so y is the target\. Leave out"
    for target in (2, "2", -1, "label"):
        with pytest.raises(ds.DataError, match=refused):
            ds.load(tmp_path / "xy.npz", target=target)
        with pytest.raises(ds.DataError, match=r"holds arrays X_train and y_train, so y_train is the target"):
            ds.load(tmp_path / "split.npz", target=target)
    assert ds.load(tmp_path / "xy.npz", target="y").n_features == 4
    assert len(ds.load(tmp_path / "split.npz", target="y_train").X_test) == 4
    assert len(ds.load(tmp_path / "split.npz", target="y").X_test) == 4


def test_target_still_picks_the_column_of_a_single_array(tmp_path):
    M = np.c_[np.arange(20) % 2, np.arange(40.0).reshape(20, 2)]  # the label first
    np.save(tmp_path / "one.npy", M)
    np.savez(tmp_path / "one.npz", data=M)
    for name in ("one.npy", "one.npz"):
        d = ds.load(tmp_path / name, target=0)
        assert d.n_features == 2 and d.task == "classification" and d.classes == ["0", "1"]


def test_holds_targets_reads_only_the_zip_directory(tmp_path):
    from chainrule.datasets.arrays import holds_targets

    np.savez(tmp_path / "xy.npz", X=np.ones((3, 2)), y=np.arange(3))
    np.savez(tmp_path / "split.npz", X_train=np.ones((3, 2)), y_train=np.arange(3))
    np.savez(tmp_path / "one.npz", data=np.ones((3, 2)))
    np.save(tmp_path / "one.npy", np.ones((3, 2)))
    (tmp_path / "junk.npz").write_bytes(b"PK\x03\x04 not really a zip")
    (tmp_path / "t.csv").write_text("a,y\n1,0\n")
    found = {p.name: holds_targets(p) for p in sorted(tmp_path.iterdir())}
    assert found == {"junk.npz": False, "one.npy": False, "one.npz": False, "split.npz": True, "t.csv": False,
                     "xy.npz": True}  # fmt: skip
    assert holds_targets(tmp_path / "missing.npz") is False and holds_targets("iris") is False


def test_the_scikit_learn_test_fraction_is_one_constant_shared_with_the_listing(monkeypatch):
    """Iris has 50 samples per class: holding out half, stratified, leaves 25 + 25 + 25 = 75 for testing, in the
    loaded data and in the listing that computes the sizes without loading."""
    pytest.importorskip("sklearn")
    from chainrule.cli import listing
    from chainrule.datasets import bundled

    assert bundled.SKLEARN_TEST_SIZE == 0.2
    monkeypatch.setattr(bundled, "SKLEARN_TEST_SIZE", 0.5)
    d = ds.load("iris")
    assert (len(d.X_train), len(d.X_test)) == (75, 75)
    assert np.bincount(d.y_test).tolist() == [25, 25, 25]
    row = next(r for r in listing.rows() if getattr(r, "name", None) == "iris")
    assert (row.n_train, row.n_test) == (75, 75)


# ------------------------------------------------------------------ the target a file was loaded with
def test_a_single_arrays_target_column_is_recorded_as_a_csvs_is(tmp_path):
    """The column used is recorded as a non-negative index (−1 of 4 columns is column 3), and reaches the sidecar
    through the preprocessing; an .npz holding X and y records none, since it has no column to choose."""
    M = np.c_[np.arange(20) % 2, np.arange(60.0).reshape(20, 3)]  # the label first
    np.save(tmp_path / "one.npy", M)
    np.savez(tmp_path / "one.npz", data=M)
    for name in ("one.npy", "one.npz"):
        assert ds.load(tmp_path / name, target=0).source["target"] == 0
        assert ds.load(tmp_path / name, target="-1").source["target"] == 3
        assert ds.load(tmp_path / name).source["target"] == 3
    pre = Preprocessor.fit(ds.load(tmp_path / "one.npy", target=0))
    pre.save(sidecar(tmp_path / "model.npz"))
    assert load_for(tmp_path / "model.npz", 3).source["target"] == 0
    np.savez(tmp_path / "xy.npz", X=M[:, 1:], y=M[:, 0])
    assert "target" not in ds.load(tmp_path / "xy.npz").source


def test_named_datasets_and_idx_files_refuse_a_target(tmp_path):
    """They come with their own labels, so a target would have been ignored: it is refused, naming what to do."""
    for target in (2, "2", "label", -1):
        refused = rf"target {str(target)!r} cannot be used with the dataset 'xor'"
        with pytest.raises(ds.DataError, match=refused) as info:
            ds.load("xor", target=target)
        assert "comes with its own target" in str(info.value) and "Leave out the target (--target)" in str(info.value)
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((20, 2, 2), dtype=np.uint8), False)
    write_idx(tmp_path / "train-labels-idx1-ubyte", (np.arange(20) % 2).astype(np.uint8), False)
    refused = r"train-images-idx3-ubyte: target '0' cannot be used: .* own target, the labels in train-labels-idx1"
    with pytest.raises(ds.DataError, match=refused + r"-ubyte\. Leave out the target \(--target\)"):
        ds.load(tmp_path / "train-images-idx3-ubyte", target=0)
    assert ds.load("xor", target=None).n_features == 2
    assert ds.load(tmp_path / "train-images-idx3-ubyte", target=None).n_features == 4


def test_takes_target_says_which_datasets_have_a_column_to_choose(tmp_path):
    from chainrule.datasets import takes_target

    np.save(tmp_path / "one.npy", np.ones((3, 2)))
    np.savez(tmp_path / "xy.npz", X=np.ones((3, 2)), y=np.arange(3))
    found = {n: takes_target(tmp_path / n if "." in n or "idx" in n else n) for n in
             ("iris", "xor", "train-images-idx3-ubyte", "one.npy", "xy.npz", "t.csv", "t.tsv")}  # fmt: skip
    assert found == {"iris": False, "xor": False, "train-images-idx3-ubyte": False, "one.npy": True,
                     "xy.npz": False, "t.csv": True, "t.tsv": True}  # fmt: skip


def test_columns_reads_a_files_column_names_and_width_as_loading_does(tmp_path):
    """evaluate compares a --target with the recorded target through columns: the names and the number of columns
    of a CSV (a header told apart from data as read_csv_rows does) or of a lone array, without reading the rest."""
    texts = {"named.csv": "a,b,y\n1,2,no\n3,4,yes\n", "bare.csv": "\n1,2,0\n3,4,1\n", "text.csv": "1,2,no\n3,4,yes\n",
             "units.csv": "x,2,y\n1,2,0\n"}  # fmt: skip
    for name, text in texts.items():
        path = write(tmp_path, name, text)
        header, rows, _ = ds.read_csv_rows(path)
        assert ds.columns(path) == (header, len(rows[0])), name
    assert ds.columns(tmp_path / "named.csv") == (["a", "b", "y"], 3)
    assert ds.columns(tmp_path / "bare.csv") == (None, 3) and ds.columns(tmp_path / "text.csv") == (None, 3)
    np.save(tmp_path / "one.npy", np.ones((3, 5)))
    np.savez(tmp_path / "one.npz", data=np.ones((3, 4)))
    np.savez_compressed(tmp_path / "packed.npz", data=np.ones((3, 6)))
    np.save(tmp_path / "flat.npy", np.ones(3))
    np.savez(tmp_path / "xy.npz", X=np.ones((3, 2)), y=np.arange(3))
    write(tmp_path, "empty.csv", "")
    (tmp_path / "junk.npy").write_bytes(b"not numpy")
    expected = {"one.npy": (None, 5), "one.npz": (None, 4), "packed.npz": (None, 6), "flat.npy": None,
                "xy.npz": None, "empty.csv": None, "junk.npy": None, "missing.csv": None, "iris": None}  # fmt: skip
    assert {n: ds.columns(tmp_path / n if "." in n else n) for n in expected} == expected


def test_the_file_loaders_share_one_default_test_fraction(tmp_path):
    """Every file loader defaults to FILE_TEST_SIZE; 0.2 of 20 unstratified regression rows holds out 4."""
    import inspect

    from chainrule.datasets import FILE_TEST_SIZE, arrays, csv, files, idx

    assert FILE_TEST_SIZE == 0.2 and files.FILE_TEST_SIZE is FILE_TEST_SIZE
    for loader in (ds.load, csv.load_csv, arrays.load_array, idx.load_idx):
        assert inspect.signature(loader).parameters["test_size"].default is FILE_TEST_SIZE, loader.__name__
    path = write(tmp_path, "r.csv", "\n".join(f"{i},{i * 0.25}" for i in range(20)))
    d = ds.load(path, task="regression")
    assert (len(d.X_train), len(d.X_test)) == (16, 4)


def test_named_datasets_and_idx_files_refuse_a_task_that_disagrees(tmp_path):
    """xor is 2 classes and curve is regression, whatever task is asked for; an IDX file holds class labels. A task
    that disagrees was ignored: it is refused, naming the dataset's task; one that agrees is accepted."""
    for name, task, fixed in (("xor", "regression", "classification dataset of 2 classes"),
                              ("curve", "classification", "regression dataset")):  # fmt: skip
        with pytest.raises(ds.DataError, match=rf"task '{task}' cannot be used with the dataset '{name}': it is a "
                           rf"{fixed}, and a named dataset's task is fixed\. Leave out the task \(--task\), or "
                           rf"choose a {task} dataset"):  # fmt: skip
            ds.load(name, task=task)
    assert ds.load("xor", task="classification").task == "classification"
    assert ds.load("curve", task="regression").task == "regression"
    images = tmp_path / "train-images-idx3-ubyte"
    write_idx(images, np.zeros((20, 2, 2), dtype=np.uint8), False)
    write_idx(tmp_path / "train-labels-idx1-ubyte", (np.arange(20) % 2).astype(np.uint8), False)
    refused = (
        r"train-images-idx3-ubyte: task 'regression' cannot be used: an MNIST IDX file holds class labels "
        r"\(in train-labels-idx1-ubyte\), so its task is classification\. Leave out the task \(--task\)"
    )
    for load in (ds.load, ds.load_idx):
        with pytest.raises(ds.DataError, match=refused):
            load(images, task="regression")
        assert load(images, task="classification").classes == ["0", "1"]
        assert load(images).task == "classification"


def test_an_unknown_task_is_refused_not_taken_for_classification(tmp_path):
    """A misspelt task named nothing: a CSV took it for classification and kept the misspelling as its task."""
    path = write(tmp_path, "r.csv", "\n".join(f"{i},{i * 0.25}" for i in range(20)))
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((20, 2, 2), dtype=np.uint8), False)
    write_idx(tmp_path / "train-labels-idx1-ubyte", (np.arange(20) % 2).astype(np.uint8), False)
    message = r"task 'regresion' is not known; use 'classification' or 'regression', or None to guess it\."
    for call in (lambda: ds.load("xor", task="regresion"), lambda: ds.load(path, task="regresion"),
                 lambda: ds.load_csv(path, task="regresion"),
                 lambda: ds.load_idx(tmp_path / "train-images-idx3-ubyte", task="regresion")):  # fmt: skip
        with pytest.raises(ds.DataError, match=message):
            call()


def test_takes_task_says_which_datasets_have_a_task_to_choose(tmp_path):
    from chainrule.datasets import takes_task

    np.savez(tmp_path / "xy.npz", X=np.ones((3, 2)), y=np.arange(3))
    found = {n: takes_task(tmp_path / n if "." in n or "idx" in n else n)
             for n in ("iris", "curve", "train-images-idx3-ubyte", "one.npy", "xy.npz", "t.csv")}  # fmt: skip
    assert found == {"iris": False, "curve": False, "train-images-idx3-ubyte": False, "one.npy": True,
                     "xy.npz": True, "t.csv": True}  # fmt: skip
