"""save/load: exact round trips, clear errors for damaged or hostile files, atomic writes."""

import io
import json
import os
import zipfile

import numpy as np
import pytest

import chainrule as cr


def trained(dtype="float64", optimizer=None, loss="softmax_cross_entropy", epochs=5):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3)).astype(dtype)
    y = rng.integers(0, 3, size=40)
    model = cr.Sequential(cr.Dense(3, 6), cr.LeakyReLU(0.05), cr.Dense(6, 3), seed=1, dtype=dtype)
    model.fit(X, y, loss=loss, optimizer=optimizer or cr.Adam(lr=0.01), epochs=epochs, batch_size=16)
    return model, X, y


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize(
    "make_opt",
    [
        lambda: cr.Adam(lr=0.01, beta_1=0.8, weight_decay=0.001),
        lambda: cr.SGD(lr=0.05, momentum=0.9, nesterov=True, clip_norm=5.0),
        lambda: cr.RMSProp(lr=0.01, rho=0.95),
        lambda: cr.SGD(lr=cr.StepDecay(0.1, step_size=2, gamma=0.5)),
    ],
)
def test_round_trip_is_exact_and_training_resumes_identically(tmp_path, dtype, make_opt):
    model, X, y = trained(dtype, make_opt())
    path = tmp_path / "model.npz"
    model.save(path)
    back = cr.load(path)
    assert back.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(back.predict(X), model.predict(X))
    assert back.predict(X).dtype == np.dtype(dtype)
    assert repr(back) == repr(model)
    assert type(back.loss_) is type(model.loss_) and back.loss_.reduction == model.loss_.reduction
    assert back.optimizer_.get_config() == model.optimizer_.get_config()
    assert back.optimizer_.t == model.optimizer_.t and back.epochs_trained_ == model.epochs_trained_ == 5
    for mine, theirs in zip(back.optimizer_.state, model.optimizer_.state):
        assert mine.keys() == theirs.keys()
        for k in mine:
            np.testing.assert_array_equal(mine[k], theirs[k])
    # optimiser moments, schedule, epoch count and shuffling generator all carry over: same next epochs
    model.fit(X, y, epochs=3, batch_size=16)
    back.fit(X, y, epochs=3, batch_size=16)
    for a, b in zip(model.get_weights(), back.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_untrained_model_round_trips(tmp_path):
    model = cr.Sequential(cr.Dense(2, 3), cr.Softmax(), seed=4)
    model.save(tmp_path / "m.npz")
    back = cr.load(tmp_path / "m.npz")
    assert back.loss_ is None and back.optimizer_ is None and back.epochs_trained_ == 0
    X = np.random.default_rng(0).normal(size=(5, 2))
    np.testing.assert_array_equal(back.predict(X), model.predict(X))


def test_file_holds_json_and_plain_npy_only(tmp_path):
    model, _, _ = trained()
    model.save(tmp_path / "m.npz")
    with zipfile.ZipFile(tmp_path / "m.npz") as zf:
        names = zf.namelist()
        doc = json.loads(zf.read("model.json"))
        for name in names:
            if name.endswith(".npy"):
                np.load(io.BytesIO(zf.read(name)), allow_pickle=False)  # would raise on a pickled array
    assert doc["format"] == "chainrule" and doc["version"] == 1
    assert [layer["type"] for layer in doc["config"]["layers"]] == ["Dense", "LeakyReLU", "Dense"]
    assert "model.json" in names and "layers.0.W.npy" in names


# ------------------------------------------------------------------ damaged files
def members(path):
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def write_members(path, content):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in content.items():
            zf.writestr(name, data)


def npy(arr, allow_pickle=False):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, arr, allow_pickle=allow_pickle)
    return buf.getvalue()


def edit_json(content, fn):
    doc = json.loads(content["model.json"])
    fn(doc)
    content["model.json"] = json.dumps(doc).encode()


def set_layer(i, **kw):
    return lambda doc: doc["config"]["layers"][i].update(kw)


TAMPERS = {
    "missing model.json": (lambda c: c.pop("model.json"), "model.json"),
    "model.json not JSON": (lambda c: c.update({"model.json": b"{not json"}), "JSON"),
    "model.json a list": (lambda c: c.update({"model.json": b"[1, 2]"}), "chainrule model"),
    "other format": (lambda c: edit_json(c, lambda d: d.update(format="keras")), "chainrule model"),
    "future version": (lambda c: edit_json(c, lambda d: d.update(version=99)), "version"),
    "unknown layer type": (lambda c: edit_json(c, set_layer(1, type="Conv2D")), "Conv2D"),
    "layer size not an int": (lambda c: edit_json(c, set_layer(0, n_out="6")), "Dense"),
    "absurd declared size": (lambda c: edit_json(c, set_layer(0, n_in=10**9, n_out=10**9)), "size"),
    "absurd declared shape": (lambda c: edit_json(c, set_layer(0, n_in=30000, n_out=30000)), "parameters"),
    "layers do not chain": (lambda c: edit_json(c, set_layer(2, n_in=7)), r"needs \(7, 3\)"),
    "unknown loss": (lambda c: edit_json(c, lambda d: d["loss"].update(type="Hinge")), "Hinge"),
    "bad optimizer setting": (lambda c: edit_json(c, lambda d: d["optimizer"].update(lr=-1)), "lr"),
    "unknown dtype": (lambda c: edit_json(c, lambda d: d["config"].update(dtype="float16")), "float16"),
    "missing array": (lambda c: c.pop("layers.2.b.npy"), "layers.2.b"),
    "wrong array shape": (lambda c: c.update({"layers.0.W.npy": npy(np.zeros((3, 5)))}), "shape"),
    "wrong array dtype": (lambda c: c.update({"layers.0.W.npy": npy(np.zeros((3, 6), np.float32))}), "dtype"),
    "object array": (
        lambda c: c.update({"layers.0.b.npy": npy(np.array([None] * 6, dtype=object), allow_pickle=True)}),
        "object",
    ),
    "NaN in weights": (lambda c: c.update({"layers.0.b.npy": npy(np.full(6, np.nan))}), "NaN"),
    "array data cut short": (lambda c: c.update({"layers.0.W.npy": npy(np.zeros((3, 6)))[:-8]}), "truncated"),
    "not an npy": (lambda c: c.update({"layers.0.W.npy": b"hello world" * 20}), "layers.0.W"),
}


@pytest.mark.parametrize("case", list(TAMPERS))
def test_tampered_file_gives_model_file_error(tmp_path, case):
    tamper, match = TAMPERS[case]
    model, _, _ = trained()
    path = tmp_path / "m.npz"
    model.save(path)
    content = members(path)
    tamper(content)
    write_members(path, content)
    with pytest.raises(cr.ModelFileError, match=match) as info:
        cr.load(path)
    assert isinstance(info.value, ValueError)
    assert "m.npz" in str(info.value)  # the message names the file


def test_not_a_zip_and_empty_file(tmp_path):
    for data in (b"", b"just some text\n" * 10, b"PK\x03\x04" + b"\0" * 40):
        path = tmp_path / "m.npz"
        path.write_bytes(data)
        with pytest.raises(cr.ModelFileError, match="m.npz"):
            cr.load(path)
    with pytest.raises(FileNotFoundError):
        cr.load(tmp_path / "absent.npz")


def test_truncated_file(tmp_path):
    model, _, _ = trained()
    path = tmp_path / "m.npz"
    model.save(path)
    data = path.read_bytes()
    for cut in range(0, len(data), max(1, len(data) // 50)):
        path.write_bytes(data[:cut])
        with pytest.raises(cr.ModelFileError):
            cr.load(path)


def test_bit_flips_are_caught_or_harmless(tmp_path):
    model, X, _ = trained()
    path = tmp_path / "m.npz"
    model.save(path)
    data = bytearray(path.read_bytes())
    expected = model.predict(X)
    caught = 0
    for pos in range(0, len(data), 13):
        flipped = bytearray(data)
        flipped[pos] ^= 1 << (pos % 8)
        path.write_bytes(bytes(flipped))
        try:
            back = cr.load(path)
        except cr.ModelFileError:
            caught += 1
            continue
        # a flip in unchecked zip metadata (timestamps, attributes) may load: then it must change nothing
        np.testing.assert_array_equal(back.predict(X), expected, err_msg=f"flip at byte {pos} loaded silently")
    assert caught > len(range(0, len(data), 13)) // 2


# ------------------------------------------------------------------ atomic writes
def test_save_leaves_only_the_target_file(tmp_path):
    model, _, _ = trained()
    model.save(tmp_path / "m.npz")
    model.save(tmp_path / "m.npz")  # overwrite in place
    assert os.listdir(tmp_path) == ["m.npz"]


@pytest.mark.parametrize("fail_at", [1, 3])
def test_failed_save_keeps_the_old_file_and_no_temporary(tmp_path, monkeypatch, fail_at):
    old, X, _ = trained(epochs=1)
    path = tmp_path / "m.npz"
    old.save(path)
    before = path.read_bytes()
    new, _, _ = trained(epochs=4)
    original = np.lib.format.write_array
    calls = []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == fail_at:
            raise OSError("disk full")
        return original(*args, **kwargs)

    monkeypatch.setattr(np.lib.format, "write_array", failing)
    with pytest.raises(OSError, match="disk full"):
        new.save(path)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["m.npz"]
    assert path.read_bytes() == before
    np.testing.assert_array_equal(cr.load(path).predict(X), old.predict(X))


def test_failed_first_save_leaves_nothing(tmp_path, monkeypatch):
    model, _, _ = trained()

    def failing(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(np.lib.format, "write_array", failing)
    with pytest.raises(KeyboardInterrupt):
        model.save(tmp_path / "m.npz")
    assert os.listdir(tmp_path) == []


def test_clone_is_independent():
    model, X, _ = trained()
    twin = cr.clone(model)
    np.testing.assert_array_equal(twin.predict(X), model.predict(X))
    twin.layers[0].params["W"][...] = 0
    assert not np.array_equal(twin.predict(X), model.predict(X))
    single = cr.clone(model, dtype="float32")
    assert single.dtype == np.float32
    np.testing.assert_allclose(single.predict(X), model.predict(X), rtol=1e-4, atol=1e-5)
