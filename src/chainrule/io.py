"""Model files: a zip of one JSON document and plain .npy arrays. Never pickle.

Layout (format version 1; version 2 adds stacked models)::

    model.json                  {"format": "chainrule", "version": 1, "model": "Sequential", "config": …,
                                 "loss": …, "optimizer": …, "epochs_trained": …,
                                 "rng_state": …, "callbacks": […],
                                 "arrays": {name: {"shape", "dtype"}}}
    layers.<i>.<param>.npy      each layer's parameters, and its untrained state (running statistics)
    optimizer.<slot>.npy        the optimiser's moment buffers (flat), if any
    callbacks.<k>.<key>.npy     arrays of the k-th saved callback state (flat, like the parameters)

Loading reads the JSON, checks every declared shape against the architecture
and a size budget, reads each array's .npy header and checks it before
reading a byte of data, and builds layers only from the registered layer
classes (``Layer.registry``), each from its own config: nothing in a file
can run code or make the loader allocate more than the file itself
justifies (``chainrule._archive`` does the defensive reading). Writing goes
to a temporary file in the same folder, is flushed to disk, then renamed
over the target: a crash leaves either the old file or the new one.

This module sees a model only through its public config and state
(``get_config``/``from_config``, ``get_state``/``set_state``, its layers'
``params``); the model classes it can build register themselves with
``register_model``.

Versions: 1 is the first format; 2 adds stacked models (``"model":
"Ensemble"``, whose config has ``n_models`` and ``seeds`` and whose arrays
all carry a leading model axis). A Sequential is still written as version 1,
so older readers keep reading it; an Ensemble is written as version 2, which
readers of version 1 refuse, naming the version. Every chainrule reads every
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
array's declared size must match its shape. Every size model.json declares is
checked before a layer is built (a layer's constructor allocates its arrays):
the sizes that shape a layer's arrays (widths, channels, kernel sizes)
multiply to at most the values the file's arrays can hold; a stride, padding
or dilation, the input shape, and one sample's values at any layer (its input,
output and a convolution's unfolded windows) at most ``MAX_SAMPLE_VALUES``.
"""

from __future__ import annotations

import math
import os
import zipfile
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._archive import DAMAGE, MAX_INFLATION, MAX_JSON_BYTES, MAX_MEMBERS, MIN_BUDGET, Archive, ModelFileError, short
from ._archive import write as write_archive
from .core import optimizers  # noqa: F401  (every optimiser class registered)
from .core.losses import Loss
from .layers import Layer
from .layers.residual import MAX_NESTING

__all__ = ["ModelFileError", "ModelFile", "load", "read", "save", "register_model"]
__all__ += ["MAX_INFLATION", "MAX_JSON_BYTES", "MAX_MEMBERS", "MIN_BUDGET", "MAX_PARAMS"]

FORMAT = "chainrule"
VERSION = 2  # the newest this chainrule reads and writes; a Sequential is still written as version 1
MAX_PARAMS = 1 << 28  # 256 M parameters: 2 GiB of float64, far above any MLP this library targets
MAX_CALLBACKS = 64
MAX_SAMPLE_VALUES = 1 << 22  # one sample's values at any layer: 32 MiB of float64
GEOMETRY = ("stride", "padding", "dilation")  # sizes that shape how an input is read, not an array

MODELS: dict[str, type] = {}
"""The model classes files can hold, by class name (filled by ``register_model``)."""


def register_model(cls: type) -> type:
    """Class decorator: let files hold models of ``cls`` (it needs the config and state methods)."""
    MODELS[cls.__name__] = cls
    return cls


@dataclass
class ModelFile:
    """What a file holds: the model, and the callback states of the fit it was checkpointed in."""

    model: Any
    callback_states: list[tuple[str, str | None, dict[str, Any]]] = field(default_factory=list)


# ------------------------------------------------------------------ saving
def save(model: Any, path: str | os.PathLike, callback_states: list = ()) -> None:
    """Write ``model`` (and the ``callback_states`` of its fit) to ``path`` atomically."""
    arrays: dict[str, np.ndarray] = {}
    for i, layer in enumerate(model.layers):
        for name, p in {**layer.params, **layer.state}.items():
            arrays[f"layers.{i}.{name}"] = p
    state = model.get_state()
    opt, loss = state["optimizer"], state["loss"]
    if opt is not None:
        for k, slot in enumerate(opt.state):
            for name, arr in slot.items():
                arrays[f"optimizer.{k}.{name}"] = arr
    saved_states = []
    for kind, monitor, values in callback_states:
        entry: dict[str, Any] = {}
        for key, value in values.items():
            if isinstance(value, np.ndarray):
                arrays[f"callbacks.{len(saved_states)}.{key}"] = value
                value = "array"
            entry[key] = value
        saved_states.append({"type": kind, "monitor": monitor, "state": entry})
    doc = {
        "format": FORMAT,
        "version": 2 if model.stacked else 1,  # readers of version 1 know no stacked models: they refuse them
        "model": type(model).__name__,
        "config": model.get_config(),
        "loss": None if loss is None else loss.get_config(),
        "optimizer": None if opt is None else {**opt.get_config(), "t": opt.t},
        "epochs_trained": state["epochs_trained"],
        "rng_state": state["rng_state"],
        "callbacks": saved_states,
        "arrays": {k: {"shape": list(a.shape), "dtype": str(a.dtype)} for k, a in arrays.items()},
    }
    write_archive(path, doc, arrays)


# ----------------------------------------------------------------- loading
def load(path: str | os.PathLike) -> Any:
    """Read a model written by ``save``. Raises ModelFileError for anything else.

    A missing path raises FileNotFoundError. Any file, however damaged or
    hostile, gives either a model or a ModelFileError (a ValueError): never
    another exception, never code run from the file, never an allocation
    larger than the file's size justifies (see ``MAX_INFLATION``).
    """
    return read(path).model


def read(path: str | os.PathLike) -> ModelFile:
    """Like ``load``, and also the callback states a checkpoint carries (for ``fit(resume_from=…)``)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No model file at {path!r}.")
    try:
        with zipfile.ZipFile(path) as zf:
            return _read(Archive(zf, path))
    except ModelFileError:
        raise
    except zipfile.BadZipFile as exc:
        raise ModelFileError(f"{path!r} is not a chainrule model file (damaged or not a zip archive: {exc}).") from exc
    except DAMAGE as exc:
        raise ModelFileError(f"{path!r} is damaged: {type(exc).__name__}: {exc}") from exc


def _read(archive: Archive) -> ModelFile:
    doc = archive.json()
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise archive.fail("model.json does not describe a chainrule model.")
    version = doc.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= VERSION:
        raise archive.fail(f"format version {short(version)} is not supported (this chainrule reads 1 to {VERSION}).")
    config = doc.get("config")
    if not isinstance(config, dict) or not isinstance(config.get("layers"), list) or not config["layers"]:
        raise archive.fail("its config has no layer list.")
    dtype = np.dtype(_choice(config.get("dtype"), ("float32", "float64"), "dtype", archive))
    model_type = MODELS[_choice(doc.get("model", "Sequential"), tuple(MODELS), "the model type", archive)]
    lead = _lead(model_type, config, version, archive)
    kinds = [_layer_class(c, archive) for c in config["layers"]]
    check_declared_sizes(config, archive)
    try:
        shapes = [kind.config_shapes(c) for kind, c in zip(kinds, config["layers"])]
    except (ValueError, TypeError) as exc:
        raise archive.fail(f"a layer's config is unusable ({short(str(exc), 200)}).") from exc
    # Shapes come from the config alone: nothing is allocated until every array header agrees with them.
    for i, (kind, s) in enumerate(zip(kinds, shapes)):
        size = sum(math.prod(shape) for shape in s.values())
        if size > MAX_PARAMS:
            raise archive.fail(f"layer {i}, a {kind.__name__} of size {size:,}, is over {MAX_PARAMS:,} parameters.")
    expected = {f"layers.{i}.{name}": (*lead, *shape) for i, s in enumerate(shapes) for name, shape in s.items()}
    if sum(math.prod(s) for s in expected.values()) > MAX_PARAMS:
        raise archive.fail(f"its architecture needs more than {MAX_PARAMS:,} parameters.")
    if not isinstance(doc.get("arrays"), dict):
        raise archive.fail("it lists no arrays.")
    for name, shape in expected.items():
        archive.check(name, shape, dtype)
    try:
        model = model_type.from_config({**config, "dtype": str(dtype)})
    except (ValueError, TypeError) as exc:
        raise archive.fail(f"its layers do not fit together ({exc}).") from exc
    if sample_values(model) > MAX_SAMPLE_VALUES:
        raise archive.fail(
            f"one sample takes {sample_values(model):,} values at one of its layers (limit {MAX_SAMPLE_VALUES:,}): "
            "its input shape, padding or dilation is too large."
        )
    for i, layer in enumerate(model.layers):
        for name, p in {**layer.params, **layer.state}.items():
            archive.check(f"layers.{i}.{name}", p.shape, dtype)
            p[...] = archive.read(f"layers.{i}.{name}", p.shape, dtype)
        try:
            layer.check_state()
        except ValueError as exc:
            raise archive.fail(f"layer {i}, {layer!r}: {exc}") from exc
    epochs = doc.get("epochs_trained", 0)
    if not isinstance(epochs, int) or isinstance(epochs, bool) or epochs < 0:
        raise archive.fail(f"epochs_trained is {short(epochs)}.")
    state = {
        "loss": _loss_from_config(doc.get("loss"), archive),
        "optimizer": _optimizer_from_config(doc.get("optimizer"), archive, model.flat_params.shape, dtype),
        "epochs_trained": epochs,
        "seed": config.get("seed") if isinstance(config.get("seed"), int) else None,
    }
    model.set_state(state)
    if doc.get("rng_state") is not None:
        try:
            model.set_state({**state, "rng_state": doc["rng_state"]})
        except (TypeError, ValueError, KeyError) as exc:
            raise archive.fail(f"its random generator state is unusable ({exc}).") from exc
    return ModelFile(model, _callback_states(doc.get("callbacks"), archive, model.flat_params.shape, dtype))


def check_declared_sizes(config: dict[str, Any], archive: Archive) -> None:
    """Refuse a size in ``config`` that would make building the model allocate more than the file justifies.

    Called before any layer is built: see the module docstring for the budgets.
    """
    budget = max(archive.data_bytes // 4, 1 << 16)  # float32 is the narrowest dtype a file holds
    shape = config.get("input_shape")
    if shape is not None and (
        not isinstance(shape, list)
        or not shape
        or not all(_size(d) and d > 0 for d in shape)
        or math.prod(shape) > MAX_SAMPLE_VALUES
    ):
        raise archive.fail(
            f"its input_shape is {short(shape)}: positive sizes of {MAX_SAMPLE_VALUES:,} values at most."
        )
    for cfg in _layer_configs(config["layers"], archive):
        sizes = {k: v for k, v in cfg.items() if _size(v)}
        over = {k: v for k, v in sizes.items() if k in GEOMETRY and v > MAX_SAMPLE_VALUES or v < 0}
        shaping = math.prod(v for k, v in sizes.items() if k not in GEOMETRY and v > 0)
        if over or shaping > budget:
            raise archive.fail(
                f"its {short(cfg.get('type'))} layer declares the sizes {short(over or sizes, 200)}: "
                + (f"sizes above {MAX_SAMPLE_VALUES:,}." if over else f"{shaping:,} parameters, more than the "
                   f"file's {archive.data_bytes:,} bytes of arrays can hold.")  # fmt: skip
            )


def _layer_configs(layers: list, archive: Archive, depth: int = 0) -> list[dict[str, Any]]:
    """Every layer config in ``layers``, those nested in a layer's own "layers" (a Residual) included."""
    if depth > MAX_NESTING:
        raise archive.fail(f"it nests more than {MAX_NESTING} Residual layers inside each other.")
    found = []
    for cfg in layers:
        if not isinstance(cfg, dict):
            raise archive.fail(f"a layer entry is {short(cfg)}, not an object.")
        found.append(cfg)
        if isinstance(cfg.get("layers"), list):
            found += _layer_configs(cfg["layers"], archive, depth + 1)
    return found


def _size(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def sample_values(model: Any) -> int:
    """The most values one sample takes at any layer of a built ``model``: its input, its output and, for a
    convolution or pooling, its padded input and unfolded windows (channels × kernel × output length).
    Prediction is chunked by it. A model not built yet (its shapes come from its first batch) has no
    sample size to bound: 1."""
    if model.in_shape is None:
        return 1
    largest = math.prod(model.in_shape)
    for layer in model.layers:
        values = math.prod(layer.in_shape) + math.prod(layer.out_shape)
        config = layer.get_config()
        kernel, padding = config.get("kernel_size"), config.get("padding")
        if _size(kernel) and len(layer.in_shape) == 2:  # the padded input, and the windows unfolded from it
            padded = layer.in_shape[1] + 2 * (padding if _size(padding) else kernel)
            values += layer.in_shape[0] * (padded + kernel * layer.out_shape[-1])
        largest = max(largest, values)
    return largest


def _lead(model_type: type, config: dict[str, Any], version: int, archive: Archive) -> tuple[int, ...]:
    """The leading model axis of every array: (n_models,) for a stacked model (format version 2), else ()."""
    if not getattr(model_type, "stacked", False):
        return ()
    n, seeds = config.get("n_models"), config.get("seeds")
    if version < 2 or not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= MAX_PARAMS:
        raise archive.fail(f"its n_models is {short(n)} (format version {version}).")
    if not isinstance(seeds, list) or len(seeds) != n or not all(type(x) is int for x in seeds):
        raise archive.fail(f"its seeds are {short(seeds)}; {n} integers are expected.")
    return (n,)


def _layer_class(cfg: Any, archive: Archive) -> type[Layer]:
    if not isinstance(cfg, dict):
        raise archive.fail(f"a layer entry is {short(cfg)}, not an object.")
    return Layer.registry[_choice(cfg.get("type"), tuple(Layer.registry), "a layer type", archive)]


def _choice(value: Any, allowed: tuple[str, ...], what: str, archive: Archive) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise archive.fail(f"{what} is {short(value)}; expected one of {', '.join(allowed)}.")
    return value


def _callback_states(entries: Any, archive: Archive, shape: tuple[int, ...], dtype: np.dtype) -> list:
    """The saved callback states as (type, monitor, state): plain numbers, None, and parameter-shaped arrays."""
    if entries is None:
        return []
    if not isinstance(entries, list) or len(entries) > MAX_CALLBACKS:
        raise archive.fail(f"its callbacks entry is {short(entries)} (a list of at most {MAX_CALLBACKS} is expected).")
    out = []
    for k, entry in enumerate(entries):
        kind = entry.get("type") if isinstance(entry, dict) else None
        monitor, state = (entry.get("monitor"), entry.get("state")) if isinstance(entry, dict) else (None, None)
        if not (isinstance(kind, str) and kind.isidentifier() and isinstance(state, dict)) or not (
            monitor is None or isinstance(monitor, str)
        ):
            raise archive.fail(f"callback state {k} is {short(entry)}.")
        values: dict[str, Any] = {}
        for key, value in state.items():
            if not key.isidentifier():
                raise archive.fail(f"callback state {k} has the key {short(key)}.")
            if value == "array":
                value = archive.read(f"callbacks.{k}.{key}", shape, dtype).copy()
            elif not (_number(value) or value is None or isinstance(value, list) and all(map(_number, value))):
                raise archive.fail(f"callback state {k} holds {key}={short(value)}.")
            values[key] = value
        out.append((kind, monitor, values))
    return out


def _number(value: Any) -> bool:
    """A plain number that is not NaN (per-member values of an Ensemble's callbacks come as lists of them)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and not math.isnan(value)


def _loss_from_config(cfg: Any, archive: Archive) -> Loss | None:
    if cfg is None:
        return None
    if not isinstance(cfg, dict):
        raise archive.fail(f"its loss entry is {short(cfg)}.")
    kinds = {cls.__name__: cls for cls in Loss.registry.values()}
    kind = _choice(cfg.get("type"), tuple(kinds), "the loss type", archive)
    _choice(cfg.get("reduction", "mean"), ("mean", "sum"), "the loss reduction", archive)
    return kinds[kind].from_config(cfg)


def _optimizer_from_config(
    cfg: Any, archive: Archive, shape: tuple[int, ...], dtype: np.dtype
) -> optimizers.Optimizer | None:
    if cfg is None:
        return None
    if not isinstance(cfg, dict):
        raise archive.fail(f"its optimizer entry is {short(cfg)}.")
    cfg = dict(cfg)
    kinds = {cls.__name__: cls for cls in optimizers.OPTIMIZERS.values()}
    kind = _choice(cfg.pop("type", None), tuple(kinds), "the optimizer type", archive)
    t = cfg.pop("t", 0)
    lr = cfg.get("lr")
    if isinstance(lr, dict):
        sched = dict(lr)
        sched_kind = _choice(sched.pop("type", None), tuple(optimizers.SCHEDULES), "the schedule type", archive)
        try:
            cfg["lr"] = optimizers.SCHEDULES[sched_kind](**sched)
        except (TypeError, ValueError) as exc:
            raise archive.fail(f"its learning-rate schedule is invalid ({exc}).") from exc
    try:
        opt = kinds[kind](**cfg)
    except (TypeError, ValueError) as exc:
        raise archive.fail(f"its optimizer settings are invalid ({exc}).") from exc
    if not isinstance(t, int) or isinstance(t, bool) or t < 0:
        raise archive.fail(f"the optimizer step count is {short(t)}.")
    opt.t = t
    if opt.slots and t > 0:
        for name in opt.slots:
            archive.check(f"optimizer.0.{name}", shape, dtype)
        opt.state = [{name: archive.read(f"optimizer.0.{name}", shape, dtype).copy() for name in opt.slots}]
    return opt
