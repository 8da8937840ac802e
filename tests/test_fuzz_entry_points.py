"""Fuzzed inputs for the entry points test_fuzz.py leaves out: ``explain``, the dataset file loaders and the CLI.

``explain`` raises only ValueError or TypeError on bad input and leaves the model (weights, optimiser state) exactly
as it was. The file loaders raise only DataError (a ValueError) on garbage files, never an IndexError,
UnicodeDecodeError, struct.error or anything from pickle. ``chainrule.cli.main`` returns 0 or 2 on garbage files
and arguments (1 is kept for internal errors and a failed gradcheck) and writes nothing outside its output folder.
On well-formed CSV, .npy and .npz files with hostile contents (NaN, infinity, 1e300, one sample, one class, text or
float labels, empty or constant columns) ``chainrule train`` either succeeds and writes its model, or prints one
error line, returns 2 and creates no output folder; a run that succeeds raises no RuntimeWarning and prints no NaN.
Set CHAINRULE_COUNTS=path to append the number of examples run.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
import warnings
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from test_fuzz import ANY, arrays, good_X, snapshot, trained_model

import chainrule as cr
from chainrule.cli import main
from chainrule.datasets import DataError
from chainrule.datasets import load as load_dataset
from chainrule.datasets.files import load_array, load_csv, load_idx, read_array_file, read_idx

EXAMPLES = min(int(os.environ.get("CHAINRULE_FUZZ_EXAMPLES", "250")), 60)
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
CLI_FUZZ = settings(FUZZ, max_examples=max(EXAMPLES // 4, 1))
HOSTILE = settings(FUZZ, max_examples=EXAMPLES)
DOCUMENTED = (ValueError, TypeError)
COUNTS: dict[str, int] = {}


def count(name: str) -> None:
    COUNTS[name] = COUNTS.get(name, 0) + 1


@pytest.fixture(scope="module", autouse=True)
def record_counts():
    yield
    target = os.environ.get("CHAINRULE_COUNTS")
    if target:
        with open(target, "a", encoding="utf-8") as fh:
            for name, n in sorted(COUNTS.items()):
                fh.write(f"fuzz {name} {n}\n")


def assert_same(model, before, what: str) -> None:
    flat, state, epochs, rng, loss = before
    assert np.array_equal(model.flat_params, flat), f"{what} changed the weights"
    assert model.epochs_trained_ == epochs and model.loss_ is loss, f"{what} changed the training record"
    assert model.rng.bit_generator.state == rng, f"{what} advanced the generator"
    opt = model.optimizer_
    assert opt is state[0] and opt.t == state[1], f"{what} changed the optimiser"
    for s, t in zip(opt.state, state[2]):
        for k in t:
            assert np.array_equal(s[k], t[k]), f"{what} changed optimiser slot {k}"


# ---------------------------------------------------------------- explain

LR = st.sampled_from([None, 0.1, -0.1, 0.0, np.nan, np.inf, "0.1", True, [0.1], 1e300])
EXPLAIN_LOSSES = ["mse", "sse", "bce", "bce_logits", "softmax_cross_entropy"]


@FUZZ
@given(
    data=st.data(),
    X=st.one_of(good_X(), good_X(), ANY, arrays()),
    loss=st.sampled_from(EXPLAIN_LOSSES),
    lr=LR,
    apply=st.booleans(),
)
def test_explain_fails_cleanly_and_changes_nothing(data, X, loss, lr, apply):
    count("explain")
    if isinstance(X, np.ndarray) and X.ndim == 2 and len(X) and data.draw(st.booleans()):
        y = np.arange(len(X)) % 2
    else:
        y = data.draw(st.one_of(ANY, arrays()))
    model = trained_model(loss if loss != "softmax_cross_entropy" else loss)
    before = snapshot(model)
    weights = [w.copy() for w in model.get_weights()]
    try:
        with np.errstate(all="ignore"):
            ex = cr.explain(model, X, y, loss, lr=lr, apply=apply)
        event("explain: ok")
        assert ex.to_text()
        if apply:
            return  # the update was asked for; everything else below is about failed or read-only calls
    except DOCUMENTED as exc:
        event(f"explain: {type(exc).__name__}")
        assert str(exc), "an exception without a message"
    assert_same(model, before, "explain")
    for w, v in zip(model.get_weights(), weights):
        assert np.array_equal(w, v, equal_nan=True)


# ---------------------------------------------------------------- dataset files

CELLS = st.sampled_from(["1", "0", "-2.5", "nan", "NaN", "inf", "", "a", "x y", '"q"', "1e999", "  3 ", "é", "\x00"])


@st.composite
def csv_text(draw) -> bytes:
    """Ragged, empty, header-only, non-numeric, NaN-filled or plain random CSV content, as bytes."""
    kind = draw(st.sampled_from(["rows", "rows", "bytes", "text", "empty", "header"]))
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    if kind == "text":
        return draw(st.text(max_size=200)).encode("utf-8", "surrogatepass")
    if kind == "empty":
        return draw(st.sampled_from([b"", b"\n\n", b" , \n", b"\xef\xbb\xbf"]))
    width = draw(st.integers(1, 4))
    header = ",".join(f"c{i}" for i in range(width))
    if kind == "header":
        return (header + "\n").encode()
    ragged = draw(st.booleans())
    rows = draw(
        st.lists(
            st.lists(CELLS, min_size=1 if ragged else width, max_size=width + 1 if ragged else width),
            min_size=1,
            max_size=8,
        )
    )
    lines = [header] if draw(st.booleans()) else []
    lines += [",".join(r) for r in rows]
    return "\n".join(lines).encode("utf-8", "surrogatepass")


@st.composite
def npy_bytes(draw) -> tuple[str, bytes]:
    """(suffix, content): random bytes, truncated files, object arrays that would need pickle, odd npz members."""
    kind = draw(st.sampled_from(["random", "truncated", "object", "npz", "npz-object", "array"]))
    buf = io.BytesIO()
    if kind == "random":
        return draw(st.sampled_from([".npy", ".npz"])), draw(st.binary(max_size=200))
    if kind == "object":
        np.save(buf, np.array([[1, "a"], [None, 2.0]], dtype=object), allow_pickle=True)
        return ".npy", buf.getvalue()
    if kind == "npz-object":
        np.savez(buf, X=np.array([{"a": 1}, None], dtype=object), y=np.array([0, 1]))
        return ".npz", buf.getvalue()
    arr = draw(arrays())
    arr = np.asarray(arr if not isinstance(arr, list) else np.array(arr, dtype=object))
    if arr.dtype.kind == "O":
        arr = arr.astype(str)
    if kind == "npz":
        names = draw(st.sampled_from([("X", "y"), ("X_train", "y_train"), ("a",), ("X", "y", "X_test", "y_test")]))
        other = draw(arrays())
        members = {
            n: (arr if i % 2 == 0 else np.asarray(other).astype(str) if isinstance(other, list) else other)
            for i, n in enumerate(names)
        }
        np.savez(buf, **members)
        return ".npz", buf.getvalue()
    np.save(buf, arr)
    data = buf.getvalue()
    if kind == "truncated":
        data = data[: draw(st.integers(0, max(len(data) - 1, 0)))]
    return ".npy", data


@st.composite
def idx_bytes(draw) -> bytes:
    """Random IDX headers (magic, type, dims) with too little, too much or exactly enough data."""
    if draw(st.booleans()):
        return draw(st.binary(max_size=64))
    dtype = draw(st.sampled_from([0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E, 0x00, 0xFF]))
    ndim = draw(st.integers(0, 5))
    dims = draw(st.lists(st.sampled_from([0, 1, 2, 3, 2**31, 2**32 - 1]), min_size=ndim, max_size=ndim))
    head = bytes([0, 0, dtype, ndim]) + b"".join(d.to_bytes(4, "big") for d in dims)
    head = head[: draw(st.integers(0, len(head)))] if draw(st.booleans()) else head
    size = {0x08: 1, 0x09: 1, 0x0B: 2, 0x0C: 4, 0x0D: 4, 0x0E: 8}.get(dtype, 1)
    n = int(np.prod(dims, dtype=object)) if dims else 1
    body = b"\x07" * (n * size) if n * size <= 256 else b""
    body = body[: draw(st.integers(0, len(body)))] if draw(st.booleans()) else body
    return head + body


def write(folder: str, name: str, content: bytes) -> Path:
    path = Path(folder) / name
    path.write_bytes(content)
    return path


@FUZZ
@given(
    content=csv_text(),
    target=st.sampled_from([None, 0, -1, 7, "c1", "zz", "1"]),
    task=st.sampled_from([None, "regression", "classification"]),
)
def test_csv_loader_raises_only_data_error(content, target, task):
    count("csv")
    with tempfile.TemporaryDirectory() as d:
        path = write(d, "data.csv", content)
        try:
            ds = load_csv(path, target=target, task=task)
            assert np.isfinite(ds.X_train).all()
            event("csv: loaded")
        except DataError as exc:
            event("csv: DataError")
            assert str(exc)


@FUZZ
@given(file=npy_bytes(), target=st.sampled_from([None, 0, -1, 5]))
def test_array_loader_raises_only_data_error(file, target):
    count("npy")
    suffix, content = file
    with tempfile.TemporaryDirectory() as d:
        path = write(d, "data" + suffix, content)
        try:
            read_array_file(path)
            ds = load_array(path, target=target)
            assert np.isfinite(ds.X_train).all()
            event("npy: loaded")
        except DataError as exc:
            event("npy: DataError")
            assert str(exc)


@FUZZ
@given(images=idx_bytes(), labels=idx_bytes(), gz=st.booleans())
def test_idx_loader_raises_only_data_error(images, labels, gz):
    count("idx")
    with tempfile.TemporaryDirectory() as d:
        if gz:
            import gzip

            images_name, images = "train-images-idx3-ubyte.gz", gzip.compress(images) if len(images) % 3 else images
            labels_name, labels = "train-labels-idx1-ubyte.gz", gzip.compress(labels)
        else:
            images_name, labels_name = "train-images-idx3-ubyte", "train-labels-idx1-ubyte"
        path = write(d, images_name, images)
        write(d, labels_name, labels)
        for call in (lambda: read_idx(path), lambda: load_idx(path), lambda: load_dataset(str(path))):
            try:
                call()
                event("idx: loaded")
            except DataError as exc:
                event("idx: DataError")
                assert str(exc)


# ---------------------------------------------------------------- CLI

NUMBERS = st.sampled_from(["1", "0", "-1", "0.5", "nan", "inf", "-inf", "1e999", "", "x", "2,3", "1e-9", "3.0", " "])
LAYERS = st.one_of(
    st.sampled_from(["4", "2,3", "0", "-1", ",", "a,b", "3,,2", "1e3", "nan", "", "100000000000", " 2 ", "[2]"]),
    st.text(alphabet="0123456789,-.ae ", max_size=8),
)


@st.composite
def cli_file(draw) -> tuple[str, bytes]:
    kind = draw(st.sampled_from(["csv", "csv", "npy", "idx"]))
    if kind == "csv":
        return ".csv", draw(csv_text())
    if kind == "npy":
        return draw(npy_bytes())
    return "-images-idx3-ubyte", draw(idx_bytes())


_MODEL: dict[str, bytes] = {}


def model_bytes() -> bytes:
    """A small model trained by the CLI on a tidy CSV, so predict and evaluate have something to load."""
    if "m" not in _MODEL:
        with tempfile.TemporaryDirectory() as d:
            rng = np.random.default_rng(0)
            lines = ["a,b,label"] + [f"{rng.normal():.3f},{rng.normal():.3f},{i % 2}" for i in range(20)]
            write(d, "tidy.csv", "\n".join(lines).encode())
            out = os.path.join(d, "run")
            argv = ["train", os.path.join(d, "tidy.csv"), "--epochs", "1", "--out", out, "--quiet", "--no-plots"]
            assert run_cli(argv) == 0
            _MODEL["m"] = Path(out, "model.npz").read_bytes()
    return _MODEL["m"]


def run_cli(argv: list[str]) -> int:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return main(argv)


def files_under(folder: str) -> set[str]:
    return {os.path.join(r, f) for r, _, fs in os.walk(folder) for f in fs}


@contextlib.contextmanager
def sandbox():
    """A fresh working folder; fails if anything is written outside it."""
    cwd = os.getcwd()
    before = set(os.listdir(cwd))
    with tempfile.TemporaryDirectory() as d:
        os.chdir(d)
        try:
            yield d
        finally:
            os.chdir(cwd)
    assert set(os.listdir(cwd)) == before, "the CLI wrote into the working folder it was started from"


@CLI_FUZZ
@given(file=cli_file(), command=st.sampled_from(["predict", "evaluate", "train"]), extra=st.booleans())
def test_cli_on_garbage_files_returns_0_or_2(file, command, extra):
    count("cli_files")
    suffix, content = file
    model = model_bytes()
    with sandbox() as d:
        data = str(write(d, "data" + suffix, content))
        write(d, "model.npz", model)
        out = os.path.join(d, "run")
        if command == "train":
            argv = ["train", data, "--epochs", "1", "--out", out, "--quiet", "--no-plots", "--layers", "3"]
        elif command == "predict":
            argv = ["predict", "model.npz", data] + (["--proba", "--output", os.path.join(d, "p.csv")] if extra else [])
        else:
            argv = ["evaluate", "model.npz", data]
        code = run_cli(argv)
        event(f"{command}: {code}")
        assert code in (0, 2), f"chainrule {' '.join(argv)} returned {code}"


@CLI_FUZZ
@given(layers=LAYERS, lr=NUMBERS, epochs=NUMBERS, batch_size=NUMBERS, drop=st.sets(st.sampled_from(range(4))))
def test_cli_train_with_random_arguments_returns_0_or_2(layers, lr, epochs, batch_size, drop):
    count("cli_args")
    with sandbox() as d:
        lines = ["a,b,label"] + [f"{i * 0.1:.2f},{(i * 7) % 5 * 0.2:.2f},{i % 2}" for i in range(12)]
        data = str(write(d, "tidy.csv", "\n".join(lines).encode()))
        out = os.path.join(d, "run")
        argv = ["train", data, "--out", out, "--quiet", "--no-plots"]
        options = [("--layers", layers), ("--lr", lr), ("--epochs", epochs), ("--batch-size", batch_size)]
        for i, (flag, value) in enumerate(options):
            if i not in drop:
                argv += [f"{flag}={value}"]
        if "--epochs" not in " ".join(argv):
            argv += ["--epochs", "1"]
        if epochs.strip().lstrip("-").isdigit() and int(epochs) > 3:
            return
        code = run_cli(argv)
        event(f"train args: {code}")
        assert code in (0, 2), f"chainrule {' '.join(argv)} returned {code}"
        assert files_under(d) - {data} <= files_under(out) | {data}, "train wrote outside --out"


# ---------------------------------------------------------------- CLI on well-formed files with hostile contents

FEATURE_COLUMNS = {
    "normal": lambda i: 0.1 * ((i * 7) % 11) - 0.5,
    "constant": lambda i: 3.0,
    "huge": lambda i: (-1) ** i * 1e300,
    "tiny": lambda i: (i % 3) * 1e-300,
    "big ints": lambda i: float(2**62 + i),
    "nan": lambda i: np.nan if i % 4 == 1 else float(i),
    "inf": lambda i: -np.inf if i == 0 else float(i),
}
TARGETS = {
    "two classes": lambda i: i % 2,
    "three classes": lambda i: i % 3,
    "one class": lambda i: 4,
    "strings": lambda i: ["cat", "dog", "émeu"][i % 3],
    "one string": lambda i: "cat",
    "floats": lambda i: 0.37 * i - 1.1,
    "float labels": lambda i: [0.5, 1.5][i % 2],
    "huge": lambda i: (-1) ** i * 1e300 * (i + 1),
    "nan": lambda i: np.nan if i == 1 else i % 2,
    "inf": lambda i: np.inf if i == 2 else 0.5 * i,
    "bools": lambda i: bool(i % 2),
}
EXPECTED_FILES = {"model.npz", "model.preprocess.json", "history.json", "history.csv"}


def cell(value) -> str:
    return repr(float(value)) if isinstance(value, (float, np.floating)) else str(value)


@st.composite
def hostile_dataset(draw) -> tuple[str, bytes, str]:
    """(suffix, content, what): a well-formed CSV, .npy or .npz whose values are hostile."""
    n = draw(st.sampled_from([1, 2, 3, 5, 12, 12, 30, 30]))
    kinds = draw(st.lists(st.sampled_from(["normal"]), max_size=2))  # mostly usable data, so training runs too
    kinds += draw(st.lists(st.sampled_from(sorted(FEATURE_COLUMNS)), max_size=2 if kinds else 1))
    target = draw(st.sampled_from(["two classes", "three classes", "floats", *sorted(TARGETS)]))
    X = np.array([[FEATURE_COLUMNS[k](i) for k in kinds] for i in range(n)], dtype=float).reshape(n, len(kinds))
    y = [TARGETS[target](i) for i in range(n)]
    fmt = draw(st.sampled_from(["csv", "csv", "csv-empty-column", "npy", "npz", "npz-split"]))
    what = f"{fmt}, {n} rows, features {kinds}, target {target}"
    buf = io.BytesIO()
    if fmt.startswith("csv"):
        empty = fmt == "csv-empty-column"
        header = ",".join([f"f{j}" for j in range(len(kinds))] + (["blank"] if empty else []) + ["label"])
        rows = [",".join([cell(v) for v in X[i]] + ([""] if empty else []) + [cell(y[i])]) for i in range(n)]
        return ".csv", "\n".join([header, *rows]).encode(), what
    ys = np.array(y)
    if fmt == "npy":  # one matrix, target last; text targets make a text matrix
        M = np.c_[X.astype(ys.dtype) if ys.dtype.kind == "U" else X, ys]
        np.save(buf, M)
        return ".npy", buf.getvalue(), what
    if fmt == "npz":
        np.savez(buf, X=X, y=ys)
    else:
        cut = max(n - 2, 1)
        np.savez(buf, X_train=X[:cut], y_train=ys[:cut], X_test=X[cut:], y_test=ys[cut:])
    return ".npz", buf.getvalue(), what


def run_cli_captured(argv: list[str]) -> tuple[int, str, str, list[str]]:
    """(exit code, stdout, stderr, warnings raised): warnings are kept apart from stderr."""
    out, err = io.StringIO(), io.StringIO()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(argv)
    return code, out.getvalue(), err.getvalue(), [f"{w.category.__name__}: {w.message}" for w in caught]


@HOSTILE
@given(
    file=hostile_dataset(),
    task=st.sampled_from([None, None, "classification", "regression"]),
    epochs=st.integers(1, 2),
)
def test_cli_train_on_hostile_contents_succeeds_or_fails_in_one_line(file, task, epochs):
    count("cli_hostile")
    suffix, content, what = file
    with sandbox() as d:
        data = str(write(d, "data" + suffix, content))
        out = Path(d, "run")
        argv = ["train", data, "--epochs", str(epochs), "--out", str(out), "--quiet", "--no-plots", "--layers", "3"]
        argv += ["--task", task] if task else []
        code, stdout, stderr, caught = run_cli_captured(argv)
        event(f"hostile train: {code}")
        for w in caught:
            event(f"hostile train warning: {w.split(':')[0]}")
        context = f"chainrule {' '.join(argv[1:])} on {what} returned {code}; stderr: {stderr!r}"
        assert code in (0, 2), context
        assert "Traceback" not in stderr and "internal error" not in stderr, context
        if code == 2:
            assert stderr.startswith("chainrule train: error: ") and stderr.count("\n") == 1, context
            assert len(stderr.strip()) > len("chainrule train: error: ") + 10, context
            assert not out.exists(), f"{context}; it left {out} behind"  # the folder is made once all is checked
        else:
            assert stderr == "", context
            assert not [w for w in caught if w.startswith("RuntimeWarning")], f"{context}; warnings: {caught}"
            assert " nan" not in stdout.lower(), f"{context}; a score is NaN: {stdout}"
            assert EXPECTED_FILES <= {p.name for p in out.iterdir()}, context
            assert "test results (" in stdout, context
            cr.load(out / "model.npz")
        assert not [p for p in Path(d).iterdir() if p.name.endswith(".partial")], f"{context}; staging left"
