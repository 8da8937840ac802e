"""The playground's settings: one dataclass, read from a URL's query or a WebSocket message, checked field by field.

Every value a page sends is text or JSON and untrusted: each field is parsed and range-checked here, and a bad
one raises ``SettingsError`` naming the field, what it received and what it accepts. Nothing else in the
playground reads a setting that did not pass through ``parse``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

DATASETS = ("xor", "circles", "moons", "spirals", "spirals-1.75", "planar", "gaussians", "reg-plane", "reg-gauss",
            "upload")  # fmt: skip
FEATURES = ("x1", "x2", "x1^2", "x2^2", "x1x2", "sin x1", "sin x2")
ACTIVATIONS = ("tanh", "relu", "sigmoid", "identity")
OPTIMIZERS = ("sgd", "adam", "rmsprop")
REGULARIZATION = ("none", "l1", "l2")
MAX_LAYERS = 6
MAX_NEURONS = 8
MAX_EPOCHS = 100_000


class SettingsError(ValueError):
    """A setting the playground cannot use; the message names the field and what it accepts."""


@dataclass
class Settings:
    dataset: str = "xor"
    noise: float = 0.0
    train_ratio: float = 0.5
    batch_size: int = 10
    features: list[str] = field(default_factory=lambda: ["x1", "x2"])
    layers: list[int] = field(default_factory=lambda: [4, 2])
    activation: str = "tanh"
    lr: float = 0.03
    optimizer: str = "adam"
    regularization: str = "none"
    reg_rate: float = 0.0
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_query(self) -> dict[str, str]:
        """The settings as URL query values: lists joined with commas."""
        out = {}
        for key, value in asdict(self).items():
            out[key] = ",".join(map(str, value)) if isinstance(value, list) else str(value)
        return out


def _choice(name: str, value: Any, allowed: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise SettingsError(f"{name} must be one of {', '.join(allowed)}; received {name}={_shown(value)}.")
    return value


def _number(name: str, value: Any, lo: float, hi: float, *, lo_open: bool = False, hi_open: bool = False) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        x = math.nan
    if isinstance(value, bool) or not math.isfinite(x) or x < lo or x > hi or (lo_open and x == lo) or (
        hi_open and x == hi
    ):
        left, right = "(" if lo_open else "[", ")" if hi_open else "]"
        raise SettingsError(f"{name} must be a number in {left}{lo:g}, {hi:g}{right}; received {name}={_shown(value)}.")
    return x


def _whole(name: str, value: Any, lo: int, hi: int) -> int:
    x = _number(name, value, lo, hi)
    if x != int(x):
        raise SettingsError(f"{name} must be a whole number from {lo} to {hi}; received {name}={_shown(value)}.")
    return int(x)


def _list(value: Any) -> list:
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, list):
        return value
    raise SettingsError(f"expected a list or comma-separated text; received {_shown(value)}.")


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def parse(given: dict[str, Any]) -> Settings:
    """Settings from ``given`` (a URL query or a JSON object); missing fields keep their defaults."""
    if not isinstance(given, dict):
        raise SettingsError(f"settings must be an object of named fields; received {_shown(given)}.")
    known = {f.name for f in fields(Settings)}
    unknown = sorted(set(given) - known)
    if unknown:
        raise SettingsError(f"unknown setting {_shown(unknown[0])}; the settings are {', '.join(sorted(known))}.")
    s = Settings()
    g = dict(given)
    s.dataset = _choice("dataset", g.get("dataset", s.dataset), DATASETS)
    s.noise = _number("noise", g.get("noise", s.noise), 0.0, 0.5)
    s.train_ratio = _number("train_ratio", g.get("train_ratio", s.train_ratio), 0.0, 1.0, lo_open=True, hi_open=True)
    s.batch_size = _whole("batch_size", g.get("batch_size", s.batch_size), 1, 10_000)
    features = [_choice("feature", f, FEATURES) for f in _list(g.get("features", s.features))]
    if not features or len(set(features)) != len(features):
        raise SettingsError(f"features must name at least one of {', '.join(FEATURES)}, each once.")
    s.features = features
    layers = _list(g.get("layers", s.layers))
    if len(layers) > MAX_LAYERS:
        raise SettingsError(f"at most {MAX_LAYERS} hidden layers; received {len(layers)}.")
    s.layers = [_whole("neurons per layer", n, 1, MAX_NEURONS) for n in layers]
    s.activation = _choice("activation", g.get("activation", s.activation), ACTIVATIONS)
    s.lr = _number("lr", g.get("lr", s.lr), 0.0, 10.0, lo_open=True)
    s.optimizer = _choice("optimizer", g.get("optimizer", s.optimizer), OPTIMIZERS)
    s.regularization = _choice("regularization", g.get("regularization", s.regularization), REGULARIZATION)
    s.reg_rate = _number("reg_rate", g.get("reg_rate", s.reg_rate), 0.0, 10.0)
    s.seed = _whole("seed", g.get("seed", s.seed), 0, 2**31 - 1)
    return s
