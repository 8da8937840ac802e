"""Model files: a zip of one JSON document and plain .npy arrays. Never pickle.

Layout (format version 1)::

    model.json                  {"format": "chainrule", "version": 1, "config": …,
                                 "loss": …, "optimizer": …, "epochs_trained": …,
                                 "rng_state": …, "callbacks": […],
                                 "arrays": {name: {"shape", "dtype"}}}
    layers.<i>.<param>.npy      each layer's parameters
    optimizer.<slot>.npy        the optimiser's moment buffers (flat), if any
    callbacks.<k>.<key>.npy     arrays of the k-th saved callback state (flat, like the parameters)

Loading reads the JSON, checks every declared shape against the architecture
and a size budget, reads each array's .npy header and checks it before
reading a byte of data, and builds layers only from a fixed table of types:
nothing in a file can run code or make the loader allocate more than the
file itself justifies. Writing goes to a temporary file in the same folder,
is flushed to disk, then renamed over the target: a crash leaves either the
old file or the new one, never a mix.

Versions: ``version`` is 1, the first format; every chainrule reads every
version up to its own and refuses a newer or unknown one with a message
naming it. Fields added later must be optional, so that older files keep
loading: of version 1, only ``format``, ``version``, ``config`` and
``arrays`` (with the layer arrays) are required, and a file without
``loss``, ``optimizer``, ``epochs_trained`` or ``rng_state`` loads as an
untrained-state model (tests/test_hostile_files.py covers the refusals).
``callbacks`` (optional, a list of {"type", "monitor", "state"}) holds the
state of the callbacks of the ``fit`` a checkpoint was written in: numbers,
null, or "array" for a member ``callbacks.<k>.<key>.npy``.

Limits on untrusted files: ``model.json`` at most ``MAX_JSON_BYTES``; at most
``MAX_PARAMS`` parameters; at most ``MAX_MEMBERS`` zip members; members may
not claim more packed bytes than the file has, nor inflate to more than
``MAX_INFLATION`` times the file size (``MIN_BUDGET`` for small files); each
array's declared size must match its shape. Every other failure of the zip,
zlib or .npy readers on damaged bytes becomes a ModelFileError.
"""

from __future__ import annotations

import json
import math
import os
import struct
import tempfile
import zipfile
import zlib
from typing import TYPE_CHECKING, Any

import numpy as np

from . import activations, layers, losses, optimizers

if TYPE_CHECKING:
    from .model import Sequential

FORMAT = "chainrule"
VERSION = 1
MAX_JSON_BYTES = 1 << 20
MAX_PARAMS = 1 << 28  # 256 M parameters: 2 GiB of float64, far above any MLP this library targets
MAX_MEMBERS = 10_000
MAX_INFLATION = 20  # unpacked bytes per byte of file; chainrule writes stored (1x) members
MIN_BUDGET = 64 << 20  # small files may always inflate to this many bytes
MAX_CALLBACKS = 64

LAYER_TYPES: dict[str, type[layers.Layer]] = {
    "Dense": layers.Dense,
    **{cls.__name__: cls for cls in set(activations.ACTIVATIONS.values())},
}
LOSS_TYPES = {cls.__name__: cls for cls in set(losses.LOSSES.values())}
OPTIMIZER_TYPES = {cls.__name__: cls for cls in set(optimizers.OPTIMIZERS.values())}


class ModelFileError(ValueError):
    """A file that is not a valid chainrule model."""


# ------------------------------------------------------------------ saving
def save(model: Sequential, path: str | os.PathLike) -> None:
    """Write ``model`` to ``path`` atomically: temporary file, fsync, rename."""
    arrays: dict[str, np.ndarray] = {}
    for i, layer in enumerate(model.layers):
        for name, p in layer.params.items():
            arrays[f"layers.{i}.{name}"] = p
    opt = model.optimizer_
    if opt is not None:
        for k, slot in enumerate(opt.state):
            for name, arr in slot.items():
                arrays[f"optimizer.{k}.{name}"] = arr
    callback_states = []
    for cb in model._fit_callbacks:
        state = cb.get_state()
        if state is None:
            continue
        entry: dict[str, Any] = {}
        for key, value in state.items():
            if isinstance(value, np.ndarray):
                arrays[f"callbacks.{len(callback_states)}.{key}"] = value
                value = "array"
            entry[key] = value
        callback_states.append({"type": type(cb).__name__, "monitor": getattr(cb, "monitor", None), "state": entry})
    doc = {
        "format": FORMAT,
        "version": VERSION,
        "config": model.get_config(),
        "loss": None if model.loss_ is None else model.loss_.get_config(),
        "optimizer": None if opt is None else {**opt.get_config(), "t": opt.t},
        "epochs_trained": model.epochs_trained_,
        "rng_state": model.rng.bit_generator.state,
        "callbacks": callback_states,
        "arrays": {k: {"shape": list(a.shape), "dtype": str(a.dtype)} for k, a in arrays.items()},
    }
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".chainrule-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_STORED) as zf:
                zf.writestr("model.json", json.dumps(doc, indent=1))
                for name, arr in arrays.items():
                    with zf.open(f"{name}.npy", "w", force_zip64=arr.nbytes > (1 << 30)) as member:
                        np.lib.format.write_array(member, np.ascontiguousarray(arr), allow_pickle=False)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    _fsync_folder(folder)


def _fsync_folder(folder: str) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# ----------------------------------------------------------------- loading
def load(path: str | os.PathLike) -> Sequential:
    """Read a model written by ``save``. Raises ModelFileError for anything else.

    A missing path raises FileNotFoundError. Any file, however damaged or
    hostile, gives either a model or a ModelFileError (a ValueError): never
    another exception, never code run from the file, never an allocation
    larger than the file's size justifies (see ``MAX_INFLATION``).
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No model file at {path!r}.")
    try:
        with zipfile.ZipFile(path) as zf:
            _check_archive(zf, os.path.getsize(path), path)
            return _load_zip(zf, path)
    except ModelFileError:
        raise
    except zipfile.BadZipFile as exc:
        raise ModelFileError(f"{path!r} is not a chainrule model file (damaged or not a zip archive: {exc}).") from exc
    except _DAMAGE as exc:
        raise ModelFileError(f"{path!r} is damaged: {type(exc).__name__}: {exc}") from exc


# What the zip, zlib, struct and numpy readers raise on damaged bytes; all become ModelFileError.
_DAMAGE = (
    KeyError,
    EOFError,
    OSError,
    ValueError,
    TypeError,
    IndexError,
    OverflowError,
    RecursionError,
    NotImplementedError,
    RuntimeError,
    UnicodeError,
    zlib.error,
    struct.error,
)


def _check_archive(zf: zipfile.ZipFile, file_size: int, path: str) -> None:
    """Refuse a zip whose members claim more bytes than the file can hold (zip bombs, lying headers)."""
    infos = zf.infolist()
    if len(infos) > MAX_MEMBERS:
        raise _fail(path, f"it holds {len(infos):,} members (limit {MAX_MEMBERS:,}).")
    packed = sum(i.compress_size for i in infos)
    if packed > file_size:
        raise _fail(path, f"its members claim {packed:,} packed bytes but the file has {file_size:,}.")
    unpacked = sum(i.file_size for i in infos)
    if unpacked > max(MAX_INFLATION * file_size, MIN_BUDGET):
        raise _fail(
            path,
            f"its members inflate to {unpacked:,} bytes from a {file_size:,}-byte file "
            f"(more than {MAX_INFLATION}x: a zip bomb?).",
        )


def _fail(path: str, what: str) -> ModelFileError:
    return ModelFileError(f"{path!r} is not a valid chainrule model: {what}")


def _load_zip(zf: zipfile.ZipFile, path: str) -> Sequential:
    from .model import Sequential

    doc = _read_json(zf, path)
    config = doc.get("config")
    if not isinstance(config, dict) or not isinstance(config.get("layers"), list):
        raise _fail(path, "its config has no layer list.")
    dtype = np.dtype(_choice(config.get("dtype"), ("float32", "float64"), "dtype", path))
    specs = [_layer_spec(c, path) for c in config["layers"]]
    if not specs:
        raise _fail(path, "it has no layers.")
    _check_chain(specs, path)
    # Shapes come from the config alone: nothing is allocated until every array header agrees with them.
    expected = {
        f"layers.{i}.{name}": shape for i, spec in enumerate(specs) for name, shape in _spec_shapes(spec).items()
    }
    if sum(math.prod(s) for s in expected.values()) > MAX_PARAMS:
        raise _fail(path, f"its architecture needs more than {MAX_PARAMS:,} parameters.")
    declared = doc.get("arrays")
    if not isinstance(declared, dict):
        raise _fail(path, "it lists no arrays.")
    for name, shape in expected.items():
        _check_member(zf, name, shape, dtype, path)
    built = [_build_layer(spec) for spec in specs]
    try:
        model = Sequential(*built, dtype=dtype)
    except (ValueError, TypeError) as exc:
        raise _fail(path, f"its layers do not fit together ({exc}).") from exc
    for i, layer in enumerate(model.layers):
        for name, p in layer.params.items():
            p[...] = _read_member(zf, f"layers.{i}.{name}", p.shape, dtype, path)
    model.seed = config.get("seed") if isinstance(config.get("seed"), int) else None
    model.loss_ = _loss_from_config(doc.get("loss"), path)
    model.optimizer_ = _optimizer_from_config(doc.get("optimizer"), zf, model, dtype, path)
    epochs = doc.get("epochs_trained", 0)
    if not isinstance(epochs, int) or epochs < 0:
        raise _fail(path, f"epochs_trained is {_short(epochs)}.")
    model.epochs_trained_ = epochs
    state = doc.get("rng_state")
    if state is not None:
        try:
            model.rng.bit_generator.state = state
        except (TypeError, ValueError, KeyError) as exc:
            raise _fail(path, f"its random generator state is unusable ({exc}).") from exc
    model._callback_states = _callback_states(doc.get("callbacks"), zf, model, dtype, path)
    return model


def _callback_states(entries: Any, zf: zipfile.ZipFile, model: Sequential, dtype: np.dtype, path: str) -> list:
    """The saved callback states as (type, monitor, state): plain numbers, None, and parameter-shaped arrays."""
    if entries is None:
        return []
    if not isinstance(entries, list) or len(entries) > MAX_CALLBACKS:
        raise _fail(path, f"its callbacks entry is {_short(entries)} (a list of at most {MAX_CALLBACKS} is expected).")
    out = []
    for k, entry in enumerate(entries):
        kind = entry.get("type") if isinstance(entry, dict) else None
        monitor, state = (entry.get("monitor"), entry.get("state")) if isinstance(entry, dict) else (None, None)
        if not (isinstance(kind, str) and kind.isidentifier() and isinstance(state, dict)) or not (
            monitor is None or isinstance(monitor, str)
        ):
            raise _fail(path, f"callback state {k} is {_short(entry)}.")
        values: dict[str, Any] = {}
        for key, value in state.items():
            if not key.isidentifier():
                raise _fail(path, f"callback state {k} has the key {_short(key)}.")
            if value == "array":
                name = f"callbacks.{k}.{key}"
                _check_member(zf, name, (model.n_params,), dtype, path)
                value = _read_member(zf, name, (model.n_params,), dtype, path).copy()
            elif not (value is None or isinstance(value, (int, float)) and not math.isnan(value)):
                raise _fail(path, f"callback state {k} holds {key}={_short(value)}.")
            values[key] = value
        out.append((kind, monitor, values))
    return out


def _read_json(zf: zipfile.ZipFile, path: str) -> dict[str, Any]:
    try:
        info = zf.getinfo("model.json")
    except KeyError:
        raise _fail(path, "model.json is missing.") from None
    if info.file_size > MAX_JSON_BYTES:
        raise _fail(path, f"model.json declares {info.file_size:,} bytes (limit {MAX_JSON_BYTES:,}).")
    with zf.open(info) as fh:
        raw = fh.read(MAX_JSON_BYTES + 1)
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # bad UTF-8, bad JSON, nesting too deep, huge integers
        raise _fail(path, f"model.json is not valid JSON ({type(exc).__name__}: {_short(str(exc), 200)}).") from exc
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise _fail(path, "model.json does not describe a chainrule model.")
    version = doc.get("version")
    if not isinstance(version, int) or not 1 <= version <= VERSION:
        raise _fail(path, f"format version {_short(version)} is not supported (this chainrule reads 1 to {VERSION}).")
    return doc


def _choice(value: Any, allowed: tuple[str, ...], what: str, path: str) -> str:
    if value not in allowed:
        raise _fail(path, f"{what} is {_short(value)}; expected one of {', '.join(allowed)}.")
    return value


def _layer_spec(cfg: Any, path: str) -> tuple[str, dict[str, Any]]:
    """A layer's type and checked arguments, read from its config without building it."""
    if not isinstance(cfg, dict):
        raise _fail(path, f"a layer entry is {_short(cfg)}, not an object.")
    kind = _choice(cfg.get("type"), tuple(LAYER_TYPES), "a layer type", path)
    if kind == "Dense":
        n_in, n_out = cfg.get("n_in"), cfg.get("n_out")
        for v in (n_in, n_out):
            if not isinstance(v, int) or isinstance(v, bool) or not 1 <= v <= MAX_PARAMS:
                raise _fail(path, f"a Dense layer has size {_short(v)}.")
        if n_in * n_out > MAX_PARAMS:
            raise _fail(path, f"a Dense({n_in}, {n_out}) layer is larger than {MAX_PARAMS:,} parameters.")
        init = cfg.get("init")
        init = init if isinstance(init, str) and init in _initializer_names() else None
        return kind, {"n_in": n_in, "n_out": n_out, "init": init}
    if kind == "LeakyReLU":
        alpha = cfg.get("alpha", 0.01)
        if not isinstance(alpha, (int, float)) or isinstance(alpha, bool) or not math.isfinite(alpha):
            raise _fail(path, f"LeakyReLU alpha is {_short(alpha)}.")
        return kind, {"alpha": alpha}
    return kind, {}


def _spec_shapes(spec: tuple[str, dict[str, Any]]) -> dict[str, tuple[int, ...]]:
    kind, args = spec
    if kind == "Dense":
        return {"W": (args["n_in"], args["n_out"]), "b": (args["n_out"],)}
    return {}


def _check_chain(specs: list[tuple[str, dict[str, Any]]], path: str) -> None:
    sizes = [(args["n_in"], args["n_out"]) for kind, args in specs if kind == "Dense"]
    if not sizes:
        raise _fail(path, "it has no Dense layer to fix the input size.")
    for (_, prev_out), (n_in, n_out) in zip(sizes, sizes[1:]):
        if n_in != prev_out:
            raise _fail(path, f"a Dense({n_in}, {n_out}) layer follows one that gives {prev_out} outputs.")


def _build_layer(spec: tuple[str, dict[str, Any]]) -> layers.Layer:
    kind, args = spec
    return LAYER_TYPES[kind](**args)


def _layer_from_config(cfg: Any, path: str) -> layers.Layer:
    return _build_layer(_layer_spec(cfg, path))


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _initializer_names() -> set[str]:
    from .initializers import INITIALIZERS

    return set(INITIALIZERS)


def _member_name(name: str) -> str:
    return f"{name}.npy"


def _open_npy(zf: zipfile.ZipFile, name: str, path: str):
    try:
        info = zf.getinfo(_member_name(name))
    except KeyError:
        raise _fail(path, f"array {name!r} is missing.") from None
    return info, zf.open(info)


def _read_header(fh, name: str, path: str) -> tuple[tuple[int, ...], bool, np.dtype]:
    try:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            return np.lib.format.read_array_header_1_0(fh)
        if version == (2, 0):
            return np.lib.format.read_array_header_2_0(fh)
    except ValueError as exc:
        raise _fail(path, f"array {name!r} has a damaged .npy header ({exc}).") from exc
    raise _fail(path, f"array {name!r} uses .npy version {version}, which is not supported.")


def _check_member(zf: zipfile.ZipFile, name: str, shape: tuple[int, ...], dtype: np.dtype, path: str) -> None:
    info, fh = _open_npy(zf, name, path)
    with fh:
        got_shape, _, got_dtype = _read_header(fh, name, path)
    if got_dtype.hasobject or got_dtype != dtype:
        raise _fail(path, f"array {name!r} has dtype {got_dtype}; the model is {dtype}.")
    if tuple(got_shape) != tuple(shape):
        raise _fail(path, f"array {name!r} has shape {tuple(got_shape)} but the architecture needs {tuple(shape)}.")
    nbytes = math.prod(shape) * dtype.itemsize
    if not nbytes <= info.file_size <= nbytes + 4096:
        raise _fail(path, f"array {name!r} declares {info.file_size:,} bytes; its shape needs {nbytes:,} + header.")


def _read_member(zf: zipfile.ZipFile, name: str, shape: tuple[int, ...], dtype: np.dtype, path: str) -> np.ndarray:
    _, fh = _open_npy(zf, name, path)
    with fh:
        got_shape, fortran, got_dtype = _read_header(fh, name, path)
        if got_dtype.hasobject or got_dtype != dtype or tuple(got_shape) != tuple(shape):
            raise _fail(path, f"array {name!r} does not match its declaration.")
        nbytes = math.prod(shape) * dtype.itemsize
        data = fh.read(nbytes + 1)  # reading to the end also verifies the CRC
        if len(data) != nbytes:
            raise _fail(path, f"array {name!r} holds {len(data):,} bytes; its shape needs {nbytes:,} (truncated?).")
    arr = np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C")
    if not np.isfinite(arr).all():
        raise _fail(path, f"array {name!r} contains NaN or infinity.")
    return arr


def _loss_from_config(cfg: Any, path: str) -> losses.Loss | None:
    if cfg is None:
        return None
    if not isinstance(cfg, dict):
        raise _fail(path, f"its loss entry is {_short(cfg)}.")
    kind = _choice(cfg.get("type"), tuple(LOSS_TYPES), "the loss type", path)
    reduction = _choice(cfg.get("reduction", "mean"), ("mean", "sum"), "the loss reduction", path)
    return LOSS_TYPES[kind](reduction=reduction)


def _optimizer_from_config(
    cfg: Any, zf: zipfile.ZipFile, model: Sequential, dtype: np.dtype, path: str
) -> optimizers.Optimizer | None:
    if cfg is None:
        return None
    if not isinstance(cfg, dict):
        raise _fail(path, f"its optimizer entry is {_short(cfg)}.")
    cfg = dict(cfg)
    kind = _choice(cfg.pop("type", None), tuple(OPTIMIZER_TYPES), "the optimizer type", path)
    t = cfg.pop("t", 0)
    lr = cfg.get("lr")
    if isinstance(lr, dict):
        sched = dict(lr)
        sched_kind = _choice(sched.pop("type", None), tuple(optimizers.SCHEDULES), "the schedule type", path)
        try:
            cfg["lr"] = optimizers.SCHEDULES[sched_kind](**sched)
        except (TypeError, ValueError) as exc:
            raise _fail(path, f"its learning-rate schedule is invalid ({exc}).") from exc
    try:
        opt = OPTIMIZER_TYPES[kind](**cfg)
    except (TypeError, ValueError) as exc:
        raise _fail(path, f"its optimizer settings are invalid ({exc}).") from exc
    if not isinstance(t, int) or t < 0:
        raise _fail(path, f"the optimizer step count is {_short(t)}.")
    opt.t = t
    if opt.slots and t > 0:
        for name in opt.slots:
            _check_member(zf, f"optimizer.0.{name}", (model.n_params,), dtype, path)
        opt.state = [
            {name: _read_member(zf, f"optimizer.0.{name}", (model.n_params,), dtype, path).copy() for name in opt.slots}
        ]
    return opt


def clone(model: Sequential, dtype: Any = None) -> Sequential:
    """A new model with the same layers and weights (cast to ``dtype`` if given); nothing shared."""
    from .model import Sequential

    cfg = model.get_config()
    built = [_layer_from_config(c, "<clone>") for c in cfg["layers"]]
    twin = Sequential(*built, dtype=dtype or model.dtype)
    twin.set_weights(model.get_weights())
    twin.loss_ = model.loss_
    return twin
