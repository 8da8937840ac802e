"""Untrusted model files: every hostile or damaged file gives ModelFileError, never code, a crash or a huge allocation.

Set CHAINRULE_COUNTS=path to append the number of hostile files each test tried to that file.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import tracemalloc
import zipfile

import numpy as np
import pytest

import chainrule as cr

MEMORY_BOUND = 64 << 20  # bytes any single refused load may allocate (traced)


def _record(name: str, n: int) -> None:
    target = os.environ.get("CHAINRULE_COUNTS")
    if target:
        with open(target, "a", encoding="utf-8") as fh:
            fh.write(f"hostile_files {name} {n}\n")


@pytest.fixture(autouse=True)
def no_unpickling(monkeypatch):
    """Any attempt to unpickle during these tests fails loudly (and could not be caught as ModelFileError)."""

    class Forbidden(BaseException):
        pass

    def refuse(*args, **kwargs):
        raise Forbidden("the loader tried to unpickle")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)


@pytest.fixture(scope="module")
def good_bytes(tmp_path_factory) -> bytes:
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(16, 3)), rng.integers(0, 2, size=16)
    model = cr.Sequential(cr.Dense(3, 4), cr.Tanh(), cr.Dense(4, 1), seed=0)
    model.fit(X, y, loss="bce_logits", optimizer=cr.Adam(lr=0.01), epochs=2, batch_size=8)
    path = tmp_path_factory.mktemp("good") / "good.npz"
    model.save(path)
    return path.read_bytes()


def members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def pack(parts: dict[str, bytes], compression: int = zipfile.ZIP_STORED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compression) as zf:
        for name, content in parts.items():
            zf.writestr(name, content)
    return buf.getvalue()


def npy(arr: np.ndarray, allow_pickle: bool = False) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=allow_pickle)
    return buf.getvalue()


def with_json(data: bytes, edit) -> bytes:
    parts = members(data)
    doc = json.loads(parts["model.json"])
    edit(doc)
    parts["model.json"] = json.dumps(doc).encode()
    return pack(parts)


def refuse(tmp_path, data: bytes, match: str | None = None, name: str = "hostile.npz") -> str:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(cr.ModelFileError, match=match) as info:
        cr.load(path)
    return str(info.value)


def refuse_bounded(tmp_path, data: bytes, match: str | None = None) -> str:
    """Refuse, and allocate no more than MEMORY_BOUND bytes doing so."""
    path = tmp_path / "hostile.npz"
    path.write_bytes(data)
    tracemalloc.start()
    try:
        with pytest.raises(cr.ModelFileError, match=match) as info:
            cr.load(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < MEMORY_BOUND, f"refusing {data[:0]!r}… allocated {peak:,} bytes"
    return str(info.value)


def test_the_good_file_loads(tmp_path, good_bytes):
    path = tmp_path / "ok.npz"
    path.write_bytes(good_bytes)
    model = cr.load(path)
    assert model.epochs_trained_ == 2 and model.optimizer_.t == 4


def test_object_array_is_refused_without_unpickling(tmp_path, good_bytes):
    sentinel = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (open, (str(sentinel), "w"))

    parts = members(good_bytes)
    W = np.empty((3, 4), dtype=object)
    W[...] = Payload()
    parts["layers.0.W.npy"] = _object_npy(W)
    message = refuse(tmp_path, pack(parts), match="dtype object")
    assert not sentinel.exists()
    assert "layers.0.W" in message
    _record("object", 1)


def _object_npy(arr: np.ndarray) -> bytes:
    """A .npy of an object array: the header, then the pickled payload that np.load(allow_pickle=True) would run."""
    header = {"descr": "|O", "fortran_order": False, "shape": arr.shape}
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, header)
    buf.write(pickle.dumps(arr.ravel().tolist(), protocol=3))
    return buf.getvalue()


UNKNOWN_LAYERS = [
    {"type": "Lambda", "code": "__import__('os').system('true')"},
    {"type": "__import__"},
    {"type": None},
    {"type": ["Dense"]},
    "Dense",
    None,
    [],
]


@pytest.mark.parametrize("layer", UNKNOWN_LAYERS, ids=range(len(UNKNOWN_LAYERS)))
def test_unknown_layer_types_are_refused(tmp_path, good_bytes, layer):
    data = with_json(good_bytes, lambda d: d["config"]["layers"].insert(1, layer))
    refuse(tmp_path, data, match="layer")
    _record("unknown_layer", 1)


ABSURD = [
    (10**6, 10**6),
    (10**5, 10**4),
    (2**62, 2),
    (10**40, 1),
    (0, 4),
    (-3, 4),
    (True, 4),
    ("3", 4),
    (3.0, 4),
    (None, 4),
]


@pytest.mark.parametrize("n_in,n_out", ABSURD, ids=range(len(ABSURD)))
def test_absurd_shapes_are_refused_before_allocating(tmp_path, good_bytes, n_in, n_out):
    def edit(doc):
        doc["config"]["layers"][0].update(n_in=n_in, n_out=n_out)

    refuse_bounded(tmp_path, with_json(good_bytes, edit), match="Dense")
    _record("absurd_shape", 1)


def test_large_architecture_with_no_data_is_refused_before_allocating(tmp_path, good_bytes):
    # 16000 x 16000 is under the parameter cap (2 GiB of float64), but the file holds no such data.
    parts = members(good_bytes)
    doc = json.loads(parts["model.json"])
    doc["config"]["layers"] = [{"type": "Dense", "n_in": 16000, "n_out": 16000}]
    doc["optimizer"] = None
    parts = {"model.json": json.dumps(doc).encode()}
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (16000, 16000)})
    parts["layers.0.W.npy"] = header.getvalue() + bytes(64)
    parts["layers.0.b.npy"] = npy(np.zeros(16000))
    refuse_bounded(tmp_path, pack(parts), match="256,000,000 parameters, more than the file's")
    # and many layers each under the cap, summing above it
    doc["config"]["layers"] = [{"type": "Dense", "n_in": 16000, "n_out": 16000}] * 3
    refuse_bounded(tmp_path, pack({"model.json": json.dumps(doc).encode()}), match="parameters")
    _record("large_architecture", 2)


def test_header_shape_disagreeing_with_config_is_refused(tmp_path, good_bytes):
    cases = [np.zeros((4, 3)), np.zeros((3, 5)), np.zeros(12), np.zeros((3, 4), dtype=np.float32)]
    for W in cases:
        parts = members(good_bytes)
        parts["layers.0.W.npy"] = npy(W)
        refuse_bounded(tmp_path, pack(parts), match="layers.0.W")
    # a header that claims a gigantic shape for a small layer
    parts = members(good_bytes)
    header = io.BytesIO()
    np.lib.format.write_array_header_2_0(header, {"descr": "<f8", "fortran_order": False, "shape": (10**9, 10**9)})
    parts["layers.0.W.npy"] = header.getvalue()
    refuse_bounded(tmp_path, pack(parts), match="layers.0.W")
    _record("header_disagrees", len(cases) + 1)


def test_zip_bomb_is_refused_before_inflating(tmp_path, good_bytes):
    # Dense(8192, 8192) needs 512 MiB of float64: a deflated member of zeros holds it in about 0.5 MB.
    n_in, n_out = 8192, 8192
    doc = json.loads(members(good_bytes)["model.json"])
    doc["config"]["layers"] = [{"type": "Dense", "n_in": n_in, "n_out": n_out}]
    doc["optimizer"] = None
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("model.json", json.dumps(doc))
        with zf.open("layers.0.W.npy", "w", force_zip64=True) as member:
            np.lib.format.write_array_header_1_0(
                member, {"descr": "<f8", "fortran_order": False, "shape": (n_in, n_out)}
            )
            zeros = bytes(1 << 24)
            for _ in range(n_in * n_out * 8 // len(zeros)):
                member.write(zeros)
        zf.writestr("layers.0.b.npy", npy(np.zeros(n_out)))
    data = buf.getvalue()
    assert len(data) < 4 << 20
    refuse_bounded(tmp_path, data, match="zip bomb")
    # model.json itself as a bomb (100 MB of spaces, deflated)
    parts = members(good_bytes)
    parts["model.json"] = parts["model.json"] + b" " * (100 << 20)
    refuse_bounded(tmp_path, pack(parts, zipfile.ZIP_DEFLATED))
    _record("zip_bomb", 2)


def test_huge_model_json_is_refused(tmp_path, good_bytes):
    def pad(doc):
        doc["padding"] = "x" * (2 << 20)

    refuse_bounded(tmp_path, with_json(good_bytes, pad), match="model.json")
    _record("huge_json", 1)


def test_non_utf8_and_invalid_json_are_refused(tmp_path, good_bytes):
    bodies = [
        b"\xff\xfe{\x00}\x00",
        b'{"format": "chainrule", "version": 1, "config": "\xc3\x28"}',
        b"{",
        b"",
        b"[]",
        b"null",
        b'"chainrule"',
        b"{" + b'"a":' * 10 + b"}",
        b'{"format": "chainrule", "version": 1, "epochs_trained": ' + b"9" * 5000 + b"}",
        b"NaN",
    ]
    for body in bodies:
        parts = members(good_bytes)
        parts["model.json"] = body
        refuse(tmp_path, pack(parts))
    _record("bad_json", len(bodies))


def test_deeply_nested_json_is_refused(tmp_path, good_bytes):
    depth = 100_000
    for nested in (b"[" * depth + b"]" * depth, b'{"a":' * depth + b"1" + b"}" * depth):
        parts = members(good_bytes)
        doc = json.loads(parts["model.json"])
        text = json.dumps(doc).encode()
        parts["model.json"] = text[:-1] + b', "deep": ' + nested + b"}"
        refuse(tmp_path, pack(parts), match="JSON")
    _record("nested_json", 2)


CONFIG_EDITS = {
    "format": lambda d: d.update(format="pickle"),
    "version_0": lambda d: d.update(version=0),
    "version_99": lambda d: d.update(version=99),
    "version_str": lambda d: d.update(version="1"),
    "dtype": lambda d: d["config"].update(dtype="object"),
    "dtype_f16": lambda d: d["config"].update(dtype="float16"),
    "no_layers": lambda d: d["config"].update(layers=[]),
    "layers_not_list": lambda d: d["config"].update(layers={"0": 1}),
    "config_missing": lambda d: d.pop("config"),
    "arrays_missing": lambda d: d.pop("arrays"),
    "chain_broken": lambda d: d["config"]["layers"][2].update(n_in=5),
    "only_activations": lambda d: d["config"].update(layers=[{"type": "ReLU"}]),
    "leaky_alpha": lambda d: d["config"]["layers"].insert(1, {"type": "LeakyReLU", "alpha": "0.1"}),
    "loss_unknown": lambda d: d.update(loss={"type": "os.system"}),
    "loss_not_dict": lambda d: d.update(loss=[1, 2]),
    "loss_reduction": lambda d: d["loss"].update(reduction="max"),
    "opt_unknown": lambda d: d["optimizer"].update(type="Evil"),
    "opt_bad_kwarg": lambda d: d["optimizer"].update(exec="print(1)"),
    "opt_lr_str": lambda d: d["optimizer"].update(lr="0.1"),
    "opt_lr_neg": lambda d: d["optimizer"].update(lr=-1.0),
    "opt_lr_huge_int": lambda d: d["optimizer"].update(lr=10**400),
    "opt_schedule_unknown": lambda d: d["optimizer"].update(lr={"type": "Evil"}),
    "opt_schedule_args": lambda d: d["optimizer"].update(lr={"type": "StepDecay", "lr": 0.1}),
    "opt_t_negative": lambda d: d["optimizer"].update(t=-1),
    "opt_t_float": lambda d: d["optimizer"].update(t=1.5),
    "opt_not_dict": lambda d: d.update(optimizer="adam"),
    "epochs_negative": lambda d: d.update(epochs_trained=-1),
    "epochs_str": lambda d: d.update(epochs_trained="2"),
    "rng_garbage": lambda d: d.update(rng_state={"bit_generator": "MT19937"}),
    "rng_str": lambda d: d.update(rng_state="seed"),
    "rng_huge": lambda d: d["rng_state"]["state"].update(state=10**300),
    "callbacks_not_list": lambda d: d.update(callbacks="EarlyStopping"),
    "callbacks_too_many": lambda d: d.update(callbacks=[{"type": "EarlyStopping", "monitor": None, "state": {}}] * 65),
    "callback_type_code": lambda d: d.update(callbacks=[{"type": "os.system('x')", "monitor": None, "state": {}}]),
    "callback_monitor_int": lambda d: d.update(callbacks=[{"type": "EarlyStopping", "monitor": 3, "state": {}}]),
    "callback_state_list": lambda d: d.update(callbacks=[{"type": "EarlyStopping", "monitor": None, "state": [1]}]),
    "callback_value_str": lambda d: d.update(callbacks=[{"type": "X", "monitor": None, "state": {"b": "1"}}]),
    "callback_value_nan": lambda d: d.update(callbacks=[{"type": "X", "monitor": None, "state": {"b": float("nan")}}]),
    "callback_key_path": lambda d: d.update(callbacks=[{"type": "X", "monitor": None, "state": {"../b": 1}}]),
    "callback_array_missing": lambda d: d.update(callbacks=[{"type": "X", "monitor": None, "state": {"w": "array"}}]),
}


@pytest.mark.parametrize("edit", list(CONFIG_EDITS.values()), ids=list(CONFIG_EDITS))
def test_bad_config_values_are_refused(tmp_path, good_bytes, edit):
    refuse(tmp_path, with_json(good_bytes, edit))
    _record("bad_config", 1)


def test_callback_array_of_the_wrong_shape_is_refused(tmp_path, good_bytes):
    parts = members(good_bytes)
    doc = json.loads(parts["model.json"])
    doc["callbacks"] = [{"type": "EarlyStopping", "monitor": "loss", "state": {"best_weights": "array"}}]
    doc["arrays"]["callbacks.0.best_weights"] = {"shape": [1000], "dtype": "float64"}
    parts["model.json"] = json.dumps(doc).encode()
    parts["callbacks.0.best_weights.npy"] = npy(np.zeros(1000))  # the model has 21 parameters
    refuse(tmp_path, pack(parts), match="callbacks.0.best_weights")
    _record("bad_config", 1)


def test_config_and_weights_that_disagree_are_refused(tmp_path, good_bytes):
    variants = []
    parts = members(good_bytes)
    variants.append({k: v for k, v in parts.items() if k != "layers.2.W.npy"})  # a missing array
    variants.append({k: v for k, v in parts.items() if not k.startswith("optimizer.")})  # moments missing
    bad = dict(parts)
    bad["layers.0.b.npy"] = npy(np.array([0.0, np.nan, 0.0, 0.0]))
    variants.append(bad)
    bad = dict(parts)
    bad["optimizer.0.m.npy"] = npy(np.zeros(7))
    variants.append(bad)
    bad = dict(parts)
    bad["layers.0.W.npy"] = parts["layers.0.W.npy"][:-8]  # header fine, data short
    variants.append(bad)
    bad = dict(parts)
    bad["layers.0.W.npy"] = b"\x93NUMPY\x03\x00" + parts["layers.0.W.npy"][8:]  # unsupported .npy version
    variants.append(bad)
    bad = dict(parts)
    bad["layers.0.W.npy"] = b"not an npy file at all"
    variants.append(bad)
    bad = dict(parts)
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (3, 4)})
    bad["layers.0.W.npy"] = header.getvalue().replace(b"'<f8'", b"'<X9'")
    variants.append(bad)
    for v in variants:
        refuse(tmp_path, pack(v))
    _record("disagree", len(variants))


def test_not_a_model_at_all(tmp_path):
    rng = np.random.default_rng(1)
    blobs = [b"", b"PK", b"PK\x05\x06" + bytes(18), rng.bytes(5000), b"\x93NUMPY" + bytes(100)]
    np.savez(buf := io.BytesIO(), a=np.zeros(3))
    blobs.append(buf.getvalue())
    for blob in blobs:
        refuse(tmp_path, blob)
    with pytest.raises(FileNotFoundError):
        cr.load(tmp_path / "missing.npz")
    with pytest.raises(FileNotFoundError):
        cr.load(tmp_path)  # a folder
    _record("not_a_model", len(blobs))


def test_truncated_at_every_offset(tmp_path, good_bytes):
    # every offset near the ends (headers, central directory, end record), every 3rd in between
    size = len(good_bytes)
    cuts = sorted({*range(0, 400), *range(max(0, size - 800), size), *range(0, size, 3)})
    for cut in cuts:
        refuse(tmp_path, good_bytes[:cut])
    _record("truncated", len(cuts))


def test_bit_flips(tmp_path, good_bytes):
    """Each flip gives ModelFileError, or (in bytes the zip does not checksum) a model identical to the original."""
    original = cr.load(_write(tmp_path / "orig.npz", good_bytes))
    rng = np.random.default_rng(7)
    refused = loaded = 0
    n = 1500
    for _ in range(n):
        data = bytearray(good_bytes)
        pos = int(rng.integers(len(data)))
        data[pos] ^= 1 << int(rng.integers(8))
        path = _write(tmp_path / "flip.npz", bytes(data))
        try:
            model = cr.load(path)
        except cr.ModelFileError:
            refused += 1
            continue
        loaded += 1
        for a, b in zip(model.get_weights(), original.get_weights()):
            assert np.array_equal(a, b), f"flip at byte {pos} changed the weights silently"
        assert model.get_config() == original.get_config()
    assert refused > n // 2  # most bytes are covered by a CRC or a structural check
    _record("bit_flips", n)


def _write(path, data: bytes):
    path.write_bytes(data)
    return path


def test_a_minimal_version_1_file_loads(tmp_path, good_bytes):
    """Only format, version, config and the layer arrays are required; later fields are optional."""
    parts = members(good_bytes)
    doc = json.loads(parts["model.json"])
    for key in ("loss", "optimizer", "epochs_trained", "rng_state"):
        doc.pop(key)
    parts = {k: v for k, v in parts.items() if not k.startswith("optimizer.")}
    parts["model.json"] = json.dumps(doc).encode()
    model = cr.load(_write(tmp_path / "minimal.npz", pack(parts)))
    full = cr.load(_write(tmp_path / "full.npz", good_bytes))
    assert np.array_equal(model.flat_params, full.flat_params)
    assert model.epochs_trained_ == 0 and model.optimizer_ is None and model.loss_ is None


def test_sizes_that_lie_in_the_zip_directory_are_refused_before_allocating(tmp_path, good_bytes):
    """A 2 GB array declared in the zip's headers, in a file of a few kilobytes."""
    doc = json.loads(members(good_bytes)["model.json"])
    doc["config"]["layers"] = [{"type": "Dense", "n_in": 16000, "n_out": 16000}]
    doc["optimizer"] = None
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (16000, 16000)})
    claimed = len(header.getvalue()) + 16000 * 16000 * 8
    data = bytearray(
        pack(
            {
                "model.json": json.dumps(doc).encode(),
                "layers.0.W.npy": header.getvalue() + bytes(64),
                "layers.0.b.npy": npy(np.zeros(16000)),
            }
        )
    )
    name = b"layers.0.W.npy"
    local = data.index(name) - 30  # the member's local header: 30 fixed bytes, then its name
    central = data.index(name, data.index(b"PK\x01\x02")) - 46  # its central directory entry: 46, then the name
    assert data[local : local + 4] == b"PK\x03\x04" and data[central : central + 4] == b"PK\x01\x02"
    for offset in (local + 18, local + 22, central + 20, central + 24):  # compressed and uncompressed sizes
        data[offset : offset + 4] = claimed.to_bytes(4, "little")
    refuse_bounded(tmp_path, bytes(data), match="packed bytes")
    _record("lying_sizes", 1)
